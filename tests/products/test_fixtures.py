"""The product fixtures are what they claim: upstream's tables, columns and indexes, the known
subjects' identifiers in several spellings, the row counts ``fill`` reports, and a recording on
disk for every recorded call (but the one the PBX cleaned up)."""

from __future__ import annotations

import re
import unicodedata
import wave
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from dsr.identity import normalise_value
from tests.products import bulk
from tests.products.asterisk import recording_path
from tests.products.people import (
    DECOYS,
    KNOWN,
    Population,
    dialled_spellings,
    email_spellings,
    name_spellings,
    phone_spellings,
)
from tests.products.stores import PEOPLE, ProductStore


@dataclass(frozen=True)
class Upstream:
    """One upstream table: its columns in order, which are NOT NULL, its named indexes."""

    columns: tuple[str, ...]
    not_null: frozenset[str]
    indexes: frozenset[str]
    unique: frozenset[str] = field(default_factory=frozenset)
    primary_key: tuple[str, ...] = ()


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Written from the upstream sources named in each product module's docstring, not from the
# fixtures' own metadata: a fixture that drifts from upstream fails here.
WOOCOMMERCE = {
    "wp_users": Upstream(
        _names(
            "ID user_login user_pass user_nicename user_email user_url user_registered "
            "user_activation_key user_status display_name"
        ),
        frozenset(
            _names(
                "ID user_login user_pass user_nicename user_email user_url user_registered "
                "user_activation_key user_status display_name"
            )
        ),
        frozenset(_names("user_login_key user_nicename user_email")),
        primary_key=("ID",),
    ),
    "wp_usermeta": Upstream(
        _names("umeta_id user_id meta_key meta_value"),
        frozenset(_names("umeta_id user_id")),
        frozenset(_names("user_id meta_key")),
        primary_key=("umeta_id",),
    ),
    "wp_wc_orders": Upstream(
        _names(
            "id status currency type tax_amount total_amount customer_id billing_email "
            "date_created_gmt date_updated_gmt parent_order_id payment_method "
            "payment_method_title transaction_id ip_address user_agent customer_note"
        ),
        frozenset({"id"}),
        frozenset(
            _names(
                "status date_created customer_id_billing_email billing_email type_status_date "
                "parent_order_id date_updated"
            )
        ),
        primary_key=("id",),
    ),
    "wp_wc_order_addresses": Upstream(
        _names(
            "id order_id address_type first_name last_name company address_1 address_2 city "
            "state postcode country email phone"
        ),
        frozenset(_names("id order_id")),
        frozenset(_names("order_id address_type_order_id email phone")),
        unique=frozenset({"address_type_order_id"}),
        primary_key=("id",),
    ),
    "wp_wc_order_operational_data": Upstream(
        _names(
            "id order_id created_via woocommerce_version prices_include_tax "
            "coupon_usages_are_counted download_permission_granted cart_hash "
            "new_order_email_sent order_key order_stock_reduced date_paid_gmt "
            "date_completed_gmt shipping_tax_amount shipping_total_amount discount_tax_amount "
            "discount_total_amount recorded_sales"
        ),
        frozenset({"id"}),
        frozenset(_names("order_id order_key")),
        unique=frozenset({"order_id"}),
        primary_key=("id",),
    ),
}
LISTMONK = {
    "subscribers": Upstream(
        _names("id uuid email name attribs status created_at updated_at"),
        frozenset(_names("id uuid email name attribs status")),
        frozenset(
            _names(
                "idx_subs_email idx_subs_status idx_subs_id_status idx_subs_created_at "
                "idx_subs_updated_at"
            )
        ),
        unique=frozenset({"idx_subs_email"}),
        primary_key=("id",),
    ),
    "lists": Upstream(
        _names("id uuid name type optin status tags description created_at updated_at"),
        frozenset(_names("id uuid name type optin status description")),
        frozenset(
            _names(
                "idx_lists_type idx_lists_optin idx_lists_status idx_lists_name "
                "idx_lists_created_at idx_lists_updated_at"
            )
        ),
        primary_key=("id",),
    ),
    "subscriber_lists": Upstream(
        _names("subscriber_id list_id meta status created_at updated_at"),
        frozenset(_names("subscriber_id list_id meta status")),
        frozenset(_names("idx_sub_lists_sub_id idx_sub_lists_list_id idx_sub_lists_status")),
        primary_key=("subscriber_id", "list_id"),
    ),
}
ODOO = {  # Odoo 17's stored fields of res.partner (base) and sale.order (sale), those kept
    "res_partner": Upstream(
        _names(
            "id name complete_name title parent_id ref lang tz user_id vat company_registry "
            "website comment active employee function type street street2 zip city state_id "
            "country_id partner_latitude partner_longitude email phone mobile is_company "
            "industry_id company_id color partner_share commercial_partner_id "
            "commercial_company_name company_name date create_uid create_date write_uid "
            "write_date"
        ),
        frozenset({"id"}),
        frozenset(
            f"res_partner__{c}_index"
            for c in _names(
                "name complete_name date parent_id ref vat company_id commercial_partner_id"
            )
        ),
        primary_key=("id",),
    ),
    "sale_order": Upstream(
        _names(
            "id name company_id partner_id state locked client_order_ref commitment_date "
            "date_order origin reference require_signature require_payment prepayment_percent "
            "signed_by signed_on validity_date note partner_invoice_id partner_shipping_id "
            "pricelist_id currency_id currency_rate user_id team_id amount_untaxed amount_tax "
            "amount_total amount_to_invoice invoice_status access_token create_uid create_date "
            "write_uid write_date"
        ),
        frozenset(
            _names(
                "id name company_id partner_id date_order partner_invoice_id partner_shipping_id"
            )
        ),
        frozenset(
            {
                "sale_order_date_order_id_idx",
                *(
                    f"sale_order__{c}_index"
                    for c in _names("name company_id partner_id state create_date user_id")
                ),
            }
        ),
        primary_key=("id",),
    ),
}
CDR_COLUMNS = _names(
    "calldate clid src dst dcontext channel dstchannel lastapp lastdata duration billsec "
    "disposition amaflags accountcode uniqueid userfield did recordingfile cnum cnam "
    "outbound_cnum outbound_cnam dst_cnam linkedid peeraccount sequence"
)
ASTERISK = {
    "cdr": Upstream(
        CDR_COLUMNS,
        frozenset(CDR_COLUMNS),
        frozenset(_names("calldate dst accountcode uniqueid did recordingfile")),
    )
}
UPSTREAM: dict[str, dict[str, Upstream]] = {
    "woocommerce": WOOCOMMERCE,
    "listmonk": LISTMONK,
    "odoo": ODOO,
    "asterisk_mariadb": ASTERISK,
    "asterisk_sqlite": ASTERISK,
}
_ANGLE = re.compile(r"<([^<>]*)>")


