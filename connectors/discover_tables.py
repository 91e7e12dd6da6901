"""The decisions ``discover`` makes across a database's tables.

Which tables hold the customers (their key is the customer id), which reference them (matched
by customer id), which have no identifier of their own and follow a matched table (children),
and which hold nothing to find a subject by (skipped). Each decision becomes a ``Node`` with the
reason beside it, for the operator who reviews the proposal.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.commented import Node
from connectors.discover_links import stem
from connectors.discover_schema import TableInfo
from connectors.recognise import pct, words

_CUSTOMER_IDS = {
    "customer_id",
    "partner_id",
    "user_id",
    "client_id",
    "contact_id",
    "member_id",
    "customerid",
    "userid",
    "partnerid",
    "id_customer",
}
# What a table of people, or a column pointing at one, is called.
_PEOPLE = {
    "customer",
    "customers",
    "user",
    "users",
    "partner",
    "partners",
    "contact",
    "contacts",
    "client",
    "clients",
    "member",
    "members",
    "subscriber",
    "subscribers",
    "account",
    "accounts",
    "person",
    "people",
}
_CHANGED = {"updated", "modified", "changed", "write", "mtime", "lastmod", "update", "modify"}
_COLLECTED = {"created", "create", "registered", "subscribed", "calldate", "inserted", "added"}
_NONE_VALUES = (0, "0", "")  # stored instead of NULL for "no customer" (WooCommerce guests)
_ERASE_WHY = (
    "decide: delete, anonymise (a legal duty to keep, e.g. accounting records) or keep; "
    "the default deletes the subject's rows"
)


@dataclass(frozen=True)
class Skipped:
    """A table left out of the proposal, and why."""

    table: str
    reason: str


def _named_customer_id(column: str) -> bool:
    return column.lower() in _CUSTOMER_IDS


def _points_at_people(column: str) -> bool:
    """``customer_id``, ``partner_id``, ``user_id``: a reference to a person's account."""
    return _named_customer_id(column) or (stem(column) or "") in _PEOPLE


def _time_column(t: TableInfo, hints: set[str]) -> str | None:
    """A timestamp column named like ``hints``; a UTC/GMT one first (no time-zone guessing)."""
    found = [c for c in t.columns.values() if c.type_class == "time" and words(c.name) & hints]
    found.sort(key=lambda c: (not words(c.name) & {"gmt", "utc"}, c.name))
    return found[0].name if found else None


