"""The shape of one audit-log entry (the leaf of the Merkle tree)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from idgraph import clock


def _now() -> datetime:
    return clock.now()


class AuditEntry(BaseModel):
    """Who did what to which data, under which purpose and legal basis, and the outcome.

    ``canonical()`` is the exact byte string hashed into the Merkle tree.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    time: datetime = Field(default_factory=_now)
    principal: str
    organisation: str | None = None
    role: str | None = None
    action: str  # e.g. "policy.decide", "profile.read", "users.add", "audit.read"
    outcome: str  # "permit" | "deny" | "ok" | "error" | ...
    purpose: str | None = None
    claims: tuple[str, ...] = ()
    basis: str | None = None  # legal-process id
    case_id: str | None = None
    sources: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()  # ids of the policy rules that decided
    identity_ids: tuple[str, ...] = ()
    record_ids: tuple[str, ...] = ()
    detail: dict[str, Any] = Field(default_factory=dict)

    @field_validator("time")
    @classmethod
    def _utc(cls, t: datetime) -> datetime:
        """A time without an offset is UTC (the project's convention, ``clock.now_naive``),
        never the server's local zone (which would shift it by the zone's offset)."""
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t

    def canonical(self) -> bytes:
        """Deterministic JSON (sorted keys, UTC ISO time, no spaces)."""
        data = self.model_dump(mode="json")
        data["time"] = self.time.astimezone(UTC).isoformat()
        return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()