def _rows(store: ProductStore, table: str, keys: list[str]) -> list[dict[str, Any]]:
    """The rows of ``table`` whose key (the entry's) is one of ``keys``."""
    t = sa.Table(table, sa.MetaData(), autoload_with=store.engine)
    column = t.c[store.keys[table]]
    wanted: list[Any] = [int(k) for k in keys] if column.type.python_type is int else list(keys)
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(t).where(column.in_(wanted)))]


def _identifier(kind: str, raw: object) -> str | None:
    text = str(raw)
    inner = _ANGLE.findall(text)  # a caller id: "Name" <number>
    return normalise_value(kind, inner[0] if inner else text)


# -- upstream's tables ----------------------------------------------------------------------------


def test_tables_columns_and_indexes_are_upstreams(product_store: ProductStore) -> None:
    """Every upstream table is there with exactly upstream's columns (in order), NOT NULL
    where upstream says so, its primary key, and upstream's indexes and no others."""
    inspector = sa.inspect(product_store.engine)
    for name, upstream in UPSTREAM[product_store.name].items():
        columns = inspector.get_columns(name)
        assert tuple(c["name"] for c in columns) == upstream.columns, name
        not_null = {c["name"] for c in columns if not c["nullable"]}
        assert not_null == upstream.not_null, name
        primary = inspector.get_pk_constraint(name)["constrained_columns"]
        assert tuple(primary) == upstream.primary_key, name
        indexes = [ix for ix in inspector.get_indexes(name) if not ix.get("duplicates_constraint")]
        assert {ix["name"] for ix in indexes} == upstream.indexes, name
        assert {ix["name"] for ix in indexes if ix["unique"]} == upstream.unique, name


