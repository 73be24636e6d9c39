"""Deciding ``read``, ``read_full`` and ``read_restricted`` for many segments in few
Cedar requests, with the answers Cedar gives when asked three times per segment.

Asked directly, a query over 8 segments is 24 Cedar requests, each evaluating every
policy (~165 µs each). Cedar's answer to a request is a function of which policies are
*satisfied* and which *errored*: Deny naming the satisfied forbids if there are any,
else Allow naming the satisfied permits if there are any, else Deny naming none; the
errored ones are listed and otherwise skipped. So the plan asks Cedar which policies
are satisfied and which error, once, and derives the three answers:

1. **Scopes.** Which of the three actions each policy's scope covers is asked of
   Cedar once per policy set (each policy with only its action scope, no conditions).
2. **One evaluation for three actions.** Each read policy is evaluated with its action
   scope widened to every action and its effect made ``forbid`` (so Cedar lists every
   satisfied one, not only the deciding ones). A policy's conditions do not read
   ``action`` (else there is no plan and the engine asks three times), so whether they
   hold is the same for the three actions; an action's answer counts a policy only if
   its original scope covers the action.
3. **Once per query what does not look at the resource.** Policies that never mention
   ``resource`` are evaluated once per query (once per legal basis as it counts).
4. **Only what can hold for the segment.** A policy's conditions are a chain of
   conjuncts Cedar evaluates left to right, stopping at the first false one. If a
   conjunct reads only the resource (and literals), Cedar evaluates it per segment when
   the registry is loaded; if it is false for a segment and no conjunct before it can
   raise an error (attribute reads of the principal, resource and context, comparisons,
   set tests, ``&&``, ``||``, ``!``: no arithmetic, extension calls, tags or entity
   literals' attributes), the policy cannot be satisfied nor error for that segment and
   is left out of its request.
5. **Only the context the policies read.** A request carries the context attributes
   its policies read (all of it if one reads ``context`` otherwise than by attribute).

``tests/policy/test_gate_fast.py`` checks that every decision equals the three-request
reference (``engine._allowed_reference``) on a broad table of queries and on policy
sets written to break each step.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

import cedarpy

READ_ACTIONS: Final[tuple[str, ...]] = ("read", "read_full", "read_restricted")
_READ = {"type": "Action", "id": "read"}
ACTION_ENTITIES: Final[list[dict[str, Any]]] = [
    {"uid": _READ, "attrs": {}, "parents": []},
    {"uid": {"type": "Action", "id": "read_full"}, "attrs": {}, "parents": [_READ]},
    {"uid": {"type": "Action", "id": "read_restricted"}, "attrs": {}, "parents": [_READ]},
]
_ALL: Final[dict[str, str]] = {"op": "All"}
_log = logging.getLogger(__name__)
_ERROR = re.compile(r"policy `([^`]*)`")
# Expression nodes that cannot raise an error on a request that fits the schema (the
# set is validated against it): "." and "has" are checked apart (see _safe).
_SAFE_BINARY: Final[frozenset[str]] = frozenset({
    "&&", "||", "==", "!=", "in", "<", "<=", ">", ">=", "contains", "containsAll",
    "containsAny",
})

Est = dict[str, Any]  # a node of Cedar's JSON policy format


@dataclass(frozen=True, slots=True)
class Outcome:
    """Cedar's answer for one action: allowed, the ``@id`` of the policies that decided
    (sorted), and whether any policy raised an error (the engine then denies)."""

    allowed: bool
    rules: tuple[str, ...]
    error: bool


@dataclass(frozen=True, slots=True)
class Conjunct:
    """One conjunct of a rule's conditions, in Cedar's order of evaluation."""

    guard: str | None  # @id of its guard policy if it reads only the resource
    safe: bool  # cannot raise an error


@dataclass(frozen=True, slots=True)
class Rule:
    """One read policy as the plan evaluates it."""

    pid: str  # its @id
    forbid: bool
    actions: frozenset[str]  # the read actions its scope covers (as Cedar decided)
    widened: Est  # any action, effect forbid: Cedar reports it whenever it holds
    resource_free: bool  # neither its scope nor its conditions read the resource
    conjuncts: tuple[Conjunct, ...]


@dataclass(frozen=True)
class Group:
    """Policies asked in one request: the parsed set, Cedar's ids, the context read."""

    policy_set: cedarpy.PolicySet
    pids: dict[str, str]  # Cedar's id (p0, p1, ...) -> @id
    context_keys: frozenset[str] | None  # None: the whole context

    def context(self, ctx: Mapping[str, Any]) -> str:
        """``ctx`` as the JSON this group's requests carry (only the attributes it reads)."""
        keys = self.context_keys
        return json.dumps(ctx if keys is None else {k: v for k, v in ctx.items() if k in keys})


