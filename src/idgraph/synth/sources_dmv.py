"""Driver-licence files: New York DMV, Illinois Secretary of State, California DMV.

Each state keeps one licence per person (the licence number is the record id). The
address is the one given when the licence was last issued, so it is often stale; a
person who left the state keeps an old licence there.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from idgraph.synth import noise
from idgraph.synth.identifiers import IdFactory
from idgraph.synth.population import REF_DATE, Person, Residence, add_years
from idgraph.synth.spec import (
    Corrupt,
    Row,
    SourceSpec,
    iso,
    mdy,
    name_at,
    one_line,
    random_day,
    ymd,
)

DMV_COVERAGE = 0.85  # residents of the state with a licence there
STALE_KEEP = 0.6  # former residents whose old licence is still on file
_PROFILE = noise.Profile(typo=0.004, nickname=0.0, dob_swap=0.002, middle_full=0.4,
                         middle_drop=0.05, suffix_drop=0.15, compound_hyphen=0.3,
                         compound_first=0.1, missing=0.01)


def licence_event(p: Person, rng: random.Random, state: str) -> tuple[date, Residence] | None:
    """When this state last issued the person a licence, and where they lived then."""
    cur = p.residences[-1]
    adult = add_years(p.dob, 17)
    if cur.address.state == state:
        if rng.random() >= DMV_COVERAGE:
            return None
        run = len(p.residences) - 1
        while run > 0 and p.residences[run - 1].address.state == state:
            run -= 1
        lo = max(adult, p.residences[run].start, REF_DATE - timedelta(days=8 * 365))
        issue = random_day(rng, lo, REF_DATE)
        return issue, p.residence_at(issue)
    past = [r for r in p.residences if r.address.state == state and r.end is not None]
    if not past or rng.random() >= STALE_KEEP:
        return None
    res = past[-1]
    assert res.end is not None
    if res.end <= adult:
        return None
    return random_day(rng, max(adult, res.start), res.end), res


def _ny(p: Person, rng: random.Random, ids: IdFactory) -> list[Row]:
    ev = licence_event(p, rng, "NY")
    if ev is None:
        return []
    issue, res = ev
    a, n = res.address, name_at(p, issue, rng, _PROFILE)
    zip_ = f"{a.zip5}-{a.zip4}" if rng.random() < 0.2 else a.zip5
    return [{
        "LIC_NO": ids.dl_for(p.idx, "NY", p.last_at(issue)),
        "LAST": n.last, "FIRST": n.first, "MI": n.middle[:1], "SFX": n.suffix,
        "DOB": mdy(noise.dob(p.dob, rng, _PROFILE)), "SEX": noise.blank(p.sex, rng, _PROFILE),
        "ADDR_LINE1": a.street_line(), "APT": a.unit, "CITY": a.city, "ST": a.state,
        "ZIP5": zip_, "PLATE": ids.plate_for(p.idx, "NY") if p.vehicle else "",
        "CLASS": "D", "ISSUED": mdy(issue),
    }]


def _il(p: Person, rng: random.Random, ids: IdFactory) -> list[Row]:
    ev = licence_event(p, rng, "IL")
    if ev is None:
        return []
    issue, res = ev
    a, n = res.address, name_at(p, issue, rng, _PROFILE)
    unit = a.unit_text()
    return [{
        "DL_NUMBER": ids.dl_for(p.idx, "IL", p.last_at(issue)),
        "NAME_LAST": n.last, "NAME_FIRST": n.first, "NAME_MIDDLE": n.middle,
        "NAME_SUFFIX": n.suffix, "BIRTH_DATE": ymd(noise.dob(p.dob, rng, _PROFILE)),
        "GENDER": p.sex,
        "STREET_ADDRESS": f"{a.street_line()} {unit}" if unit else a.street_line(),
        "CITY": a.city, "STATE": a.state,
        "ZIP_CODE": a.zip5 + a.zip4 if rng.random() < 0.3 else a.zip5,
        "PLATE_NO": ids.plate_for(p.idx, "IL") if p.vehicle else "",
        "ISSUE_DATE": ymd(issue),
    }]


def _ca(p: Person, rng: random.Random, ids: IdFactory) -> list[Row]:
    ev = licence_event(p, rng, "CA")
    if ev is None:
        return []
    issue, res = ev
    n = name_at(p, issue, rng, _PROFILE)
    return [{
        "DLN": ids.dl_for(p.idx, "CA", p.last_at(issue)),
        "SURNAME": n.last, "GIVEN_NAME": n.first, "MIDDLE_NAME": n.middle,
        "NAME_SUFFIX": n.suffix, "DATE_OF_BIRTH": iso(noise.dob(p.dob, rng, _PROFILE)),
        "SEX_CODE": p.sex, "RES_ADDRESS": one_line(res.address, commas=True),
        "PLATE": ids.plate_for(p.idx, "CA") if p.vehicle else "",
        "ISSUE_DATE": iso(issue),
    }]


def _bad_dob(column: str, fmt: str) -> Corrupt:
    """Break the birth date (impossible date) or the ZIP of a row."""

    def corrupt(row: Row, rng: random.Random) -> str:
        if rng.random() < 0.5:
            row[column] = noise.bad_date(fmt, rng)
            return column
        zip_col = next(c for c in ("ZIP5", "ZIP_CODE", "RES_ADDRESS") if c in row)
        if zip_col == "RES_ADDRESS":
            row[zip_col] = str(row[zip_col]).rsplit(" ", 1)[0] + " " + rng.choice(noise.BAD_ZIPS)
        else:
            row[zip_col] = rng.choice(noise.BAD_ZIPS)
        return zip_col

    return corrupt


_DPPA = "driver licensing and vehicle registration"

NY_DMV = SourceSpec(
    id="ny_dmv", fmt="csv", filename="ny_dmv.csv.gz",
    columns=("LIC_NO", "LAST", "FIRST", "MI", "SFX", "DOB", "SEX", "ADDR_LINE1", "APT", "CITY",
             "ST", "ZIP5", "PLATE", "CLASS", "ISSUED"),
    manifest={
        "title": "New York DMV licence file (synthetic)", "kind": "dmv",
        "jurisdiction": "US-NY", "regimes": ["DPPA", "NY-VTL-201"],
        "collected_for": _DPPA, "retention_days": 3650, "record_id": "LIC_NO",
        "fields": {
            "dl_number": "LIC_NO", "dl_state": {"value": "NY"}, "last_name": "LAST",
            "first_name": "FIRST", "middle_name": "MI", "suffix": "SFX",
            "dob": {"column": "DOB", "format": "%m/%d/%Y"}, "sex": "SEX",
            "street": "ADDR_LINE1", "unit": "APT", "city": "CITY", "state": "ST",
            "zip": "ZIP5", "plate": "PLATE",
            "observed_at": {"column": "ISSUED", "format": "%m/%d/%Y"},
        },
    },
    emit=_ny, corrupt=_bad_dob("DOB", "%m/%d/%Y"),
)

IL_SOS = SourceSpec(
    id="il_sos", fmt="csv", filename="il_sos.csv",
    columns=("DL_NUMBER", "NAME_LAST", "NAME_FIRST", "NAME_MIDDLE", "NAME_SUFFIX",
             "BIRTH_DATE", "GENDER", "STREET_ADDRESS", "CITY", "STATE", "ZIP_CODE",
             "PLATE_NO", "ISSUE_DATE"),
    manifest={
        "title": "Illinois Secretary of State driver file (synthetic)", "kind": "dmv",
        "jurisdiction": "US-IL", "regimes": ["DPPA", "IL-625-ILCS-5/2-123"],
        "collected_for": _DPPA, "retention_days": 3650, "record_id": "DL_NUMBER",
        "fields": {
            "dl_number": "DL_NUMBER", "dl_state": {"value": "IL"}, "last_name": "NAME_LAST",
            "first_name": "NAME_FIRST", "middle_name": "NAME_MIDDLE", "suffix": "NAME_SUFFIX",
            "dob": {"column": "BIRTH_DATE", "format": "%Y%m%d"}, "sex": "GENDER",
            "street": "STREET_ADDRESS", "city": "CITY", "state": "STATE", "zip": "ZIP_CODE",
            "plate": "PLATE_NO", "observed_at": {"column": "ISSUE_DATE", "format": "%Y%m%d"},
        },
    },
    emit=_il, corrupt=_bad_dob("BIRTH_DATE", "%Y%m%d"),
)

CA_DMV = SourceSpec(
    id="ca_dmv", fmt="csv", filename="ca_dmv.csv.gz",
    columns=("DLN", "SURNAME", "GIVEN_NAME", "MIDDLE_NAME", "NAME_SUFFIX", "DATE_OF_BIRTH",
             "SEX_CODE", "RES_ADDRESS", "PLATE", "ISSUE_DATE"),
    manifest={
        "title": "California DMV driver licence file (synthetic)", "kind": "dmv",
        "jurisdiction": "US-CA", "regimes": ["DPPA", "CA-VC-1808"],
        "collected_for": _DPPA, "retention_days": 3650, "record_id": "DLN",
        "fields": {
            "dl_number": "DLN", "dl_state": {"value": "CA"}, "last_name": "SURNAME",
            "first_name": "GIVEN_NAME", "middle_name": "MIDDLE_NAME", "suffix": "NAME_SUFFIX",
            "dob": {"column": "DATE_OF_BIRTH", "format": "%Y-%m-%d"}, "sex": "SEX_CODE",
            "address": "RES_ADDRESS", "plate": "PLATE",
            "observed_at": {"column": "ISSUE_DATE", "format": "%Y-%m-%d"},
        },
    },
    emit=_ca, corrupt=_bad_dob("DATE_OF_BIRTH", "%Y-%m-%d"),
)
