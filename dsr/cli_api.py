"""API commands: ``dsr api`` and ``dsr apikey`` (registered on ``dsr.cli.app``)."""
