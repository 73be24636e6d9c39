"""Item 11: signed-note checkpoints, automatic checkpoints, the publication folder,
witnesses, key rotation, and a signing key outside the data dir behind a passphrase."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from idgraph import clock
from idgraph.audit import AuditEntry, AuditIntegrityError, AuditLog, enable_auto_checkpoints
from idgraph.audit import note as notes
from idgraph.audit.keys import AuditKeyError, load_private_key, public_pem
from idgraph.audit.publish import write_once
from idgraph.audit.witness import Witness, WitnessRefused
from idgraph.cli import app
from idgraph.policy.registry import Registry
from idgraph.policy.users import add_user
from idgraph.store import open_store

KEY = Ed25519PrivateKey.generate()
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _entry(i: int, who: str = "inv") -> AuditEntry:
    return AuditEntry(
        time=T0 + timedelta(seconds=i), principal=f"{who}{i}", action="profile.read", outcome="ok"
    )


def _log(n: int, folder: Path | None = None, forge: int | None = None) -> AuditLog:
    log = AuditLog(open_store(None), folder, key=KEY, origin="agency.example/audit")
    log.append_many([_entry(i, "intruder" if i == forge else "inv") for i in range(n)])
    return log


# -- the signed-note format ------------------------------------------------------------
def test_checkpoint_is_a_c2sp_signed_note() -> None:
    cp = _log(5).checkpoint()
    assert cp.note is not None
    body, sigs = cp.note.split("\n\n")
    origin, size, root, time = body.split("\n")
    assert (origin, int(size), base64.b64decode(root)) == ("agency.example/audit", 5, cp.root)
    assert time.startswith("time 2030-01-01T00:00:04")
    (line,) = sigs.strip().split("\n")
    dash, name, b64 = line.split(" ")
    assert (dash, name) == ("\u2014", "agency.example/audit")
    raw = KEY.public_key().public_bytes_raw()
    want = hashlib.sha256(name.encode() + b"\n\x01" + raw).digest()[:4]
    data = base64.b64decode(b64)
    assert data[:4] == want
    KEY.public_key().verify(data[4:], (body + "\n").encode())


def test_several_signatures_and_cosignature_v1() -> None:
    n = notes.parse(_log(3).checkpoint().note or "")
    wkey = Ed25519PrivateKey.generate()
    both = notes.parse(n.with_signature(notes.cosign(n, "w.example/1", wkey, T0)).text())
    assert len(both.signatures) == 2 and both.signed_by(n.origin, KEY.public_key())
    assert both.cosigned_by("w.example/1", wkey.public_key()) == int(T0.timestamp())
    assert both.cosigned_by("w.example/1", KEY.public_key()) is None


def test_verifier_keys_round_trip() -> None:
    for _ in range(20):  # base64 key material often holds '+'
        key = Ed25519PrivateKey.generate().public_key()
        name, kind, back = notes.parse_vkey(notes.vkey("w.example/1", key, notes.COSIGNATURE_V1))
        assert (name, kind, back) == ("w.example/1", notes.COSIGNATURE_V1, key)


# -- automatic checkpoints and publication -------------------------------------------
def test_checkpoints_every_n_entries_and_published(tmp_path: Path) -> None:
    log = AuditLog(open_store(None), tmp_path, key=KEY)
    enable_auto_checkpoints(log.store, log, every_entries=5, every_seconds=0)
    for i in range(12):
        log.append(_entry(i))
    assert [cp.size for cp in log.checkpoints()] == [5, 10]
    folder = tmp_path / "audit-publication"
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == [
        "00000000.txt",
        "00000001.txt",
    ]
    assert len(list((folder / "keys").glob("*.vkey"))) == 1
    with pytest.raises(AuditIntegrityError, match="append-only"):
        write_once(folder / "checkpoints" / "00000000.txt", "something else")


def test_checkpoints_every_m_seconds() -> None:
    with clock.frozen(T0):
        log = AuditLog(open_store(None), key=KEY)
        enable_auto_checkpoints(log.store, log, every_entries=0, every_seconds=60)
        log.append(_entry(0))
        assert log.checkpoints() == []
    with clock.frozen(T0 + timedelta(seconds=61)):
        log.append(_entry(1))
    assert [cp.size for cp in log.checkpoints()] == [2]


def test_auto_checkpoint_refusal_does_not_block_appends() -> None:
    log = _log(4)
    log.checkpoint()
    log.store.execute("UPDATE audit_log SET entry = replace(entry, 'inv1', 'xxx1') WHERE seq = 1")
    log.store.execute("UPDATE audit_log SET leaf_hash = sha256('\\x00'::BLOB || encode(entry))")
    auto = enable_auto_checkpoints(log.store, log, every_entries=1, every_seconds=0)
    log.append(_entry(9))
    assert log.size() == 5 and len(log.checkpoints()) == 1
    assert auto.last_error is not None and "refusing to sign" in auto.last_error


# -- witnesses -------------------------------------------------------------------------
def test_witness_cosigns_only_consistent_checkpoints(tmp_path: Path) -> None:
    w = Witness.init(tmp_path / "w", "w.example/1", [KEY.public_key()])
    log = _log(5)
    first = log.checkpoint()
    w.cosign(first.note or "", ())
    log.append_many([_entry(i) for i in range(5, 9)])
    second = log.checkpoint()
    w.cosign(second.note or "", log.consistency(5, 9).path)
    assert w.seen("agency.example/audit") is not None

    forged = _log(12, forge=2)  # the operator re-signs another history with its own key
    cp = forged.checkpoint()
    with pytest.raises(WitnessRefused, match="not consistent"):
        w.cosign(cp.note or "", forged.consistency(9, 12).path)
    short = _log(7).checkpoint()
    with pytest.raises(WitnessRefused, match="rollback"):
        w.cosign(short.note or "", ())
    stranger = AuditLog(
        open_store(None), key=Ed25519PrivateKey.generate(), origin="agency.example/audit"
    )
    stranger.append(_entry(0))
    with pytest.raises(WitnessRefused, match="not signed by a log key I trust"):
        w.cosign(stranger.checkpoint().note or "", ())


runner = CliRunner()


def _cli(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    res = runner.invoke(app, ["--data-dir", str(data_dir), "audit", *args], env=env)
    return res.exit_code, res.output


def _data(d: Path) -> None:
    with open_store(d / "idgraph.duckdb") as store:
        add_user(store, "root", "admin", "agency")
        Registry(store)
        AuditLog(store).append_many([_entry(i) for i in range(5)])


def test_cli_witness_refuses_a_rewrite_the_operator_re_signed(tmp_path: Path) -> None:
    _data(tmp_path)
    assert _cli(tmp_path, "checkpoint", "--as", "root")[0] == 0
    pem = tmp_path / "log.pem"
    assert _cli(tmp_path, "pubkey", "--out", str(pem))[0] == 0
    state = tmp_path / "witness-state"
    code, vkey = _cli(tmp_path, "witness", "--state", str(state), "--init", "--log-key", str(pem))
    assert code == 0 and vkey.startswith("witness.local/w1+")
    code, out = _cli(tmp_path, "witness", "--state", str(state))
    assert code == 0, out
    pub = tmp_path / "audit-publication"
    assert list((pub / "checkpoints").glob("*.witness.local_w1.txt"))
    # The operator rewrites entry 1, drops its checkpoints and publication, re-signs.
    with open_store(tmp_path / "idgraph.duckdb") as store:
        store.execute("UPDATE audit_log SET entry = replace(entry, 'inv1', 'xxx1')")
        store.execute("UPDATE audit_log SET leaf_hash = sha256('\\x00'::BLOB || encode(entry))")
        store.execute("DELETE FROM audit_checkpoints")
    for p in sorted(pub.rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    assert _cli(tmp_path, "checkpoint", "--as", "root")[0] == 0
    code, out = _cli(tmp_path, "witness", "--state", str(state))
    assert code == 1 and "not consistent" in " ".join(out.split())


# -- key rotation and the key's home ---------------------------------------------------
def test_rotation_is_logged_and_verifies_from_either_key(tmp_path: Path) -> None:
    log = _log(4, tmp_path)
    log.checkpoint()
    new = Ed25519PrivateKey.generate()
    handover, cross = log.rotate_key(new, AuditEntry(principal="root", action="x", outcome="ok"))
    rotate = log.entries()[handover.size - 1].entry
    assert rotate.action == "audit.key_rotate"
    assert rotate.detail["old_pubkey"] == handover.pubkey != cross.pubkey
    assert rotate.detail["new_pubkey"] == cross.pubkey
    log.append(_entry(10))
    log.checkpoint()
    assert log.verify(KEY.public_key()).ok, log.verify(KEY.public_key()).problems
    assert log.verify(new.public_key()).ok
    # the old key can no longer sign, here or in a forged row
    old = AuditLog(log.store, key=KEY, origin=log.origin)
    with pytest.raises(AuditKeyError, match="rotated out"):
        old.checkpoint()
    n = notes.sign(log.origin, log.size(), log.root(), "2031-01-01T00:00:00+00:00", KEY)
    log.store.execute(
        "INSERT INTO audit_checkpoints VALUES (99, ?, ?, ?, ?, ?, ?, ?)",
        [
            n.size,
            n.root.hex(),
            n.time,
            n.signatures[0].data.hex(),
            handover.pubkey,
            n.text(),
            log.origin,
        ],
    )
    kinds = {p.kind for p in log.verify(KEY.public_key()).problems}
    assert "checkpoint.key" in kinds


def test_key_outside_data_dir_with_passphrase(tmp_path: Path) -> None:
    data, keys = tmp_path / "data", tmp_path / "vault"
    _data(data)
    env = {
        "IDGRAPH_AUDIT_KEY_PATH": str(keys / "audit.pem"),
        "IDGRAPH_AUDIT_KEY_PASSPHRASE": "correct horse",
    }
    code, out = _cli(data, "checkpoint", "--as", "root", env=env)
    assert code == 0, out
    assert not (data / "audit_ed25519.pem").exists()
    pem = (keys / "audit.pem").read_bytes()
    assert b"ENCRYPTED" in pem and b"correct horse" not in pem
    with pytest.raises(AuditKeyError, match="passphrase"):
        load_private_key(path=keys / "audit.pem")
    code, out = _cli(data, "rotate-key", "--as", "root", env=env)
    assert code == 0, out
    new = load_private_key(path=keys / "audit.pem", passphrase=b"correct horse")
    assert public_pem(new.public_key()) != public_pem(KEY.public_key())
    code, out = _cli(data, "verify", "--as", "root", env=env)
    assert code == 0 and "correct horse" not in out
