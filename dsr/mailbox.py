"""The mailbox an address lands in: sub-addresses folded, and providers' own rules.

``victim+1@example.com`` and ``victim+2@example.com`` reach one mailbox, so do
``v.i.c.t.i.m@gmail.com`` and ``victim@googlemail.com``. Limits that protect a mailbox (how many
e-mails, how many wrong codes a day) count per :func:`fold` of the address, not per address as
written. Only what the provider is known to do is folded: a wrong fold would make two people's
mailboxes share one count.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    """How a provider reads the local part, and the domain its aliases stand for."""

    domain: str
    ignores_dots: bool = False


# Domains whose mailboxes ignore dots in the local part, and their aliases (a small table: add a
# provider when its rules are documented by the provider itself).
PROVIDERS: dict[str, Provider] = {
    "gmail.com": Provider("gmail.com", ignores_dots=True),
    "googlemail.com": Provider("gmail.com", ignores_dots=True),
}
SUBADDRESS = "+"  # RFC 5233 sub-addressing, which every large provider supports


def fold(email: str) -> str:
    """The mailbox of an (already normalised) address: ``local+tag@domain`` → ``local@domain``,
    and the provider's rules from :data:`PROVIDERS`."""
    local, _, domain = email.casefold().rpartition("@")
    if not local:
        return email.casefold()
    local = local.split(SUBADDRESS, 1)[0] or local
    provider = PROVIDERS.get(domain)
    if provider is not None:
        domain = provider.domain
        if provider.ignores_dots:
            local = local.replace(".", "") or local
    return f"{local}@{domain}"
