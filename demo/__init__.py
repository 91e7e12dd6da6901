"""The demo: synthetic stores, an SMTP sink, the embedded end-to-end run (never imported by the
core)."""
