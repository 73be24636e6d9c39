"""Red team, second pass: attacks through the CLI and the standalone tool that the first
pass (test_redteam_log.py) did not try.

Each case is an attack; the table says what must happen. The CLI and the tool answer
with one line (never a Python traceback, never a false OK).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from idgraph import clock
from idgraph.app import audit as app_audit
from idgraph.audit import AuditEntry, AuditLog, record
from idgraph.audit.export import export_log
from idgraph.audit.keys import (
    load_private_key,
    pending_path,
    public_hex,
    public_pem,
    stage_key,
)
from idgraph.audit.witness import Witness, WitnessRefused
from idgraph.cli import app
from idgraph.policy.registry import Registry
from idgraph.policy.users import add_user
from idgraph.store import open_store

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_audit.py"
runner = CliRunner()
USERS = [("root", "admin"), ("auditor", "overseer"), ("bob", "investigator")]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Users, the policy set and six entries, in a data dir the CLI opens."""
    d = tmp_path / "data"
    with open_store(d / "idgraph.duckdb") as store:
        for name, role in USERS:
            add_user(store, name, role, "agency", actor=None if name == "root" else "root")
        Registry(store)
        for i in range(6):
            record(store, AuditEntry(principal="p", action="search", outcome="ok", detail={"i": i}))
    return d


def cli(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["--data-dir", str(data_dir), *args], env=env or {})
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in text, text
    assert result.exception is None or isinstance(result.exception, SystemExit), text
    return result.exit_code, " ".join(text.split())


def entries(data_dir: Path) -> list[AuditEntry]:
    with open_store(data_dir / "idgraph.duckdb") as store:
        return [e.entry for e in AuditLog(store).entries()]


def tool(*args: str) -> tuple[int, str]:
    r = subprocess.run(
        [sys.executable, str(TOOL), *args], capture_output=True, text=True, check=False
    )
    assert "Traceback" not in r.stdout + r.stderr
    return r.returncode, r.stdout.strip()


