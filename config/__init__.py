"""Configuration: settings from ``DSR_*`` variables and the YAML files beside this module."""

from config.settings import CONFIG_DIR, Settings, SettingsError, get_settings

__all__ = ["CONFIG_DIR", "Settings", "SettingsError", "get_settings"]
