"""API-key authentication: ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``.

Missing or wrong key: 401; a key whose role does not allow the operation: 403. Both bodies are
fixed strings, so an error tells a caller nothing about keys, roles or requests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.deps import service
from dsr.service import Caller, Role, StaffKey

UNAUTHORISED = "authentication required"
FORBIDDEN = "not allowed for this API key"

_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from `dsr apikey create`.",
)
_bearer = HTTPBearer(
    auto_error=False, scheme_name="Bearer", description="The same API key as a bearer token."
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, its name (the staff identity) and its role."""

    key_id: str
    name: str
    role: str

    @property
    def actor(self) -> str:
        """The audit log's actor for what this key does."""
        return f"api:{self.name}"

    def may(self, needed: Role) -> bool:
        return self.caller.may(needed)

    @property
    def caller(self) -> Caller:
        """This key as the application service sees it: it owns what it files."""
        return Caller(self.actor, Role(self.role), owner=self.key_id)

    @classmethod
    def of(cls, key: StaffKey) -> Principal:
        return cls(key.key_id, key.name, key.role)


def unauthorised() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, UNAUTHORISED, headers={"WWW-Authenticate": "Bearer"}
    )


def forbidden() -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, FORBIDDEN)


def principal(
    request: Request,
    header_key: str | None = Depends(_header),
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> Principal:
    """The caller's key, looked up by digest; 401 when there is none that is live."""
    key = header_key or (bearer.credentials if bearer else None)
    found = service(request).authenticate(key)
    if found is None:
        raise unauthorised()
    return Principal.of(found)


def require(needed: Role) -> Callable[..., Principal]:
    """A dependency admitting keys whose role allows ``needed``; 403 for the others."""

    def dependency(who: Principal = Depends(principal)) -> Principal:
        if not who.may(needed):
            raise forbidden()
        return who

    return dependency
