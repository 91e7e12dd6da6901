"""The core: the ledger and every step of a request, with no broker, HTTP or CLI import.

Its groups, top to bottom; each imports only the groups below it (``make lint`` checks it):

- ``ops``: retention sweeps, the watchdog, the dashboard, logging;
- ``intake``: filing, verification, complaints, the request views;
- ``pipeline``: dispatch, tasks, review, aggregate, re-drive, the step runner;
- ``identity`` | ``replies``: identity assurance | e-mails, notices, the outbox and delivery;
- ``runtime``: what a process builds once (the Runtime, deadlines, recipients) and the Step;
- ``ledger``: tables, sessions, migrations, the audit chain, holds, keys, a request's folder.
"""