@dataclass(frozen=True, slots=True)
class Heard:
    """Which policies Cedar found satisfied and which errored, for one request."""

    satisfied: frozenset[str]
    errored: frozenset[str]
    unattributed_error: bool = False

    def __or__(self, other: Heard) -> Heard:
        return Heard(self.satisfied | other.satisfied, self.errored | other.errored,
                     self.unattributed_error or other.unattributed_error)


class Unplannable(ValueError):
    """The policy set cannot be planned (templates, or a condition reads ``action``)."""


def _group(policies: Sequence[Est]) -> Group:
    """One policy set of ``policies`` (Cedar's JSON form), Cedar's ids ``p0``, ``p1``, ...
    mapped back to the @id annotations."""
    keys = {f"p{i}": p for i, p in enumerate(policies)}
    doc = {"staticPolicies": keys, "templates": {}, "templateLinks": []}
    pids = {k: p["annotations"]["id"] for k, p in keys.items()}
    return Group(cedarpy.PolicySet.from_json_str(json.dumps(doc)), pids,
                 _context_keys(policies))


def _nodes(e: Any) -> Iterable[Any]:
    yield e
    if isinstance(e, dict):
        for v in e.values():
            yield from _nodes(v)
    elif isinstance(e, list):
        for v in e:
            yield from _nodes(v)


def _reads_var(e: Any, var: str) -> bool:
    return any(n == {"Var": var} for n in _nodes(e))


def _context_keys(policies: Sequence[Est]) -> frozenset[str] | None:
    """Context attributes read by ``policies``; None if one reads ``context`` otherwise."""
    keys: set[str] = set()
    uses = reads = 0
    for p in policies:
        for n in _nodes(p["conditions"]):
            if n == {"Var": "context"}:
                uses += 1
            elif isinstance(n, dict) and len(n) == 1:
                op, arg = next(iter(n.items()))
                if op in (".", "has") and isinstance(arg, dict) and \
                        arg.get("left") == {"Var": "context"}:
                    reads += 1
                    keys.add(str(arg["attr"]))
    return frozenset(keys) if uses == reads else None


def _is_path(e: Est) -> bool:
    """``principal``, ``resource``, ``context`` or an attribute chain from one of them."""
    if set(e) == {"Var"}:
        return True
    return set(e) == {"."} and _is_path(e["."]["left"])


def _safe(e: Est) -> bool:
    """Whether ``e`` cannot raise an error on a request that fits the schema."""
    if len(e) != 1:
        return False
    op, arg = next(iter(e.items()))
    if op in ("Value", "Var"):
        return True
    if op == "Set":
        return all(_safe(x) for x in arg)
    if op == "Record":
        return all(_safe(x) for x in arg.values())
    if op in ("!", "isEmpty"):
        return _safe(arg["arg"])
    if op in _SAFE_BINARY:
        return _safe(arg["left"]) and _safe(arg["right"])
    if op == "like":
        return _safe(arg["left"])
    if op == "is":
        return _safe(arg["left"]) and ("in" not in arg or _safe(arg["in"]))
    if op == "if-then-else":
        return all(_safe(arg[k]) for k in ("if", "then", "else"))
    if op in (".", "has"):
        return _is_path(arg["left"])
    return False