class Proposal:
    """The decisions across tables: customer tables, links, children, and what is skipped."""

    def __init__(self, tables: dict[str, TableInfo]) -> None:
        self.tables = tables
        self.skipped: list[Skipped] = []
        readable = [t for t in tables.values() if t.error is None]
        for t in tables.values():
            if t.error is not None:
                self.skipped.append(Skipped(t.name, f"could not be read ({t.error})"))
        self.customer: dict[str, tuple[str, str]] = {}  # table -> (its customer id column, why)
        for t in readable:
            if t.found("email", "phone"):
                self._customer_table(t)
        self.link: dict[str, tuple[str, str]] = {}  # table -> (customer id column, why)
        self.parent: dict[str, tuple[str, str, str]] = {}  # child -> (parent, column, why)
        for t in readable:
            if t.name not in self.customer:
                self._link(t)
        self.matched = {
            t.name for t in readable if t.name in self.customer or t.name in self.link
        } | {t.name for t in readable if t.found("email", "phone") and t.name not in self.parent}
        self._children(readable)
        for t in readable:
            if t.name in self.matched or t.name in self.parent:
                continue
            if t.found("name"):
                self.matched.add(t.name)
            else:
                self.skipped.append(Skipped(t.name, self._nothing(t)))

    def _customer_table(self, t: TableInfo) -> None:
        """A table of e-mails or phones holds the customers, its key their customer id, when
        other tables reference that key as a person's (``customer_id``, or any reference to a
        table named like people), or when the key itself is named like a customer id. An
        orders table referenced by ``order_id`` is not one."""
        if len(t.primary_key) != 1:
            return
        key = t.primary_key[0]
        of_people = bool(words(t.name) & _PEOPLE)
        refs = sorted(
            f"{o.name}.{fk.columns[0]}" + (" (inferred from values)" if fk.inferred else "")
            for o in self.tables.values()
            for fk in o.foreign_keys
            if fk.referred_table == t.name
            and fk.referred_columns == (key,)
            and (of_people or _points_at_people(fk.columns[0]))
        )
        if refs:
            why = f"customer table: its key is referenced by {', '.join(refs)}"
            self.customer[t.name] = (key, why)
        elif _named_customer_id(key):
            self.customer[t.name] = (key, "customer table: its key is named like a customer id")

    def _link(self, t: TableInfo) -> None:
        """A table referencing a customer table is matched by customer id; one with no key of
        its own (a composite key around that reference) is that table's child instead."""
        for fk in t.foreign_keys:
            target = self.customer.get(fk.referred_table)
            if len(fk.columns) == 1 and target and fk.referred_columns == (target[0],):
                why = f"foreign key to {fk.referred_table}.{target[0]}, the customer table's key"
                if fk.inferred:
                    why = f"{fk.inferred}: the customer table's key"
                if (
                    _single_key(t) is None
                    and fk.columns[0] in t.primary_key
                    and not t.found("email", "phone")
                ):
                    why = f"no key of its own, reached through its customer: {why}"
                    self.parent[t.name] = (fk.referred_table, fk.columns[0], why)
                    return
                self.link[t.name] = (fk.columns[0], why)
                return
        for c in t.columns.values():
            if _named_customer_id(c.name) and c.type_class in ("int", "text"):
                why = (
                    "named like a customer id, no foreign key: check it holds the same ids as "
                    "the store that provides customer_id"
                )
                self.link[t.name] = (c.name, why)
                return

    def _children(self, readable: list[TableInfo]) -> None:
        """Tables with no identifier of their own, reached by a foreign key (repeatedly:
        a child's child too)."""
        grew = True
        while grew:
            grew = False
            for t in readable:
                if t.name in self.matched or t.name in self.parent:
                    continue
                for fk in t.foreign_keys:
                    target = fk.referred_table
                    if len(fk.columns) == 1 and (target in self.matched or target in self.parent):
                        why = (
                            f"no identifier of its own; its only link is the foreign key "
                            f"{fk.columns[0]} -> {target}.{fk.referred_columns[0]}"
                        )
                        if fk.inferred:
                            why = f"no identifier of its own; linked by values: {fk.inferred}"
                        self.parent[t.name] = (target, fk.columns[0], why)
                        grew = True
                        break

    def _nothing(self, t: TableInfo) -> str:
        held = sorted({e.kind for e in t.found("address", "file").values()})
        if held:
            return (
                f"holds {' and '.join(held)} data but nothing to find a subject by "
                f"(no e-mail, phone, name, customer id or link): {t.sampled} rows sampled"
            )
        return f"no e-mail, phone, name, address or customer id in {t.sampled} sampled rows"

    def order(self) -> list[TableInfo]:
        """Matched tables (customer tables first), each followed by its children."""
        out: list[TableInfo] = []

        def add(name: str) -> None:
            out.append(self.tables[name])
            for child in sorted(c for c, p in self.parent.items() if p[0] == name):
                add(child)

        for name in sorted(self.matched, key=lambda n: (n not in self.customer, n)):
            add(name)
        return out

    def table_node(self, t: TableInfo) -> Node:
        """One table's proposed entry, each choice with its reason."""
        d: dict[str, Node] = {"name": Node(t.name, why=f"{t.sampled} rows sampled")}
        d["key"] = Node(*_key(t))
        if t.name in self.parent and _single_key(t) is None:
            why = (
                "no single-column key: rows are addressed by their parent's key (check exempts it)"
            )
            d["key"] = Node(self.parent[t.name][1], why=why)
        if t.name in self.parent:
            table, column, why = self.parent[t.name]
            d["parent"] = Node({"table": Node(table), "column": Node(column)}, why=why)
        else:
            d.update(self._matching(t))
        d.update(_rectifiable(t))
        for key, hints in (("changed_at", _CHANGED), ("collected_at", _COLLECTED)):
            if key == "changed_at" and t.name in self.parent:
                continue  # a child is re-read with its parent, never on its own
            time_column = _time_column(t, hints)
            if time_column:
                what = "update" if key == "changed_at" else "creation"
                why = f"a timestamp named like the row's {what} time"
                if key == "changed_at":
                    why += ": check the product sets it on every write"
                d[key] = Node(time_column, why=why)
        for name, ev in t.found("file").items():
            why = f"{ev.why}: set root to the folder holding them (check verifies it)"
            d["file"] = Node({"column": Node(name), "root": Node("<folder>")}, why=why)
            break
        d["erase"] = Node({"mode": Node("delete")}, why=_ERASE_WHY)
        return Node(d)

    def _matching(self, t: TableInfo) -> dict[str, Node]:
        """match, null_when, provides and owner of a table found by its own identifiers."""
        match: dict[str, Node] = {}
        for kind in ("email", "phone"):
            found = t.found(kind)
            if found:
                cols = tuple(sorted(found))
                whys = [f"{c}: {found[c].why}" if len(cols) > 1 else found[c].why for c in cols]
                why = " | ".join(whys)
                match[kind] = Node(cols[0] if len(cols) == 1 else cols, why=why)
        cid = self.customer.get(t.name) or self.link.get(t.name)
        out: dict[str, Node] = {}
        if cid:
            why = cid[1]
            others = sorted(set(self.customer) - {t.name})
            if t.name in self.customer and others:
                why += (
                    f"; other customer tables here ({', '.join(others)}) number other people: "
                    "one kind, customer_id, cannot hold both; keep one, or split the store"
                )
            match["customer_id"] = Node(cid[0], why=why)
        if not match:
            names = tuple(sorted(t.found("name")))
            why = "only names identify these rows: weak, a name alone also matches strangers"
            match["name"] = Node(names[0] if len(names) == 1 else names, why=why)
        out["match"] = Node(match)
        if cid:
            values = t.columns[cid[0]].values
            none = [v for v in _NONE_VALUES if v in values and not isinstance(v, bool)]
            if none:
                share = pct(sum(1 for v in values if v in none), len(values))
                why = f"{share} of sampled values are {none[0]!r}: stored for no customer (a guest)"
                out["null_when"] = Node({cid[0]: Node(tuple(none), why=why)})
        if t.name in self.customer:
            provides: dict[str, Node] = {
                k: Node(match[k].value)
                for k in ("customer_id", "email", "phone")
                if k in match and isinstance(match[k].value, str)
            }
            why = "other stores find this customer's records by these"
            out["provides"] = Node(provides, why=why)
        owner = tuple(k for k in ("customer_id", "email") if k in match)
        if owner:
            why = "the account ids a row carries: it is acted on only when one is the subject's"
            out["owner"] = Node(owner, why=why)
            if len(owner) == 2 and t.name not in self.customer:
                why = "its customer id names the row's account; its e-mail only when it has none"
                out["owner_rule"] = Node("first", why=why)
        return out


