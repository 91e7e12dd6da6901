"""The HTTP connector against a real JSON API: pagination, the rate limit, Retry-After, how
failures are classified, authentication from settings, and TLS verification."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import Settings
from connectors.base import Connector, Operation
from connectors.registry import load_connectors
from demo.smtp_sink import free_port
from dsr.errors import ConfigError, FatalStoreError, RetriableStoreError
from dsr.identity import EMAIL, Identity
from tests.connectors.json_api import Answer, Seen, serve
from tests.connectors.stores import ListPolicy

ADDRESS = "khach.hang@example.com"
SUBJECT = Identity({EMAIL: {ADDRESS}})


def entry(url: str, **extra: Any) -> dict[str, Any]:
    """A help desk whose tickets are found by the requester's address."""
    base: dict[str, Any] = {
        "name": "helpdesk",
        "kind": "http",
        "base_url": url,
        "labels": {"vi": "Hỗ trợ", "en": "Help desk"},
        "retries": 2,
        "backoff": 0.01,
        "timeout": 2,
        "resources": [
            {
                "name": "tickets",
                "key": "id",
                "find": {
                    "email": {
                        "path": "tickets",
                        "query": {"requester": "{value}"},
                        "records": "items",
                    }
                },
                "match": {"email": "requester"},
                "owner": ["email"],
                "erase": [{"method": "DELETE", "path": "tickets/{id}", "none": [404]}],
            }
        ],
    }
    base.update(extra)
    return base


def build(
    tmp_path: Path, config: dict[str, Any], secrets: dict[str, str] | None = None
) -> Connector:
    path = tmp_path / f"connectors-{time.monotonic_ns()}.yaml"
    path.write_text(yaml.safe_dump({"connectors": [config]}), "utf-8")
    return load_connectors(
        path, data_dir=tmp_path, secret_key="k" * 32, region="VN", secrets=secrets or {}
    )["helpdesk"]


def tickets(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"id": i, "requester": ADDRESS, "subject": f"#{i}"} for i in range(start, start + n)]


def test_page_numbers_are_followed_to_a_short_page(tmp_path: Path) -> None:
    """Page-number pagination reads every page until one comes back short: 120 tickets."""

    def handler(r: Seen) -> Answer:
        page, size = int(r.query["page"]), int(r.query["per_page"])
        everything = tickets(120)
        return Answer(body={"items": everything[(page - 1) * size : page * size]})

    with serve(handler) as api:
        paging = {"style": "page", "size_param": "per_page", "size": 50}
        store = build(tmp_path, entry(api.url, pagination=paging))
        assert store.find(SUBJECT).count == 120
        assert [r.query["page"] for r in api.seen] == ["1", "2", "3"]
        assert api.seen[0].query["requester"] == ADDRESS


def test_a_cursor_is_followed_until_it_is_empty(tmp_path: Path) -> None:
    """Cursor pagination sends back the cursor each answer names, until there is none."""

    def handler(r: Seen) -> Answer:
        at = int(r.query.get("after", "0"))
        following = str(at + 40) if at + 40 < 100 else None
        return Answer(body={"items": tickets(min(40, 100 - at), at), "meta": {"next": following}})

    with serve(handler) as api:
        paging = {"style": "cursor", "cursor_param": "after", "next": "meta.next"}
        store = build(tmp_path, entry(api.url, pagination=paging))
        assert store.find(SUBJECT).count == 100
        assert [r.query.get("after") for r in api.seen] == [None, "40", "80"]


def test_link_headers_are_followed_on_the_same_host_only(tmp_path: Path) -> None:
    """Link-header pagination follows rel="next"; a next link to another host is refused
    (the credentials would go with it)."""
    elsewhere = {"flag": False}

    def handler(r: Seen) -> Answer:
        page = int(r.query.get("p", "1"))
        headers = {}
        if page < 3:
            host = f"127.0.0.2:{free_port()}" if elsewhere["flag"] else r.headers["host"]
            headers["Link"] = f'<http://{host}/api/tickets?requester=x&p={page + 1}>; rel="next"'
        return Answer(body={"items": tickets(10, page * 10)}, headers=headers)

    with serve(handler) as api:
        store = build(tmp_path, entry(api.url, pagination={"style": "link"}))
        assert store.find(SUBJECT).count == 30
        elsewhere["flag"] = True
        with pytest.raises(FatalStoreError, match="outside its own host"):
            store.find(SUBJECT)


def test_the_rate_limit_spaces_requests(tmp_path: Path) -> None:
    """With rate_limit 10, eleven requests to the store take at least a second."""
    with serve(lambda r: Answer(body={"items": tickets(1)})) as api:
        store = build(tmp_path, entry(api.url, rate_limit=10))
        for _ in range(11):
            store.find(SUBJECT)
        gaps = [b.at - a.at for a, b in zip(api.seen, api.seen[1:], strict=False)]
        assert api.seen[-1].at - api.seen[0].at >= 0.95
        assert min(gaps) >= 0.08