# The types of the columns that hold identifiers and change stamps, as each database reports
# upstream's declaration.
TYPES: dict[str, dict[tuple[str, str], str]] = {
    "woocommerce": {
        ("wp_users", "ID"): "BIGINT(20) UNSIGNED",
        ("wp_users", "user_email"): "VARCHAR(100)",
        ("wp_users", "display_name"): "VARCHAR(250)",
        ("wp_usermeta", "meta_value"): "LONGTEXT",
        ("wp_wc_orders", "customer_id"): "BIGINT(20) UNSIGNED",
        ("wp_wc_orders", "billing_email"): "VARCHAR(320)",
        ("wp_wc_orders", "date_updated_gmt"): "DATETIME",
        ("wp_wc_order_addresses", "email"): "VARCHAR(320)",
        ("wp_wc_order_addresses", "phone"): "VARCHAR(100)",
        ("wp_wc_order_addresses", "first_name"): "TEXT",
    },
    "listmonk": {
        ("subscribers", "email"): "TEXT",
        ("subscribers", "name"): "TEXT",
        ("subscribers", "attribs"): "JSONB",
        ("subscribers", "updated_at"): "TIMESTAMP WITH TIME ZONE",
        ("subscriber_lists", "status"): "subscription_status",
    },
    "odoo": {
        ("res_partner", "email"): "VARCHAR",
        ("res_partner", "phone"): "VARCHAR",
        ("res_partner", "mobile"): "VARCHAR",
        ("res_partner", "write_date"): "TIMESTAMP WITHOUT TIME ZONE",
        ("sale_order", "partner_id"): "INTEGER",
        ("sale_order", "amount_total"): "NUMERIC",
    },
    "asterisk_mariadb": {
        ("cdr", "calldate"): "DATETIME",
        ("cdr", "clid"): "VARCHAR(80)",
        ("cdr", "src"): "VARCHAR(80)",
        ("cdr", "uniqueid"): "VARCHAR(32)",
        ("cdr", "recordingfile"): "VARCHAR(255)",
        ("cdr", "sequence"): "INTEGER(11)",
    },
    "asterisk_sqlite": {
        ("cdr", "calldate"): "DATETIME",
        ("cdr", "clid"): "VARCHAR(80)",
        ("cdr", "src"): "VARCHAR(80)",
        ("cdr", "uniqueid"): "VARCHAR(32)",
        ("cdr", "recordingfile"): "VARCHAR(255)",
        ("cdr", "sequence"): "INTEGER",
    },
}


def test_identifier_columns_have_upstreams_types(product_store: ProductStore) -> None:
    inspector = sa.inspect(product_store.engine)
    dialect = product_store.engine.dialect
    for (table, column), expected in TYPES[product_store.name].items():
        (reflected,) = [c for c in inspector.get_columns(table) if c["name"] == column]
        assert reflected["type"].compile(dialect=dialect) == expected, (table, column)


def test_listmonk_email_index_is_on_lower_email(listmonk_store: ProductStore) -> None:
    """listmonk's uniqueness folds case but not spaces: two spellings of one address can both
    be subscribed (Cường is, twice)."""
    with listmonk_store.engine.connect() as conn:
        definition = conn.execute(
            sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_subs_email'")
        ).scalar_one()
    assert "UNIQUE" in definition and "lower(email)" in definition


