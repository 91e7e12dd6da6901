"""``python -m dsr`` is the ``dsr`` command."""

from dsr.cli import main

main()
