"""``python -m dsr`` is the ``dsr`` command."""

from dsr.cli.main import main

main()
