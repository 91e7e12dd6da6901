"""The scheduler: ``app`` (one leader runs APScheduler jobs), ``jobs`` (enqueue only), ``leader``."""
