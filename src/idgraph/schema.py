"""The canonical person-record shape every source maps to, and the core models.

This module imports nothing else of idgraph: every other module builds on it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field


class SourceKind(StrEnum):
    """What kind of record system a source is."""

    DMV = "dmv"
    ID_CARD = "id_card"  # state identification cards (no driving privilege), e.g. 15 ILCS 335
    CREDIT_HEADER = "credit_header"
    UTILITY = "utility"
    PHONE_SUBSCRIBER = "phone_subscriber"
    COURT = "court"
    BOOKING = "booking"
    VOTER = "voter"
    PROPERTY = "property"
    OTHER = "other"


class DatePrecision(StrEnum):
    """How much of a date a source actually gave."""

    DAY = "day"
    MONTH = "month"
    YEAR = "year"


# Canonical fields a manifest may map a source column onto. Order is display order.
CANONICAL_FIELDS: Final[tuple[str, ...]] = (
    "first_name",
    "middle_name",
    "last_name",
    "suffix",
    "full_name",
    "dob",
    "birth_year",
    "sex",
    "street",
    "unit",
    "city",
    "state",
    "zip",
    "address",
    "phone",
    "email",
    "ssn",
    "dl_number",
    "dl_state",
    "plate",
    "observed_at",
    "booked_at",
    "released_at",
    "facility",
    "case_number",
    # where the record itself comes from, when a compiled source holds records of
    # several jurisdictions (e.g. a national DMV compilation's `dl_state` column)
    "origin_jurisdiction",
)

# Fields whose value is a date or timestamp (manifests may give a `format`).
DATE_FIELDS: Final[frozenset[str]] = frozenset({"dob", "observed_at", "booked_at", "released_at"})

# Columns of the `records` table: provenance first, then normalised values.
# Name -> DuckDB type. The store creates the table from this mapping.
PROVENANCE_COLUMNS: Final[dict[str, str]] = {
    "record_id": "VARCHAR",  # "<source_id>/<source_record_id>": stable across versions
    "source_id": "VARCHAR",
    "source_record_id": "VARCHAR",
    "version": "INTEGER",  # 1, 2, ... a changed row becomes a new version
    "is_current": "BOOLEAN",
    "row_hash": "VARCHAR",  # SHA-256 of the raw row, decides "changed"
    "batch_id": "VARCHAR",
    "ingested_at": "TIMESTAMP",
    "source_file": "VARCHAR",
    "source_line": "BIGINT",
    "raw": "JSON",  # the whole input row, unmapped columns included
}

NORMALISED_COLUMNS: Final[dict[str, str]] = {
    # names
    "full_name": "VARCHAR",  # display form, "FIRST MIDDLE LAST SUFFIX"
    "first_name": "VARCHAR",
    "middle_name": "VARCHAR",
    "last_name": "VARCHAR",
    "suffix": "VARCHAR",  # JR, SR, II, III, IV, V
    "first_name_canon": "VARCHAR",  # nickname -> canonical given name
    "first_name_phonetic": "VARCHAR",
    "last_name_phonetic": "VARCHAR",
    "last_name_parts": "VARCHAR[]",  # compound/hyphenated surnames split
    # birth
    "dob": "DATE",
    "dob_precision": "VARCHAR",  # day | month | year
    "birth_year": "INTEGER",
    "sex": "VARCHAR",  # M | F | X
    # address
    "house_number": "VARCHAR",
    "street": "VARCHAR",  # street name with USPS suffix, no house number
    "unit": "VARCHAR",
    "city": "VARCHAR",
    "state": "VARCHAR",
    "zip": "VARCHAR",  # ZIP5
    "address": "VARCHAR",  # one line: "HOUSE STREET UNIT, CITY, ST ZIP"
    # contact and identifiers
    "phone": "VARCHAR",  # E.164
    "email": "VARCHAR",
    "ssn": "VARCHAR",  # 9 digits
    "dl_number": "VARCHAR",
    "dl_state": "VARCHAR",
    "plate": "VARCHAR",
    # events
    "observed_at": "TIMESTAMP",
    "booked_at": "TIMESTAMP",
    "released_at": "TIMESTAMP",
    "facility": "VARCHAR",
    "case_number": "VARCHAR",
    # ISO 3166-2 code of the jurisdiction the record comes from (e.g. US-CA), when it
    # differs from its source's own; NULL: the source's own jurisdiction. Last, so that
    # stores migrated with ADD COLUMN keep RECORD_COLUMNS' order.
    "origin_jurisdiction": "VARCHAR",
}

# Provenance added after stores were created: appended after the normalised columns so
# stores migrated with ADD COLUMN keep RECORD_COLUMNS' order (positional inserts work).
LATE_PROVENANCE_COLUMNS: Final[dict[str, str]] = {
    # SHA-256 of the manifest's normalised mapping (Manifest.mapping_digest) the version
    # was made under; with row_hash it decides "changed". NULL: made before it was kept.
    "mapping_hash": "VARCHAR",
}

# Normalised columns added after stores were created, appended last for the same reason.
LATE_NORMALISED_COLUMNS: Final[dict[str, str]] = {
    # the canonical fields whose value was kept though it failed a validity check (a
    # phone number with an unassigned area code, an SSN in area 9xx); NULL: every value
    # verified. Matching compares kept values like any other. docs/sources.md,
    # "Unverified values".
    "unverified": "VARCHAR[]",
}

RECORD_COLUMNS: Final[dict[str, str]] = {
    **PROVENANCE_COLUMNS, **NORMALISED_COLUMNS, **LATE_PROVENANCE_COLUMNS,
    **LATE_NORMALISED_COLUMNS,
}

# A *segment* is what the decision point decides on: the records of one source that
# share an origin jurisdiction. Key: the source id for records of the source's own
# jurisdiction (origin NULL), ``<source_id>@<ISO 3166-2>`` otherwise (``us_dl@US-CA``).
SEGMENT_SEP: Final[str] = "@"


def segment_key(source_id: str, origin_jurisdiction: str | None) -> str:
    """The segment a record belongs to (source ids never contain ``@``)."""
    if not origin_jurisdiction:
        return source_id
    return f"{source_id}{SEGMENT_SEP}{origin_jurisdiction}"


def segment_source(key: str) -> str:
    """The source id of a segment key."""
    return key.split(SEGMENT_SEP, 1)[0]


# Strong identifiers: two different values from the same issuer mean two people.
STRONG_IDENTIFIERS: Final[tuple[str, ...]] = ("ssn", "dl_number")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Record(_Model):
    """One version of one source record, as stored."""

    record_id: str
    source_id: str
    source_record_id: str
    version: int = 1
    batch_id: str
    ingested_at: datetime
    raw: dict[str, Any]
    values: dict[str, Any] = Field(default_factory=dict)


class Identity(_Model):
    """A cluster of records believed to describe one person."""

    identity_id: str
    record_ids: tuple[str, ...]
    run_id: str


class QuarantineEntry(_Model):
    """A row, or one field of a row, that could not be used as given."""

    source_id: str
    source_file: str
    source_line: int
    source_record_id: str | None
    field: str | None  # None: the whole row was rejected
    value: str | None
    reason: str
    batch_id: str


class LegalBasis(StrEnum):
    NONE = "none"
    CONSENT = "consent"
    SUBPOENA = "subpoena"
    ADMINISTRATIVE_WARRANT = "administrative_warrant"
    COURT_ORDER = "court_order"
    JUDICIAL_WARRANT = "judicial_warrant"


class Query(_Model):
    """The context every read carries."""

    principal: str
    purpose: str
    claims: tuple[str, ...] = ()
    basis: str | None = None  # id of a registered legal-process document
    case_id: str | None = None
    at: datetime | None = None
    # the shell the read came through ("cli" | "api" | "web") and the API token the caller
    # authenticated with: written into the detail of the read's audit entries; None for a
    # library caller
    via: str | None = None
    token_id: str | None = None


class Decision(_Model):
    """A policy outcome for one source segment under one query."""

    source_id: str  # the segment key: "src" or "src@US-CA" (see segment_key)
    permit: bool
    rules: tuple[str, ...] = ()
    duties: tuple[str, ...] = ()
    fields: tuple[str, ...] | None = None  # None: every field; else only these