def test_retry_after_is_honoured(tmp_path: Path) -> None:
    """A 429 with Retry-After: 1 is retried no sooner than a second later, then succeeds."""
    calls = {"n": 0}

    def handler(r: Seen) -> Answer:
        calls["n"] += 1
        if calls["n"] == 1:
            return Answer(429, {"error": "slow down"}, {"Retry-After": "1"})
        return Answer(body={"items": tickets(2)})

    with serve(handler) as api:
        store = build(tmp_path, entry(api.url))
        assert store.find(SUBJECT).count == 2
        assert api.seen[1].at - api.seen[0].at >= 0.95


def test_a_long_retry_after_ends_the_attempt_as_retriable(tmp_path: Path) -> None:
    """A Retry-After longer than max_retry_after is not slept through in a worker: the task is
    retried later (RetriableStoreError), after one request."""
    with serve(lambda r: Answer(503, headers={"Retry-After": "3600"})) as api:
        store = build(tmp_path, entry(api.url, max_retry_after=5))
        with pytest.raises(RetriableStoreError, match="retry after 3600"):
            store.find(SUBJECT)
        assert len(api.seen) == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_server_trouble_is_retried_then_retriable(tmp_path: Path, status: int) -> None:
    """429 and 5xx are retried (retries: 2, so three requests), then RetriableStoreError
    naming the status and never the address searched."""
    with serve(lambda r: Answer(status, {"error": ADDRESS})) as api:
        store = build(tmp_path, entry(api.url))
        with pytest.raises(RetriableStoreError, match=str(status)) as caught:
            store.find(SUBJECT)
        assert len(api.seen) == 3
        assert ADDRESS not in str(caught.value)


def test_a_500_then_an_answer_succeeds(tmp_path: Path) -> None:
    """One 500 then a good answer: the records, after one retry."""
    calls = {"n": 0}

    def handler(r: Seen) -> Answer:
        calls["n"] += 1
        return Answer(500) if calls["n"] == 1 else Answer(body={"items": tickets(3)})

    with serve(handler) as api:
        assert build(tmp_path, entry(api.url)).find(SUBJECT).count == 3
        assert len(api.seen) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_client_errors_are_fatal_at_once(tmp_path: Path, status: int) -> None:
    """Any other 4xx is FatalStoreError after one request (retrying would not help)."""
    with serve(lambda r: Answer(status)) as api:
        store = build(tmp_path, entry(api.url))
        with pytest.raises(FatalStoreError, match=str(status)):
            store.find(SUBJECT)
        assert len(api.seen) == 1


def test_a_redirect_is_not_followed(tmp_path: Path) -> None:
    """A redirect is refused, not followed: it could take the credentials elsewhere."""
    moved = Answer(302, headers={"Location": "http://127.0.0.3/"})
    with serve(lambda r: moved) as api, pytest.raises(FatalStoreError, match="302"):
        build(tmp_path, entry(api.url)).find(SUBJECT)


def test_a_slow_store_times_out_as_retriable(tmp_path: Path) -> None:
    """An answer slower than the timeout is retried, then RetriableStoreError."""
    with serve(lambda r: Answer(body={"items": []}, delay=1.5)) as api:
        store = build(tmp_path, entry(api.url, timeout=0.3, retries=1))
        with pytest.raises(RetriableStoreError, match="no answer in time"):
            store.find(SUBJECT)
        assert len(api.seen) == 2


def test_an_unreachable_store_is_retriable(tmp_path: Path) -> None:
    """Nothing listening: RetriableStoreError, as for a SQL store that is down."""
    store = build(tmp_path, entry(f"http://127.0.0.1:{free_port()}/api/", retries=1))
    with pytest.raises(RetriableStoreError, match="unreachable"):
        store.find(SUBJECT)


@pytest.mark.parametrize(
    ("auth", "header", "expected"),
    [
        ({"type": "bearer", "secret": "desk"}, "authorization", "Bearer s3cret-token-value"),
        (
            {"type": "basic", "secret": "desk", "username": "dsr"},
            "authorization",
            "Basic ZHNyOnMzY3JldC10b2tlbi12YWx1ZQ==",
        ),
        ({"type": "header", "secret": "desk", "header": "X-Api-Key"}, "x-api-key", None),
    ],
)
def test_credentials_come_from_settings(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    auth: dict[str, str],
    header: str,
    expected: str | None,
) -> None:
    """The YAML names a secret; its value comes from DSR_HTTP_SECRETS and is sent as the
    configured kind of authentication."""
    monkeypatch.setenv("DSR_HTTP_SECRETS", '{"desk": "s3cret-token-value"}')
    secrets = Settings().http_secrets
    with serve(lambda r: Answer(body={"items": []})) as api:
        build(tmp_path, entry(api.url, auth=auth), secrets).find(SUBJECT)
        assert api.seen[0].headers[header] == (expected or "s3cret-token-value")


