"""Plumbing every command group shares: settings, the store, the console."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import duckdb
import psycopg
import psycopg_pool
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from idgraph.audit.integrity import AuditIntegrityError
from idgraph.audit.setup import attach as attach_audit
from idgraph.policy.cedar import PolicySetError
from idgraph.search.index import SearchIndexError
from idgraph.settings import Settings
from idgraph.store import Store, open_store

console = Console()
err_console = Console(stderr=True)


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the root callback put on the context."""
    root = ctx.find_root()
    obj = root.obj
    if not isinstance(obj, Settings):
        obj = data_dir_settings(None)
        root.obj = obj
    return obj


# C0 and C1 control characters (but tab and newline), DEL, and the bidirectional
# overrides and line separators that reorder or break what a terminal shows.
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` safe to print: an ESC sequence, a carriage return, a bell or a bidi
    override in a file name or a value is shown as ``\\x1b``/``\\u202e``, never acted on
    by the terminal (a file named ``x\\x1b[2J.csv`` cannot clear the screen)."""
    return _UNPRINTABLE.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
        else f"\\u{ord(m.group()):04x}", text)


def describe(exc: BaseException) -> str:
    """One line for an error the user can fix (a file, a folder, the policy set)."""
    if isinstance(exc, PolicySetError):
        return f"the deployment's policy set does not load: {exc}"
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc) or type(exc).__name__


# Raised from anywhere in a command, these are the user's to fix, not a crash: a file or
# folder that is missing or unreadable, a policy set that does not load, an audit log
# whose tables were edited (appending to it is refused, naming what is wrong).
USER_ERRORS: tuple[type[Exception], ...] = (
    PolicySetError, OSError, AuditIntegrityError, SearchIndexError)


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.*?)\s*\(PID (\d+)\)")
_PROGRESS_EVERY = 5.0  # seconds between "still waiting" lines


def lock_holder(message: str) -> tuple[int | None, str]:
    """The process that holds the store, from DuckDB's lock error: ``(PID, program)``;
    ``(None, "")`` when the message does not say."""
    m = _LOCK_HOLDER.search(message)
    if m is None:
        pid = re.search(r"\bPID (\d+)", message)
        return (int(pid.group(1)) if pid else None), ""
    return int(m.group(2)), m.group(1).strip()


def _holder_text(message: str) -> str:
    pid, program = lock_holder(message)
    if pid is None:
        return "another process"
    return f"process {pid}" + (f" ({os.path.basename(program)})" if program else "")


def lock_wait_seconds() -> float:
    """``IDGRAPH_LOCK_WAIT_SECONDS`` (default 30; 0 fails at once). A value that is no
    number of seconds (``abc``, ``-1``, ``nan``) ends the command saying so: read silently
    as 30 it would wait when the user asked it not to."""
    text = os.environ.get("IDGRAPH_LOCK_WAIT_SECONDS", "30")
    try:
        wait = float(text)
    except ValueError:
        wait = -1.0
    if not wait >= 0:  # negatives and NaN
        raise fail(f"IDGRAPH_LOCK_WAIT_SECONDS={text!r} is not a number of seconds (0 or "
                   "more); nothing was done")
    return wait


def redacted_url(url: str) -> str:
    """A database URL without its password (``postgresql://user:***@host/db``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))


def store_name(s: Settings) -> str:
    """What the store of ``s`` is, for a message: the DuckDB file, or the PostgreSQL URL
    without its password."""
    if s.database_url is not None:
        return redacted_url(s.database_url.get_secret_value())
    return str(s.db_path)


def open_waiting(s: Settings, *, upgrade: bool | None = None) -> Store:
    """Open the store; while another process holds it (DuckDB allows one writer per
    file), wait up to ``IDGRAPH_LOCK_WAIT_SECONDS`` (default 30) saying so on stderr,
    then end the command with one line naming the process that holds it: two processes
    never append to the log at once (no fork, no duplicate index), and the second never
    fails with a traceback. ``upgrade`` overrides ``database_auto_upgrade`` (``idgraph
    db`` opens without applying migrations). A PostgreSQL database that cannot be reached
    ends the command in one line too."""
    if s.database_url is not None:
        return _open_postgres(s, s.database_auto_upgrade if upgrade is None else upgrade)
    wait = lock_wait_seconds()
    start = time.monotonic()
    next_note = start
    while True:
        try:
            return open_store(s.db_target, threads=s.threads, memory_limit=s.memory_limit,
                              data_dir=s.data_dir,
                              upgrade=s.database_auto_upgrade if upgrade is None else upgrade,
                              pool_size=s.database_pool_size)
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" not in text.lower():
                raise fail(f"cannot open the store {s.db_path}: {text.splitlines()[0]}") from None
            holder = _holder_text(text)
            now = time.monotonic()
            if now - start >= wait:
                raise fail(
                    f"the store {s.db_path} is in use by {holder}; nothing was done, retry "
                    f"(waited {wait:g} s; IDGRAPH_LOCK_WAIT_SECONDS sets how long)"
                ) from None
            if now >= next_note:
                first = next_note == start
                err_console.print(
                    f"{'waiting' if first else 'still waiting'} for the store: in use by "
                    f"{holder} ({now - start:.0f} s of {wait:g} s)",
                    soft_wrap=True, markup=False, highlight=False,
                )
                next_note = now + _PROGRESS_EVERY
            time.sleep(0.2)
        except duckdb.Error as exc:
            first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise fail(f"cannot open the store {s.db_path}: {first_line}") from None
        except RuntimeError as exc:  # a store newer than this release
            if "schema version" not in str(exc):
                raise
            raise fail(f"cannot open the store {s.db_path}: {exc}") from None
        except OSError as exc:  # the data dir is a file, or cannot be created
            folder = s.db_path.parent
            if folder.exists() and not folder.is_dir():
                raise fail(f"cannot open the store {s.db_path}: the data dir {folder} "
                           "is a file, not a folder") from None
            raise fail(f"cannot open the store {s.db_path}: {describe(exc)}") from None


def _open_postgres(s: Settings, upgrade: bool) -> Store:
    """Open the PostgreSQL store of ``s`` (several processes share it: no waiting). A
    database that refuses the connection is named at once, with the server's reason (the
    pool alone would retry for 30 s and log every attempt)."""
    url = s.database_url.get_secret_value() if s.database_url is not None else ""
    try:
        with psycopg.connect(url, connect_timeout=10):
            pass
    except psycopg.Error as exc:
        reason = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
        raise fail(f"cannot open the database {store_name(s)}: "
                   f"{reason or type(exc).__name__}") from None
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    try:
        return open_store(s.db_target, threads=s.threads, memory_limit=s.memory_limit,
                          data_dir=s.data_dir, upgrade=upgrade, pool_size=s.database_pool_size)
    except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise fail(f"cannot open the database {store_name(s)}: {first_line}") from None
    except RuntimeError as exc:  # a database newer than this release
        if "schema version" not in str(exc):
            raise
        raise fail(f"cannot open the database {store_name(s)}: {exc}") from None


@contextmanager
def store_of(ctx: typer.Context) -> Iterator[Store]:
    """Open the store in the data dir for the length of one command; errors in
    :data:`USER_ERRORS` end the command with a one-line message (exit 1)."""
    s = settings_of(ctx)
    store = open_waiting(s)
    try:
        attach_audit(store, s)  # automatic signed checkpoints on append (docs/audit.md)
        yield store
    except USER_ERRORS as exc:
        raise fail(describe(exc)) from exc
    finally:
        store.close()


def progress() -> Progress:
    """The progress bar every long job shows."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )


DENIED = 3  # exit status of every refusal by the policy layer (a read or an act)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error and return the Exit to raise."""
    # the message quotes what the user typed: "[/x]" is text, not Rich markup
    # one line whatever the terminal's width (a script reads it line by line)
    err_console.print(f"[red]error:[/red] {escape(printable(message))}", soft_wrap=True)
    return typer.Exit(code)


DataDirOption = typer.Option(
    None, "--data-dir", envvar="IDGRAPH_DATA_DIR", help="Data folder (default ./idgraph-data)."
)


def data_dir_settings(data_dir: Path | None) -> Settings:
    """Settings from the environment; a variable that does not validate ends the command
    with one line naming it (``IDGRAPH_INGEST_WORKERS='abc': ...``), not a traceback."""
    try:
        return Settings(data_dir=data_dir) if data_dir is not None else Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "IDGRAPH_" + "_".join(str(p) for p in err["loc"]).upper()
        shown = err.get("input")
        raise fail(f"{name}={shown!r}: {err['msg']}") from None
