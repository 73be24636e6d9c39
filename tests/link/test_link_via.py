"""What the linking evidence of a pair waives (the ``via`` bits of an edge).

An agreeing SSN or licence waives the given-name rule, except for a man's and a woman's
name: household members share, borrow and copy numbers (pseudopeople copies them on
purpose). A name read the other way round (given name of one = surname of the other)
is a source's order, not two people: the given-name rule is not asked.
"""

from __future__ import annotations

import pytest

from idgraph.link.config import RuleId
from idgraph.link.constraints import (
    VIA_CONTACT,
    VIA_ID,
    VIA_NAME_SWAP,
    Constraints,
    Facts,
    record_facts,
)


def _facts(first: str, ssn: str | None = None, suffix: str | None = None,
           dob: tuple[str | None, str | None, int | None] = (None, None, None)) -> Facts:
    return record_facts(ssn, None, suffix, dob, Constraints(), (first, None, None, None))


CASES = [
    # (case, first a, first b, via, rule refused or None)
    ("same SSN, brother and sister", "BRANDON", "BERNADETTE", VIA_ID, RuleId.GIVEN_NAME),
    ("same SSN, two men's names", "BRANDON", "BRADLEY", VIA_ID, None),
    ("same SSN, a nickname", "ROBERT", "BOB", VIA_ID, None),
    ("no identifier, two men's names", "BRANDON", "BRADLEY", 0, RuleId.GIVEN_NAME),
    ("a phone does not waive it", "BRANDON", "BRADLEY", VIA_CONTACT, RuleId.GIVEN_NAME),
    ("name read the other way round", "THOMAS", "JAMES", VIA_NAME_SWAP, None),
    ("the same pair not swapped", "THOMAS", "JAMES", 0, RuleId.GIVEN_NAME),
]


@pytest.mark.parametrize(("case", "a", "b", "via", "refused"), CASES,
                         ids=[c[0] for c in CASES])
def test_given_name_rule_and_the_evidence(
    case: str, a: str, b: str, via: int, refused: RuleId | None
) -> None:
    assert _facts(a).conflict(_facts(b), via) == refused, case


def test_a_swapped_name_does_not_waive_the_generation_rule() -> None:
    jr = _facts("THOMAS", suffix="JR")
    bare = _facts("JAMES")
    assert jr.conflict(bare, VIA_NAME_SWAP) == RuleId.GENERATION
    assert jr.conflict(bare, VIA_NAME_SWAP | VIA_CONTACT) is None
