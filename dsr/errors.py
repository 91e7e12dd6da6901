"""One exception tree, branched by what the caller should do.

Messages carry ids and field names only, never personal data: dramatiq stores tracebacks in Redis.
"""


class DsrError(Exception):
    """Root of every error this system raises on purpose."""


class InvalidInput(DsrError):
    """The caller's input is wrong; nothing was written (CLI exit status 2, HTTP 422).

    ``fields`` names the inputs at fault as the core calls them (``changes``, ``as_of``); the
    message names them the same way, and a door that calls them otherwise (the CLI's ``--set``)
    maps them where it reports the error.
    """

    def __init__(self, message: str, *fields: str) -> None:
        super().__init__(message)
        self.fields = fields


class NotFound(InvalidInput):
    """An id that names nothing."""


class MailboxResting(InvalidInput):
    """The mailbox has had its e-mails for today, or its owner asked for none: nothing is
    filed that would write to it (dsr/core/intake/mailboxes.py)."""


class NoteRequired(InvalidInput):
    """The chosen complaint answer points to a staff note and none was given (a page says so
    in its own language)."""


class ConfigError(DsrError):
    """The configuration is wrong; fix it and restart."""


class StoreError(DsrError):
    """A data store could not do what was asked."""


class RetriableStoreError(StoreError):
    """The store is unreachable or busy; try again later."""


class FatalStoreError(StoreError):
    """Retrying will not help (bad config, schema mismatch); ops must act."""


class NotApplicable(DsrError):
    """This store has nothing to do for this request (task is skipped)."""


class DeliveryError(DsrError):
    """The reply could not be handed to the SMTP server; the outbox row stays pending."""


class DeliveryRefused(DeliveryError):
    """The receiving server refused the message for good (SMTP 5xx, HTTP 4xx): never retried."""


class StorageFull(DsrError):
    """A disk we write to is full; what was half-written is removed and the work can resume."""


class PermissionDenied(DsrError):
    """The caller's role does not allow this (CLI exit status 2, HTTP 403)."""


class StateConflict(DsrError):
    """The request is not in a state that allows this action."""


class Gone(DsrError):
    """It existed and was removed on purpose (an erasure took an export with it): HTTP 410."""
