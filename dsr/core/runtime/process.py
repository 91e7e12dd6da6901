"""Everything a process builds once from configuration: settings, connectors, deadline profiles."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from config.settings import Settings, get_settings
from connectors.base import Connector
from connectors.registry import dependency_stages, load_connectors
from dsr import objects
from dsr.core.ledger import exports
from dsr.core.runtime.deadlines import Profile, load_profiles
from dsr.core.runtime.recipients import RecipientBook
from dsr.core.runtime.recipients import load as load_recipients


@dataclass
class Runtime:
    """Built once per process; entry points pass it down instead of re-reading configuration."""

    settings: Settings = field(default_factory=get_settings)

    def __post_init__(self) -> None:
        # How buckets are reached (an archive's ``root: s3://``, the export store): once here.
        objects.configure(exports.s3_options(self.settings))

    @property
    def db_url(self) -> str:
        return self.settings.resolved_database_url

    @cached_property
    def connectors(self) -> dict[str, Connector]:
        s = self.settings
        return load_connectors(
            s.connectors_file,
            data_dir=s.resolved_data_dir,
            secret_key=s.keys.suppression,
            region=s.default_region,
            index_url=s.resolved_index_url,
            secrets=s.http_secrets,
        )

    @cached_property
    def recipients(self) -> RecipientBook:
        """The third parties the stores share with (ConfigError when the section is wrong)."""
        s = self.settings
        return load_recipients(s.connectors_file, self.connectors, s.webhook_secrets)

    @cached_property
    def stages(self) -> dict[str, int]:
        return dependency_stages(self.connectors)

    @cached_property
    def profiles(self) -> dict[str, Profile]:
        return load_profiles(self.settings.jurisdictions_file)

    def close(self) -> None:
        if "connectors" in self.__dict__:
            for connector in self.connectors.values():
                connector.close()
