"""Loading the Cedar policy set: shipped policies plus a deployment folder.

Every policy must carry an ``@id("...")`` annotation (that id is what decisions,
audit entries and the docs name). A permit may carry ``@duty("notice:3d")``
(notify within 3 calendar days) or ``@duty("notice:3bd")`` (3 business days).
The combined set is validated against ``policies/schema.cedarschema`` once and
cached; a deployment that changes its folder restarts the process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import cedarpy


@dataclass(frozen=True, slots=True)
class PolicyBundle:
    """A parsed, validated policy set and what the decision point needs from it."""

    policy_set: cedarpy.PolicySet
    text: str
    ids: tuple[str, ...]  # the @id of every policy, in order
    duties: dict[str, tuple[str, ...]]  # @id -> duties a satisfied permit creates


def _shipped() -> list[tuple[str, str]]:
    folder = resources.files("idgraph.policy").joinpath("policies")
    return sorted(
        (f"policies/{p.name}", p.read_text("utf-8"))
        for p in folder.iterdir()
        if p.name.endswith(".cedar")
    )


def schema_text() -> str:
    folder = resources.files("idgraph.policy").joinpath("policies")
    return folder.joinpath("schema.cedarschema").read_text("utf-8")


def _annotations(name: str, text: str) -> list[dict[str, str]]:
    try:
        data = json.loads(cedarpy.policies_to_json_str(text))
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc
    static = data.get("staticPolicies", {})
    keys = sorted(static, key=lambda k: int(k.removeprefix("policy")))
    out = [dict(static[k].get("annotations") or {}) for k in keys]
    for i, ann in enumerate(out):
        if not ann.get("id"):
            raise ValueError(f"{name}: policy #{i} has no @id annotation")
    return out


@lru_cache(maxsize=4)
def load_policies(extra_dir: Path | None = None) -> PolicyBundle:
    """Shipped policies plus ``extra_dir/*.cedar``, validated and parsed once."""
    files = _shipped()
    if extra_dir is not None:
        files += sorted((str(p), p.read_text("utf-8")) for p in Path(extra_dir).glob("*.cedar"))
    ids: list[str] = []
    duties: dict[str, tuple[str, ...]] = {}
    for name, text in files:
        for ann in _annotations(name, text):
            pid = ann["id"]
            if pid in ids:
                raise ValueError(f"{name}: duplicate policy id {pid!r}")
            ids.append(pid)
            if ann.get("duty"):
                duties[pid] = tuple(d.strip() for d in ann["duty"].split(","))
    text = "\n".join(t for _, t in files)
    result = cedarpy.validate_policies(text, schema_text())
    if not result.validation_passed:
        raise ValueError("policy validation failed: " + "; ".join(map(str, result.errors)))
    return PolicyBundle(cedarpy.PolicySet.from_str(text), text, tuple(ids), duties)
