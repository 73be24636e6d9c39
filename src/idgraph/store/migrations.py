"""Versioned schema migrations: numbered SQL files, applied in order, recorded in
``schema_version``.

``migrations/NNNN_name.sql`` holds the statements of version NNNN, written once for both
backends (see :mod:`idgraph.store.base`). :func:`upgrade` applies every version the
database has not recorded, each in one transaction with its ``schema_version`` row, under
the store's ``schema`` lock (processes opening one PostgreSQL database at once queue;
one applies, the others find it applied). ``idgraph db upgrade`` runs it; opening a
store runs it too unless ``IDGRAPH_DATABASE_AUTO_UPGRADE=false`` (docs/deploy.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from idgraph import clock
from idgraph.store.base import Dialect, Store

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_VERSION_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
    "name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    # (dialect the statement is for, or None for both; the statement)
    statements: tuple[tuple[Dialect | None, str], ...]

    def for_dialect(self, dialect: Dialect) -> tuple[str, ...]:
        return tuple(sql for only, sql in self.statements if only in (None, dialect))


_ONLY = re.compile(r"^\s*--\s*@(duckdb|postgres)\s*$")


def _split(sql: str) -> tuple[tuple[Dialect | None, str], ...]:
    """Statements of a migration file: ``;`` ends a statement (not inside ``$$ ... $$``),
    ``--`` starts a comment line, and a ``-- @postgres`` (``-- @duckdb``) line makes the
    statement after it apply to that backend only."""
    out: list[tuple[Dialect | None, str]] = []
    only: Dialect | None = None
    buf: list[str] = []
    quoted = False
    for line in sql.splitlines():
        marker = _ONLY.match(line)
        if marker and not quoted:
            only = "postgres" if marker[1] == "postgres" else "duckdb"
            continue
        if line.lstrip().startswith("--") and not quoted:
            continue
        quoted ^= line.count("$$") % 2 == 1
        buf.append(line)
        if not quoted and line.rstrip().endswith(";"):
            text = "\n".join(buf).strip().rstrip(";").strip()
            if text:
                out.append((only, text))
            buf, only = [], None
    rest = "\n".join(buf).strip()
    if rest:
        out.append((only, rest))
    return tuple(out)


def migrations() -> tuple[Migration, ...]:
    """Every migration shipped with idgraph, oldest first."""
    found: list[Migration] = []
    for item in resources.files("idgraph.store").joinpath("migrations").iterdir():
        m = _FILE.match(item.name)
        if m:
            found.append(Migration(int(m[1]), m[2], _split(item.read_text("utf-8"))))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps: {versions}")
    return tuple(found)


def latest() -> int:
    """The schema version this release expects."""
    return migrations()[-1].version


def applied(store: Store) -> list[int]:
    """Versions recorded in ``store`` (empty for a database no migration has touched)."""
    if not store.has_table("schema_version"):
        return []
    return [int(r[0]) for r in store.fetchall(
        "SELECT version FROM schema_version ORDER BY version")]


def upgrade(store: Store) -> list[int]:
    """Apply the migrations ``store`` lacks; return the versions applied now."""
    done: list[int] = []
    for mig in migrations():
        with store.transaction():
            store.lock("schema")
            store.execute(_VERSION_DDL)
            if store.fetchone("SELECT 1 FROM schema_version WHERE version = ?",
                              [mig.version]):
                continue
            for stmt in mig.for_dialect(store.dialect):
                store.ddl(stmt)
            store.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                [mig.version, mig.name, clock.now_naive()])
            done.append(mig.version)
    newer = [v for v in applied(store) if v > latest()]
    if newer:
        raise RuntimeError(
            f"the database has schema version {max(newer)}, newer than this release's "
            f"{latest()}: upgrade idgraph")
    return done


__all__ = ["Migration", "applied", "latest", "migrations", "upgrade"]
