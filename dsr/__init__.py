"""Data-subject request fulfilment.

``dsr.core`` is the ledger and every step of a request; ``dsr.service`` the one application
service; ``cli``, ``api``, ``demo``, ``scheduler`` and ``workers`` are the
doors and processes around it; ``connectors`` the data stores; ``config`` the settings.
"""
