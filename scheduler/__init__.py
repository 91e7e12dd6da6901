"""The scheduler: ``app`` (the leader runs APScheduler jobs), ``jobs``, ``leader``."""
