"""An in-memory snapshot of what decisions read: users, cases, legal process, sources.

The decision point must be fast (p99 under a millisecond for eight sources), so it
reads these small registry tables once per :class:`Registry` and keeps them. Build a
new Registry (or call :meth:`Registry.refresh`) after changing them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import cedarpy

import idgraph.cases as cases_mod
from idgraph.policy import legal as legal_mod
from idgraph.policy import sar as sar_mod
from idgraph.policy import users as users_mod
from idgraph.policy.catalogue import Catalogue, load_catalogue
from idgraph.policy.cedar import PolicyBundle, load_policies
from idgraph.policy.plan import ACTION_ENTITIES, Plan, plan_for
from idgraph.policy.policy_set import note_loaded
from idgraph.schema import Decision, segment_key
from idgraph.settings import Settings
from idgraph.sources.regimes import canonical_regime
from idgraph.store.records import record_segments
from idgraph.store.registry import RegistryRepo

if TYPE_CHECKING:
    from idgraph.store import Store


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What the policies know about a source, or about one segment of it.

    A segment is the records of a source whose origin jurisdiction is ``origin``
    (None: the source's own). It keeps the source's kind and regimes and takes the
    origin as its jurisdiction; its Cedar ``Source`` entity id is :attr:`key`.
    """

    source_id: str
    kind: str
    jurisdiction: str
    regimes: tuple[str, ...]
    retention_days: int | None = None
    origin: str | None = None

    @property
    def key(self) -> str:
        return segment_key(self.source_id, self.origin)

    def segment(self, origin: str) -> SourceInfo:
        """The segment of this source whose records come from ``origin``."""
        return replace(self, jurisdiction=origin, origin=origin)

    def cedar(self) -> dict[str, object]:
        return {
            "uid": {"type": "Source", "id": self.key},
            "attrs": {
                "kind": self.kind,
                "jurisdiction": self.jurisdiction,
                "regimes": list(self.regimes),
            },
            "parents": [],
        }


def _regimes(values: list[str] | None) -> tuple[str, ...]:
    """Catalogued spellings (a store registered before manifests were checked may hold
    ``dppa``: the rules read ``DPPA``); an uncatalogued regime is kept as written."""
    return tuple(dict.fromkeys(canonical_regime(v) or v for v in values or ()))


def load_sources(store: Store) -> dict[str, SourceInfo]:
    """The registered sources (table ``sources`` of the core store)."""
    return {
        r.source_id: SourceInfo(r.source_id, (r.kind or "other").lower(),
                                (r.jurisdiction or "").upper(), _regimes(list(r.regimes)),
                                r.retention_days)
        for r in RegistryRepo(store).sources()
    }


def load_segments(store: Store, sources: dict[str, SourceInfo]) -> dict[str, SourceInfo]:
    """Every segment present: each source's own, plus one per other origin of its records.

    The origins are read from the current records (one scan of one mostly-NULL column;
    ~ms per million records, see docs/policy.md), so a segment exists exactly while
    records of it do: ingest and retention need not maintain anything.
    """
    out = {s.key: s for s in sources.values()}
    for sid, origin in sorted((s, o) for s, o in record_segments(store) if o is not None):
        base = sources.get(sid)
        if base is not None:
            seg = base.segment(origin)
            out[seg.key] = seg
    return out


def policy_folder(store: Store, settings: Settings | None = None) -> Path | None:
    """The deployment's policy folder: ``settings.policy_folder`` (``IDGRAPH_POLICY_DIR``,
    else ``<data dir>/policies``). Without settings, the store's own folder is the data
    dir; an in-memory store has none unless ``IDGRAPH_POLICY_DIR`` is set. A folder set
    explicitly must exist (a missing one is a misconfiguration, not "no policies")."""
    if settings is None:
        if store.data_dir is None:
            settings = Settings()
            if settings.policy_dir is None:
                return None
        else:
            settings = Settings(data_dir=store.data_dir)
    folder = settings.policy_folder
    if settings.policy_dir is not None and not folder.is_dir():
        raise FileNotFoundError(f"policy folder {folder} (IDGRAPH_POLICY_DIR) does not exist")
    return folder


_PRINCIPALS_MAX = 1024


class Registry:
    """Users, cases, legal process, sources and the policy set, read once."""

    def __init__(
        self, store: Store, *, settings: Settings | None = None, catalogue: Path | None = None
    ) -> None:
        """Load the deployment's policy set (see :func:`policy_folder`); a set that is not
        the one recorded is recorded and audited (``policy.change``) before any decision."""
        self.store = store
        self.policy_folder: Path | None = policy_folder(store, settings)
        self.policies: PolicyBundle = load_policies(self.policy_folder)
        self.catalogue: Catalogue = load_catalogue(catalogue)
        note_loaded(store, self.policies, self.policy_folder)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the registry tables."""
        self.users = {u.name: u for u in users_mod.list_users(self.store)}
        self.cases = {c.case_id: c for c in cases_mod.list_cases(self.store)}
        self.legal = {d.legal_id: d for d in legal_mod.list_legal(self.store)}
        # identity-scoped documents whose identities were merged or split since (legal.py)
        self.legal_reshaped = legal_mod.reshaped_scopes(self.store)
        # open requests whose identity was not merged or split since (policy/sar.py)
        self.sars = sar_mod.answering(self.store)
        self.sources = load_sources(self.store)
        # segment key -> segment; source id -> its segment keys (its own first)
        self.segments = load_segments(self.store, self.sources)
        self.segments_of: dict[str, tuple[str, ...]] = {}
        for seg in self.segments.values():
            self.segments_of[seg.source_id] = (*self.segments_of.get(seg.source_id, ()), seg.key)
        entities = ACTION_ENTITIES + [s.cedar() for s in self.segments.values()]
        self.entities = cedarpy.Entities.from_json_str(json.dumps(entities))
        # how Cedar is asked (policy/plan.py; None: three requests per segment), and per
        # segment the policies reading the source that can hold or error for it
        self.plan: Plan | None = plan_for(self.policies.text)
        self.segment_rules: dict[str, frozenset[str]] = (
            self.plan.segment_rules(self.entities, list(self.segments)) if self.plan else {}
        )
        # (principal + context, legal basis as it counts, source) -> Decision
        self.decision_cache: dict[tuple[str, str, str], Decision] = {}
        self._with_principal: dict[str, cedarpy.Entities] = {}

    def forget(self) -> None:
        """Drop every remembered decision and parsed principal (benchmarks measure a
        first-time query with this)."""
        self.decision_cache.clear()
        self._with_principal.clear()
        if self.plan is not None:
            self.plan.forget()

    def entities_with(self, principal: dict[str, object]) -> cedarpy.Entities:
        """The registry's entities plus ``principal`` (a User entity as Cedar JSON),
        parsed once per principal and attributes."""
        text = json.dumps([principal], sort_keys=True)
        found = self._with_principal.get(text)
        if found is None:
            if len(self._with_principal) >= _PRINCIPALS_MAX:
                self._with_principal.clear()
            found = self._with_principal[text] = self.entities.with_added_json_str(text)
        return found
