"""Public-record sources: court dispositions, jail bookings, the voter roll.

No sensitive attributes are generated: no race, ethnicity, religion, national origin or
party. The voter roll carries the birth year only.
"""

from __future__ import annotations

import random
from datetime import timedelta

from idgraph.synth import noise, tables
from idgraph.synth.identifiers import IdFactory
from idgraph.synth.population import REF_DATE, Person
from idgraph.synth.spec import (
    Row,
    SourceSpec,
    active_since,
    corrupt_iso_dob,
    iso,
    mdy,
    name_at,
    numbered,
    one_line,
    random_day,
    stamp,
)

COURT_RATE = 0.05
BOOKING_IF_COURT = 0.4
BOOKING_OTHERWISE = 0.011
VOTER_COVERAGE = 0.6
STALE_REGISTRATION = 0.25  # an old-address registration never purged

_COURT = noise.Profile(typo=0.02, nickname=0.05, dob_swap=0.02, middle_full=0.0,
                       middle_drop=0.3, suffix_drop=0.3, missing=0.1)
_BOOKING = noise.Profile(typo=0.03, nickname=0.1, dob_swap=0.03, middle_full=0.2,
                         middle_drop=0.4, suffix_drop=0.35, missing=0.05)
_VOTER = noise.Profile(typo=0.01, nickname=0.02, middle_full=0.7, middle_drop=0.1,
                       suffix_drop=0.1, compound_hyphen=0.4, compound_first=0.05)


def _court(p: Person, rng: random.Random, _ids: IdFactory) -> list[Row]:
    if rng.random() >= COURT_RATE:
        return []
    rows: list[Row] = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        filed = random_day(rng, active_since(p), REF_DATE)
        n = name_at(p, filed, rng, _COURT)
        year_only = rng.random() < 0.3
        addr = one_line(p.residence_at(filed).address) if rng.random() < 0.5 else ""
        rows.append({
            "CASE_NUMBER": "", "DEFENDANT": n.last_first(),
            "DEF_DOB": "" if year_only else mdy(noise.dob(p.dob, rng, _COURT)),
            "DEF_BIRTH_YEAR": str(p.dob.year), "DEF_SEX": noise.blank(p.sex, rng, _COURT),
            "DEF_ADDRESS": addr,
            "FILED_DATE": mdy(filed), "CHARGE": rng.choice(tables.COURT_CHARGES),
            "DISPOSITION": rng.choice(tables.COURT_DISPOSITIONS),
            "COURT": "CIRCUIT COURT OF COOK COUNTY",
        })
    return rows


def _case_number(row: Row, n: int) -> str:
    """"2019-CR-0001234": filing year, then a running number."""
    return f"{row['FILED_DATE'][-4:]}-CR-{n:07d}"


def _court_corrupt(row: Row, rng: random.Random) -> str:
    row["DEF_DOB"] = noise.bad_date("%m/%d/%Y", rng)
    return "DEF_DOB"


def _title(s: str) -> str:
    return " ".join(w.capitalize() if len(w) > 1 else w for w in s.split(" "))


def _booking(p: Person, rng: random.Random, _ids: IdFactory) -> list[Row]:
    # the court source draws from its own generator, so use a stable person hash here
    court_like = (p.idx * 2654435761) % 1000 < COURT_RATE * 1000
    rate = BOOKING_IF_COURT if court_like else BOOKING_OTHERWISE
    if rng.random() >= rate:
        return []
    rows: list[Row] = []
    for _ in range(rng.choice((1, 1, 2))):
        booked = random_day(rng, active_since(p), REF_DATE)
        n = name_at(p, booked, rng, _BOOKING)
        released = booked + timedelta(days=rng.choice((0, 0, 1, 1, 2, 5, 30)))
        charges = rng.sample(tables.COURT_CHARGES, rng.choice((1, 1, 2)))
        rows.append({
            "booking_id": "", "name": _title(n.first_last()),
            "dob": iso(noise.dob(p.dob, rng, _BOOKING)),
            "sex": noise.blank(p.sex, rng, _BOOKING),
            "booked_at": stamp(booked, rng),
            "released_at": stamp(released, rng) if released < REF_DATE else None,
            "facility": rng.choice(tables.FACILITIES), "charges": charges,
            "home_address": one_line(p.residence_at(booked).address, commas=True)
            if rng.random() < 0.7 else None,
        })
    return rows


