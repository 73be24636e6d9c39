"""The per-value normalisation path as it was before issue 17 (frozen copy of
idgraph/sources/mapping.py): every chunk's distinct values normalised afresh, rows assembled
one by one. Only tests/sources/test_normalise_paths.py uses it, as the reference the
memoised path must equal."""

# ruff: noqa
# mypy: ignore-errors

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

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


def map_unique(
    func: Callable[[K], V | None], keys: Sequence[K], field: str, issues: list[FieldIssue],
    shown: Callable[[K], str | None] | None = None,
    flagged: list[list[str]] | None = None,
) -> list[V | None]:
    """Apply ``func`` once per distinct key; rejected keys give None and an issue per row.

    An :class:`Unverified` key gives its value, no issue, and ``field`` appended to the
    row's list in ``flagged`` (one list per row); a :class:`Partial` key gives its value
    and an issue.
    """
    results: dict[K, V | None] = dict.fromkeys(keys)
    bad: dict[K, str] = {}
    unverified: set[K] = set()
    for key in results:
        if key is None:
            continue
        try:
            results[key] = func(key)
        except Unverified as exc:
            results[key] = cast("V", exc.value)
            unverified.add(key)
        except Partial as exc:
            results[key] = cast("V", exc.value)
            bad[key] = exc.reason
        except InvalidValue as exc:
            bad[key] = exc.reason
    if bad:
        show = shown or _show
        issues.extend(FieldIssue(i, field, show(k), bad[k])
                      for i, k in enumerate(keys) if k in bad)
    if unverified and flagged is not None:
        for i, k in enumerate(keys):
            if k in unverified and field not in flagged[i]:
                flagged[i].append(field)
    return [results[k] for k in keys]


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


def _names(
    manifest: Manifest, raw: dict[str, list[str | None]], n: int,
    out: dict[str, list[Any]], issues: list[FieldIssue],
) -> None:
    # The suffix column is cleaned on its own: a bad suffix nulls only the suffix, not
    # the whole name (clean_suffix is idempotent, so from_parts reads the clean form).
    suffixes = map_unique(names.clean_suffix, _col(raw, "suffix", n), "suffix", issues)
    parts_keys = list(zip(
        _col(raw, "first_name", n), _col(raw, "middle_name", n),
        _col(raw, "last_name", n), suffixes, strict=True,
    ))
    from_parts = map_unique(lambda k: names.from_parts(*k), parts_keys, "first_name", issues)
    full: list[names.Name | None] = [None] * n
    if "full_name" in raw:
        order = manifest.fields["full_name"].order or "first_last"

        def parse(text: str | None) -> names.Name | None:
            return names.parse_full(text, order=order) if text else None

        full = map_unique(parse, raw["full_name"], "full_name", issues)
    cols: dict[str, list[Any]] = {k: [] for k in (
        "full_name", "first_name", "middle_name", "last_name", "suffix", "first_name_canon",
        "first_name_phonetic", "last_name_phonetic", "last_name_parts")}
    for p, f in zip(from_parts, full, strict=True):
        nm = p if p is not None and (p.first or p.last) else f
        if nm is not None and f is not None and nm is p:
            nm = names.Name(
                first=p.first or f.first, middle=p.middle or f.middle, last=p.last or f.last,
                suffix=p.suffix or f.suffix, first_canon=p.first_canon or f.first_canon,
                first_phonetic=p.first_phonetic or f.first_phonetic,
                last_phonetic=p.last_phonetic or f.last_phonetic,
                last_parts=p.last_parts or f.last_parts,
            )
        cols["full_name"].append(nm.full if nm else None)
        cols["first_name"].append(nm.first if nm else None)
        cols["middle_name"].append(nm.middle if nm else None)
        cols["last_name"].append(nm.last if nm else None)
        cols["suffix"].append(nm.suffix if nm else None)
        cols["first_name_canon"].append(nm.first_canon if nm else None)
        cols["first_name_phonetic"].append(nm.first_phonetic if nm else None)
        cols["last_name_phonetic"].append(nm.last_phonetic if nm else None)
        cols["last_name_parts"].append(list(nm.last_parts) if nm and nm.last_parts else None)
    out.update(cols)


