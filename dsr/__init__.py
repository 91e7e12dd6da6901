"""Data-subject request fulfilment.

``dsr.core`` is the ledger and every step of a request; ``dsr.service`` the one application
service; ``dsr.cli``, ``dsr.api``, ``dsr.demo``, ``dsr.scheduler`` and ``dsr.workers`` are the
doors and processes around it; ``dsr.connectors`` the data stores; ``dsr.config`` the settings.
"""