def _voter(p: Person, rng: random.Random, _ids: IdFactory) -> list[Row]:
    if rng.random() >= VOTER_COVERAGE:
        return []
    since = active_since(p)
    picks = [p.residences[-1]]
    past = [r for r in p.residences[:-1] if r.end is not None and r.end > since]
    if past and rng.random() < STALE_REGISTRATION:
        picks.insert(0, past[-1])
    rows: list[Row] = []
    for res in picks:
        reg = random_day(rng, max(res.start, since), res.end)
        a, n = res.address, name_at(p, reg, rng, _VOTER)
        rows.append({
            "VOTER_ID": "", "LNAME": n.last, "FNAME": n.first, "MNAME": n.middle,
            "SUFFIX": n.suffix, "YOB": str(p.dob.year), "RES_HOUSE": a.house,
            "RES_STREET": a.street_line(long_type=True).split(" ", 1)[1], "RES_UNIT": a.unit,
            "RES_CITY": a.city, "RES_STATE": a.state, "RES_ZIP": noise.blank(a.zip5, rng, _VOTER),
            "REG_DATE": iso(reg), "STATUS": "ACTIVE" if res.end is None else "INACTIVE",
        })
    return rows


def _voter_corrupt(row: Row, rng: random.Random) -> str:
    row["RES_ZIP"] = rng.choice(noise.BAD_ZIPS)
    return "RES_ZIP"


COURT = SourceSpec(
    id="court", fmt="csv", filename="court.csv",
    columns=("CASE_NUMBER", "DEFENDANT", "DEF_DOB", "DEF_BIRTH_YEAR", "DEF_SEX", "DEF_ADDRESS",
             "FILED_DATE", "CHARGE", "DISPOSITION", "COURT"),
    manifest={
        "title": "Circuit court criminal case index (synthetic)", "kind": "court",
        # Public court records: no catalogued regime restricts them (regimes: docs/sources.md).
        "jurisdiction": "US-IL", "regimes": [],
        "collected_for": "public court record of criminal proceedings",
        "retention_days": 36500, "record_id": "CASE_NUMBER",
        "fields": {
            "full_name": {"column": "DEFENDANT", "order": "last_first"},
            "dob": {"column": "DEF_DOB", "format": "%m/%d/%Y"}, "birth_year": "DEF_BIRTH_YEAR",
            "sex": "DEF_SEX", "address": "DEF_ADDRESS", "case_number": "CASE_NUMBER",
            "observed_at": {"column": "FILED_DATE", "format": "%m/%d/%Y"},
        },
    },
    emit=_court, corrupt=_court_corrupt, make_id=_case_number,
)

JAIL_BOOKING = SourceSpec(
    id="jail_booking", fmt="jsonl", filename="jail_booking.jsonl",
    columns=("booking_id", "name", "dob", "sex", "booked_at", "released_at", "facility",
             "charges", "home_address"),
    manifest={
        "title": "County jail booking log (synthetic)", "kind": "booking",
        "jurisdiction": "US-IL", "regimes": [],
        "collected_for": "custody records of county jails", "retention_days": 3650,
        "record_id": "booking_id",
        "fields": {
            "full_name": {"column": "name", "order": "first_last"},
            "dob": {"column": "dob", "format": "%Y-%m-%d"}, "sex": "sex",
            "address": "home_address", "facility": "facility",
            "booked_at": {"column": "booked_at", "format": "%Y-%m-%dT%H:%M:%S"},
            "released_at": {"column": "released_at", "format": "%Y-%m-%dT%H:%M:%S"},
        },
    },
    emit=_booking, corrupt=corrupt_iso_dob, make_id=numbered("BK", 8),
)

VOTER = SourceSpec(
    id="voter", fmt="csv", filename="voter.psv", delimiter="|",
    columns=("VOTER_ID", "LNAME", "FNAME", "MNAME", "SUFFIX", "YOB", "RES_HOUSE", "RES_STREET",
             "RES_UNIT", "RES_CITY", "RES_STATE", "RES_ZIP", "REG_DATE", "STATUS"),
    manifest={
        "title": "Statewide voter registration lists, merged (synthetic)", "kind": "voter",
        "jurisdiction": "US", "regimes": [],
        "collected_for": "administration of elections", "retention_days": 3650,
        "record_id": "VOTER_ID",
        "fields": {
            "last_name": "LNAME", "first_name": "FNAME", "middle_name": "MNAME",
            "suffix": "SUFFIX", "birth_year": "YOB",
            "street": {"template": "{RES_HOUSE} {RES_STREET}"}, "unit": "RES_UNIT",
            "city": "RES_CITY", "state": "RES_STATE", "zip": "RES_ZIP",
            "observed_at": {"column": "REG_DATE", "format": "%Y-%m-%d"},
        },
    },
    emit=_voter, corrupt=_voter_corrupt, make_id=numbered("V", 10),
)
