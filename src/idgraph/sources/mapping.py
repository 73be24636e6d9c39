"""Turn mapped source columns into canonical, normalised columns.

Every normaliser runs once per *distinct* value (or distinct tuple of values for
names and addresses), and its outcome is memoised for the process (:class:`Memo`): a
value met again in a later chunk or another source's file (the same birth date, the
same person's name and address in nine sources) is not normalised again. The memo
holds each rule's *outcome* (value, or why it was rejected), so the per-value function
stays the one definition of the rule (docs: STYLE "one normaliser per value type");
tests/sources/test_normalise_paths.py compares this path with the plain per-value one
on generated data. A value a normaliser rejects becomes null with a :class:`FieldIssue`; an
unverified value (:class:`~idgraph.normalize.base.Unverified`, such as a phone number
with an unassigned area code) is kept and its field named in the row's ``unverified``
column, with no issue; of a partly bad value (:class:`~idgraph.normalize.base.Partial`,
a birth date with month 13; an address whose ZIP or unit did not clean, listed in
``Address.problems``; a bad suffix column) the good part is kept and the bad part is an
issue on its own field.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import IntEnum
from typing import Any, Final, TypeVar

from idgraph import clock
from idgraph.normalize import addresses, dates, identifiers, jurisdictions, names, phones
from idgraph.normalize.base import InvalidValue, Partial, Unverified, fold
from idgraph.sources.manifest import FieldSpec, Manifest

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class FieldIssue:
    """One value of one row that could not be used."""

    row: int  # index within the chunk
    field: str
    value: str | None
    reason: str


class Kind(IntEnum):
    """How a rule ended for one value (see idgraph.normalize.base)."""

    OK = 0
    UNVERIFIED = 1
    PARTIAL = 2
    BAD = 3


# a rule's outcome for one value: its value, how it ended, and why (None when OK)
Outcome = tuple[Any, Kind, str | None]


def outcome(func: Callable[[K], Any], key: K) -> Outcome:
    """``func(key)`` as an :data:`Outcome` (the base module's three exceptions caught)."""
    try:
        return func(key), Kind.OK, None
    except Unverified as exc:
        return exc.value, Kind.UNVERIFIED, exc.reason
    except Partial as exc:
        return exc.value, Kind.PARTIAL, exc.reason
    except InvalidValue as exc:
        return None, Kind.BAD, exc.reason


class Memo:
    """Outcomes of the normalisers, per rule and value, kept for the process.

    A rule is named by a hashable key that holds everything its outcome depends on
    besides the value: the function itself (so a replaced function is a new rule), and
    the format, name order, region or today's date it is given. Each rule's table is
    emptied when it reaches ``limit`` entries (memory stays bounded; a chunk's values
    are then normalised again, with the same outcome).
    """

    def __init__(self, limit: int = 250_000) -> None:
        self.limit = limit
        self.tables: dict[Hashable, dict[Any, Any]] = {}

    def table(self, rule: Hashable) -> dict[Any, Any]:
        table = self.tables.get(rule)
        if table is None or len(table) >= self.limit:
            table = self.tables[rule] = {}
        return table

    def clear(self) -> None:
        self.tables.clear()


MEMO = Memo()


def map_unique(
    func: Callable[[K], V | None], keys: Sequence[K], field: str, issues: list[FieldIssue],
    shown: Callable[[K], str | None] | None = None,
    flagged: list[list[str]] | None = None, rule: Hashable | None = None,
) -> list[V | None]:
    """Apply ``func`` once per distinct key; rejected keys give None and an issue per row.

    An :class:`Unverified` key gives its value, no issue, and ``field`` appended to the
    row's list in ``flagged`` (one list per row); a :class:`Partial` key gives its value
    and an issue. ``rule`` (see :class:`Memo`) keeps each key's outcome for the process;
    without one, outcomes are kept for this call only.
    """
    values: dict[K | None, V | None] = dict.fromkeys(keys)
    if len(values) == 1 and None in values:
        return [None] * len(keys)
    memo: dict[K, Outcome] = MEMO.table(rule) if rule is not None else {}
    bad: dict[K, str] = {}
    unverified: set[K] = set()
    for key in values:
        if key is None:
            continue
        got = memo.get(key)
        if got is None:
            got = memo[key] = outcome(func, key)
        values[key] = got[0]
        if got[1] is not Kind.OK:
            if got[1] is Kind.UNVERIFIED:
                unverified.add(key)
            else:
                bad[key] = got[2] or ""
    if bad:
        show = shown or _show
        issues.extend(FieldIssue(i, field, show(k), bad[k])
                      for i, k in enumerate(keys) if k in bad)
    if unverified and flagged is not None:
        for i, k in enumerate(keys):
            if k in unverified and field not in flagged[i]:
                flagged[i].append(field)
    return [values[k] for k in keys]


def _show(key: Any) -> str | None:
    if key is None or isinstance(key, str):
        return key
    if isinstance(key, tuple):
        parts = [str(k) for k in key if k not in (None, "")]
        return " | ".join(parts) if parts else None
    return str(key)


def _column_values(spec: FieldSpec, cols: dict[str, list[str | None]], n: int) -> list[str | None]:
    """The raw text of one canonical field for every row of the chunk."""
    if spec.column is not None:
        # a column absent from this chunk (a JSONL key that first appears later) is nulls
        return [None if v is None else v.strip() or None
                for v in cols.get(spec.column) or [None] * n]
    if spec.value is not None:
        return [str(spec.value)] * n
    assert spec.template is not None
    fields = spec.columns()
    out: list[str | None] = []
    present = {f: cols.get(f) or [None] * n for f in fields}
    for i in range(n):
        vals = {f: (present[f][i] or "").strip() for f in fields}
        if not any(vals.values()):
            out.append(None)
        else:
            out.append(" ".join(spec.template.format(**vals).split()) or None)
    return out


def _col(
    raw: dict[str, list[str | None]], name: str, n: int
) -> list[str | None]:
    return raw.get(name) or [None] * n


def normalise_chunk(
    manifest: Manifest, cols: dict[str, list[str | None]], n: int, region: str = "US"
) -> tuple[dict[str, list[Any]], list[FieldIssue]]:
    """Canonical normalised columns (schema.NORMALISED_COLUMNS) for n rows, and issues."""
    raw = {f: _column_values(spec, cols, n) for f, spec in manifest.fields.items()}
    issues: list[FieldIssue] = []
    out: dict[str, list[Any]] = {}
    flagged: list[list[str]] = [[] for _ in range(n)]
    _names(manifest, raw, n, out, issues)
    _birth(manifest, raw, n, out, issues)
    _address(raw, n, out, issues)
    _contact(raw, n, out, issues, region, flagged)
    _events(manifest, raw, n, out, issues)
    _origin(manifest, raw, n, out, issues)
    out[UNVERIFIED] = [f or None for f in flagged]
    return out, issues


UNVERIFIED = "unverified"  # the records column naming a row's unverified fields


_NAME_COLUMNS: Final = (
    "full_name", "first_name", "middle_name", "last_name", "suffix", "first_name_canon",
    "first_name_phonetic", "last_name_phonetic", "last_name_parts")


def _names(
    manifest: Manifest, raw: dict[str, list[str | None]], n: int,
    out: dict[str, list[Any]], issues: list[FieldIssue],
) -> None:
    # The suffix column is cleaned on its own: a bad suffix nulls only the suffix, not
    # the whole name (clean_suffix is idempotent, so from_parts reads the clean form).
    suffixes = map_unique(names.clean_suffix, _col(raw, "suffix", n), "suffix", issues,
                          rule=("suffix", names.clean_suffix))
    parts_keys = list(zip(
        _col(raw, "first_name", n), _col(raw, "middle_name", n),
        _col(raw, "last_name", n), suffixes, strict=True,
    ))
    from_parts = map_unique(lambda k: names.from_parts(*k), parts_keys, "first_name", issues,
                            rule=("name_parts", names.from_parts))
    full: list[names.Name | None] = [None] * n
    order = "first_last"
    if "full_name" in raw:
        order = manifest.fields["full_name"].order or "first_last"

        def parse(text: str | None) -> names.Name | None:
            return names.parse_full(text, order=order) if text else None

        full = map_unique(parse, raw["full_name"], "full_name", issues,
                          rule=("full_name", names.parse_full, order))
    # one row of the nine name columns per distinct (parts, full name), kept for the process
    memo = MEMO.table(("name_row", names.from_parts, names.parse_full, order))
    rows: list[tuple[Any, ...]] = []
    for key, p, f in zip(zip(parts_keys, _col(raw, "full_name", n), strict=True), from_parts,
                         full, strict=True):
        row = memo.get(key)
        if row is None:
            row = memo[key] = _name_row(p, f)
        rows.append(row)
    _transpose(_NAME_COLUMNS, rows, out)
    out["last_name_parts"] = [None if t is None else list(t) for t in out["last_name_parts"]]


def _transpose(columns: tuple[str, ...], rows: list[tuple[Any, ...]],
               out: dict[str, list[Any]]) -> None:
    """``out[columns[j]][i] = rows[i][j]`` (a row may hold more values after them)."""
    for j, name in enumerate(columns):
        out[name] = [row[j] for row in rows]


def _name_row(p: names.Name | None, f: names.Name | None) -> tuple[Any, ...]:
    """The name columns of a row from its parts' name ``p`` and its full name's ``f``:
    the parts win, the full name fills what they lack."""
    nm = p if p is not None and (p.first or p.last) else f
    if nm is not None and f is not None and p is not None and nm is p:
        nm = names.Name(
            first=p.first or f.first, middle=p.middle or f.middle, last=p.last or f.last,
            suffix=p.suffix or f.suffix, first_canon=p.first_canon or f.first_canon,
            first_phonetic=p.first_phonetic or f.first_phonetic,
            last_phonetic=p.last_phonetic or f.last_phonetic,
            last_parts=p.last_parts or f.last_parts,
        )
    if nm is None:
        return (None,) * len(_NAME_COLUMNS)
    return (nm.full, nm.first, nm.middle, nm.last, nm.suffix, nm.first_canon,
            nm.first_phonetic, nm.last_phonetic, nm.last_parts or None)


def _birth(
    manifest: Manifest, raw: dict[str, list[str | None]], n: int,
    out: dict[str, list[Any]], issues: list[FieldIssue],
) -> None:
    dob_col = _col(raw, "dob", n)
    fmt = manifest.fields["dob"].format if "dob" in manifest.fields else None
    today = clock.today()  # a birth date's check reads it: part of the rule
    dobs = map_unique(lambda t: dates.clean_dob(t, fmt, today) if t else None, dob_col, "dob",
                      issues, rule=("dob", dates.clean_dob, fmt, today))
    years = map_unique(lambda t: _birth_year(t, today), _col(raw, "birth_year", n),
                       "birth_year", issues, rule=("birth_year", dates.clean_dob, today))
    out["dob"] = [d.value if d else None for d in dobs]
    out["dob_precision"] = [d.precision if d else None for d in dobs]
    out["birth_year"] = [
        d.value.year if d else y for d, y in zip(dobs, years, strict=True)
    ]
    out["sex"] = map_unique(identifiers.clean_sex, _col(raw, "sex", n), "sex", issues,
                            rule=("sex", identifiers.clean_sex))


def _birth_year(text: str | None, today: date | None = None) -> int | None:
    if text is None:
        return None
    d = dates.clean_dob(text.strip(), "%Y", today)
    return d.value.year if d else None


_ADDRESS_COLUMNS: Final = ("house_number", "street", "unit", "city", "state", "zip", "address")


def _address(
    raw: dict[str, list[str | None]], n: int,
    out: dict[str, list[Any]], issues: list[FieldIssue],
) -> None:
    keys = list(zip(
        _col(raw, "street", n), _col(raw, "unit", n), _col(raw, "city", n),
        _col(raw, "state", n), _col(raw, "zip", n), strict=True,
    ))
    parts = map_unique(
        lambda k: addresses.from_parts(*k) if any(k) else None, keys, "street", issues,
        rule=("address_parts", addresses.from_parts),
    )
    line_col = _col(raw, "address", n)
    lines = map_unique(lambda t: addresses.parse(t) if t else None, line_col, "address", issues,
                       rule=("address_line", addresses.parse))
    # A part that did not clean (a ZIP 00000, a unit without a number) was left out of
    # its address; the rest stays. Its issue names the part ("zip"), or "address" for a
    # one-line address. One row of columns and issues per distinct (parts, line).
    memo = MEMO.table(("address_row", addresses.from_parts, addresses.parse))
    rows: list[tuple[Any, ...]] = []
    for i, (key, p, a) in enumerate(zip(zip(keys, line_col, strict=True), parts, lines,
                                        strict=True)):
        row = memo.get(key)
        if row is None:
            row = memo[key] = _address_row(key[0], key[1], p, a)
        if row[-1]:
            issues.extend(FieldIssue(i, *problem) for problem in row[-1])
        rows.append(row)
    _transpose(_ADDRESS_COLUMNS, rows, out)


def _address_row(
    key: tuple[str | None, ...], line: str | None, p: addresses.Address | None,
    a: addresses.Address | None,
) -> tuple[Any, ...]:
    """The address columns of a row (parts ``p`` from columns ``key``, ``a`` from the
    one-line ``line``), then the (field, value, reason) of each part left out."""
    problems: list[tuple[str, str | None, str]] = []
    if p is not None:
        problems.extend((part, _raw_part(key, part), why) for part, why in p.problems)
    if a is not None:
        problems.extend(("address", line, f"{part}: {why}") for part, why in a.problems)
    best = p if p is not None and (p.street or p.zip) else a
    values: list[Any] = []
    for name in ("house_number", "street", "unit", "city", "state", "zip"):
        v = getattr(best, name) if best else None
        if v is None and a is not None and best is not a:
            v = getattr(a, name)
        values.append(v)
    return (*values, best.one_line if best else None, tuple(problems))


_ADDRESS_PARTS = ("street", "unit", "city", "state", "zip")


def _raw_part(key: tuple[str | None, ...], part: str) -> str | None:
    """The source text of one part of a from_parts key (street, unit, city, state, zip)."""
    return key[_ADDRESS_PARTS.index(part)] if part in _ADDRESS_PARTS else _show(key)


def _contact(
    raw: dict[str, list[str | None]], n: int,
    out: dict[str, list[Any]], issues: list[FieldIssue], region: str,
    flagged: list[list[str]],
) -> None:
    out["phone"] = map_unique(
        lambda t: phones.clean(t, region) if t else None, _col(raw, "phone", n), "phone", issues,
        flagged=flagged, rule=("phone", phones.clean, region),
    )
    out["email"] = map_unique(identifiers.clean_email, _col(raw, "email", n), "email", issues,
                              rule=("email", identifiers.clean_email))
    out["ssn"] = map_unique(identifiers.clean_ssn, _col(raw, "ssn", n), "ssn", issues,
                            flagged=flagged, rule=("ssn", identifiers.clean_ssn))
    states = map_unique(addresses.clean_state, _col(raw, "dl_state", n), "dl_state", issues,
                        rule=("state", addresses.clean_state))
    dl_keys = list(zip(_col(raw, "dl_number", n), states, strict=True))
    out["dl_number"] = map_unique(
        lambda k: identifiers.clean_dl(k[0], k[1]) if k[0] else None, dl_keys, "dl_number",
        issues, shown=lambda k: k[0], flagged=flagged, rule=("dl", identifiers.clean_dl),
    )
    out["dl_state"] = [s if d else None for s, d in zip(states, out["dl_number"], strict=True)]
    out["plate"] = map_unique(identifiers.clean_plate, _col(raw, "plate", n), "plate", issues,
                              rule=("plate", identifiers.clean_plate))


def _timestamp(fmt: str | None) -> Callable[[str | None], datetime | None]:
    def clean(text: str | None) -> datetime | None:
        return dates.clean_timestamp(text, fmt) if text else None

    return clean


def _fold(text: str | None) -> str | None:
    return fold(text) or None if text else None


def _events(
    manifest: Manifest, raw: dict[str, list[str | None]], n: int,
    out: dict[str, list[Any]], issues: list[FieldIssue],
) -> None:
    for name in ("observed_at", "booked_at", "released_at"):
        fmt = manifest.fields[name].format if name in manifest.fields else None
        out[name] = map_unique(_timestamp(fmt), _col(raw, name, n), name, issues,
                               rule=("timestamp", dates.clean_timestamp, fmt))
    for name in ("facility", "case_number"):
        out[name] = map_unique(_fold, _col(raw, name, n), name, issues, rule=("fold", fold))


ORIGIN = "origin_jurisdiction"


def _origin(
    manifest: Manifest, raw: dict[str, list[str | None]], n: int,
    out: dict[str, list[Any]], issues: list[FieldIssue],
) -> None:
    """Each record's origin jurisdiction (ISO 3166-2); None when it is the source's own.

    Where no origin is given (no column, or a blank), a dmv or id_card record's
    ``dl_state`` is its origin.
    Bare codes and names are read within the country of the source's jurisdiction
    (a ``US`` compilation's ``CA`` is California). An unknown value is an issue on
    ``origin_jurisdiction``; ingest quarantines the whole row (see ingest.prepare_chunk).
    """
    own = manifest.jurisdiction
    country = own.split("-", 1)[0]
    codes = map_unique(lambda t: jurisdictions.clean(t, country), _col(raw, ORIGIN, n),
                       ORIGIN, issues, rule=(ORIGIN, jurisdictions.clean, country))
    if manifest.kind.value in _ISSUED_BY_STATE:
        # A licence or ID card is a record of the US state that issued it (``dl_state``,
        # already a USPS code): a file declared ``IL`` (Israel) or ``US`` holding Illinois
        # licences must not keep them out of Illinois' rules. A mapped origin wins; where
        # it is blank (or not mapped) the licence's state decides (the stricter reading).
        # Read from the column, not out["dl_state"]: a malformed number must not drop it.
        codes = [c or (f"US-{s}" if s else None)
                 for c, s in zip(codes, map(_state_or_none, _col(raw, "dl_state", n)),
                                 strict=True)]
    out[ORIGIN] = [None if c == own else c for c in codes]


_ISSUED_BY_STATE = frozenset({"dmv", "id_card"})


def _state_or_none(text: str | None) -> str | None:
    """USPS state code, or None (an invalid dl_state is already an issue on dl_state)."""
    try:
        return addresses.clean_state(text)
    except InvalidValue:
        return None
