"""Patterns worth an overseer's look, each linked to the entry indexes behind it.

Pure functions over the reads of a window (disclosure entries, in log order):

* ``read_without_case``: reads that name no case (grouped per user);
* ``many_users``: one identity read by at least ``many_users`` distinct users;
* ``purpose_drift``: a user's purpose mix in the second half of the window differs
  from the first half by a total-variation distance of at least ``drift``;
* ``bulk_burst``: at least ``burst_reads`` reads by one user within ``burst_minutes``;
* ``basis_expired``: reads naming a legal basis after the day it expired.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from idgraph.audit.reports.common import Logged, iso
from idgraph.policy.legal import LegalProcess


@dataclass(frozen=True)
class Thresholds:
    many_users: int = 3
    drift: float = 0.5
    drift_min_reads: int = 3
    burst_reads: int = 20
    burst_minutes: int = 10


@dataclass(frozen=True)
class Pattern:
    kind: str
    key: str
    summary: str
    indexes: list[int]
    detail: dict[str, Any] = field(default_factory=dict)


def reads_without_case(reads: Sequence[Logged]) -> list[Pattern]:
    per_user: dict[str, list[int]] = {}
    for r in reads:
        if not r.entry.case_id:
            per_user.setdefault(r.entry.principal, []).append(r.index)
    return [
        Pattern("read_without_case", who, f"{who}: {len(ix)} read(s) without a case", ix)
        for who, ix in sorted(per_user.items())
    ]


def many_users(reads: Sequence[Logged], threshold: int) -> list[Pattern]:
    users: dict[str, set[str]] = {}
    indexes: dict[str, list[int]] = {}
    for r in reads:
        for ident in r.entry.identity_ids:
            users.setdefault(ident, set()).add(r.entry.principal)
            indexes.setdefault(ident, []).append(r.index)
    return [
        Pattern(
            "many_users",
            ident,
            f"{ident} read by {len(who)} users: {', '.join(sorted(who))}",
            indexes[ident],
            {"users": sorted(who)},
        )
        for ident, who in sorted(users.items())
        if len(who) >= threshold
    ]


def _mix(items: Sequence[Logged]) -> dict[str, float]:
    counts = Counter(r.entry.purpose or "(none)" for r in items)
    total = sum(counts.values())
    return {k: round(v / total, 4) for k, v in sorted(counts.items())}


def _fmt_mix(mix: Mapping[str, float]) -> str:
    return ", ".join(f"{k} {v:.0%}" for k, v in sorted(mix.items(), key=lambda kv: (-kv[1], kv[0])))


def purpose_drift(
    reads: Sequence[Logged], start: datetime, end: datetime, t: Thresholds
) -> list[Pattern]:
    mid = start + (end - start) / 2
    per_user: dict[str, tuple[list[Logged], list[Logged]]] = {}
    for r in reads:
        halves = per_user.setdefault(r.entry.principal, ([], []))
        halves[0 if r.entry.time < mid else 1].append(r)
    out = []
    for who, (first, second) in sorted(per_user.items()):
        if min(len(first), len(second)) < t.drift_min_reads:
            continue
        a, b = _mix(first), _mix(second)
        tv = sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b)) / 2
        if tv >= t.drift:
            out.append(
                Pattern(
                    "purpose_drift",
                    who,
                    f"{who}: purposes moved from [{_fmt_mix(a)}] to [{_fmt_mix(b)}]",
                    [r.index for r in (*first, *second)],
                    {
                        "first_half": a,
                        "second_half": b,
                        "distance": round(tv, 4),
                        "split_at": iso(mid),
                    },
                )
            )
    return out


def bulk_bursts(reads: Sequence[Logged], t: Thresholds) -> list[Pattern]:
    span = timedelta(minutes=t.burst_minutes)
    per_user: dict[str, list[Logged]] = {}
    for r in reads:
        per_user.setdefault(r.entry.principal, []).append(r)
    out = []
    for who, items in sorted(per_user.items()):
        items.sort(key=lambda r: (r.entry.time, r.index))
        i = 0
        while i < len(items):
            j = i
            while j + 1 < len(items) and items[j + 1].entry.time - items[i].entry.time <= span:
                j += 1
            if j - i + 1 >= t.burst_reads:
                # Extend while the next read is still within span of the previous one.
                while j + 1 < len(items) and items[j + 1].entry.time - items[j].entry.time <= span:
                    j += 1
                run = items[i : j + 1]
                out.append(
                    Pattern(
                        "bulk_burst",
                        who,
                        f"{who}: {len(run)} reads between {iso(run[0].entry.time)} and "
                        f"{iso(run[-1].entry.time)}",
                        [r.index for r in run],
                        {"start": iso(run[0].entry.time), "end": iso(run[-1].entry.time)},
                    )
                )
                i = j + 1
            else:
                i += 1
    return out


def basis_expired(reads: Sequence[Logged], legal: Mapping[str, LegalProcess]) -> list[Pattern]:
    per_doc: dict[str, list[int]] = {}
    for r in reads:
        doc = legal.get(r.entry.basis or "")
        if doc is not None and doc.expires is not None and r.entry.time.date() > doc.expires:
            per_doc.setdefault(doc.legal_id, []).append(r.index)
    return [
        Pattern(
            "basis_expired",
            lid,
            f"{lid} ({legal[lid].type} {legal[lid].number}) named by {len(ix)} read(s) "
            f"after it expired on {legal[lid].expires}",
            ix,
        )
        for lid, ix in sorted(per_doc.items())
    ]


def find_patterns(
    reads: Sequence[Logged],
    start: datetime,
    end: datetime,
    t: Thresholds,
    legal: Mapping[str, LegalProcess],
) -> list[Pattern]:
    """Every pattern of the window, grouped by kind in a fixed order."""
    return [
        *reads_without_case(reads),
        *many_users(reads, t.many_users),
        *purpose_drift(reads, start, end, t),
        *bulk_bursts(reads, t),
        *basis_expired(reads, legal),
    ]
