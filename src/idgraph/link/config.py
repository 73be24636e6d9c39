"""The clustering's named rules and thresholds, in one typed, storable configuration.

Every cannot-link rule (a fact that says two clusters are two people) and every hold
rule (records kept out of a cluster because they fit a rival as well) has a stable id
and a one-line reason in :data:`RULES`. :class:`LinkConfig` switches each on or off and
carries the thresholds the clustering uses; ``resolve`` stores it with the run (JSON in
``link_runs.detail``) so a run can be reproduced, and ``ResolveSummary.refused`` counts
the merges each rule refused under its id.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any, Final, Literal

RuleKind = Literal["cannot_link", "hold"]


class RuleId(StrEnum):
    """The id of every rule (and of a human judgement), as refusals report it."""

    SSN = "ssn"
    DL = "dl"
    SUFFIX = "suffix"
    DOB = "dob"
    GIVEN_NAME = "given_name"
    GENERATION = "generation"
    AMBIGUOUS = "ambiguous"
    MIDDLE_NAME = "middle_name"
    HOMONYM = "homonym"
    TWINS = "twins"
    KIN = "kin"
    CONTACTS = "contacts"
    RIVAL = "rival"
    # a human ``different`` judgement: counted like a rule, never switched off
    JUDGEMENT = "judgement"


@dataclass(frozen=True)
class Rule:
    """A named rule: its id (stable: benchmarks and stored runs use it) and why it exists."""

    id: str
    reason: str
    kind: RuleKind = "cannot_link"


RULES: Final[tuple[Rule, ...]] = (
    # cannot-link rules (Facts.conflict): two clusters that break one never merge
    Rule("ssn", "two SSNs more than a typo apart are two people's numbers"),
    Rule("dl", "two licence numbers from one issuing state are two people's licences"),
    Rule("suffix", "two different generational suffixes (JR and SR, II and III) are two people"),
    Rule("dob", "two birth dates no typo can turn into each other are two people's"),
    Rule("given_name", "given names that cannot be one name (a man's and a woman's, two real "
                       "names, first and middle crossed half-way) are two people's"),
    Rule("generation", "a suffixed and an unsuffixed cluster with no birth date or agreeing "
                       "identifier to tell them apart may be father and son"),
    # hold rules (cluster passes): records kept apart because a rival cluster fits as well
    Rule("ambiguous", "a record linked nearly as strongly into a rival cluster its own "
                      "cannot merge with is left on its own", "hold"),
    Rule("middle_name", "a record that joined a twin's cluster only by her middle name, "
                        "which her twin bears as a first name, is left on its own", "hold"),
    Rule("homonym", "bare records at an address two generations of one name share join "
                    "only through an agreeing identifier or contact", "hold"),
    Rule("twins", "bare records at an address twins share, whose given name fits both "
                  "twins, join only through an agreeing identifier or contact", "hold"),
    Rule("kin", "bare records named like a two-generation household, at any address either "
                "generation lived at, are held like the household's own", "hold"),
    Rule("contacts", "bare records tied by a phone, email or identifier to a held household "
                     "record are held with it", "hold"),
    Rule("rival", "a small cluster or fragment is not attached to its best cluster when a "
                  "rival that one cannot merge with scores within the margin", "hold"),
)

RULE_IDS: Final[frozenset[str]] = frozenset(r.id for r in RULES)
assert set(RuleId) - {RuleId.JUDGEMENT} == RULE_IDS

# Refusals by a human ``different`` judgement are counted under this id; it is no rule
# to switch off (a person looked).
JUDGEMENT: Final = RuleId.JUDGEMENT


def _all_on() -> dict[str, bool]:
    return {r.id: True for r in RULES}


@dataclass(frozen=True)
class LinkConfig:
    """Rule switches and clustering thresholds (defaults: every rule on, today's values)."""

    rules: dict[str, bool] = field(default_factory=_all_on)
    # None: the settings' match threshold
    match_threshold: float | None = None
    # bits by which a record's best link home must beat a rival's to count as unambiguous
    # (8 held back too many: 4 gains B3 recall +0.0018 foreign 3k, +0.0007 own synth 3k,
    # +0.0018 pseudopeople for precision -0.0001 or less, no twin or Jr/Sr merged)
    ambiguity_margin: float = 4.0
    # birth years this far apart under one name and address: two generations
    homonym_years: int = 15
    # edges from here up to the threshold feed the attach pass
    weak_floor: float = 0.5
    # pairs from here up are kept after scoring (fragments count weak evidence)
    predict_floor: float = 0.01
    # clusters up to this size are attached by their summed evidence
    attach_max_size: int = 1
    # fragments up to this many records are scored against whole identities
    max_fragment: int = 3
    # SSNs this many edits apart are read as a typo of one number
    ssn_typo_tolerance: int = 1
    attach: bool = True  # run the attach pass
    join_fragments: bool = True  # run the fragment pass

    def __post_init__(self) -> None:
        unknown = set(self.rules) - RULE_IDS
        if unknown:
            raise ValueError(f"unknown rule ids: {sorted(unknown)}")
        # missing ids default to on
        object.__setattr__(self, "rules", {**_all_on(), **self.rules})

    def on(self, rule_id: str) -> bool:
        """Is the rule switched on? (Unknown ids raise KeyError.)"""
        return self.rules[rule_id]

    def off(self) -> frozenset[RuleId]:
        """The rules switched off."""
        return frozenset(RuleId(r) for r, on in self.rules.items() if not on)

    def without(self, *rule_ids: str) -> LinkConfig:
        """This configuration with the given rules switched off."""
        for rid in rule_ids:
            if rid not in RULE_IDS:
                raise KeyError(f"unknown rule id: {rid}")
        return replace(self, rules={**self.rules, **dict.fromkeys(rule_ids, False)})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkConfig:
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> LinkConfig:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a LinkConfig is a JSON object")
        return cls.from_dict(data)