def test_entries_name_real_columns(product_store: ProductStore) -> None:
    """Every column a connectors.yaml entry names exists in the product's table."""
    inspector = sa.inspect(product_store.engine)
    listed: set[str] = set()
    for spec in product_store.entry["tables"]:
        columns = {c["name"] for c in inspector.get_columns(spec["name"])}
        named = {spec.get("key", "id")}
        for value in spec.get("match", {}).values():
            named |= {value} if isinstance(value, str) else set(value)
        named |= set(spec.get("provides", {}).values()) | set(spec.get("rectifiable", {}).values())
        named |= set(spec.get("null_when", {})) | set(spec["erase"].get("columns", {}))
        for extra in (
            spec.get("changed_at"),
            spec.get("collected_at"),
            spec.get("file", {}).get("column"),
            spec.get("parent", {}).get("column"),
            spec.get("historical_when", {}).get("column"),
            spec.get("defer_when", {}).get("column"),
            spec["erase"].get("retention", {}).get("from"),
        ):
            if extra:
                named.add(extra)
        assert named <= columns, (spec["name"], sorted(named - columns))
        if "parent" in spec:
            assert spec["parent"]["table"] in listed  # parents first
        listed.add(spec["name"])


# -- how identifiers are spelled ------------------------------------------------------------------


def test_spellings_normalise_to_one_identifier() -> None:
    """Every spelling the fixtures use reads back as the one identifier (VN default region),
    and no decoy reads as a known subject's."""
    for person in (*KNOWN, *DECOYS):
        for spelled in email_spellings(person.email):
            assert normalise_value("email", spelled) == person.email, repr(spelled)
        for spelled in (*phone_spellings(person.phone), *dialled_spellings(person.phone)):
            assert normalise_value("phone", spelled) == person.phone, repr(spelled)
        for spelled in name_spellings(person.name)[:2]:
            assert normalise_value("name", spelled) == person.name
    known = {v for p in KNOWN for v in (p.email, p.phone)}
    assert not known & {v for p in DECOYS for v in (p.email, p.phone)}


def test_population_is_deterministic() -> None:
    first = list(Population(7).people(50))
    assert first == list(Population(7).people(50))
    assert len({p.email for p in first}) == len({p.phone for p in first}) == 50
    assert first != list(Population(8).people(50))


def test_known_subjects_spelled_many_ways(product_store: ProductStore) -> None:
    """Each known subject's rows hold their identifiers, and only theirs, in at least two
    spellings per kind, some not the canonical one; every such row holds at least one."""
    for subject in product_store.seeded.subjects.values():
        spelled: dict[str, set[str]] = {}
        for table, kinds in product_store.identifier_columns.items():
            keys = subject.rows.get(table, [])
            rows = _rows(product_store, table, keys)
            assert len(rows) == len(set(keys)), (subject.person.handle, table)
            for row in rows:
                held = 0
                for kind, columns in kinds.items():
                    for column in columns:
                        if row[column] in (None, ""):
                            continue
                        value = _identifier(kind, row[column])
                        if value is None:  # an agent's extension, a company name
                            continue
                        assert value == subject.value(kind), (table, column, row[column])
                        spelled.setdefault(kind, set()).add(str(row[column]))
                        held += 1
                assert held, (subject.person.handle, table, row)
        assert spelled, subject.person.handle
        for kind, raws in spelled.items():
            assert len(raws) >= 2, (subject.person.handle, kind, raws)
            assert raws - {subject.value(kind)}, (subject.person.handle, kind, raws)


def test_names_in_several_forms(product_store: ProductStore) -> None:
    """Vietnamese names as forms keep them: NFC and NFD, in capitals, without diacritics;
    caller names in call records come ASCII-only."""
    values: list[str] = []
    with product_store.engine.connect() as conn:
        if product_store.module.PRODUCT == "asterisk":  # customers calling in; agents are UTF-8
            sql = "SELECT cnam FROM cdr WHERE dcontext = 'ext-queues' AND cnam <> ''"
            callers = list(conn.execute(sa.text(sql)).scalars())
            assert callers and all(v.isascii() for v in callers)
            return
        for table, columns in product_store.module.NAME_COLUMNS.items():
            t = sa.Table(table, sa.MetaData(), autoload_with=product_store.engine)
            for column in columns:
                values += [v for v in conn.execute(sa.select(t.c[column])).scalars() if v]
    assert values
    assert any(not unicodedata.is_normalized("NFC", v) for v in values)  # NFD
    assert any(v.isupper() and not v.isascii() for v in values)  # LÊ VĂN CƯỜNG
    assert any(v.isascii() for v in values)  # Le Van Cuong
    assert any(unicodedata.is_normalized("NFC", v) and not v.isascii() for v in values)


