"""The `dsr` command: thin commands over the application service (docs/DESIGN.md)."""
