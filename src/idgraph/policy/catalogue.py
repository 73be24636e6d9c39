"""The purpose catalogue: activity purposes and statutory codes, as shipped data.

The catalogue lives in ``catalogue.yaml`` beside this module; a deployment may pass
its own file. Policies refer to purpose names and code names; the decision point
rejects any name the catalogue does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class Purpose:
    """An activity purpose a query may declare."""

    name: str
    description: str
    fields: tuple[str, ...] | None = None  # None: no purpose-wide field limit


@dataclass(frozen=True, slots=True)
class Code:
    """A statutory permissible-purpose code a query may claim."""

    name: str
    citation: str
    description: str

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


def _parse(data: dict[str, Any]) -> Catalogue:
    purposes = {
        name: Purpose(
            name=name,
            description=str(spec.get("description", "")),
            fields=tuple(spec["fields"]) if spec.get("fields") else None,
        )
        for name, spec in (data.get("purposes") or {}).items()
    }
    codes = {
        name: Code(name=name, citation=str(spec["citation"]), description=str(spec["description"]))
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
