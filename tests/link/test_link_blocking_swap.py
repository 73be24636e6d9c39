"""Names read the other way round at one address are candidate pairs (issue 13, item 2)."""

from __future__ import annotations

import pytest
from link_fixtures import AddRecord

from idgraph.link.blocking import blocked_pairs_sql
from idgraph.link.model import BLOCKING_RULES, blocking_rules, settings_dict
from idgraph.link.train import prepare_input
from idgraph.normalize.names import phonetic
from idgraph.store import Store

SWAP_KEYS = ("l.first_name_phonetic = r.last_name_phonetic",
             "l.last_name_phonetic = r.first_name_phonetic")


def _is_swap(rule: str) -> bool:
    return any(key in rule for key in SWAP_KEYS)


HOME = {"house_number": "12", "street": "OAK ST", "zip": "75247", "city": "DALLAS"}

SWAP_CASES = [
    # (id, (first, last) of record a, (first, last) of record b, address of b, a pair)
    # DAVE NAVARRETE at home; "NAVARETE DAVE" (surname first, spelt with one R) there too:
    # no exact swap, no shared name, sound or identifier, only the address
    ("swapped-by-sound", ("DAVE", "NAVARRETE"), ("NAVARETE", "DAVE"), HOME, True),
    # the same with the surname-first record made first (the other direction of the rule)
    ("swapped-other-way", ("NAVARETE", "DAVE"), ("DAVE", "NAVARRETE"), HOME, True),
    # accents kept by one source, a spelling slip in the given name
    ("accent-and-spelling", ("RAMON", "VILLASENOR"), ("VILLASEÑOR", "RAMONE"), HOME, True),
    # one half of the swap is enough: the surname read as a given name, the given name
    # lost to a compound surname cut (NAVARRETE / NAVARRETE DAVE)
    ("half-swap", ("DAVE", "NAVARRETE"), ("NAVARETE", "DAVE LUIS"), HOME, True),
    # a housemate with other names altogether
    ("housemate", ("DAVE", "NAVARRETE"), ("LUIS", "ORTIZ"), HOME, False),
    # the swap, but another house on the street
    ("other-house", ("DAVE", "NAVARRETE"), ("NAVARETE", "DAVE"), {**HOME, "house_number": "14"},
     False),
]


@pytest.mark.parametrize(
    ("name_a", "name_b", "address_b", "paired"),
    [c[1:] for c in SWAP_CASES], ids=[c[0] for c in SWAP_CASES])
def test_names_the_other_way_round_at_one_address_are_a_pair(
    store: Store, add: AddRecord, name_a: tuple[str, str], name_b: tuple[str, str],
    address_b: dict[str, str], paired: bool,
) -> None:
    for rid, (first, last), address, phone in (
        ("a/1", name_a, HOME, "+12145550100"),
        ("b/1", name_b, address_b, "+12145550199"),
    ):
        add(rid, first_name=first, last_name=last, first_name_phonetic=phonetic(first),
            last_name_phonetic=phonetic(last), phone=phone, **address)
    prepare_input(store)
    count = "SELECT count(*) FROM ({})"
    assert store.fetchall(count.format(blocked_pairs_sql()))[0][0] == (1 if paired else 0)
    # no rule but the new two makes it: before them the pair was never scored
    before = tuple(r for r in BLOCKING_RULES if not _is_swap(r))
    assert len(before) == len(BLOCKING_RULES) - 2
    assert store.fetchall(count.format(blocked_pairs_sql(before)))[0][0] == 0


def test_the_swap_rules_are_splinks_too() -> None:
    """Splink predicts with the same list (``settings_dict``), with and without the
    birth-date rule; the swap rules carry no birth-year condition."""
    splink = [br["blocking_rule"]
              for br in settings_dict()["blocking_rules_to_generate_predictions"]]
    assert tuple(splink) == BLOCKING_RULES
    swaps = [r for r in blocking_rules(dates_of_birth=False) if _is_swap(r)]
    assert len(swaps) == 2
    assert all("l.house_number = r.house_number AND l.street = r.street AND l.zip = r.zip" in r
               for r in swaps)
