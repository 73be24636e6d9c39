"""Field groups and minimisation: only the fields a decision allows ever leave.

A source decision carries the tuple of canonical fields allowed for that source
under the query. :func:`minimise` applies it to any mapping of values: profiles,
link explanations, exports. Provenance (where a record came from) always passes;
the raw input row never does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from idgraph.schema import NORMALISED_COLUMNS

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
NEVER: Final[frozenset[str]] = frozenset({"raw", "row_hash"})


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
