"""Fixture builders for the index tests: records normalised as ingest normalises them.

A uniquely named module (``conftest`` is not): the tests import it by name.
Synthetic data only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from idgraph.normalize import addresses, dates, identifiers, names, phones
from idgraph.store import Store


def person_values(
    *,
    name: str | None = None,
    dob: str | None = None,
    address: str | None = None,
    phone: str | None = None,
    ssn: str | None = None,
    dl: str | None = None,
    dl_state: str | None = None,
    plate: str | None = None,
    order: str = "first_last",
) -> dict[str, Any]:
    """The normalised columns of one record made from raw text, as ingest makes them."""
    out: dict[str, Any] = {}
    if name is not None:
        n = names.parse_full(name, order)  # type: ignore[arg-type]
        assert n is not None
        out.update(full_name=n.full, first_name=n.first, middle_name=n.middle,
                   last_name=n.last, suffix=n.suffix, first_name_canon=n.first_canon,
                   first_name_phonetic=n.first_phonetic, last_name_phonetic=n.last_phonetic,
                   last_name_parts=list(n.last_parts) or None)
    if dob is not None:
        d = dates.clean_dob(dob)
        assert d is not None
        out.update(dob=d.value, dob_precision=d.precision, birth_year=d.value.year)
    if address is not None:
        a = addresses.parse(address)
        assert a is not None
        out.update(house_number=a.house_number, street=a.street, unit=a.unit, city=a.city,
                   state=a.state, zip=a.zip, address=a.one_line)
    if phone is not None:
        out["phone"] = phones.clean(phone)
    if ssn is not None:
        out["ssn"] = identifiers.clean_ssn(ssn)
    if dl is not None:
        out.update(dl_number=identifiers.clean_dl(dl, dl_state), dl_state=dl_state)
    if plate is not None:
        out["plate"] = identifiers.clean_plate(plate)
    return out


def add_person(store: Store, record_id: str, *, identity: str | None = None,
               origin: str | None = None, version: int = 1, batch: str = "b1",
               **raw: Any) -> str:
    """Insert a current record of ``<source>/<local id>`` made from raw text."""
    source, _, local = record_id.partition("/")
    row: dict[str, Any] = {
        "record_id": record_id, "source_id": source, "source_record_id": local,
        "version": version, "is_current": True, "batch_id": batch, "raw": "{}",
        "row_hash": f"h-{record_id}-{version}",
        "ingested_at": datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None),
        "origin_jurisdiction": origin, **person_values(**raw),
    }
    store.execute(
        f"INSERT INTO records ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
        list(row.values()),
    )
    if identity is not None:
        store.execute("INSERT INTO identity_members VALUES (?, ?)", [identity, record_id])
    return record_id