# -- attacks --------------------------------------------------------------------------
def lock_held_too_long(d: Path, tmp: Path) -> tuple[int, str]:
    """A second process appends while another holds the database: it must fail in one
    line (DuckDB allows one writer), never a traceback, never a forked log."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', "
            "flush=True); time.sleep(6)",
            str(d / "idgraph.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        return cli(d, "audit", "checkpoint", "--as", "root",
                   env={"IDGRAPH_LOCK_WAIT_SECONDS": "0.5"})
    finally:
        holder.kill()
        holder.wait()


def lock_released_while_waiting(d: Path, tmp: Path) -> tuple[int, str]:
    """The second process waits for the first, then appends after it (no fork)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', "
            "flush=True); time.sleep(1.5)",
            str(d / "idgraph.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        start = time.monotonic()
        got = cli(d, "audit", "checkpoint", "--as", "root",
                  env={"IDGRAPH_LOCK_WAIT_SECONDS": "20"})
        assert time.monotonic() - start < 15
        return got
    finally:
        holder.wait()


def crash_after_rotation_commit(d: Path, tmp: Path) -> tuple[int, str]:
    """kill -9 after `rotate-key` committed but before the key file was replaced: the
    new key must not be lost (else the log can never sign again)."""
    with open_store(d / "idgraph.duckdb") as store:
        log = AuditLog(store, d)
        log.checkpoint()
        new = Ed25519PrivateKey.generate()

        def power_cut(*_: object) -> None:
            raise KeyboardInterrupt("power cut")

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(os, "replace", power_cut)  # the key file is never replaced
            with contextlib.suppress(KeyboardInterrupt):
                log.rotate_key(new, AuditEntry(principal="root", action="x", outcome="ok"))
        assert log.store.fetchall(  # the rotation committed
            "SELECT count(*) FROM audit_keys WHERE pubkey = ?", [public_hex(new.public_key())]
        ) == [(1,)]
    code, out = cli(d, "audit", "checkpoint", "--as", "root")
    key = load_private_key(path=d / "audit_ed25519.pem", create=False)
    assert public_hex(key.public_key()) == public_hex(new.public_key()), out
    assert not pending_path(d / "audit_ed25519.pem").exists()
    return code, out


def stale_staged_key(d: Path, tmp: Path) -> tuple[int, str]:
    """A staged key from a rotation that rolled back is not adopted (it was never
    handed over to) and is removed."""
    assert cli(d, "audit", "checkpoint", "--as", "root")[0] == 0
    before = (d / "audit_ed25519.pem").read_bytes()
    stage_key(d / "audit_ed25519.pem", Ed25519PrivateKey.generate(), None)
    got = cli(d, "audit", "checkpoint", "--as", "root")
    assert (d / "audit_ed25519.pem").read_bytes() == before
    assert not pending_path(d / "audit_ed25519.pem").exists()
    return got


def rotate_twice_then_verify(d: Path, tmp: Path) -> tuple[int, str]:
    """rotate-key twice in a row: the chain of rotations verifies from the first key."""
    assert cli(d, "audit", "checkpoint", "--as", "root")[0] == 0
    assert cli(d, "audit", "pubkey", "--out", str(tmp / "first.pem"))[0] == 0
    assert cli(d, "audit", "rotate-key", "--as", "root")[0] == 0
    assert cli(d, "audit", "rotate-key", "--as", "root")[0] == 0
    assert not pending_path(d / "audit_ed25519.pem").exists()
    mode = stat.S_IMODE((d / "audit_ed25519.pem").stat().st_mode)
    assert mode == 0o600, oct(mode)
    assert cli(d, "audit", "export", "--out", str(tmp / "e.jsonl"), "--as", "auditor")[0] == 0
    return tool(str(tmp / "e.jsonl"), "--pubkey", str(tmp / "first.pem"))


def db_rolled_back_before_rotation(d: Path, tmp: Path) -> tuple[int, str]:
    """rotate-key, then restore a copy of the database taken before the rotation (with
    the publication folder as it now is): the signer must refuse, not restart."""
    assert cli(d, "audit", "checkpoint", "--as", "root")[0] == 0
    backup = (d / "idgraph.duckdb").read_bytes()
    assert cli(d, "audit", "rotate-key", "--as", "root")[0] == 0
    (d / "idgraph.duckdb").write_bytes(backup)
    (d / "idgraph.duckdb.wal").unlink(missing_ok=True)
    return cli(d, "audit", "checkpoint", "--as", "root")


def two_witnesses_one_name(d: Path, tmp: Path) -> tuple[int, str]:
    """A second witness under the name of one that already cosigned: refused before it
    cosigns (its cosignature would be dropped silently and its state would advance)."""
    assert cli(d, "audit", "pubkey", "--out", str(tmp / "log.pem"))[0] == 0
    for w in ("wa", "wb"):
        args = ("--init", "--name", "w.example/same", "--log-key", str(tmp / "log.pem"))
        assert cli(d, "audit", "witness", "--state", str(tmp / w), *args)[0] == 0
    assert cli(d, "audit", "witness", "--state", str(tmp / "wa"))[0] == 0
    got = cli(d, "audit", "witness", "--state", str(tmp / "wb"))
    state = json.loads((tmp / "wb" / "witness.json").read_text())
    assert state["logs"] == {}, "the second witness cosigned what the log then dropped"
    return got


def witness_twice_same_checkpoint(d: Path, tmp: Path) -> tuple[int, str]:
    """The same witness run twice on one checkpoint: harmless, not a conflict."""
    assert cli(d, "audit", "pubkey", "--out", str(tmp / "log.pem"))[0] == 0
    args = ("--init", "--name", "w.example/w1", "--log-key", str(tmp / "log.pem"))
    assert cli(d, "audit", "witness", "--state", str(tmp / "w"), *args)[0] == 0
    assert cli(d, "audit", "witness", "--state", str(tmp / "w"))[0] == 0
    return cli(d, "audit", "witness", "--state", str(tmp / "w"))


def export_fails_half_way(d: Path, tmp: Path) -> tuple[int, str]:
    """An export killed or failing after writing part of the file: the read must still
    be in the log (before: its entry rolled back with the transaction, leaving entries
    on disk and no trace of who took them)."""
    def half(log: AuditLog, out: Path, **kw: object) -> object:
        out.write_text('{"type":"header"}\n')
        raise OSError(28, "No space left on device")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(app_audit, "export_log", half)  # the act is idgraph.app.audit's
        code, out = cli(d, "audit", "export", "--out", str(tmp / "e.jsonl"), "--as", "auditor")
    last = entries(d)[-1]
    assert (last.principal, last.action, last.detail.get("read")) == (
        "auditor", "audit.read", "export"), last
    return code, out


def export_world_readable(d: Path, tmp: Path) -> tuple[int, str]:
    """An export (who read whom) must not be readable by other local users, also when
    it overwrites a file that was."""
    out = tmp / "e.jsonl"
    out.write_text("")
    os.chmod(out, 0o644)
    got = cli(d, "audit", "export", "--out", str(out), "--as", "auditor")
    mode = stat.S_IMODE(out.stat().st_mode)
    assert mode == 0o600, oct(mode)
    return got


def kept_checkpoint_of_another_log(d: Path, tmp: Path) -> tuple[int, str]:
    """verify_audit.py with --checkpoint from another log (other key and origin)."""
    other = tmp / "other"
    other.mkdir()
    with open_store(other / "idgraph.duckdb") as store:
        log = AuditLog(store, other, origin="other.example/log")
        log.append(AuditEntry(principal="x", action="search", outcome="ok"))
        log.checkpoint()
    kept = next((other / "audit-publication" / "checkpoints").glob("00000000.txt"))
    assert cli(d, "audit", "pubkey", "--out", str(tmp / "log.pem"))[0] == 0
    assert cli(d, "audit", "export", "--out", str(tmp / "e.jsonl"), "--as", "auditor")[0] == 0
    return tool(str(tmp / "e.jsonl"), "--pubkey", str(tmp / "log.pem"), "--checkpoint", str(kept))


def proof_names_missing_checkpoint(d: Path, tmp: Path) -> tuple[int, str]:
    """An export whose entries are valid but whose proofs name a checkpoint id that
    does not exist."""
    assert cli(d, "audit", "pubkey", "--out", str(tmp / "log.pem"))[0] == 0
    assert cli(d, "audit", "export", "--out", str(tmp / "e.jsonl"), "--as", "auditor")[0] == 0
    rows = [json.loads(x) for x in (tmp / "e.jsonl").read_text().splitlines()]
    for r in rows:
        if r["type"] == "entry" and "proof" in r:
            r["proof"]["checkpoint"] = 4242
    (tmp / "e.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tool(str(tmp / "e.jsonl"), "--pubkey", str(tmp / "log.pem"))


Attack = Callable[[Path, Path], tuple[int, str]]
CASES: list[tuple[str, Attack, int, str]] = [
    # (name, attack, exit code, text in the one-line answer)
    ("lock held too long", lock_held_too_long, 1, "is in use by process"),
    ("lock released while waiting", lock_released_while_waiting, 0, '"format": "signed-note"'),
    ("crash after rotation commit", crash_after_rotation_commit, 0, '"format": "signed-note"'),
    ("stale staged key", stale_staged_key, 0, '"format": "signed-note"'),
    ("rotate twice, verify from first key", rotate_twice_then_verify, 0, "OK: "),
    ("db rolled back before rotation", db_rolled_back_before_rotation, 1, "not a key this log"),
    ("two witnesses, one name", two_witnesses_one_name, 1, "two witnesses share a name"),
    ("same witness twice", witness_twice_same_checkpoint, 0, '"witness": "w.example/w1"'),
    ("export fails half-way", export_fails_half_way, 1, "No space left"),
    ("export world-readable", export_world_readable, 0, "wrote"),
    ("kept checkpoint of another log", kept_checkpoint_of_another_log, 1, "FAIL: "),
    ("proof names a missing checkpoint", proof_names_missing_checkpoint, 1, "unknown checkpoint"),
]


@pytest.mark.parametrize(("name", "attack", "code", "text"), CASES, ids=[c[0] for c in CASES])
def test_attack(
    data_dir: Path, tmp_path: Path, name: str, attack: Attack, code: int, text: str
) -> None:
    got, out = attack(data_dir, tmp_path)
    assert got == code, f"{name}: {out}"
    assert text in out, f"{name}: {out}"


# -- entry times: zones, leap seconds, identical times ---------------------------------
TIMES = [
    # (time given, TZ of the server, canonical time in the leaf)
    (datetime(2030, 1, 1, 12, 0), "America/New_York", "2030-01-01T12:00:00+00:00"),
    (datetime(2030, 1, 1, 12, 0), "Asia/Kolkata", "2030-01-01T12:00:00+00:00"),
    (
        datetime(2030, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
        "UTC",
        "2030-01-01T12:00:00+00:00",
    ),
    (
        datetime(2030, 1, 1, 6, 30, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        "Europe/Paris",
        "2030-01-01T12:00:00+00:00",
    ),
]


@pytest.mark.parametrize(("given", "tz", "want"), TIMES)
def test_entry_time_is_utc_whatever_the_server_zone(
    monkeypatch: pytest.MonkeyPatch, given: datetime, tz: str, want: str
) -> None:
    """A naive time (``clock.now_naive()``: UTC) logged on a server in another zone must
    not be shifted by the zone's offset (which would also push every later entry's time
    forward: times never go backwards)."""
    monkeypatch.setenv("TZ", tz)
    time.tzset()
    try:
        e = AuditEntry(time=given, principal="x", action="search", outcome="ok")
        assert json.loads(e.canonical())["time"] == want
    finally:
        monkeypatch.undo()
        time.tzset()


def test_leap_second_and_identical_times(tmp_path: Path) -> None:
    """Identical times are fine (non-decreasing); a leap second is not an ISO time the
    entry model or the tool accepts: refused in one line, never a traceback."""
    with pytest.raises(ValueError):
        AuditEntry.model_validate_json(
            '{"time":"2016-12-31T23:59:60+00:00","principal":"x","action":"a","outcome":"ok"}'
        )
    d = tmp_path / "d"
    with open_store(d / "idgraph.duckdb") as store:
        log = AuditLog(store, d)
        t = datetime(2030, 1, 1, tzinfo=UTC)
        log.append_many(AuditEntry(time=t, principal=f"p{i}", action="a", outcome="ok")
                        for i in range(3))
        with clock.frozen(t):
            log.checkpoint()
        export_log(log, tmp_path / "e.jsonl")
        (tmp_path / "log.pem").write_text(public_pem(log.public_key))
    code, out = tool(str(tmp_path / "e.jsonl"), "--pubkey", str(tmp_path / "log.pem"))
    assert code == 0, out
    rows = [json.loads(x) for x in (tmp_path / "e.jsonl").read_text().splitlines()]
    for r in rows:
        if r["type"] == "entry" and r["index"] == 1:
            leap = "2016-12-31T23:59:60+00:00"
            r["entry"] = r["entry"].replace("2030-01-01T00:00:00+00:00", leap)
            r["leaf_hash"] = hashlib.sha256(b"\x00" + r["entry"].encode()).hexdigest()
    (tmp_path / "e.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out = tool(str(tmp_path / "e.jsonl"), "--pubkey", str(tmp_path / "log.pem"))
    assert code == 1 and out.startswith("FAIL: entry 1: time"), out


# -- the witness: equal-size fork, an older checkpoint ---------------------------------
def test_witness_refuses_fork_at_equal_size_and_older_checkpoint(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    w = Witness.init(tmp_path / "w", "w.example/1", [key.public_key()])
    t = datetime(2030, 1, 1, tzinfo=UTC)
    notes_by_size = {}
    for size, who in ((3, "a"), (5, "a"), (5, "forged"), (4, "a")):
        log = AuditLog(open_store(None), key=key, origin="agency.example/audit")
        log.append_many(
            AuditEntry(time=t, principal=who if i == 2 else "p", action="a", outcome="ok")
            for i in range(size)
        )
        with clock.frozen(t):
            notes_by_size[(size, who)] = (log.checkpoint().note or "", log)
    w.cosign(notes_by_size[(3, "a")][0], ())
    note5, log5 = notes_by_size[(5, "a")]
    w.cosign(note5, log5.consistency(3, 5).path)
    forged, _ = notes_by_size[(5, "forged")]
    with pytest.raises(WitnessRefused, match="not consistent"):  # same size, another root
        w.cosign(forged, ())
    older, _ = notes_by_size[(4, "a")]
    with pytest.raises(WitnessRefused, match="rollback"):
        w.cosign(older, ())
    seen = w.seen("agency.example/audit")
    assert seen is not None and seen.size == 5


def test_two_runs_of_one_witness_cannot_cosign_a_split_view(tmp_path: Path) -> None:
    """Two runs of the same witness at once (cron overlap, or an operator showing each
    run another fork), both started from the state at size 3: the second must see what
    the first cosigned and refuse its fork, not cosign from the old state."""
    key = Ed25519PrivateKey.generate()
    Witness.init(tmp_path / "w", "w.example/1", [key.public_key()])
    t = datetime(2030, 1, 1, tzinfo=UTC)
    logs = []
    for who in ("a", "b"):
        log = AuditLog(open_store(None), key=key, origin="agency.example/audit")
        log.append_many(
            AuditEntry(time=t, principal=who if i >= 3 else "p", action="a", outcome="ok")
            for i in range(5)
        )
        logs.append(log)
    first = Witness(tmp_path / "w")
    small = AuditLog(open_store(None), key=key, origin="agency.example/audit")
    small.append_many(AuditEntry(time=t, principal="p", action="a", outcome="ok") for _ in range(3))
    with clock.frozen(t):
        first.cosign(small.checkpoint().note or "", ())
    run_a, run_b = Witness(tmp_path / "w"), Witness(tmp_path / "w")  # both loaded at size 3
    with clock.frozen(t):
        fork_a, fork_b = logs[0].checkpoint(), logs[1].checkpoint()
    run_a.cosign(fork_a.note or "", logs[0].consistency(3, 5).path)
    with pytest.raises(WitnessRefused, match="not consistent"):
        run_b.cosign(fork_b.note or "", logs[1].consistency(3, 5).path)
    # a run that only adds a trusted key does not write back its old state either
    Witness(tmp_path / "w").trust_log_key(Ed25519PrivateKey.generate().public_key())
    seen = Witness(tmp_path / "w").seen("agency.example/audit")
    assert seen is not None and seen.size == 5 and seen.root == fork_a.root
