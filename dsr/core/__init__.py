"""The core: the ledger and every step of a request, with no broker, HTTP or CLI import."""