# -- rows and files -------------------------------------------------------------------------------


def test_row_counts(product_store: ProductStore) -> None:
    """The tables hold what ``fill`` says it wrote, and it is the shape the product makes."""
    store = product_store
    counts = bulk.count_rows(store.engine, store.tables)
    assert +counts == +store.seeded.counts
    first = store.tables[0].name
    assert counts[first] >= PEOPLE // 2
    with store.engine.connect() as conn:

        def one(sql: str) -> int:
            return int(conn.execute(sa.text(sql)).scalar_one())

        if store.module.PRODUCT == "woocommerce":
            orders = counts["wp_wc_orders"]
            assert counts["wp_wc_order_operational_data"] == orders
            assert orders < counts["wp_wc_order_addresses"] < 2 * orders
            assert one("SELECT COUNT(*) FROM wp_wc_orders WHERE customer_id = 0") > PEOPLE // 10
            assert not one(
                "SELECT COUNT(*) FROM wp_usermeta m LEFT JOIN wp_users u ON u.ID = m.user_id "
                "WHERE u.ID IS NULL"
            )
            assert not one(
                "SELECT COUNT(*) FROM wp_wc_orders o WHERE customer_id <> 0 AND NOT EXISTS "
                "(SELECT 1 FROM wp_users u WHERE u.ID = o.customer_id)"
            )
        elif store.module.PRODUCT == "listmonk":
            assert counts["lists"] == 4
            assert counts["subscriber_lists"] >= counts["subscribers"]
            assert (
                one("SELECT COUNT(DISTINCT lower(email)) FROM subscribers") == counts["subscribers"]
            )
        elif store.module.PRODUCT == "odoo":
            assert one("SELECT COUNT(*) FROM res_partner WHERE parent_id IS NOT NULL") > 0
            assert counts["sale_order"] >= PEOPLE // 2
        else:
            assert one("SELECT COUNT(DISTINCT uniqueid) FROM cdr") == counts["cdr"]
            assert one("SELECT COUNT(DISTINCT linkedid) FROM cdr") < counts["cdr"]  # a transfer


@pytest.mark.parametrize("name", ["asterisk_mariadb", "asterisk_sqlite"])
def test_recordings_exist_for_recorded_calls(request: pytest.FixtureRequest, name: str) -> None:
    """Every row naming a recording has a real WAV file where FreePBX keeps it
    (``monitor/YYYY/MM/DD/<name>``), but the one the PBX's clean-up removed."""
    store: ProductStore = request.getfixturevalue(f"{name}_store")
    assert store.root is not None
    seeded = store.seeded
    with store.engine.connect() as conn:
        query = sa.text("SELECT uniqueid, recordingfile FROM cdr WHERE recordingfile <> ''")
        named: dict[str, str] = {row[0]: row[1] for row in conn.execute(query)}
    assert len(named) > PEOPLE // 2
    assert set(named) == set(seeded.files) | set(seeded.missing_files)
    for uniqueid, recording in named.items():
        path = recording_path(store.root, recording)
        if uniqueid in seeded.missing_files:
            assert not path.exists()
            continue
        assert path == seeded.files[uniqueid] and path.stat().st_size > 44
        with wave.open(str(path), "rb") as audio:
            assert audio.getnframes() > 0 and audio.getframerate() == 8000
    on_disk = Counter(p.suffix for p in store.root.rglob("*") if p.is_file())
    assert on_disk == Counter({".wav": len(seeded.files)})
    cuong = seeded.subjects["cuong"]
    assert len(cuong.files) == len(cuong.rows["cdr"]) - 2  # a missed call, a cleaned-up file
    assert all(p.exists() for s in seeded.subjects.values() for p in s.files)
