"""US postal addresses: USPS Publication 28 forms, parsed with usaddress.

Decisions (tested in tests/normalize/test_addresses.py):

* ``street`` is the street without the house number: pre-directional, name, suffix,
  post-directional, all in USPS abbreviations ("N MAIN ST", "PENNSYLVANIA AVE NW").
  A directional or suffix word is abbreviated only where it acts as one (first or last
  word around the name), so "NORTH AVE" and "AVENUE OF THE AMERICAS" keep their names.
* Units use Publication 28 secondary designators (APARTMENT -> APT, SUITE -> STE).
  A bare number or "#4" has no designator, and becomes "UNIT 4".
* ZIP is ZIP5. "62704-1234" and "627041234" -> "62704"; four digits are a ZIP whose
  leading zero a spreadsheet dropped ("2134" -> "02134"); a letter O, I or L typed
  for a digit is read as that digit ("0O123" -> "00123"); anything else raises.
  "00000" is a placeholder (a simulator's or a form's "no ZIP"), not evidence: it
  raises. There is no table of assigned ZIPs: any other five digits are kept.
* City abbreviations FT/MT/ST/STE/PT are spelled out (ST LOUIS -> SAINT LOUIS) so that
  both spellings meet.
* PO boxes: street "PO BOX 123", no house number.
* A bad part nulls only itself (issue 13, "nothing lost in normalisation"): a ZIP,
  state, unit or city that does not clean is left out of the Address and named in
  ``Address.problems`` ((part, reason) pairs, which ingest quarantines); house number,
  street and the other parts stay. Before, one such part voided the whole address
  (on a simulator population with ZIP 00000, 94% of records lost their street).
  ``parse`` still raises when it finds no street, city or ZIP at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

import usaddress

from idgraph.normalize.base import InvalidValue, blank, fold

__all__ = [
    "Address",
    "clean_city",
    "clean_state",
    "clean_street",
    "clean_unit",
    "clean_zip",
    "from_parts",
    "parse",
]


def _table(spec: str) -> dict[str, str]:
    """"ABBR VARIANT VARIANT; ..." -> {VARIANT: ABBR, ABBR: ABBR}."""
    table: dict[str, str] = {}
    for group in spec.split(";"):
        words = group.split()
        if words:
            for word in words:
                table[word] = words[0]
    return table


# USPS Publication 28, appendix C1: standard suffix abbreviation, then common names and
# the variants Pub 28 lists for it.
STREET_SUFFIXES: Final[dict[str, str]] = _table(
    "ALY ALLEY ALLEE ALLY; ANX ANNEX ANNX ANEX; ARC ARCADE; AVE AVENUE AV AVEN AVENU AVN "
    "AVNUE; BYU BAYOU BAYOO; BCH BEACH; BND BEND; BLF BLUFF BLUF; BLVD BOULEVARD BOUL "
    "BOULV; BR BRANCH BRNCH; BRG BRIDGE BRDGE; BRK BROOK; BYP BYPASS BYPA BYPAS BYPS; "
    "CSWY CAUSEWAY CAUSWA; CTR CENTER CEN CENT CENTR CENTRE CNTER CNTR; CIR CIRCLE CIRC "
    "CIRCL CRCL CRCLE; CLF CLIFF; CLFS CLIFFS; CLB CLUB; CMN COMMON; COR CORNER; CRSE "
    "COURSE; CT COURT; CTS COURTS; CV COVE; CRK CREEK; CRES CRESCENT CRSENT CRSNT; XING "
    "CROSSING CRSSNG; DL DALE; DM DAM; DR DRIVE DRIV DRV; EST ESTATE; ESTS ESTATES; EXPY "
    "EXPRESSWAY EXP EXPR EXPRESS EXPW; EXT EXTENSION EXTN EXTNSN; FLS FALLS; FRY FERRY "
    "FRRY; FLD FIELD; FLDS FIELDS; FLT FLAT; FLTS FLATS; FRD FORD; FRST FOREST FORESTS; "
    "FRG FORGE FORG; FRK FORK; FRKS FORKS; FT FORT FRT; FWY FREEWAY FREEWY FRWAY FRWY; "
    "GDN GARDEN GARDN GRDEN GRDN; GDNS GARDENS GRDNS; GTWY GATEWAY GATEWY GATWAY GTWAY; "
    "GLN GLEN; GRN GREEN; GRV GROVE GROV; HBR HARBOR HARB HARBR HRBOR; HVN HAVEN; HTS "
    "HEIGHTS HT; HWY HIGHWAY HIGHWY HIWAY HIWY HWAY; HL HILL; HLS HILLS; HOLW HOLLOW "
    "HLLW HOLLOWS HOLWS; IS ISLAND ISLND; ISS ISLANDS ISLNDS; JCT JUNCTION JCTION JCTN "
    "JUNCTN JUNCTON; KY KEY; LK LAKE; LKS LAKES; LNDG LANDING LNDNG; LN LANE; LGT LIGHT; "
    "LOOP LOOPS; MALL; MNR MANOR; MDW MEADOW; MDWS MEADOWS MEDOWS; ML MILL; MLS MILLS; "
    "MTWY MOTORWAY; MT MOUNT MNT; MTN MOUNTAIN MNTAIN MNTN MOUNTIN MTIN; ORCH ORCHARD "
    "ORCHRD; OVAL OVL; OPAS OVERPASS; PARK PRK PARKS; PKWY PARKWAY PARKWY PKWAY PKY "
    "PARKWAYS PKWYS; PASS; PATH PATHS; PIKE PIKES; PNE PINE; PNES PINES; PL PLACE; PLN "
    "PLAIN; PLNS PLAINS; PLZ PLAZA PLZA; PT POINT; PTS POINTS; PRT PORT; PR PRAIRIE PRR; "
    "RADL RADIAL RAD RADIEL; RNCH RANCH RANCHES RNCHS; RPD RAPID; RPDS RAPIDS; RST REST; "
    "RDG RIDGE RDGE; RIV RIVER RVR RIVR; RD ROAD; RDS ROADS; RTE ROUTE; ROW; RUN; SHR "
    "SHORE; SHRS SHORES; SKWY SKYWAY; SPG SPRING SPNG SPRNG; SPGS SPRINGS SPNGS SPRNGS; "
    "SQ SQUARE SQR SQRE SQU; STA STATION STATN STN; STRA STRAVENUE STRAV STRAVEN STRAVN "
    "STRVN STRVNUE; STRM STREAM STREME; ST STREET STRT STR; STS STREETS; SMT SUMMIT SUMIT "
    "SUMITT; TER TERRACE TERR; TRCE TRACE TRACES; TRAK TRACK TRACKS TRK TRKS; TRFY "
    "TRAFFICWAY; TRL TRAIL TRAILS TRLS; TRLR TRAILER TRLRS; TUNL TUNNEL TUNEL TUNLS "
    "TUNNELS TUNNL; TPKE TURNPIKE TRNPK TURNPK; UPAS UNDERPASS; VLY VALLEY VALLY VLLY; "
    "VIA VIADUCT VDCT VIADCT; VW VIEW; VLG VILLAGE VILL VILLAG VILLG VILLIAGE; VL VILLE; "
    "VIS VISTA VIST VST VSTA; WALK WALKS; WAY WY; WL WELL; WLS WELLS"
)
DIRECTIONALS: Final[dict[str, str]] = _table(
    "N NORTH; S SOUTH; E EAST; W WEST; NE NORTHEAST; NW NORTHWEST; SE SOUTHEAST; "
    "SW SOUTHWEST"
)
# Publication 28, appendix C2: secondary unit designators.
UNIT_DESIGNATORS: Final[dict[str, str]] = _table(
    "APT APARTMENT APPT; BSMT BASEMENT; BLDG BUILDING BLD; DEPT DEPARTMENT; FL FLOOR FLR; "
    "FRNT FRONT; HNGR HANGAR; KEY; LBBY LOBBY; LOT; LOWR LOWER; OFC OFFICE; PH PENTHOUSE; "
    "PIER; REAR; RM ROOM; SIDE; SLIP; SPC SPACE; STOP; STE SUITE SUIT; TRLR TRAILER; "
    "UNIT UNT; UPPR UPPER"
)
_NO_NUMBER_UNITS: Final[frozenset[str]] = frozenset(
    {"BSMT", "FRNT", "LBBY", "LOWR", "OFC", "PH", "REAR", "SIDE", "UPPR"}
)
STATES: Final[dict[str, str]] = {
    "ALABAMA": "AL", "ALASKA": "AK", "ARIZONA": "AZ", "ARKANSAS": "AR", "CALIFORNIA": "CA",
    "COLORADO": "CO", "CONNECTICUT": "CT", "DELAWARE": "DE", "DISTRICT OF COLUMBIA": "DC",
    "FLORIDA": "FL", "GEORGIA": "GA", "HAWAII": "HI", "IDAHO": "ID", "ILLINOIS": "IL",
    "INDIANA": "IN", "IOWA": "IA", "KANSAS": "KS", "KENTUCKY": "KY", "LOUISIANA": "LA",
    "MAINE": "ME", "MARYLAND": "MD", "MASSACHUSETTS": "MA", "MICHIGAN": "MI",
    "MINNESOTA": "MN", "MISSISSIPPI": "MS", "MISSOURI": "MO", "MONTANA": "MT",
    "NEBRASKA": "NE", "NEVADA": "NV", "NEW HAMPSHIRE": "NH", "NEW JERSEY": "NJ",
    "NEW MEXICO": "NM", "NEW YORK": "NY", "NORTH CAROLINA": "NC", "NORTH DAKOTA": "ND",
    "OHIO": "OH", "OKLAHOMA": "OK", "OREGON": "OR", "PENNSYLVANIA": "PA",
    "RHODE ISLAND": "RI", "SOUTH CAROLINA": "SC", "SOUTH DAKOTA": "SD", "TENNESSEE": "TN",
    "TEXAS": "TX", "UTAH": "UT", "VERMONT": "VT", "VIRGINIA": "VA", "WASHINGTON": "WA",
    "WEST VIRGINIA": "WV", "WISCONSIN": "WI", "WYOMING": "WY", "PUERTO RICO": "PR",
    "GUAM": "GU", "VIRGIN ISLANDS": "VI", "US VIRGIN ISLANDS": "VI",
    "AMERICAN SAMOA": "AS", "NORTHERN MARIANA ISLANDS": "MP",
    "ARMED FORCES AMERICAS": "AA", "ARMED FORCES EUROPE": "AE", "ARMED FORCES PACIFIC": "AP",
    "WASH DC": "DC", "WASHINGTON DC": "DC", "D C": "DC",
}
_STATE_CODES: Final[frozenset[str]] = frozenset(STATES.values())
_CITY_WORDS: Final[dict[str, str]] = {
    "FT": "FORT", "MT": "MOUNT", "ST": "SAINT", "STE": "SAINTE", "PT": "POINT"
}
_PUNCT = re.compile(r"[^A-Z0-9#/\- ]+")
_HOUSE = re.compile(r"^(\d+(?:-?[A-Z]\b|-\d+)?(?: 1/2)?)\s+(.+)$")


@dataclass(frozen=True)
class Address:
    """A normalised US address; every part may be missing."""

    house_number: str | None
    street: str | None
    unit: str | None
    city: str | None
    state: str | None
    zip: str | None
    # parts that did not clean and were left out: (part, reason), e.g. ("zip", "...")
    problems: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def one_line(self) -> str:
        """"123 N MAIN ST APT 4, SPRINGFIELD, IL 62704" with missing parts left out."""
        street = " ".join(p for p in (self.house_number, self.street, self.unit) if p)
        region = " ".join(p for p in (self.state, self.zip) if p)
        return ", ".join(p for p in (street, self.city, region) if p)


def _words(text: str) -> list[str]:
    return _PUNCT.sub(" ", fold(text).replace(".", "").replace("'", "")).split()


@lru_cache(maxsize=262_144)
def clean_street(text: str | None) -> str | None:
    """Street name (no house number) in USPS form: "North Main Street" -> "N MAIN ST"."""
    if blank(text):
        return None
    assert text is not None
    words = [w for w in _words(text) if w != "#"]
    if not words:
        return None
    post = ""
    if len(words) > 2 and words[-1] in DIRECTIONALS:
        post = DIRECTIONALS[words.pop()]
    if len(words) > 1 and words[-1] in STREET_SUFFIXES:
        words[-1] = STREET_SUFFIXES[words[-1]]
    if len(words) > 2 and words[0] in DIRECTIONALS:
        words[0] = DIRECTIONALS[words[0]]
    return " ".join([*words, post]).strip()


@lru_cache(maxsize=262_144)
def clean_unit(text: str | None) -> str | None:
    """Secondary unit: "Apartment 4B" -> "APT 4B"; "#4" or "4" -> "UNIT 4"."""
    if blank(text):
        return None
    assert text is not None
    words = _words(text.replace("#", " # "))
    if not words:
        return None
    if words[0] in UNIT_DESIGNATORS:
        designator = UNIT_DESIGNATORS[words[0]]
        ident = [w for w in words[1:] if w != "#"]
    else:
        designator = "UNIT"
        ident = [w for w in words if w != "#"]
    if not ident:
        if designator in _NO_NUMBER_UNITS:
            return designator
        raise InvalidValue(f"unit designator {designator} without a number")
    return f"{designator} {''.join(ident)}"


@lru_cache(maxsize=262_144)
def clean_city(text: str | None) -> str | None:
    """City in upper case, punctuation dropped, FT/MT/ST spelled out."""
    if blank(text):
        return None
    assert text is not None
    words = [_CITY_WORDS.get(w, w) for w in _words(text) if w != "#"]
    city = " ".join(words).strip(" -")
    if not city:
        return None
    if not re.search(r"[A-Z]", city):
        raise InvalidValue("city has no letters")
    return city


@lru_cache(maxsize=262_144)
def clean_state(text: str | None) -> str | None:
    """Two-letter USPS state code from a code or a name ("Illinois" -> "IL")."""
    if blank(text):
        return None
    assert text is not None
    key = " ".join(_words(text))
    if key in _STATE_CODES:
        return key
    if key in STATES:
        return STATES[key]
    raise InvalidValue(f"not a US state: {key[:30]}")


@lru_cache(maxsize=262_144)
def clean_zip(text: str | None) -> str | None:
    """ZIP5; ZIP+4 is cut, a four-digit ZIP gets its leading zero back."""
    if blank(text):
        return None
    assert text is not None
    raw = fold(text).replace(" ", "")
    if _ZIP_LOOKALIKES.fullmatch(raw) and any(c.isdigit() for c in raw):
        raw = raw.translate(_ZIP_DIGITS)  # "0O000": a letter typed for a digit
    match = re.fullmatch(r"(\d{4,5})(?:-?(\d{4}))?", raw)
    if match is None or (len(match.group(1)) == 4 and match.group(2)):
        raise InvalidValue(f"not a ZIP code: {raw[:12]}")
    zip5 = match.group(1).zfill(5)
    if zip5 == "00000":
        raise InvalidValue("ZIP 00000 is a placeholder")
    return zip5


_ZIP_LOOKALIKES = re.compile(r"[0-9OIL-]+")
_ZIP_DIGITS = str.maketrans("OIL", "011")


def _part(
    func: Callable[[str | None], str | None], text: str | None, name: str,
    problems: list[tuple[str, str]],
) -> str | None:
    """One cleaned address part; a part that does not clean is None and a problem."""
    try:
        return func(text)
    except InvalidValue as exc:
        problems.append((name, exc.reason))
        return None


def _split_house(line: str) -> tuple[str | None, str]:
    words = " ".join(_words(line))
    match = _HOUSE.match(words)
    if match is None:
        return None, words
    return match.group(1), match.group(2)


def _split_unit(street: str) -> tuple[str, str | None]:
    """A unit written after the street ("FAIRVIEW PL #5", "MISSION LN STE 2A") split
    off. Only after a street suffix or directional, so "FRONT ST" or "LOT RD" stay
    whole."""
    words = street.split()
    for i in range(1, len(words)):
        word, before = words[i], words[i - 1]
        if not (before in STREET_SUFFIXES or before in DIRECTIONALS):
            continue
        if word.startswith("#") or (word in UNIT_DESIGNATORS and i + 1 < len(words)):
            return " ".join(words[:i]), " ".join(words[i:])
    return street, None


def from_parts(
    street_line: str | None,
    unit: str | None = None,
    city: str | None = None,
    state: str | None = None,
    zip: str | None = None,
) -> Address:
    """Address from separate columns; ``street_line`` holds house number and street
    (and, in some sources, the unit: "8617 FAIRVIEW PL #5")."""
    house, street = _split_house(street_line) if street_line else (None, "")
    if unit is None or blank(unit):
        street, unit = _split_unit(street)
    problems: list[tuple[str, str]] = []
    return Address(
        house_number=house,
        street=clean_street(street),
        unit=_part(clean_unit, unit, "unit", problems),
        city=_part(clean_city, city, "city", problems),
        state=_part(clean_state, state, "state", problems),
        zip=_part(clean_zip, zip, "zip", problems),
        problems=tuple(problems),
    )


_STREET_LABELS: Final[tuple[str, ...]] = (
    "StreetNamePreModifier",
    "StreetNamePreDirectional",
    "StreetNamePreType",
    "StreetName",
    "StreetNamePostType",
    "StreetNamePostDirectional",
)


def _label_runs(tokens: list[tuple[str, str]]) -> dict[str, str]:
    """usaddress.parse tokens of a line with a repeated label -> label: text.

    A StateName token right before a PlaceName is a mis-tagged city word ("ST. LOUIS");
    state and ZIP come from their last run (they end a line), the rest from the first.
    """
    fixed = [
        (tok, "PlaceName" if lab == "StateName" and i + 1 < len(tokens)
         and tokens[i + 1][1] == "PlaceName" else lab)
        for i, (tok, lab) in enumerate(tokens)
    ]
    runs: dict[str, list[list[str]]] = {}
    previous = ""
    for token, label in fixed:
        if label != previous:
            runs.setdefault(label, []).append([])
        runs[label][-1].append(token)
        previous = label
    pick = {label: r[-1] if label in _LAST_RUN else r[0] for label, r in runs.items()}
    return {label: " ".join(words).strip(" ,") for label, words in pick.items()}


_LAST_RUN: Final[frozenset[str]] = frozenset({"StateName", "ZipCode"})


_ZIP_TOKEN = re.compile(r"^\d{5}(?:-\d{4})?$")
_HOUSE_TOKEN = re.compile(r"^\d+[A-Z]?$")
_HASH_UNIT = re.compile(r"^#[0-9]+[A-Z]?$")


def _fast_tag(line: str) -> dict[str, str] | None:
    """Labels for an unambiguous "HOUSE STREET SUFFIX [UNIT ID] CITY ST ZIP" line.

    usaddress (a CRF) parses ~1,000 lines/s; most source lines are this plain shape. The
    unit may be a designator and its number ("APT 4B") or a numbered "#12B" after a
    street with no directional word.
    The fast path only answers when exactly one street-suffix word can end the street
    and nothing after it could be a directional, so it agrees with usaddress; anything
    else returns None and goes to usaddress (tests compare the two on synthetic data).
    """
    tokens = line.replace(",", " ").split()
    if len(tokens) < 5 or not _ZIP_TOKEN.match(tokens[-1]) or tokens[-2] not in _STATE_CODES:
        return None
    if not _HOUSE_TOKEN.match(tokens[0]):
        return None
    middle = tokens[1:-2]
    ends = [i for i in range(1, len(middle)) if middle[i] in STREET_SUFFIXES]
    if len(ends) != 1:
        return None
    end = ends[0]
    rest = middle[end + 1:]
    out = {"AddressNumber": tokens[0], "StreetName": " ".join(middle[: end + 1]),
           "StateName": tokens[-2], "ZipCode": tokens[-1]}
    if rest and rest[0] in UNIT_DESIGNATORS:
        if len(rest) < 3:
            return None
        out["OccupancyType"], out["OccupancyIdentifier"] = rest[0], rest[1]
        rest = rest[2:]
    elif (rest and _HASH_UNIT.match(rest[0]) and len(rest) > 1
          and not any(w in DIRECTIONALS for w in middle[: end + 1])):
        # "#7D": usaddress reads "# 7D", the same unit (not after a street with a
        # directional word, "NORTH CT #F", which it may read another way)
        out["OccupancyIdentifier"] = rest[0]
        rest = rest[1:]
    if not rest or any(w in DIRECTIONALS or w in UNIT_DESIGNATORS or w.startswith("#")
                       or any(c.isdigit() for c in w) for w in rest):
        return None
    out["PlaceName"] = " ".join(rest)
    return out


def _tag(line: str) -> dict[str, str]:
    fast = _fast_tag(line)
    return fast if fast is not None else _crf_tag(line)


def _crf_tag(line: str) -> dict[str, str]:
    try:
        tagged, _kind = usaddress.tag(line)
        return dict(tagged)
    except usaddress.RepeatedLabelError:
        return _label_runs(usaddress.parse(line))


@lru_cache(maxsize=65536)
def parse(line: str) -> Address | None:
    """Parse a one-line address with usaddress (CRF); cached, since values repeat."""
    return _parse_with(line, _tag)


def parse_crf(line: str) -> Address | None:
    """``parse`` without the fast path: usaddress on every line (the reference)."""
    return _parse_with(line, _crf_tag)


def _parse_with(line: str, tagger: Callable[[str], dict[str, str]]) -> Address | None:
    if blank(line):
        return None
    parts = tagger(fold(line))
    house = " ".join(
        parts[k] for k in ("AddressNumberPrefix", "AddressNumber", "AddressNumberSuffix")
        if k in parts
    ) or None
    street = clean_street(" ".join(parts[k] for k in _STREET_LABELS if k in parts))
    if "USPSBoxID" in parts:
        street = f"PO BOX {' '.join(_words(parts['USPSBoxID']))}"
        house = None
    unit_text = " ".join(parts[k] for k in ("OccupancyType", "OccupancyIdentifier") if k in parts)
    if not unit_text:
        unit_text = " ".join(
            parts[k] for k in ("SubaddressType", "SubaddressIdentifier") if k in parts
        )
    problems: list[tuple[str, str]] = []
    address = Address(
        house_number=" ".join(_words(house)) if house else None,
        street=street,
        unit=_part(clean_unit, unit_text, "unit", problems),
        city=_part(clean_city, parts.get("PlaceName"), "city", problems),
        state=_part(clean_state, parts.get("StateName"), "state", problems),
        zip=_part(clean_zip, parts.get("ZipCode"), "zip", problems),
        problems=tuple(problems),
    )
    if address.street is None and address.city is None and address.zip is None:
        raise InvalidValue("no street, city or ZIP recognised in address")
    return address
