"""The purpose catalogue: activity purposes and statutory codes, as shipped data.

The catalogue lives in ``catalogue.yaml`` beside this module; a deployment may pass
its own file. Policies refer to purpose names and code names; the decision point
rejects any name the catalogue does not know. Each purpose lists the case kinds it
may be declared under (``case_kinds``) and the organisation types that may declare it
(``org_types``, from ``users.ORG_TYPES``); each code that the law ties to more than
being claimed lists what its text requires (``requires``), the Cedar rule that
enforces it, and the text it is read from.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

import yaml

from idgraph.policy.users import ORG_TYPES

# What a requirement alternative may test (see catalogue.yaml's comment on `codes`).
CONDITIONS: Final[tuple[str, ...]] = (
    "basis",
    "issuer",
    "level",
    "org_type",
    "role",
    "case_kinds",
    "also_claims",
)


@dataclass(frozen=True, slots=True)
class Purpose:
    """An activity purpose a query may declare."""

    name: str
    description: str
    case_kinds: tuple[str, ...] = ()  # the case kinds it may be declared under
    org_types: tuple[str, ...] = ()  # the organisation types that may declare it
    fields: tuple[str, ...] | None = None  # None: no purpose-wide field limit


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a code's text demands: any one of ``any_of`` (each a mapping of conditions)."""

    rule: str  # the @id of the Cedar policy enforcing it
    text: str  # the statute's words
    reading: str  # how idgraph reads them
    any_of: tuple[dict[str, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class Code:
    """A statutory permissible-purpose code a query may claim."""

    name: str
    citation: str
    description: str
    requires: Requirement | None = None

    @property
    def regime(self) -> str:
        """``DPPA``, ``GLBA`` or ``FCRA``: the part before the first dash."""
        return self.name.split("-", 1)[0]


@dataclass(frozen=True, slots=True)
class Catalogue:
    purposes: dict[str, Purpose]
    codes: dict[str, Code]

    def purpose(self, name: str) -> Purpose | None:
        return self.purposes.get(name)

    def unknown_codes(self, claims: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(c for c in claims if c not in self.codes)

    def fits(self, purpose: str, case_kind: str) -> bool:
        """Whether ``purpose`` may be declared under a case of ``case_kind``."""
        p = self.purposes.get(purpose)
        return p is not None and case_kind in p.case_kinds

    def org_type_fits(self, purpose: str, org_type: str) -> bool:
        """Whether an organisation of ``org_type`` may declare ``purpose``."""
        p = self.purposes.get(purpose)
        return p is not None and org_type in p.org_types


def _requirement(code: str, spec: dict[str, Any]) -> Requirement:
    alternatives = []
    for alt in spec.get("any_of") or ():
        unknown = set(alt) - set(CONDITIONS)
        if unknown or not alt:
            raise ValueError(f"catalogue: {code}: bad requirement {alt!r}")
        alternatives.append({k: tuple(str(v) for v in vals) for k, vals in alt.items()})
    if not alternatives or not spec.get("rule"):
        raise ValueError(f"catalogue: {code}: a requirement needs `rule` and `any_of`")
    return Requirement(
        rule=str(spec["rule"]),
        text=str(spec.get("text", "")),
        reading=str(spec.get("reading", "")),
        any_of=tuple(alternatives),
    )


def _parse(data: dict[str, Any]) -> Catalogue:
    purposes = {}
    for name, spec in (data.get("purposes") or {}).items():
        if not spec.get("case_kinds"):
            raise ValueError(f"catalogue: purpose {name!r} lists no case_kinds")
        if not spec.get("org_types"):
            raise ValueError(f"catalogue: purpose {name!r} lists no org_types")
        org_types = tuple(str(t) for t in spec["org_types"])
        if unknown := [t for t in org_types if t not in ORG_TYPES]:
            raise ValueError(
                f"catalogue: purpose {name!r}: unknown org_types {unknown}; "
                f"one of {', '.join(ORG_TYPES)}"
            )
        purposes[name] = Purpose(
            name=name,
            description=str(spec.get("description", "")),
            case_kinds=tuple(spec["case_kinds"]),
            org_types=org_types,
            fields=tuple(spec["fields"]) if spec.get("fields") else None,
        )
    codes = {
        name: Code(
            name=name,
            citation=str(spec["citation"]),
            description=str(spec["description"]),
            requires=_requirement(name, spec["requires"]) if spec.get("requires") else None,
        )
        for name, spec in (data.get("codes") or {}).items()
    }
    return Catalogue(purposes=purposes, codes=codes)


@lru_cache(maxsize=8)
def load_catalogue(path: Path | None = None) -> Catalogue:
    """The catalogue at ``path``, or the one shipped in the package."""
    if path is None:
        text = resources.files("idgraph.policy").joinpath("catalogue.yaml").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"catalogue {path or 'catalogue.yaml'} is not a mapping")
    return _parse(data)
