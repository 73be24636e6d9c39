"""The lock files pin every dependency pyproject.toml names (upgrades happen on purpose)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text("utf-8")
    pins = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [
        ("main.lock", PROJECT["dependencies"]),
        ("dev.lock", PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"]),
        ("bench.lock", PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"]
         + PROJECT["optional-dependencies"]["bench"]),
    ],
)
def test_every_dependency_is_pinned(lock: str, requirements: list[str]) -> None:
    pins = _pins(lock)
    missing = sorted(_name(r) for r in requirements if _name(r) not in pins)
    assert not missing, f"{lock} lacks {missing}: re-run the compile command in README.md"


@pytest.mark.parametrize(
    ("narrow", "wide"), [("main.lock", "dev.lock"), ("dev.lock", "bench.lock")]
)
def test_locks_agree(narrow: str, wide: str) -> None:
    small, big = _pins(narrow), _pins(wide)
    differ = {k: (v, big.get(k)) for k, v in small.items() if big.get(k) != v}
    assert not differ, f"{narrow} and {wide} disagree (or {wide} lacks a pin): {differ}"
