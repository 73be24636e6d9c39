"""Who asks (:class:`Caller`) and what every act runs against (:class:`Env`).

The shells (``cli/``, ``api/``, ``web/``) authenticate the user and build a
:class:`Caller`; they open one :class:`Env` (the store, the settings, the policy
registry) and pass both to the functions of :mod:`idgraph.app`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from idgraph.app.errors import Invalid
from idgraph.audit.setup import attach as attach_audit
from idgraph.policy.registry import Registry
from idgraph.schema import Query
from idgraph.settings import Settings
from idgraph.store import Store, open_store
from idgraph.store.registry import RegistryRepo

VIAS = ("cli", "api", "web")


@dataclass(frozen=True, slots=True)
class Caller:
    """The user an act is done for, and the context of their reads."""

    actor: str  # user name (authenticated by the shell)
    purpose: str | None = None  # activity purpose (reads)
    claims: tuple[str, ...] = ()  # DPPA/GLBA/FCRA codes
    basis: str | None = None  # registered legal-process id
    case_id: str | None = None
    via: str = "cli"  # "cli" | "api" | "web": written into the audit detail
    token_id: str | None = None  # the API token the caller authenticated with (audited)

    def query(self) -> Query:
        """The :class:`~idgraph.schema.Query` a read carries; a read needs a purpose."""
        if self.purpose is None or not self.purpose.strip():
            raise Invalid("a purpose is required for this read", field="purpose")
        return Query(
            principal=self.actor,
            purpose=self.purpose,
            claims=tuple(self.claims),
            basis=self.basis,
            case_id=self.case_id,
        )


@dataclass
class Env:
    """What every act needs besides the caller: the store and the settings, and the
    policy registry read from them (cached)."""

    store: Store
    settings: Settings
    _registry: Registry | None = field(default=None, repr=False, compare=False)
    _seen: tuple[int, int] | None = field(default=None, repr=False, compare=False)

    def registry(self) -> Registry:
        """The policy registry (users, cases, legal process, sources, policy set), read
        once and kept; :meth:`refresh` re-reads the tables after an act changed them,
        :meth:`reload` builds it anew (after ``policy.install``).

        On PostgreSQL other processes change the tables too: each call reads the
        registry's generation (one row, moved by triggers in the changing transaction)
        first and re-reads the tables when it moved since they were read (anew when a
        policy set was recorded), so a user disabled or a case closed through one worker
        counts in every worker from the next request on."""
        if self.store.dialect == "postgres":
            seen = RegistryRepo(self.store).registry_generation()
            if self._registry is not None and seen != self._seen:
                if self._seen is None or seen[1] != self._seen[1]:
                    self._registry = None
                else:
                    self._registry.refresh()
            self._seen = seen
        if self._registry is None:
            self._registry = Registry(self.store, settings=self.settings)
        return self._registry

    def refresh(self) -> None:
        """Re-read the registry tables (users, cases, legal process, requests, sources)
        after an act changed them; the policy set is kept."""
        if self._registry is not None:
            self._registry.refresh()

    def reload(self) -> None:
        """Forget the registry: the next :meth:`registry` loads the policy set anew."""
        self._registry = None

    @classmethod
    def open(cls, settings: Settings) -> Env:
        """Open the store in ``settings.data_dir`` with the deployment's audit log
        attached (automatic signed checkpoints on append)."""
        store = open_store(
            settings.db_target, threads=settings.threads, memory_limit=settings.memory_limit,
            data_dir=settings.data_dir, upgrade=settings.database_auto_upgrade,
            pool_size=settings.database_pool_size,
        )
        try:
            attach_audit(store, settings)
        except BaseException:
            store.close()
            raise
        return cls(store=store, settings=settings)

    def close(self) -> None:
        """Close the store."""
        self._registry = None
        self.store.close()


__all__ = ["VIAS", "Caller", "Env"]