def _resource_only(e: Est) -> bool:
    """Reads nothing but the resource and literals (no entity literal: their data is
    the store's, which holds the principal too)."""
    for n in _nodes(e):
        if isinstance(n, dict) and ("Var" in n and n["Var"] != "resource"):
            return False
        if isinstance(n, dict) and ("__entity" in n or "Slot" in n or "Unknown" in n):
            return False
    return True


def _and_chain(e: Est) -> list[Est]:
    if set(e) == {"&&"}:
        return [*_and_chain(e["&&"]["left"]), *_and_chain(e["&&"]["right"])]
    return [e]


def _conjuncts(conditions: Sequence[Est], guards: list[Est]) -> tuple[Conjunct, ...]:
    """The conjuncts of ``conditions``; each that reads only the resource becomes a guard
    policy (appended to ``guards``) that Cedar evaluates per segment."""
    out: list[Conjunct] = []
    for c in conditions:
        parts = _and_chain(c["body"]) if c["kind"] == "when" else [{"!": {"arg": c["body"]}}]
        for part in parts:
            gid = None
            if _resource_only(part):
                gid = f"guard{len(guards)}"
                guards.append({"effect": "forbid", "principal": _ALL, "action": _ALL,
                               "resource": _ALL, "conditions": [{"kind": "when", "body": part}],
                               "annotations": {"id": gid}})
            out.append(Conjunct(gid, _safe(part)))
    return tuple(out)


def _scopes(static: Mapping[str, Est]) -> dict[str, frozenset[str]]:
    """@id -> the read actions its action scope covers, as Cedar decides it."""
    probes = {
        k: {"effect": "forbid", "principal": _ALL, "action": p["action"], "resource": _ALL,
            "conditions": [], "annotations": {"id": p["annotations"]["id"]}}
        for k, p in static.items()
    }
    group = _group(list(probes.values()))
    entities = cedarpy.Entities.from_json_str(json.dumps(ACTION_ENTITIES))
    requests = [
        {"principal": {"type": "User", "id": "scope"}, "action": {"type": "Action", "id": a},
         "resource": {"type": "Source", "id": "scope"}, "context": {}}
        for a in READ_ACTIONS
    ]
    results = cedarpy.is_authorized_batch(requests, group.policy_set, entities)
    out: dict[str, set[str]] = {}
    for action, result in zip(READ_ACTIONS, results, strict=True):
        if result.diagnostics.errors:
            raise Unplannable(f"scope probe errored: {result.diagnostics.errors}")
        for r in result.diagnostics.reasons:
            out.setdefault(group.pids[r], set()).add(action)
    return {pid: frozenset(a) for pid, a in out.items()}


@dataclass
class Plan:
    """The read policies of one policy set, ready to be asked per segment."""

    rules: dict[str, Rule]
    shared: Group  # the resource-free rules
    guards: Group | None  # every resource-only conjunct, as a policy "guard<n>"
    _groups: dict[frozenset[str], Group] = field(default_factory=dict)
    _outcomes: dict[Heard, tuple[Outcome, ...]] = field(default_factory=dict)

    def forget(self) -> None:
        """Drop the remembered answers (benchmarks measure a first-time query)."""
        self._outcomes.clear()

    def outcomes(self, heard: Heard) -> tuple[Outcome, ...]:
        """Cedar's answers for read, read_full and read_restricted (remembered: many
        segments and queries hear the same)."""
        known = self._outcomes.get(heard)
        if known is None:
            if len(self._outcomes) > _OUTCOMES_MAX:
                self._outcomes.clear()
            known = tuple(outcome(self.rules, heard, a) for a in READ_ACTIONS)
            self._outcomes[heard] = known
        return known

    def group(self, pids: frozenset[str]) -> Group:
        if pids not in self._groups:
            self._groups[pids] = _group([self.rules[p].widened for p in sorted(pids)])
        return self._groups[pids]

    def segment_rules(
        self, entities: cedarpy.Entities, segments: Sequence[str]
    ) -> dict[str, frozenset[str]]:
        """Per segment, the resource-reading rules that can hold or error for it."""
        dependent = [r for r in self.rules.values() if not r.resource_free]
        if self.guards is None or not segments:
            return {s: frozenset(r.pid for r in dependent) for s in segments}
        requests = [
            {"principal": {"type": "User", "id": "guard"}, "action": _READ,
             "resource": {"type": "Source", "id": s}, "context": {}}
            for s in segments
        ]
        results = cedarpy.is_authorized_batch(requests, self.guards.policy_set, entities)
        out: dict[str, frozenset[str]] = {}
        for seg, result in zip(segments, results, strict=True):
            heard = _heard(self.guards, result)
            if heard.unattributed_error:
                out[seg] = frozenset(r.pid for r in dependent)
                continue
            out[seg] = frozenset(r.pid for r in dependent if not self._excluded(r, heard))
        return out

    def _excluded(self, rule: Rule, heard: Heard) -> bool:
        """The rule's chain stops at a false resource-only conjunct, error-free before."""
        for c in rule.conjuncts:
            if c.guard is not None:
                if c.guard in heard.errored:
                    return False
                if c.guard not in heard.satisfied:
                    return True
            elif not c.safe:
                return False
        return False


