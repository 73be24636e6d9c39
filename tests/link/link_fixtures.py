"""Helpers the link tests import by name (a uniquely named module: ``conftest`` is
not, and tests/synth has one too)."""

from __future__ import annotations

from collections.abc import Callable

AddRecord = Callable[..., str]
