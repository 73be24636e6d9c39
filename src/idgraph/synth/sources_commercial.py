"""Commercial sources: credit header, utility accounts, phone subscribers."""

from __future__ import annotations

import random

from idgraph.synth import noise
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

CREDIT_COVERAGE = 0.9
OLD_ADDRESS_REPORTED = 0.35  # a past address also appears as its own header row
UTILITY_COVERAGE = 0.5
PHONE_COVERAGE = 0.7
OLD_LINE_KEPT = 0.3  # a past phone line still in the subscriber file

_CREDIT = noise.Profile(typo=0.01, nickname=0.04, dob_swap=0.01, middle_full=0.6,
                        middle_drop=0.25, suffix_drop=0.3, missing=0.03)
_UTILITY = noise.Profile(typo=0.02, nickname=0.15, dob_swap=0.0, middle_full=0.1,
                         middle_drop=0.6, suffix_drop=0.5, compound_first=0.4, missing=0.08)
_PHONE = noise.Profile(typo=0.02, nickname=0.2, middle_drop=1.0, suffix_drop=0.6,
                       compound_first=0.45, missing=0.05)


def _ssn_text(ssn: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.08:
        return ""
    if r < 0.09:  # one mistyped digit
        i = rng.randrange(9)
        ssn = ssn[:i] + str((int(ssn[i]) + rng.randint(1, 9)) % 10) + ssn[i + 1 :]
    if r > 0.85:
        return ssn
    return f"{ssn[:3]}-{ssn[3:5]}-{ssn[5:]}"


def _credit(p: Person, rng: random.Random, _ids: IdFactory) -> list[Row]:
    if rng.random() >= CREDIT_COVERAGE:
        return []
    since = active_since(p)
    rows: list[Row] = []
    for i, res in enumerate(p.residences):
        current = i == len(p.residences) - 1
        if (res.end is not None and res.end <= since) or (
            not current and rng.random() >= OLD_ADDRESS_REPORTED
        ):
            continue
        first = max(res.start, since)
        last = random_day(rng, first, res.end)
        n = name_at(p, first, rng, _CREDIT)
        phone = p.phones[-1][0] if rng.random() < 0.4 else ""
        rows.append({
            "hdr_id": "", "name": n.last_first(), "ssn": _ssn_text(p.ssn, rng),
            "dob": iso(noise.dob(p.dob, rng, _CREDIT)) if rng.random() > 0.04 else None,
            "address": noise.street_typo(one_line(res.address), rng, _CREDIT),
            "phone": phone or None,
            "first_reported": f"{first.year:04d}-{first.month:02d}",
            "last_reported": iso(last),
        })
    return rows


def _utility(p: Person, rng: random.Random, _ids: IdFactory) -> list[Row]:
    if rng.random() >= UTILITY_COVERAGE:
        return []
    since = active_since(p)
    keep = [r for r in p.residences if r.end is None or r.end > since][-2:]
    if len(keep) == 2 and rng.random() < 0.7:
        keep = keep[1:]
    rows: list[Row] = []
    for res in keep:
        start = random_day(rng, max(res.start, since), res.end)
        a, n = res.address, name_at(p, start, rng, _UTILITY)
        long_type = rng.random() < 0.3
        street = noise.street_typo(a.street_line(long_type).split(" ", 1)[1], rng, _UTILITY)
        phone = next((ph for ph, lo, hi in p.phones if lo <= start and (hi is None or start < hi)),
                     p.phones[-1][0])
        rows.append({
            "ACCT_NO": "", "ACCOUNT_HOLDER": n.first_last(), "SVC_HOUSE_NO": a.house,
            "SVC_STREET": street, "SVC_UNIT": a.unit, "SVC_CITY": a.city, "SVC_STATE": a.state,
            "SVC_ZIP": a.zip5, "CONTACT_PHONE": noise.blank(noise.phone_text(phone, rng), rng,
                                                            _UTILITY),
            "SERVICE_START": mdy(start), "SERVICE_END": mdy(res.end) if res.end else "",
        })
    return rows


def _utility_corrupt(row: Row, rng: random.Random) -> str:
    if rng.random() < 0.5:
        row["CONTACT_PHONE"] = rng.choice(noise.BAD_PHONES)
        return "CONTACT_PHONE"
    row["SVC_ZIP"] = rng.choice(noise.BAD_ZIPS)
    return "SVC_ZIP"


def _phone(p: Person, rng: random.Random, _ids: IdFactory) -> list[Row]:
    if rng.random() >= PHONE_COVERAGE:
        return []
    rows: list[Row] = []
    for i, (number, lo, hi) in enumerate(p.phones):
        if hi is not None and rng.random() >= OLD_LINE_KEPT:
            continue
        res = p.residence_at(hi or REF_DATE)
        a, n = res.address, name_at(p, lo, rng, _PHONE)
        email = ""
        if rng.random() < 0.35:
            domain = ("example.com", "example.net", "example.org")[p.idx % 3]
            # one mailbox per person: namesakes never share an address (a number
            # modulo anything gave two DAVID NGUYENs one email, which merged them)
            email = f"{p.first.lower()}.{p.last.lower().replace(' ', '')}{p.idx}@{domain}"
        rows.append({
            "sub_id": "", "msisdn": f"+1{number}" if rng.random() < 0.6 else number,
            "subscriber_first": n.first, "subscriber_last": n.last,
            "billing_street": a.street_line(), "billing_unit": a.unit_text() or None,
            "billing_city": noise.blank(a.city, rng, _PHONE), "billing_state": a.state,
            "billing_postcode": a.zip5 if rng.random() > 0.02 else None,
            "email": email or None, "line_no": str(i + 1),
            "activated": stamp(lo, rng), "deactivated": stamp(hi, rng) if hi else None,
        })
    return rows


def _phone_corrupt(row: Row, rng: random.Random) -> str:
    row["msisdn"] = rng.choice(noise.BAD_PHONES)
    return "msisdn"


CREDIT_HEADER = SourceSpec(
    id="credit_header", fmt="jsonl", filename="credit_header.jsonl",
    columns=("hdr_id", "name", "ssn", "dob", "address", "phone", "first_reported",
             "last_reported"),
    manifest={
        "title": "Consumer credit header (synthetic)", "kind": "credit_header",
        # Header data (identifying lines above the credit file) is nonpublic personal
        # information under GLBA, not a consumer report under FCRA (FTC v. TransUnion).
        "jurisdiction": "US", "regimes": ["GLBA"],
        "collected_for": "consumer credit reporting", "retention_days": 2555,
        "record_id": "hdr_id",
        "fields": {
            "full_name": {"column": "name", "order": "last_first"}, "ssn": "ssn",
            "dob": {"column": "dob", "format": "%Y-%m-%d"}, "address": "address",
            "phone": "phone", "observed_at": {"column": "last_reported", "format": "%Y-%m-%d"},
        },
    },
    emit=_credit, corrupt=corrupt_iso_dob, make_id=numbered("CH"),
)

UTILITY = SourceSpec(
    id="utility", fmt="csv", filename="utility.csv",
    columns=("ACCT_NO", "ACCOUNT_HOLDER", "SVC_HOUSE_NO", "SVC_STREET", "SVC_UNIT", "SVC_CITY",
             "SVC_STATE", "SVC_ZIP", "CONTACT_PHONE", "SERVICE_START", "SERVICE_END"),
    manifest={
        "title": "Electric and gas utility customer accounts (synthetic)", "kind": "utility",
        # No federal regime governs utility customer records; state utility-commission
        # rules vary and no rule reads them, so none is declared.
        "jurisdiction": "US", "regimes": [],
        "collected_for": "utility service and billing", "retention_days": 2555,
        "record_id": "ACCT_NO",
        "fields": {
            "full_name": {"column": "ACCOUNT_HOLDER", "order": "first_last"},
            "street": {"template": "{SVC_HOUSE_NO} {SVC_STREET}"}, "unit": "SVC_UNIT",
            "city": "SVC_CITY", "state": "SVC_STATE", "zip": "SVC_ZIP",
            "phone": "CONTACT_PHONE",
            "observed_at": {"column": "SERVICE_START", "format": "%m/%d/%Y"},
        },
    },
    emit=_utility, corrupt=_utility_corrupt, make_id=numbered("UA", 8),
)

PHONE_SUBSCRIBER = SourceSpec(
    id="phone_subscriber", fmt="parquet", filename="phone_subscriber.parquet",
    columns=("sub_id", "msisdn", "subscriber_first", "subscriber_last", "billing_street",
             "billing_unit", "billing_city", "billing_state", "billing_postcode", "email",
             "line_no", "activated", "deactivated"),
    manifest={
        "title": "Mobile carrier subscriber records (synthetic)", "kind": "phone_subscriber",
        # Subscriber name, address and number are not CPNI (47 U.S.C. § 222(h)(1)); a
        # carrier gives them to government under the SCA, 18 U.S.C. § 2703(c)(2).
        "jurisdiction": "US", "regimes": ["SCA"],
        "collected_for": "telecommunications service and billing", "retention_days": 1825,
        "record_id": "sub_id",
        "fields": {
            "phone": "msisdn", "first_name": "subscriber_first", "last_name": "subscriber_last",
            "street": "billing_street", "unit": "billing_unit", "city": "billing_city",
            "state": "billing_state", "zip": "billing_postcode", "email": "email",
            "observed_at": {"column": "activated", "format": "%Y-%m-%dT%H:%M:%S"},
        },
    },
    emit=_phone, corrupt=_phone_corrupt, make_id=numbered("SUB", 9),
)
