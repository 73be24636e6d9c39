"""Seven sources that write the same people by their own, conflicting conventions.

* ``tx_dps`` (dmv): name columns without accents, a compound surname whole or cut to
  its first part, suffix kept; full birth date; licence number.
* ``county_court`` (court): ``LAST, FIRST MIDDLE SFX``, surname typos; birth date or none.
* ``utility`` (utility, latin-1): ``First Last`` with accents and nicknames, declared
  first-last but some rows ``LAST FIRST`` without a comma; no suffix, no birth date.
* ``voter`` (voter): columns without accents, hyphenated compounds, married names;
  birth year only.
* ``wireless`` (phone_subscriber): like ``utility``, with phone and e-mail.
* ``jail`` (booking): ``LAST, FIRST M``, typos, suffix often dropped; day-first dates.
* ``credit_header`` (credit_header): ``LAST, FIRST MIDDLE``, often the birth surname;
  full birth date, month only or none; SSN.

Each renderer returns the row and the conventions it applied (``conventions.csv``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from idgraph.synth.foreign.names import fold, nicknames, typo
from idgraph.synth.foreign.people import Person

Row = dict[str, str | None]
Rendered = tuple[Row, list[str]]


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    kind: str
    jurisdiction: str
    regimes: tuple[str, ...]
    collected_for: str
    file: str
    fmt: str  # csv | jsonl | parquet
    record_id: str
    columns: tuple[str, ...]
    fields: dict[str, Any]
    coverage: float  # share of people with records here
    per_person: tuple[int, int]  # records per covered person (min, max)
    render: Callable[[Person, random.Random], Rendered]
    encoding: str = "utf-8"
    delimiter: str = ","
    retention_days: int = 3650
    extra: dict[str, Any] = field(default_factory=dict)

    def manifest(self) -> dict[str, Any]:
        inp: dict[str, Any] = {"path": self.file, "format": self.fmt}
        if self.encoding != "utf-8":
            inp["encoding"] = self.encoding
        if self.delimiter != ",":
            inp["delimiter"] = self.delimiter
        return {"id": self.id, "title": self.title, "kind": self.kind,
                "jurisdiction": self.jurisdiction, "regimes": list(self.regimes),
                "collected_for": self.collected_for,
                "retention_days": self.retention_days, "input": inp,
                "record_id": self.record_id, "fields": self.fields}


def _accents(text: str, keep: bool, tags: list[str]) -> str:
    if fold(text) != text.upper():
        tags.append("accents_kept" if keep else "accents_folded")
    return text if keep else fold(text)


def _given(p: Person, r: random.Random, nick: float, tags: list[str]) -> str:
    nicks = nicknames(p.given)
    if nicks and r.random() < nick:
        tags.append("nickname")
        return r.choice(nicks)
    return p.given


def _surname(p: Person, r: random.Random, tags: list[str], *, married: float,
             cut: float, hyphen: float = 0.0, typos: float = 0.0) -> str:
    if p.married and r.random() < married:
        tags.append("married_name")
        name = p.married
    elif len(p.surnames) > 1:
        x = r.random()
        if x < cut:
            tags.append("compound_cut")
            name = p.surnames[0]
        elif x < cut + hyphen:
            tags.append("compound_hyphen")
            name = "-".join(p.surnames)
        else:
            name = " ".join(p.surnames)
    else:
        name = p.surnames[0]
    if typos and r.random() < typos:
        typoed = typo(r, name)
        if typoed != name:
            tags.append("surname_typo")
            name = typoed
    return name


def _suffix(p: Person, r: random.Random, keep: float, tags: list[str]) -> str | None:
    if p.suffix and r.random() >= keep:
        tags.append("suffix_dropped")
        return None
    return p.suffix


def _join(*parts: str | None) -> str:
    return " ".join(x for x in parts if x)


def _maybe_reverse(given: str, surname: str, r: random.Random, share: float,
                   tags: list[str]) -> str:
    """``Given Surname`` as declared, or in some rows ``SURNAME GIVEN`` with no comma."""
    if r.random() < share:
        tags.append("reversed_order")
        return f"{surname} {given}".upper()
    return f"{given} {surname}"


def tx_dps(p: Person, r: random.Random) -> Rendered:
    tags: list[str] = []
    surname = _surname(p, r, tags, married=0.5, cut=0.5)
    addr = p.old_address if p.old_address and r.random() < 0.3 else p.address
    return {
        "DL_NUMBER": None,  # set by the writer: one licence number per person
        "LAST_NAME": _accents(surname, False, tags),
        "FIRST_NAME": _accents(p.given, False, tags),
        "MIDDLE_NAME": fold(p.middle) if p.middle else None,
        "SUFFIX": _suffix(p, r, 1.0, tags), "DOB": p.dob.strftime("%m/%d/%Y"),
        "SEX": p.sex, "ADDRESS_LINE1": addr.line, "CITY": addr.city, "STATE": addr.state,
        "ZIP": addr.zip}, tags


def county_court(p: Person, r: random.Random) -> Rendered:
    tags: list[str] = []
    surname = _accents(_surname(p, r, tags, married=0.8, cut=0.2, typos=0.06), False, tags)
    given = _accents(p.given, False, tags)
    dob = p.dob.isoformat() if r.random() < 0.55 else None
    if dob is None:
        tags.append("no_dob")
    name = f"{surname}, {_join(given, fold(p.middle) if p.middle else None)}"
    suffix = _suffix(p, r, 0.8, tags)
    return {"CAUSE_NO": None, "DEFENDANT": _join(name, suffix), "DOB": dob, "SEX": p.sex,
            "ADDRESS": f"{p.address.line} {p.address.city} {p.address.state} "
                       f"{p.address.zip}",
            "OFFENSE": r.choice(("THEFT", "DWI", "ASSAULT", "CRIMINAL TRESPASS"))}, tags


def utility(p: Person, r: random.Random) -> Rendered:
    tags: list[str] = []
    given = _given(p, r, 0.25, tags)
    surname = _surname(p, r, tags, married=0.9, cut=0.3)
    _suffix(p, r, 0.0, tags)
    name = _maybe_reverse(given, surname, r, 0.2, tags)
    name = _accents(name, True, tags)
    tags.append("no_dob")
    return {"ACCOUNT": None, "CUSTOMER_NAME": name, "SERVICE_ADDRESS": p.address.line,
            "CITY": p.address.city, "STATE": p.address.state, "ZIP": p.address.zip,
            "PHONE": p.phone}, tags


def voter(p: Person, r: random.Random) -> Rendered:
    tags: list[str] = ["birth_year_only"]
    surname = _surname(p, r, tags, married=0.9, cut=0.1, hyphen=0.4)
    return {"VUID": None, "LAST_NAME": _accents(surname, False, tags),
            "FIRST_NAME": _accents(p.given, False, tags),
            "MIDDLE_NAME": fold(p.middle) if p.middle else None,
            "SUFFIX": _suffix(p, r, 0.9, tags), "BIRTH_YEAR": str(p.dob.year),
            "RES_ADDRESS": p.address.line, "RES_CITY": p.address.city,
            "RES_ZIP": p.address.zip}, tags


def wireless(p: Person, r: random.Random) -> Rendered:
    tags: list[str] = ["no_dob"]
    given = _given(p, r, 0.4, tags)
    surname = _surname(p, r, tags, married=0.9, cut=0.4)
    _suffix(p, r, 0.0, tags)
    name = _accents(_maybe_reverse(given, surname, r, 0.15, tags), True, tags)
    user = fold(f"{given}.{surname.split()[0]}").lower().replace("'", "")
    return {"sub_id": None, "subscriber": name, "msisdn": "1" + p.phone,
            "email": f"{user}{r.randint(1, 99)}@example.com" if r.random() < 0.6 else None,
            "bill_street": p.address.line, "bill_city": p.address.city,
            "bill_state": p.address.state, "bill_zip": p.address.zip}, tags


def jail(p: Person, r: random.Random) -> Rendered:
    tags: list[str] = []
    surname = _accents(_surname(p, r, tags, married=0.7, cut=0.5, typos=0.08), False, tags)
    given = _accents(p.given, False, tags)
    if r.random() < 0.05:
        given = typo(r, given)
        tags.append("given_typo")
    middle = fold(p.middle)[0] if p.middle else None
    suffix = _suffix(p, r, 0.5, tags)
    return {"booking_no": None, "inmate": _join(f"{surname}, {given}", middle, suffix),
            "dob": p.dob.strftime("%d/%m/%Y"), "sex": p.sex,
            "facility": r.choice(("HARRIS COUNTY JAIL", "BEXAR COUNTY ADC",
                                  "EL PASO COUNTY DETENTION"))}, tags


def credit_header(p: Person, r: random.Random) -> Rendered:
    tags: list[str] = []
    surname = _accents(_surname(p, r, tags, married=0.4, cut=0.35), False, tags)
    given = _accents(p.given, False, tags)
    x = r.random()
    if x < 0.55:
        dob: str | None = p.dob.isoformat()
    elif x < 0.7:
        dob = p.dob.strftime("%Y-%m")
        tags.append("month_only_dob")
    else:
        dob = None
        tags.append("no_dob")
    suffix = _suffix(p, r, 0.6, tags)
    addr = p.old_address if p.old_address and r.random() < 0.5 else p.address
    ssn = p.ssn if r.random() < 0.9 else None
    return {"hdr_id": None,
            "name": _join(f"{surname}, {given}", fold(p.middle) if p.middle else None, suffix),
            "ssn": f"{ssn[:3]}-{ssn[3:5]}-{ssn[5:]}" if ssn else None, "dob": dob,
            "address": f"{addr.line}, {addr.city}, {addr.state} {addr.zip}"}, tags
