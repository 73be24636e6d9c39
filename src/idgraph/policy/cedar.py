"""Loading the Cedar policy set: shipped policies plus a deployment folder.

Every policy must carry an ``@id("...")`` annotation (that id is what decisions,
audit entries and the docs name). A permit may carry ``@duty("notice:3d")``
(notify within 3 calendar days) or ``@duty("notice:3bd")`` (3 business days).
A permit with a duty may name the jurisdiction whose calendar counts business days,
``@jurisdiction("US-IL")`` (ISO 3166-2; federal and that state's public holidays).
The combined set is validated against ``policies/schema.cedarschema`` and cached by
its content, so a changed folder is a new set (with a new digest) at the next load.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import cedarpy


class PolicySetError(ValueError):
    """The policy set cannot be loaded: a file without ``@id``, a duplicate id, a type
    error, text that is not UTF-8, a configured folder that does not exist. Every command
    stops with this one-line message (no decision is taken under a broken set)."""


class PolicyFolderMissing(PolicySetError, FileNotFoundError):
    """The policy folder named by ``IDGRAPH_POLICY_DIR`` does not exist."""


@dataclass(frozen=True, slots=True)
class PolicyBundle:
    """A parsed, validated policy set and what the decision point needs from it."""

    policy_set: cedarpy.PolicySet
    text: str
    ids: tuple[str, ...]  # the @id of every policy, in order
    duties: dict[str, tuple[str, ...]]  # @id -> duties a satisfied permit creates
    files: tuple[str, ...] = ()  # where the text came from: policies/x.cedar, deployment/y.cedar
    jurisdictions: dict[str, str] = field(default_factory=dict)  # @id -> @jurisdiction

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the policy text as evaluated: names the policy set in audit."""
        return _digest(self.text)


@lru_cache(maxsize=16)
def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
        raise PolicySetError(f"{name}: {exc}") from exc
    static = data.get("staticPolicies", {})
    keys = sorted(static, key=lambda k: int(k.removeprefix("policy")))
    out = [dict(static[k].get("annotations") or {}) for k in keys]
    for i, ann in enumerate(out):
        if not ann.get("id"):
            raise PolicySetError(f"{name}: policy #{i} has no @id annotation")
    return out


def deployment_files(folder: Path | None) -> list[tuple[str, str]]:
    """``folder/*.cedar`` as (``deployment/<name>``, text), sorted; none without a folder."""
    if folder is None:
        return []
    out = []
    for p in folder.glob("*.cedar"):
        try:
            out.append((f"deployment/{p.name}", p.read_text("utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicySetError(f"deployment/{p.name}: cannot be read as UTF-8 text ({exc})") \
                from exc
    return sorted(out)


def load_policies(extra_dir: Path | None = None) -> PolicyBundle:
    """Shipped policies plus ``extra_dir/*.cedar`` as they are now, validated and parsed."""
    return _compile(tuple(_shipped() + deployment_files(extra_dir)))


_DUTY = re.compile(r"^notice:\d+(d|bd)$")  # what policy/notices.py reads


def _is_jurisdiction(code: str) -> bool:
    from idgraph.normalize.jurisdictions import is_country, is_subdivision

    return is_country(code) or is_subdivision(code)


@lru_cache(maxsize=8)
def _compile(files: tuple[tuple[str, str], ...]) -> PolicyBundle:
    ids: list[str] = []
    duties: dict[str, tuple[str, ...]] = {}
    jurisdictions: dict[str, str] = {}
    for name, text in files:
        for ann in _annotations(name, text):
            pid = ann["id"]
            if pid in ids:
                raise PolicySetError(f"{name}: duplicate policy id {pid!r}")
            ids.append(pid)
            if ann.get("duty"):
                duties[pid] = tuple(d.strip() for d in ann["duty"].split(","))
                # A duty the notices module cannot read would be dropped at disclosure:
                # the notice a statute requires would silently never be owed.
                bad = [d for d in duties[pid] if not _DUTY.match(d)]
                if bad:
                    raise PolicySetError(
                        f"{name}: {pid}: unknown duty {bad[0]!r} (notice:<N>d or notice:<N>bd)"
                    )
            if ann.get("jurisdiction"):
                jurisdictions[pid] = ann["jurisdiction"].strip()
                if not _is_jurisdiction(jurisdictions[pid]):
                    raise PolicySetError(
                        f"{name}: {pid}: @jurisdiction {jurisdictions[pid]!r} is not an "
                        "ISO 3166 code (US, US-IL)"
                    )
    text = "\n".join(t for _, t in files)
    result = cedarpy.validate_policies(text, schema_text())
    if not result.validation_passed:
        raise PolicySetError("policy validation failed: " + "; ".join(map(str, result.errors)))
    return PolicyBundle(
        cedarpy.PolicySet.from_str(text),
        text,
        tuple(ids),
        duties,
        tuple(n for n, _ in files),
        jurisdictions,
    )
