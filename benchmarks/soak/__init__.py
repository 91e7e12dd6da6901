"""The soak (``make soak``): a few hundred requests of every kind against the soak's own
PostgreSQL cluster, Redis and SMTP server, with faults injected on a schedule, then the
invariants checked. ``run.py`` drives it; each other module does one job."""