@lru_cache(maxsize=8)
def plan_for(text: str) -> Plan | None:
    """The plan of the policy set ``text`` (validated), or None: ask three times."""
    try:
        return _plan(text)
    except (Unplannable, ValueError, KeyError) as exc:  # the reference is always right
        _log.info("policy set not planned (asked three times per segment): %s", exc)
        return None


def _plan(text: str) -> Plan:
    doc = json.loads(cedarpy.policies_to_json_str(text))
    if doc.get("templates") or doc.get("templateLinks"):
        raise Unplannable("templates")
    static: dict[str, Est] = doc["staticPolicies"]
    scopes = _scopes(static)
    rules: dict[str, Rule] = {}
    guards: list[Est] = []
    for p in static.values():
        pid = p["annotations"]["id"]
        if not scopes.get(pid):
            continue  # never applies to reading
        if _reads_var(p["conditions"], "action"):
            raise Unplannable(f"{pid} reads the action")
        widened = {**p, "effect": "forbid", "action": _ALL, "annotations": {"id": pid}}
        free = p["resource"] == _ALL and not _reads_var(p["conditions"], "resource")
        rules[pid] = Rule(
            pid, p["effect"] == "forbid", scopes[pid], widened, free,
            () if free else _conjuncts(p["conditions"], guards),
        )
    shared = _group([r.widened for r in rules.values() if r.resource_free])
    return Plan(rules, shared, _group(guards) if guards else None)


def _heard(group: Group, result: cedarpy.AuthzResult) -> Heard:
    satisfied = frozenset(group.pids.get(r, r) for r in result.diagnostics.reasons)
    errored: set[str] = set()
    unattributed = False
    for e in result.diagnostics.errors:
        m = _ERROR.search(str(e))
        if m is not None and m.group(1) in group.pids:
            errored.add(group.pids[m.group(1)])
        else:
            unattributed = True
    return Heard(satisfied, frozenset(errored), unattributed)


def ask(
    group: Group,
    entities: cedarpy.Entities,
    principal: Mapping[str, str],
    items: Sequence[tuple[str, str]],
) -> list[Heard]:
    """One Cedar batch: each (resource id, context as JSON) against ``group``."""
    requests = [
        {"principal": principal, "action": _READ, "resource": {"type": "Source", "id": sid},
         "context": ctx}
        for sid, ctx in items
    ]
    results = cedarpy.is_authorized_batch(requests, group.policy_set, entities)
    return [_heard(group, r) for r in results]


def outcome(rules: Mapping[str, Rule], heard: Heard, action: str) -> Outcome:
    """Cedar's answer for ``action`` from what it heard with every scope widened."""
    hits = [rules[p] for p in heard.satisfied if action in rules[p].actions]
    error = heard.unattributed_error or any(action in rules[p].actions for p in heard.errored)
    forbids = tuple(sorted(r.pid for r in hits if r.forbid))
    if forbids:
        return Outcome(False, forbids, error)
    permits = tuple(sorted(r.pid for r in hits if not r.forbid))
    return Outcome(bool(permits), permits, error)


_OUTCOMES_MAX: Final[int] = 4096
