"""The `dsr` command: thin commands over the application service (DESIGN.md contract)."""
