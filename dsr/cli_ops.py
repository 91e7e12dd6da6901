"""Ops commands: retention sweeps and the scheduler (registered on ``dsr.cli.app``)."""
