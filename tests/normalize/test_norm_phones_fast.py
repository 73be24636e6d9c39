"""The NANP fast path of phones.clean agrees with phonenumbers on random numbers."""

from __future__ import annotations

import random

from idgraph.normalize import phones
from idgraph.normalize.base import InvalidValue

FORMATS = ["({}) {}-{}", "{}.{}.{}", "+1 {} {} {}", "{}{}{}", "1-{}-{}-{}"]


def verdict(text: str, full: bool) -> str:
    try:
        return phones._clean_full(text, "US") if full else str(phones.clean(text))
    except InvalidValue as exc:
        return "invalid: " + exc.reason


def test_fast_path_agrees_with_phonenumbers() -> None:
    rng = random.Random(11)
    valid = 0
    for _ in range(20000):
        d = f"{rng.randint(200, 999)}{rng.randint(0, 999):03d}{rng.randint(0, 9999):04d}"
        text = rng.choice(FORMATS).format(d[:3], d[3:6], d[6:])
        fast, full = verdict(text, False), verdict(text, True)
        assert fast == full, text
        valid += not fast.startswith("invalid")
    assert 2000 < valid < 18000  # both sides of the rule were exercised
