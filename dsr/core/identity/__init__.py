"""Identity assurance: whose records a request may act on. Below the pipeline.

``identifiers`` (each identifier with its provenance: verified, asserted, derived), ``scope`` (the
pure policy: which matched records are the subject's), ``assurance`` (the policy per task, and what
a store's result teaches), ``candidates`` (records whose owner is uncertain, for staff to decide;
``candidate_details`` reads them again from their stores, masked, when ops review them),
``history`` (former identifiers after a rectify), ``deferrals`` (erasures deferred while a record is
still needed, e.g. an order not yet delivered), ``artefacts`` (earlier exports an erasure takes with
it) and ``masking`` (what staff are shown of a value).
"""

from dsr.core.identity import (
    artefacts,
    assurance,
    candidate_details,
    candidates,
    deferrals,
    history,
    identifiers,
    masking,
    scope,
)
from dsr.core.identity.masking import mask_email
from dsr.core.identity.scope import Scope

__all__ = [
    # modules, used as namespaces
    "identifiers",
    "scope",
    "assurance",
    "candidates",
    "candidate_details",
    "history",
    "deferrals",
    "artefacts",
    "masking",
    # scope
    "Scope",
    # masking
    "mask_email",
]