def _birth(
    manifest: Manifest, raw: dict[str, list[str | None]], n: int,
    out: dict[str, list[Any]], issues: list[FieldIssue],
) -> None:
    dob_col = _col(raw, "dob", n)
    fmt = manifest.fields["dob"].format if "dob" in manifest.fields else None
    dobs = map_unique(lambda t: dates.clean_dob(t, fmt) if t else None, dob_col, "dob", issues)
    years = map_unique(_birth_year, _col(raw, "birth_year", n), "birth_year", issues)
    out["dob"] = [d.value if d else None for d in dobs]
    out["dob_precision"] = [d.precision if d else None for d in dobs]
    out["birth_year"] = [
        d.value.year if d else y for d, y in zip(dobs, years, strict=True)
    ]
    out["sex"] = map_unique(identifiers.clean_sex, _col(raw, "sex", n), "sex", issues)


def _birth_year(text: str | None) -> int | None:
    if text is None:
        return None
    d = dates.clean_dob(text.strip(), "%Y")
    return d.value.year if d else None


def _address(
    raw: dict[str, list[str | None]], n: int,
    out: dict[str, list[Any]], issues: list[FieldIssue],
) -> None:
    keys = list(zip(
        _col(raw, "street", n), _col(raw, "unit", n), _col(raw, "city", n),
        _col(raw, "state", n), _col(raw, "zip", n), strict=True,
    ))
    parts = map_unique(
        lambda k: addresses.from_parts(*k) if any(k) else None, keys, "street", issues
    )
    line_col = _col(raw, "address", n)
    lines = map_unique(lambda t: addresses.parse(t) if t else None, line_col, "address", issues)
    # A part that did not clean (a ZIP 00000, a unit without a number) was left out of
    # its address; the rest stays. Its issue names the part ("zip"), or "address" for a
    # one-line address.
    for i, (p, a) in enumerate(zip(parts, lines, strict=True)):
        if p is not None:
            issues.extend(FieldIssue(i, part, _raw_part(keys[i], part), why)
                          for part, why in p.problems)
        if a is not None:
            issues.extend(FieldIssue(i, "address", line_col[i], f"{part}: {why}")
                          for part, why in a.problems)
    for name in ("house_number", "street", "unit", "city", "state", "zip", "address"):
        out[name] = []
    for p, a in zip(parts, lines, strict=True):
        best = p if p is not None and (p.street or p.zip) else a
        for name in ("house_number", "street", "unit", "city", "state", "zip"):
            v = getattr(best, name) if best else None
            if v is None and a is not None and best is not a:
                v = getattr(a, name)
            out[name].append(v)
        out["address"].append(best.one_line if best else None)


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
        flagged=flagged,
    )
    out["email"] = map_unique(identifiers.clean_email, _col(raw, "email", n), "email", issues)
    out["ssn"] = map_unique(identifiers.clean_ssn, _col(raw, "ssn", n), "ssn", issues,
                            flagged=flagged)
    states = map_unique(addresses.clean_state, _col(raw, "dl_state", n), "dl_state", issues)
    dl_keys = list(zip(_col(raw, "dl_number", n), states, strict=True))
    out["dl_number"] = map_unique(
        lambda k: identifiers.clean_dl(k[0], k[1]) if k[0] else None, dl_keys, "dl_number",
        issues, shown=lambda k: k[0], flagged=flagged,
    )
    out["dl_state"] = [s if d else None for s, d in zip(states, out["dl_number"], strict=True)]
    out["plate"] = map_unique(identifiers.clean_plate, _col(raw, "plate", n), "plate", issues)


def _timestamp(fmt: str | None) -> Callable[[str | None], datetime | None]:
    def clean(text: str | None) -> datetime | None:
        return dates.clean_timestamp(text, fmt) if text else None

    return clean


def _events(
    manifest: Manifest, raw: dict[str, list[str | None]], n: int,
    out: dict[str, list[Any]], issues: list[FieldIssue],
) -> None:
    for name in ("observed_at", "booked_at", "released_at"):
        fmt = manifest.fields[name].format if name in manifest.fields else None
        out[name] = map_unique(_timestamp(fmt), _col(raw, name, n), name, issues)
    for name in ("facility", "case_number"):
        out[name] = map_unique(lambda t: fold(t) or None if t else None, _col(raw, name, n),
                               name, issues)



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
                       ORIGIN, issues)
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
