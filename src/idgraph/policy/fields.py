"""Field groups, minimisation and the search-criteria allow-list.

A source decision carries the tuple of canonical fields allowed for that source
under the query. :func:`minimise` applies it to any mapping of values: profiles,
link explanations, exports. Provenance (where a record came from) always passes;
the raw input row never does.

What a query may search or filter by is an allow-list too (:data:`FILTERABLE`, the
canonical fields with their value kind): anything else -- race, ethnicity, religion,
national origin, nationality, ancestry, in whatever spelling -- refuses the whole
query (``base.filters_allowed``). An allow-list, because a deny-list of words is
always one synonym short.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Final

from idgraph.schema import CANONICAL_FIELDS, DATE_FIELDS, NORMALISED_COLUMNS

# Identifying information in the sense of 15 U.S.C. § 1681f: names, addresses
# (current and former), places of employment.
IDENTIFYING: Final[frozenset[str]] = frozenset(
    {
        "full_name",
        "first_name",
        "middle_name",
        "last_name",
        "suffix",
        "first_name_canon",
        "first_name_phonetic",
        "last_name_phonetic",
        "last_name_parts",
        "house_number",
        "street",
        "unit",
        "city",
        "state",
        "zip",
        "address",
        "employer",
    }
)

# Highly restricted personal information, 18 U.S.C. § 2725(4): SSN, photograph,
# medical or disability information.
RESTRICTED: Final[frozenset[str]] = frozenset({"ssn", "photo", "medical", "disability"})

# Every value field a record can carry.
ALL_FIELDS: Final[frozenset[str]] = frozenset(NORMALISED_COLUMNS) | IDENTIFYING | RESTRICTED

FULL: Final[frozenset[str]] = ALL_FIELDS - RESTRICTED

# Provenance passes whatever the decision: it says where a value came from, not who.
PROVENANCE: Final[frozenset[str]] = frozenset(
    {
        "record_id",
        "source_id",
        "source_record_id",
        "version",
        "batch_id",
        "ingested_at",
        "source_file",
        "source_line",
        "observed_at",
    }
)

# Never leaves: the unmapped input row may hold anything.
NEVER: Final[frozenset[str]] = frozenset({"raw", "row_hash", "mapping_hash"})


def allowed_fields(
    read_full: bool, read_restricted: bool, purpose_fields: Iterable[str] | None
) -> tuple[str, ...]:
    """The fields a permitted source may disclose, sorted."""
    fields = set(IDENTIFYING)
    if read_full:
        fields |= FULL
    if read_restricted and read_full:
        fields |= RESTRICTED
    if purpose_fields is not None:
        fields &= set(purpose_fields)
    return tuple(sorted(fields))


def minimise(values: Mapping[str, Any], fields: Iterable[str] | None) -> dict[str, Any]:
    """``values`` cut to ``fields`` plus provenance; ``None`` fields means all but NEVER."""
    if fields is None:
        return {k: v for k, v in values.items() if k not in NEVER}
    keep = set(fields) | PROVENANCE
    return {k: v for k, v in values.items() if k in keep and k not in NEVER}


class FilterKind(StrEnum):
    """The kind of value a search or filter criterion takes."""

    NAME = "name"
    DATE = "date"
    YEAR = "year"
    CODE = "code"  # a small closed set: sex, state, dl_state
    ADDRESS = "address"
    CONTACT = "contact"
    IDENTIFIER = "identifier"
    TEXT = "text"


_KIND_OF: Final[dict[str, FilterKind]] = {
    "first_name": FilterKind.NAME,
    "middle_name": FilterKind.NAME,
    "last_name": FilterKind.NAME,
    "suffix": FilterKind.NAME,
    "full_name": FilterKind.NAME,
    "birth_year": FilterKind.YEAR,
    "sex": FilterKind.CODE,
    "state": FilterKind.CODE,
    "dl_state": FilterKind.CODE,
    "street": FilterKind.ADDRESS,
    "unit": FilterKind.ADDRESS,
    "city": FilterKind.ADDRESS,
    "zip": FilterKind.ADDRESS,
    "address": FilterKind.ADDRESS,
    "phone": FilterKind.CONTACT,
    "email": FilterKind.CONTACT,
    "ssn": FilterKind.IDENTIFIER,
    "dl_number": FilterKind.IDENTIFIER,
    "plate": FilterKind.IDENTIFIER,
    "case_number": FilterKind.IDENTIFIER,
    "facility": FilterKind.TEXT,
}

# Not criteria although canonical: where a record comes from is not who a person is,
# and filtering people by an origin jurisdiction could stand in for national origin.
_NOT_CRITERIA: Final[frozenset[str]] = frozenset({"origin_jurisdiction"})

# What a query may search or filter by: the canonical fields a manifest can map,
# typed. Nothing else is a criterion.
FILTERABLE: Final[dict[str, FilterKind]] = {
    f: FilterKind.DATE if f in DATE_FIELDS else _KIND_OF.get(f, FilterKind.TEXT)
    for f in CANONICAL_FIELDS
    if f not in _NOT_CRITERIA
}

_SEPARATORS = re.compile(r"[\s\-.]+")


def filter_name(raw: str) -> str:
    """A criterion's name as compared with the allow-list (case, spaces, dashes folded)."""
    return _SEPARATORS.sub("_", raw.strip().lower()).strip("_")


def refused_filters(filters: Iterable[str]) -> tuple[str, ...]:
    """The criteria (as given) that are not in :data:`FILTERABLE`."""
    return tuple(f for f in filters if filter_name(f) not in FILTERABLE)
