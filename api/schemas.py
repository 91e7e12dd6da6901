"""The HTTP API's bodies, published in the OpenAPI schema.

The request shapes the API answers with are ``dsr.core.intake.views``' (the CLI's ``--json`` shape,
defined once). Input strings refuse control characters: PostgreSQL cannot store NUL, and no
name, address or code contains them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dsr.core.ledger.models import RequestKind
from dsr.identity import has_control


def printable(value: str, *, keep: str = "") -> str:
    """``value`` unchanged, or ValueError when it holds a control character not in ``keep``."""
    if has_control(value, keep=keep):
        raise ValueError("must not contain control characters")
    return value


def prose(value: str | None) -> str | None:
    """Free text (a complaint, a note): line breaks and tabs allowed, other controls not."""
    return None if value is None else printable(value, keep="\n\r\t")


class RequestIn(BaseModel):
    """A data-subject request to file; the filing staff member is the API key's name.

    Strict: ``"verified": "yes"`` or ``1`` is not a boolean, a number is not a string.
    """

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "kind": "access",
                    "email": "an.nguyen@example.vn",
                    "phone": "0912345678",
                    "language": "vi",
                },
                {
                    "kind": "rectify",
                    "email": "an.nguyen@example.vn",
                    "changes": {"name": "Nguyễn Văn An"},
                },
            ]
        },
    )

    kind: RequestKind = Field(strict=False)  # from JSON an enum is its string value
    email: str = Field(max_length=320, description="The subject's e-mail address.")
    phone: str | None = Field(default=None, max_length=40)
    name: str | None = Field(default=None, max_length=200)
    changes: dict[str, str] = Field(
        default_factory=dict, max_length=20, description="rectify only: field -> new value"
    )
    jurisdiction: str | None = Field(
        default=None, max_length=16, description="Deadline profile (vn, gdpr, ccpa, policy30)."
    )
    language: Literal["vi", "en"] | None = None
    verified: bool = Field(
        default=False, description="The staff member vouches for the subject's identity."
    )
    text: str | None = Field(
        default=None, max_length=5000, description="complaint only: what it is about"
    )

    @field_validator("email", "phone", "name", "jurisdiction")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        return None if value is None else printable(value)

    @field_validator("text")
    @classmethod
    def _prose(cls, value: str | None) -> str | None:
        return prose(value)

    @field_validator("changes")
    @classmethod
    def _printable_changes(cls, value: dict[str, str]) -> dict[str, str]:
        for fld, new in value.items():
            if len(fld) > 64 or len(new) > 500:
                raise ValueError("field names are at most 64 characters, values 500")
            printable(fld)
            printable(new)
        return value


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    code: str = Field(min_length=1, max_length=32, description="The subject's one-time code.")

    @field_validator("code")
    @classmethod
    def _printable(cls, value: str) -> str:
        return printable(value)


class AnswerIn(BaseModel):
    """Staff's answer to a complaint: a template name and an optional note for the subject."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"template": "no_misuse", "note": "Đã kiểm tra."}]},
    )

    template: str = Field(
        min_length=1, max_length=64, description="One of GET /complaints/templates."
    )
    note: str | None = Field(default=None, max_length=2000)

    @field_validator("template")
    @classmethod
    def _printable(cls, value: str) -> str:
        return printable(value)

    @field_validator("note")
    @classmethod
    def _prose(cls, value: str | None) -> str | None:
        return prose(value)


class ReviewIn(BaseModel):
    """A staff decision on a needs_review request's candidates (their ``ref``s)."""

    model_config = ConfigDict(extra="forbid")

    include: list[str] = Field(default_factory=list, max_length=1000)
    exclude: list[str] = Field(default_factory=list, max_length=1000)
    exclude_all: bool = Field(
        default=False, description="Exclude every undecided candidate not named in include."
    )

    @field_validator("include", "exclude")
    @classmethod
    def _refs(cls, value: list[str]) -> list[str]:
        for ref in value:
            if not ref or len(ref) > 400:
                raise ValueError("a candidate ref is 1 to 400 characters")
            printable(ref)
        return value


class ErrorOut(BaseModel):
    """Every error body: one line; validation errors also list each problem."""

    detail: str
    errors: list[dict[str, Any]] | None = None


class HealthOut(BaseModel):
    status: Literal["ok", "fail"]
    checks: dict[str, Literal["ok", "fail"]]
