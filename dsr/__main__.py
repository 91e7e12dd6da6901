"""``python -m dsr`` is the ``dsr`` command."""

from cli.main import main

main()