def test_a_missing_secret_or_a_secret_in_the_yaml_is_refused(tmp_path: Path) -> None:
    """A secret not in the settings is a ConfigError at start-up; a token written in the YAML
    is refused (the entry has no such key)."""
    with pytest.raises(ConfigError, match="DSR_HTTP_SECRETS"):
        build(tmp_path, entry("http://127.0.0.1:1/", auth={"type": "bearer", "secret": "desk"}))
    inline = {"type": "bearer", "secret": "desk", "token": "s3cret-token-value"}
    with pytest.raises(ConfigError, match="token"):
        build(tmp_path, entry("http://127.0.0.1:1/", auth=inline), {"desk": "x"})


def test_tls_certificates_are_verified(tmp_path: Path) -> None:
    """A certificate the system does not trust is refused (FatalStoreError: ops must act);
    naming its CA in ca_file makes the same store work."""
    with serve(lambda r: Answer(body={"items": tickets(1)}), tls_folder=tmp_path) as api:
        with pytest.raises(FatalStoreError, match="certificate is not trusted"):
            build(tmp_path, entry(api.url)).find(SUBJECT)
        trusted = build(tmp_path, entry(api.url, ca_file=str(api.cert)))
        assert trusted.find(SUBJECT).count == 1


def test_erasure_deletes_what_the_policy_admits_and_searches_again(
    tmp_path: Path, staging: Path
) -> None:
    """Erase sends the delete for each admitted record, then searches again; a store that
    still answers with the records fails the task (nothing claims completeness)."""
    held = dict(enumerate(tickets(3)))
    forget = {"deletes": True}

    def handler(r: Seen) -> Answer:
        if r.method == "DELETE":
            if forget["deletes"]:
                held.pop(int(r.path.rsplit("/", 1)[1]), None)
            return Answer(204)
        return Answer(body={"items": list(held.values())})

    with serve(handler) as api:
        store = build(tmp_path, entry(api.url))
        result = store.apply(Operation.ERASE, ListPolicy(SUBJECT), staging=staging)
        assert [(o.table, o.action.value, o.count) for o in result.outcomes] == [
            ("tickets", "erased", 3)
        ]
        assert result.remaining == [] and held == {}
        held.update(dict(enumerate(tickets(2))))
        forget["deletes"] = False  # the store answers 204 and keeps them
        with pytest.raises(FatalStoreError, match=r"tickets \(2\)"):
            store.apply(Operation.ERASE, ListPolicy(SUBJECT), staging=staging)


def test_requests_log_no_address(tmp_path: Path) -> None:
    """The store's URLs hold the subject's address: nothing of a find, or of its failure, is
    logged with it (httpx's per-request lines are off, and the chain redacts the rest)."""
    from tests.core.ops.test_logging import rendered

    with rendered("json", "DEBUG") as buf, serve(lambda r: Answer(body={"items": []})) as api:
        build(tmp_path, entry(api.url)).find(SUBJECT)
        logging.getLogger("connectors").warning("asked %s", api.seen[0].query)
    text = buf.getvalue()
    assert "HTTP Request" not in text
    assert ADDRESS not in text and "khach.hang%40" not in text


def test_a_missing_list_is_empty_only_when_the_total_says_so(tmp_path: Path) -> None:
    """An answer without the configured list is an error (a mistyped path must not read as
    "nothing here") unless its total says 0; a page past the end may leave it out."""
    answers = {"body": {"total": 0}}
    with serve(lambda r: Answer(body=answers["body"])) as api:
        config = entry(api.url)
        with pytest.raises(FatalStoreError, match="no records at 'items'"):
            build(tmp_path, config).find(SUBJECT)
        config["resources"][0]["find"]["email"]["total"] = "total"
        assert build(tmp_path, config).find(SUBJECT).count == 0
        answers["body"] = {"total": 7}
        with pytest.raises(FatalStoreError, match="no records at 'items'"):
            build(tmp_path, config).find(SUBJECT)


def test_a_full_last_page_then_an_empty_one_ends_the_list(tmp_path: Path) -> None:
    """Exactly one full page: the next page leaves the list out (Mailman), and that is the end."""

    def handler(r: Seen) -> Answer:
        if r.query["page"] == "1":
            return Answer(body={"items": tickets(50), "total": 50})
        return Answer(body={"total": 50})

    with serve(handler) as api:
        paging = {"style": "page", "size_param": "per_page", "size": 50}
        config = entry(api.url, pagination=paging)
        config["resources"][0]["find"]["email"]["total"] = "total"
        assert build(tmp_path, config).find(SUBJECT).count == 50
        assert len(api.seen) == 2


def test_a_record_without_its_key_is_an_error(tmp_path: Path) -> None:
    """A record the configuration cannot name (no key) stops the task: it could not be acted
    on, and must not be passed over as if it were not there."""
    keyless = Answer(body={"items": [{"requester": ADDRESS}]})
    with serve(lambda r: keyless) as api, pytest.raises(FatalStoreError, match="no key at 'id'"):
        build(tmp_path, entry(api.url)).find(SUBJECT)