def _single_key(t: TableInfo) -> str | None:
    """The table's one-column primary key or unique column (None: it has none)."""
    if len(t.primary_key) == 1:
        return t.primary_key[0]
    return next((u[0] for u in t.unique if len(u) == 1), None)


def _key(t: TableInfo) -> tuple[str, str]:
    if len(t.primary_key) == 1:
        return t.primary_key[0], "primary key"
    single = [u[0] for u in t.unique if len(u) == 1]
    if single:
        return single[0], "unique"
    if t.primary_key:
        return t.primary_key[0], (
            f"composite primary key ({', '.join(t.primary_key)}): a key must be unique on its "
            "own; `dsr connectors check` says whether it is"
        )
    named = sorted(
        c for c in t.indexed if c.lower() in ("uniqueid", "uuid", "guid") or c.endswith("_id")
    )
    column = "id" if "id" in t.columns else named[0] if named else next(iter(t.columns))
    return column, (
        "no primary key or unique column: choose one (`dsr connectors check` probes whether "
        "this one is unique)"
    )


def _rectifiable(t: TableInfo) -> dict[str, Node]:
    """Public fields a rectify may change: the plain e-mail, phone, name and address columns."""
    if t.found("file"):
        return {}  # call records are history: what was said is not corrected
    fields: dict[str, Node] = {}
    for kind in ("name", "email", "phone", "address"):
        cols = sorted(c for c, ev in t.found(kind).items() if ev.pure)
        if cols:
            also = f"also held in {', '.join(cols[1:])}" if len(cols) > 1 else None
            fields[kind] = Node(cols[0], why=also)
    if not fields:
        return {}
    return {"rectifiable": Node(fields, why="remove what the product must not have rewritten")}
