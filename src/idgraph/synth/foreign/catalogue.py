"""The seven sources of a foreign-conventions population: what each is, how it maps."""

from __future__ import annotations

from idgraph.synth.foreign import sources as s

_ADDR = {"city": "CITY", "state": "STATE", "zip": "ZIP"}

SOURCES: tuple[s.Source, ...] = (
    s.Source(
        "tx_dps", "Texas DPS driver licence file (synthetic, foreign conventions)", "dmv",
        "US-TX", ("DPPA",), "driver licensing", "tx_dps.csv", "csv", "DL_NUMBER",
        ("DL_NUMBER", "LAST_NAME", "FIRST_NAME", "MIDDLE_NAME", "SUFFIX", "DOB", "SEX",
         "ADDRESS_LINE1", "CITY", "STATE", "ZIP"),
        {"dl_number": "DL_NUMBER", "dl_state": {"value": "TX"}, "last_name": "LAST_NAME",
         "first_name": "FIRST_NAME", "middle_name": "MIDDLE_NAME", "suffix": "SUFFIX",
         "dob": {"column": "DOB", "format": "%m/%d/%Y"}, "sex": "SEX",
         "street": "ADDRESS_LINE1", **_ADDR},
        0.7, (1, 1), s.tx_dps),
    s.Source(
        "county_court", "County court criminal index (synthetic, foreign conventions)",
        "court", "US-TX", (), "public court record of criminal proceedings",
        "county_court.csv", "csv", "CAUSE_NO",
        ("CAUSE_NO", "DEFENDANT", "DOB", "SEX", "ADDRESS", "OFFENSE"),
        {"case_number": "CAUSE_NO", "full_name": {"column": "DEFENDANT", "order": "last_first"},
         "dob": {"column": "DOB", "format": "%Y-%m-%d"}, "sex": "SEX", "address": "ADDRESS"},
        0.12, (1, 3), s.county_court, retention_days=36500),
    s.Source(
        "utility", "Electric utility accounts, latin-1 export (synthetic, foreign "
        "conventions)", "utility", "US", (), "utility service and billing", "utility.csv",
        "csv", "ACCOUNT",
        ("ACCOUNT", "CUSTOMER_NAME", "SERVICE_ADDRESS", "CITY", "STATE", "ZIP", "PHONE"),
        {"full_name": {"column": "CUSTOMER_NAME", "order": "first_last"},
         "street": "SERVICE_ADDRESS", **_ADDR, "phone": "PHONE"},
        0.45, (1, 1), s.utility, encoding="latin-1", retention_days=2555),
    s.Source(
        "voter", "County voter registration list (synthetic, foreign conventions)", "voter",
        "US-TX", (), "administration of elections", "voter.psv", "csv", "VUID",
        ("VUID", "LAST_NAME", "FIRST_NAME", "MIDDLE_NAME", "SUFFIX", "BIRTH_YEAR",
         "RES_ADDRESS", "RES_CITY", "RES_ZIP"),
        {"last_name": "LAST_NAME", "first_name": "FIRST_NAME", "middle_name": "MIDDLE_NAME",
         "suffix": "SUFFIX", "birth_year": "BIRTH_YEAR", "street": "RES_ADDRESS",
         "city": "RES_CITY", "state": {"value": "TX"}, "zip": "RES_ZIP"},
        0.55, (1, 1), s.voter, delimiter="|"),
    s.Source(
        "wireless", "Wireless carrier subscribers (synthetic, foreign conventions)",
        "phone_subscriber", "US", ("SCA",), "telecommunications service and billing",
        "wireless.parquet", "parquet", "sub_id",
        ("sub_id", "subscriber", "msisdn", "email", "bill_street", "bill_city",
         "bill_state", "bill_zip"),
        {"full_name": {"column": "subscriber", "order": "first_last"}, "phone": "msisdn",
         "email": "email", "street": "bill_street", "city": "bill_city",
         "state": "bill_state", "zip": "bill_zip"},
        0.5, (1, 2), s.wireless, retention_days=1825),
    s.Source(
        "jail", "County jail bookings (synthetic, foreign conventions)", "booking", "US-TX",
        (), "custody records of county jails", "jail.jsonl", "jsonl", "booking_no",
        ("booking_no", "inmate", "dob", "sex", "facility"),
        {"full_name": {"column": "inmate", "order": "last_first"},
         "dob": {"column": "dob", "format": "%d/%m/%Y"}, "sex": "sex",
         "facility": "facility"},
        0.06, (1, 2), s.jail),
    s.Source(
        "credit_header", "Consumer credit header (synthetic, foreign conventions)",
        "credit_header", "US", ("GLBA",), "consumer credit reporting", "credit_header.jsonl",
        "jsonl", "hdr_id", ("hdr_id", "name", "ssn", "dob", "address"),
        {"full_name": {"column": "name", "order": "last_first"}, "ssn": "ssn", "dob": "dob",
         "address": "address"},
        0.6, (1, 2), s.credit_header, retention_days=2555),
)

# record id of each source: a prefix and a width, numbered after shuffling the rows
ID_FORMAT: dict[str, str] = {
    "tx_dps": "4{:07d}", "county_court": "2024-CR-{:06d}", "utility": "UT{:08d}",
    "voter": "10{:08d}", "wireless": "S{:09d}", "jail": "BK{:07d}",
    "credit_header": "CH{:09d}",
}
