"""The validated shape of one ``kind: http`` entry of ``config/connectors.yaml``.

A store behind a JSON API (a mailing-list manager, a help desk) is described, not coded: where
its records are found by each identifier kind, what a record's key is and which of its fields
hold identifiers, and the requests that read, change and erase one. Secrets are never written
here: ``auth`` names an entry of the ``DSR_HTTP_SECRETS`` setting.

Requests are templates. ``{value}`` is the identifier searched by, ``{new}`` / ``{old}`` a
rectified field's values, ``{key}`` the record's key and ``{field}`` any top-level field of the
record; in a path every value is URL-quoted. A path that renders to an absolute URL (a record's
own link) must stay on the store's host.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, HttpUrl, field_validator, model_validator

from connectors.sql_config import _CONNECTOR_NAME, _NAME, Kind, ReviewSpec, _Strict
from dsr.identity import KINDS

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class Pagination(_Strict):
    """How a collection continues past its first response.

    ``page``: a page number (``page_param``, from ``first_page``) and a page size
    (``size_param``), until a page comes back short. ``cursor``: the value at ``next`` in the
    body is sent as ``cursor_param`` until it is empty. ``link``: the ``Link`` header's
    ``rel="next"`` URL is followed until there is none.
    """

    style: Literal["page", "cursor", "link"]
    size: int = Field(default=50, ge=1, le=10_000)
    size_param: str | None = None
    page_param: str = "page"
    first_page: int = 1
    cursor_param: str = "cursor"
    next: str | None = None  # JSON path of the next cursor (style cursor)
    max_pages: int = Field(default=1000, ge=1)  # a loop in the server's links stops here

    @model_validator(mode="after")
    def _complete(self) -> Pagination:
        if self.style == "cursor" and not self.next:
            raise ValueError("pagination style cursor needs 'next' (where the cursor is)")
        if self.style == "page" and not self.size_param:
            raise ValueError("pagination style page needs 'size_param'")
        return self


class Call(_Strict):
    """One request: method, path below the base URL, query and JSON body (all templates).

    ``records`` is the JSON path of the list of records in the answer (``$``: the answer is one
    record). ``none`` are statuses meaning "nothing here" (404 for a lookup by address, or for
    deleting what an earlier attempt already deleted); ``done`` statuses mean "already as
    wanted" (a ban that exists). Both are successes that return no record.
    """

    method: Method = "GET"
    path: str
    query: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | None = None
    records: str = "$"
    total: str | None = None  # JSON path of the collection's size (an absent list is empty)
    paginate: bool = True  # follow the store's pagination when the answer is a list
    none: list[int] = Field(default_factory=list)
    done: list[int] = Field(default_factory=list)
    # Keep only records whose ``match`` fields hold the value searched by: for a lookup that
    # reads patterns (Mailman's members/find reads an address holding ``*`` as one).
    exact: bool = False

    @field_validator("none", "done")
    @classmethod
    def _client_errors(cls, value: list[int]) -> list[int]:
        # 429 and 5xx are the server's trouble: they are retried, never read as an answer.
        if any(not 400 <= s < 500 or s == 429 for s in value):
            raise ValueError("only 4xx statuses other than 429 can mean 'none' or 'done'")
        return value


class Holds(_Strict):
    """Records of another resource that erasing this one removes with it (the store cascades):
    those whose ``field`` equals this record's ``value`` (a user's addresses name its link)."""

    resource: str = Field(pattern=_NAME)
    field: str
    value: str


class Resource(_Strict):
    """One kind of record the store holds (its addresses, users, memberships).

    ``find`` maps an identifier kind to the requests that return the records it reaches (their
    results are merged by key). ``match`` names the fields holding each identifier kind (the
    values are re-read there, in any spelling), ``owner`` the kinds that name the record's
    account, ``provides`` what an admitted record adds to the subject's identifiers.
    ``read`` reads one record by key (``{key}``) for staff deciding whose it is, who see the
    fields ``review`` names (``name`` defaults to the field rectify changes as ``name``,
    ``created`` to ``collected_at``); ``rectify`` maps a public field to the record's field
    holding it and the requests that change it; ``erase`` are the requests that remove the
    record, in order (a suppression first, then the delete).
    """

    name: str = Field(pattern=_NAME)
    key: str
    find: dict[str, list[Call]] = Field(min_length=1)
    match: dict[str, list[str]] = Field(default_factory=dict)
    owner: list[Kind] = Field(default_factory=list)
    provides: dict[str, str] = Field(default_factory=dict)
    fields: list[str] | None = None  # exported fields (default: every top-level field)
    collected_at: str | None = None
    read: Call | None = None
    review: ReviewSpec = Field(default_factory=ReviewSpec)
    rectify: dict[str, Rectify] = Field(default_factory=dict)
    erase: list[Call] = Field(default_factory=list)
    # Requests that put an erased record's address on the store's own never-again list (a
    # list's bans), sent before ``erase``; reported as retained under ``suppress_as``.
    suppress: list[Call] = Field(default_factory=list)
    suppress_as: str = Field(default="suppression", pattern=_NAME)
    keep: bool = False  # erasure leaves these records as they are (they hold nothing personal)
    # What the store deletes along with a record: it is left for review while it holds a record
    # the policy did not admit (staff said "not theirs", or another account's).
    holds: list[Holds] = Field(default_factory=list)

    @property
    def name_field(self) -> str | None:
        """The field holding the record's name (review), as configured."""
        named = self.rectify.get("name")
        return self.review.name or (named.field if named else None)

    @property
    def created_field(self) -> str | None:
        """The field saying when the record was created (review), as configured."""
        return self.review.created or self.collected_at

    @field_validator("find", mode="before")
    @classmethod
    def _calls_as_lists(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: v if isinstance(v, list) else [v] for k, v in value.items()}
        return value

    @field_validator("match", mode="before")
    @classmethod
    def _fields_as_lists(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("find", "match", "provides")
    @classmethod
    def _known_kinds(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(KINDS))
        if unknown:
            raise ValueError(
                f"unknown identifier kind {', '.join(unknown)} (known: {', '.join(KINDS)})"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Resource:
        unmatched = [k for k in self.owner if k not in self.match]
        if unmatched:
            raise ValueError(f"owner kind {', '.join(unmatched)} is not one of 'match'")
        if not self.erase and not self.keep:
            raise ValueError("say how a record is erased ('erase' requests) or 'keep: true'")
        if (self.erase or self.suppress) and self.keep:
            raise ValueError("'erase' or 'suppress' and 'keep' exclude each other")
        inexact = [k for k, calls in self.find.items() if any(c.exact for c in calls)]
        if any(k not in self.match for k in inexact):
            raise ValueError("'exact' finds need the kind's fields in 'match'")
        return self


class Rectify(_Strict):
    """A public field a rectify may change: the record's field holding it, and the requests."""

    field: str
    calls: list[Call] = Field(min_length=1)


class Auth(_Strict):
    """How requests authenticate; ``secret`` names an entry of ``DSR_HTTP_SECRETS``."""

    type: Literal["bearer", "basic", "header"]
    secret: str = Field(pattern=_NAME)
    username: str | None = None  # basic
    header: str | None = None  # header: its name (X-Api-Key)

    @model_validator(mode="after")
    def _complete(self) -> Auth:
        if self.type == "basic" and not self.username:
            raise ValueError("basic auth needs 'username'")
        if self.type == "header" and not self.header:
            raise ValueError("header auth needs 'header' (the header's name)")
        return self


class HttpConfig(_Strict):
    """A whole ``kind: http`` connector entry."""

    name: str = Field(pattern=_CONNECTOR_NAME)
    kind: Literal["http"] = "http"
    base_url: HttpUrl
    labels: dict[str, str] = Field(default_factory=dict)
    auth: Auth | None = None
    timeout: float = Field(default=10.0, gt=0, le=300)
    retries: int = Field(default=3, ge=0, le=10)  # attempts after the first, within one task
    backoff: float = Field(default=0.5, ge=0, le=60)  # seconds, doubled per attempt
    rate_limit: float | None = Field(default=None, gt=0)  # requests per second, per store
    max_retry_after: float = Field(default=30.0, ge=0)  # longer waits end the attempt
    ca_file: str | None = None  # a private CA for the store's certificate (never "no check")
    pagination: Pagination | None = None
    resources: list[Resource] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> HttpConfig:
        names = [r.name for r in self.resources]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"resource {', '.join(twice)} is listed twice")
        unknown = sorted({h.resource for r in self.resources for h in r.holds} - set(names))
        if unknown:
            raise ValueError(f"holds: no resource {', '.join(unknown)}")
        return self


Resource.model_rebuild()
