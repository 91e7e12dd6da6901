"""The contract suite's HTTP store: a real Mailman 3 holding the subject's and a bystander's
addresses and memberships, driven by the example entry ``config/examples/mailman3.yaml``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from config.settings import CONFIG_DIR
from connectors.base import Action, Connector, RetentionRule
from connectors.registry import load_connectors, read_entries
from dsr.identity import EMAIL, Identity
from tests.connectors.stores import (
    A_EMAIL,
    A_EMAIL_RAW,
    A_NAME,
    B_EMAIL_RAW,
    B_NAME,
    SECRET,
    Harness,
)
from tests.mailman_server import Mailman

EXAMPLE = CONFIG_DIR / "examples" / "mailman3.yaml"
A_WORK = "a.nguyen@work.vn"  # the subject's second address, on the same Mailman user
SECRET_NAME = "mailman_rest"
KEYS = {"memberships": "member_id", "addresses": "email", "users": "user_id"}
COLLECTIONS = {"memberships": "members", "addresses": "addresses", "users": "users"}


def mailman_connector(tmp_path: Path, server: Mailman, **overrides: Any) -> Connector:
    """The example Mailman entry pointed at ``server``, built by the real registry."""
    entry = read_entries(EXAMPLE, data_dir=tmp_path)[0]
    entry.update(base_url=server.base_url, **overrides)
    path = tmp_path / "connectors-mailman.yaml"
    path.write_text(yaml.safe_dump({"connectors": [entry]}, allow_unicode=True), "utf-8")
    connectors = load_connectors(
        path,
        data_dir=tmp_path,
        secret_key=SECRET,
        region="VN",
        secrets={SECRET_NAME: server.password},
    )
    return connectors[entry["name"]]


def populate(server: Mailman) -> None:
    """The subject on three lists with two addresses (one user), the bystander on one."""
    server.reset()
    news, offers, events = (server.add_list(n) for n in ("news", "offers", "events"))
    server.subscribe(news, A_EMAIL_RAW, A_NAME)
    server.subscribe(offers, A_EMAIL_RAW, A_NAME)
    server.add_address(A_EMAIL, A_WORK)
    server.subscribe(events, A_WORK)
    server.subscribe(news, B_EMAIL_RAW, B_NAME)


@dataclass
class MailmanHarness(Harness):
    """The contract suite's view of a Mailman: its collections through the admin API."""

    server: Mailman | None = None

    def _records(self, table: str) -> list[dict[str, Any]]:
        assert self.server is not None
        found = self.server.entries(COLLECTIONS[table])
        return [{k: v for k, v in r.items() if k != "http_etag"} for r in found]

    def count(self, table: str, where: str = "1 = 1") -> int:
        return len(self._records(table))

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError("an HTTP store is read through its API (keyed, snapshot)")

    def key_of(self, table: str) -> str:
        return KEYS[table]

    def keyed(self) -> dict[str, dict[str, tuple[object, ...]]]:
        return {
            table: {str(r[KEYS[table]]): tuple(sorted(r.items())) for r in self._records(table)}
            for table in self.tables
        }

    def snapshot(self) -> dict[str, Any]:
        assert self.server is not None
        bans = {
            m["list_id"]: self.server.banned(m["list_id"]) for m in self.server.entries("lists")
        }
        return {**self.keyed(), "bans": bans, "site_bans": self.server.entries("bans")}

    def close(self) -> None:
        self.connector.close()


def make_mailman(tmp_path: Path, server: Mailman) -> MailmanHarness:
    populate(server)
    subject = [a for a in server.entries("addresses") if a["email"] in (A_EMAIL, A_WORK)]
    user = server.get(f"users/{A_EMAIL}").json()
    first = min([a["registered_on"] for a in subject] + [user["created_on"]])
    return MailmanHarness(
        connector=mailman_connector(tmp_path, server),
        engine=None,  # type: ignore[arg-type]  # read through the API instead
        # 2 memberships, 2 addresses (one the user's other), 1 user; the other address's
        # membership only once a policy trusts what the addresses provide (the pipeline's)
        by_kind={EMAIL: 5},
        bystander_count=3,
        access=[
            ("memberships", Action.EXPORTED, 2),
            ("addresses", Action.EXPORTED, 2),
            ("users", Action.EXPORTED, 1),
        ],
        collected_from=first,
        rectify=[
            ("memberships", Action.UNCHANGED, 2),
            ("addresses", Action.UNCHANGED, 2),
            ("users", Action.UNCHANGED, 1),
        ],
        erase=[
            ("memberships", Action.ERASED, 2),
            ("addresses", Action.ERASED, 2),
            ("users", Action.ERASED, 1),
            ("list_bans", Action.RETAINED, 2),
            ("site_bans", Action.RETAINED, 2),
        ],
        tables=["memberships", "addresses", "users"],
        rule=RetentionRule("mailing_lists", "memberships", "created_on", days=30),
        sweeps=False,
        purge_now=datetime(2025, 6, 1, 12, 0),
        held=Identity(),
        add_purge_rows=lambda: None,
        old_live=lambda: 0,
        protected=lambda: None,
        server=server,
    )
