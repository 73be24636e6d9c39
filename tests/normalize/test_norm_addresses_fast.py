"""The fast path of addresses.parse agrees with usaddress wherever it answers."""

from __future__ import annotations

import itertools
import random

from idgraph.normalize import addresses

STREETS = ["MAIN", "OAK", "N ELM", "MARTIN LUTHER KING", "S 5TH", "LAKE VIEW", "CHURCH",
           "WASHINGTON", "PARK", "RIVER", "W 42ND", "HIGH", "MILL", "SUNSET", "FOREST HILL"]
SUFFIXES = ["ST", "STREET", "AVE", "AVENUE", "RD", "ROAD", "BLVD", "DR", "LN", "CT", "PL",
            "WAY", "PKWY", "TER", "CIR"]
UNITS = ["", "APT 4", "APT 12B", "UNIT 3", "STE 200", "# 7", "#7D", "#12", "#E", "#3A"]
PLACES = [("SPRINGFIELD", "IL", "62704"), ("ALBANY", "NY", "12207"),
          ("SAN ANTONIO", "TX", "78205"), ("SAINT LOUIS", "MO", "63101"),
          ("NEW YORK", "NY", "10001-1234"), ("CHICAGO", "IL", "60601"),
          ("TROY", "NY", "12180"), ("LOS ANGELES", "CA", "90012")]


def lines() -> list[str]:
    rng = random.Random(5)
    combos = list(itertools.product(STREETS, SUFFIXES, UNITS, PLACES))
    rng.shuffle(combos)
    return [f"{rng.randint(1, 9999)} {s} {suf} {u} {c} {st} {z}".replace("  ", " ")
            for s, suf, u, (c, st, z) in combos[:1500]]


def test_fast_path_agrees_with_usaddress() -> None:
    fast_hits = 0
    for line in lines():
        if addresses._fast_tag(line) is not None:
            fast_hits += 1
            assert addresses.parse(line) == addresses.parse_crf(line), line
    assert fast_hits > 500  # the fast path must actually carry most plain lines


def test_numbered_hash_units_take_the_fast_path_and_agree() -> None:
    hits = [line for line in lines() if "#" in line and "# " not in line
            and addresses._fast_tag(line) is not None]
    assert len(hits) > 60
    for line in hits:
        assert addresses.parse(line) == addresses.parse_crf(line), line


def test_ambiguous_lines_go_to_usaddress() -> None:
    for line in ["5 LAKE SHORE DR CHICAGO IL 60601", "77 PARK AVE LAKE FOREST IL 60045",
                 "1 MAIN ST NW WASHINGTON DC 20001", "PO BOX 12 TROY NY 12180",
                 # a lettered unit may read as a directional; a directional street word too
                 "7850 HICKORY TER #E SAN DIEGO CA 92107", "2190 NORTH CT #9 ROCKFORD IL 61103"]:
        assert addresses._fast_tag(line) is None
