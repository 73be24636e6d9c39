"""Named rules (link.config): every switch really turns its rule off; missing is not
different (a record that lacks a suffix joins by a birth date, identifier or phone)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from link_fixtures import AddRecord

from idgraph.link.cluster import ClusterInput, NodeKeys, WeakEdges, cluster
from idgraph.link.config import RULES, LinkConfig, RuleId
from idgraph.link.constraints import VIA_CONTACT, Constraints, Dob, Facts, record_facts
from idgraph.link.fragments import FragmentScore, join_fragments
from idgraph.link.resolve import resolve
from idgraph.link.train import TrainedModel
from idgraph.settings import Settings
from idgraph.store import Store

RULES_ON = Constraints()
NO_DOB: Dob = (None, None, None)
D60: Dob = ("19600101", "196001", 1960)
D88: Dob = ("19880101", "198801", 1988)
HOME = 7  # one given name + surname + address key
MIN = 3.17  # the match weight of a 0.9 threshold


def _f(dob: Dob = NO_DOB, suffix: str | None = None, ssn: str | None = None,
       dl: str | None = None, first: str = "JOHN") -> Facts:
    return record_facts(ssn, dl, suffix, dob, RULES_ON, (first, first, first[:3], None))


def test_rules_are_named_once_with_a_one_line_reason() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids)) and set(ids) == set(RuleId) - {RuleId.JUDGEMENT}
    assert all(r.reason and "\n" not in r.reason for r in RULES)
    assert all(LinkConfig().rules.values())


def test_link_config_switches_and_round_trips() -> None:
    config = LinkConfig(ambiguity_margin=6.0).without("dob", "homonym")
    assert not config.on("dob") and not config.on("homonym") and config.on("ssn")
    assert config.off() == {RuleId.DOB, RuleId.HOMONYM}
    assert LinkConfig.from_json(config.to_json()) == config
    assert LinkConfig().ambiguity_margin == 4.0 and LinkConfig().homonym_years == 15
    with pytest.raises(KeyError):
        LinkConfig().without("no_such_rule")
    with pytest.raises(ValueError, match="unknown rule"):
        LinkConfig(rules={"no_such_rule": False})


# (rule, record a, record b): one edge between them, which the rule alone refuses
CANNOT_LINK: list[tuple[str, Facts, Facts]] = [
    ("ssn", _f(D88, ssn="111111111"), _f(D88, ssn="222222222")),
    ("dl", _f(D88, dl="IL:A1"), _f(D88, dl="IL:B9")),
    ("suffix", _f(D88, "JR"), _f(D88, "SR")),
    ("dob", _f(D60), _f(D88)),
    ("given_name", _f(D88, first="JOHN"), _f(D88, first="MARY")),
    ("generation", _f(NO_DOB, "JR"), _f(NO_DOB)),
]


@pytest.mark.parametrize(("rule", "a", "b"), CANNOT_LINK, ids=[c[0] for c in CANNOT_LINK])
def test_cannot_link_rule_switched_off_lets_the_merge_happen(rule: str, a: Facts,
                                                             b: Facts) -> None:
    refused = cluster(ClusterInput([a, b], [(0, 1)], [10.0], [0]))
    assert refused.labels[0] != refused.labels[1]
    assert refused.refused == {rule: 1}
    off = LinkConfig().without(rule)
    facts = [record.copy() for record in (a, b)]
    for record in facts:
        record.off = off.off()
    merged = cluster(ClusterInput(facts, [(0, 1)], [10.0], [0]), off)
    assert merged.labels[0] == merged.labels[1] and merged.refused == {}


def _sr_jr_and(record: Facts) -> list[Facts]:
    """0: a Sr born 1960, 1: his son Jr born 1988, 2: ``record``."""
    return [_f(D60, "SR"), _f(D88, "JR"), record]


def test_hold_rules_switched_off_let_the_record_join() -> None:
    # ambiguous: an undated record fitting Sr (no suffix) and Jr equally
    graph = ClusterInput([_f(D60), _f(D88, "JR"), _f()], [(0, 2), (1, 2)], [6.0, 6.0],
                         [0, 0])
    assert len(set(cluster(graph).labels)) == 3
    joined = cluster(graph, LinkConfig().without("ambiguous")).labels
    assert len(set(joined)) == 2
    # homonym: a bare record under a home key two generations share
    household = [_f(D60), _f(D88), _f()]
    graph = ClusterInput(household, [(0, 2)], [9.0], [0], keys=NodeKeys([HOME] * 3))
    assert cluster(graph).refused.get("homonym") == 1
    assert cluster(graph, LinkConfig().without("homonym")).labels[2] == 0
    # twins: a bare record under a surname + address key twins share, whose given
    # name fits both twins (WILLIAM JOHN and JOHN TUAN: a bare JOHN)
    twins = [record_facts(None, None, None, d, RULES_ON, n) for d, n in (
        (D88, ("WILLIAM", "WILLIAM", "WLM", "JOHN")), (D88, ("JOHN", "JOHN", "JN", "TUAN")),
        (NO_DOB, ("JOHN", "JOHN", "JN", None)))]
    graph = ClusterInput(twins, [(1, 2)], [9.0], [0], keys=NodeKeys(house=[3, 3, 3]))
    assert cluster(graph).labels[2] == 2 and cluster(graph).refused["twins"] == 1
    assert cluster(graph, LinkConfig().without("twins")).labels[2] == 1


def test_twins_rule_holds_only_a_record_that_could_be_either_twin() -> None:
    # twins MARY and ANNA: a bare MARY at their house can only be MARY; their mother's
    # bare record is none of the twins' business
    facts = [_f(D88, first="MARY"), _f(D88, first="ANNA"), _f(first="MARY"),
             _f(D60, first="LINDA"), _f(first="LINDA")]
    graph = ClusterInput(facts, [(0, 2), (3, 4)], [9.0, 9.0], [0, 0],
                         keys=NodeKeys(house=[3] * 5))
    labels = cluster(graph).labels
    assert labels[2] == labels[0] != labels[1] and labels[4] == labels[3]
    # kin: a bare namesake at an old address of the household
    kin = [_f(D60), _f(D88), _f(D60), _f()]
    graph = ClusterInput(kin, [(0, 2), (2, 3)], [12.0, 9.0], [0, 0],
                         keys=NodeKeys([HOME, HOME, -1, -1], name=[5] * 4,
                                       address=[1, 1, 2, 2]))
    assert cluster(graph).labels[3] != cluster(graph).labels[0]
    assert len(set(cluster(graph, LinkConfig().without("kin")).labels)) == 2
    # contacts: a bare record tied by a phone to a held one
    tied = [_f(D60), _f(D88), _f(), _f()]
    graph = ClusterInput(tied, [(2, 3), (0, 3)], [20.0, 9.0], [VIA_CONTACT, 0],
                         keys=NodeKeys([HOME, HOME, HOME, 8]))
    held = cluster(graph).labels
    assert held[0] != held[3]
    free = cluster(graph, LinkConfig().without("contacts")).labels
    assert free[0] == free[3]


def test_middle_name_rule_switched_off() -> None:
    day: Dob = ("19890103", "198901", 1989)
    facts = [record_facts(None, None, None, d, RULES_ON, n) for d, n in zip(
        [day, day, day, NO_DOB],
        [("STEPHANIE", "STEPHANIE", "STFN", "MARY"), ("MARY", "MARY", "MR", "R"),
         ("MARY", "MARY", "MR", None), ("MARY", "MARY", "MR", None)], strict=True)]
    graph = ClusterInput(facts, [(0, 2), (2, 3), (1, 2)], [14.0, 13.0, 4.0],
                         [0, VIA_CONTACT, 0], keys=NodeKeys(born=[7, 7, 7, -1]))
    assert len(set(cluster(graph).labels)) == 4
    off = cluster(graph, LinkConfig().without("middle_name")).labels
    assert off[0] == off[2]


def test_rival_rule_switched_off() -> None:
    facts = [_f(), _f(D88), _f(D60)]
    cands = {0: [FragmentScore(0, 1, 9.0, 0), FragmentScore(0, 2, 5.0, 0)]}
    assert join_fragments([0, 1, 2], facts, cands, MIN)[1] == 0
    assert join_fragments([0, 1, 2], facts, cands, MIN, LinkConfig().without("rival"))[1] == 1


# --- missing is not different --------------------------------------------------------


def test_jr_cluster_takes_an_unsuffixed_record_with_the_same_full_birth_date() -> None:
    # Jr (two records, JR, 1988) and Sr (SR, 1960) at one address; 3: the son without
    # a suffix but with his full birth date, linked to both by name and address
    facts = [_f(D88, "JR"), _f(D88, "JR"), _f(D60, "SR"), _f(D88)]
    keys = NodeKeys([HOME] * 4)
    strong = cluster(ClusterInput(facts, [(0, 1), (1, 3), (2, 3)], [14.0, 9.0, 8.5], [0] * 3,
                                  keys=keys))
    assert strong.labels[3] == strong.labels[0] != strong.labels[2]
    # below the threshold, by summed evidence: the Sr scores within the margin, but he
    # cannot be this record (its birth date is not his), so he is no rival
    weak = WeakEdges([(3, 0), (3, 1), (3, 2), (3, 2)], [2.0, 2.0, 2.0, 1.5], [0] * 4, MIN)
    attached = cluster(ClusterInput(facts, [(0, 1)], [14.0], [0], keys=keys, weak=weak))
    assert attached.labels[3] == attached.labels[0] != attached.labels[2]
    assert attached.attached == 1
    # the same by whole-identity scores (fragments)
    labels = [0, 0, 2, 3]
    cands = {3: [FragmentScore(3, 0, 9.0, 0), FragmentScore(3, 2, 8.5, 0)]}
    new, moved = join_fragments(labels, facts, cands, MIN)
    assert moved == 1 and new[3] == new[0] != new[2]


def test_unsuffixed_undated_record_joins_jr_by_a_phone_only_he_shares() -> None:
    facts = _sr_jr_and(_f())
    keys = NodeKeys([HOME] * 3)
    # the phone agrees with the Jr only; the Sr fits by name and address
    mine = cluster(ClusterInput(facts, [(1, 2), (0, 2)], [20.0, 6.0], [VIA_CONTACT, 0],
                                keys=keys))
    assert mine.labels[2] == mine.labels[1] != mine.labels[0]
    # a household phone both share: a rival fits as well, the record stays alone
    shared = cluster(ClusterInput(facts, [(1, 2), (0, 2)], [20.0, 19.0],
                                  [VIA_CONTACT, VIA_CONTACT], keys=keys))
    assert len(set(shared.labels)) == 3


def test_suffixed_record_is_not_ambiguous_with_a_rival_that_only_lacks_the_suffix() -> None:
    # 0: a Sr (SR, 1951); 1: his voter record (SR, birth year only); 2: an unsuffixed,
    # undated namesake at the address (the son, or the father again). Only a missing
    # suffix keeps 0 and 2 apart: record 1, which has the suffix, stays with 0
    y51: Dob = (None, None, 1951)
    facts = [_f(("19510406", "195104", 1951), "SR"), _f(y51, "SR"), _f()]
    graph = ClusterInput(facts, [(0, 1), (1, 2)], [12.5, 7.2], [0, 0])
    labels = cluster(graph).labels
    assert labels[1] == labels[0] != labels[2]
    # a bare record between the two is still ambiguous
    bare = ClusterInput([_f(("19510406", "195104", 1951), "SR"), _f(), _f()],
                        [(0, 1), (1, 2)], [12.5, 7.2], [0, 0])
    assert cluster(bare).refused.get("ambiguous") == 1


# every way two clusters can meet: a strong edge, the attach pass, fragments
JR_SR_GRAPHS: list[tuple[str, ClusterInput]] = [
    ("strong edge", ClusterInput([_f(NO_DOB, "JR"), _f(NO_DOB, "SR")], [(0, 1)], [30.0],
                                 [VIA_CONTACT])),
    ("strong edges through a bridge",
     ClusterInput([_f(NO_DOB, "JR"), _f(), _f(NO_DOB, "SR")], [(0, 1), (1, 2)],
                  [30.0, 29.0], [VIA_CONTACT, VIA_CONTACT])),
    ("summed weak edges",
     ClusterInput([_f(D88, "JR"), _f(D88, "SR")], [], [], [],
                  weak=WeakEdges([(0, 1)] * 3, [2.0, 2.0, 2.0], [VIA_CONTACT] * 3, MIN))),
]


@pytest.mark.parametrize("config", [LinkConfig(), LinkConfig().without(
    *(r.id for r in RULES if r.id != "suffix"))], ids=["all rules", "suffix rule alone"])
@pytest.mark.parametrize(("case", "graph"), JR_SR_GRAPHS, ids=[c[0] for c in JR_SR_GRAPHS])
def test_jr_never_merges_with_sr(case: str, graph: ClusterInput, config: LinkConfig) -> None:
    facts = [f.copy() for f in graph.facts]
    for f in facts:
        f.off = config.off()
    graph = ClusterInput(facts, graph.edges, graph.weights, graph.via, weak=graph.weak)
    labels = cluster(graph, config).labels
    assert labels[0] != labels[-1], case
    frag = join_fragments([0, 1], facts[:1] + facts[-1:],
                          {0: [FragmentScore(0, 1, 40.0, VIA_CONTACT)]}, MIN, config)
    assert frag[1] == 0


# --- in resolve ----------------------------------------------------------------------

ADDRESS: dict[str, Any] = {"last_name": "MILLER", "house_number": "12", "street": "OAK ST",
                           "zip": "12345", "city": "SPRINGFIELD", "state": "IL"}


def _identity(store: Store, record_id: str) -> str:
    return str(store.fetchall("SELECT identity_id FROM identity_members WHERE record_id = ?",
                              [record_id])[0][0])


def test_resolve_jr_takes_his_unsuffixed_dated_record_beside_his_father(
    store: Store, model: TrainedModel, add: AddRecord,
) -> None:
    jr = add("dmv/1", first_name="JOHN", suffix="JR", dob=date(1988, 1, 1), **ADDRESS)
    sr = add("dmv/2", first_name="JOHN", suffix="SR", dob=date(1960, 5, 6), **ADDRESS)
    plain = add("voter/1", first_name="JOHN", dob=date(1988, 1, 1), **ADDRESS)
    run = resolve(store, Settings(match_threshold=0.9))
    assert _identity(store, plain) == _identity(store, jr) != _identity(store, sr)
    assert set(run.refused) <= {r.id for r in RULES}


def test_resolve_with_a_rule_off_stores_the_config_and_merges(
    store: Store, model: TrainedModel, add: AddRecord,
) -> None:
    jr = add("dmv/1", first_name="JOHN", suffix="JR", dob=date(1988, 1, 1), **ADDRESS)
    sr = add("voter/2", first_name="JOHN", suffix="SR", dob=date(1988, 1, 1), **ADDRESS)
    settings = Settings(match_threshold=0.9)
    run = resolve(store, settings)
    assert _identity(store, jr) != _identity(store, sr) and run.refused == {"suffix": 1}
    config = LinkConfig().without("suffix")
    run = resolve(store, settings, None, config)
    assert _identity(store, jr) == _identity(store, sr) and run.refused == {}
    stored = store.fetchall("SELECT detail FROM link_runs WHERE run_id = ?", [run.run_id])
    assert LinkConfig.from_dict(json.loads(stored[0][0])["config"]) == config
