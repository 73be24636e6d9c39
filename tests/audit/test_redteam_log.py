"""Red team: the operator (database access, the signing key, the publication folder)
against the standalone verifier, the signer and the witness.

Each case is an attack. The verifier must fail it with a clear message (never a Python
traceback, never a false OK); the signer and the witness must refuse to extend a forged
tree; ``audit verify`` must name the problem.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from audit_forge import read_export, resign_export, set_entry_field, write_export
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from idgraph import clock
from idgraph.audit import AuditEntry, AuditIntegrityError, AuditLog, enable_auto_checkpoints
from idgraph.audit import note as notes
from idgraph.audit.export import export_log
from idgraph.audit.keys import AuditKeyError, load_private_key, public_hex, public_pem
from idgraph.audit.witness import Witness, WitnessRefused
from idgraph.store import open_store

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_audit.py"
KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()
ORIGIN = "agency.example/audit"
T0 = datetime(2030, 1, 1, tzinfo=UTC)

Lines = list[dict[str, Any]]


def _entry(i: int) -> AuditEntry:
    return AuditEntry(
        time=T0 + timedelta(seconds=10 * i),
        principal=f"inv{i}",
        action="profile.read",
        outcome="ok",
        purpose="criminal_investigation",
    )


def _log(folder: Path, origin: str = ORIGIN) -> AuditLog:
    return AuditLog(open_store(None), folder, key=KEY, origin=origin)


def _grow(log: AuditLog, start: int, stop: int) -> None:
    """Entries ``[start, stop)`` (ten seconds apart), then a checkpoint 5 s later."""
    log.append_many(_entry(i) for i in range(start, stop))
    with clock.frozen(T0 + timedelta(seconds=10 * (stop - 1) + 5)):
        log.checkpoint()


def _cosign(log: AuditLog, w: Witness) -> None:
    cp = log.latest_checkpoint()
    assert cp is not None and cp.note is not None
    seen = w.seen(log.origin)
    proof = log.consistency(seen.size, cp.size).path if seen is not None else ()
    log.add_cosignature(cp.id, w.name, w.cosign(cp.note, proof).line())


@dataclass(frozen=True)
class Setup:
    folder: Path
    log: AuditLog
    witness: Witness
    export: Path
    pem: Path
    kept: Path  # the published note of checkpoint 1 (size 9), as a mirror holds it

    def lines(self) -> Lines:
        return read_export(self.export)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    """12 entries, checkpoints at 4, 9 and 12 (each cosigned by a witness), exported."""
    folder = tmp_path_factory.mktemp("redteam")
    log = _log(folder / "log")
    w = Witness.init(folder / "witness", "witness.example/w1", [KEY.public_key()])
    for start, stop in ((0, 4), (4, 9), (9, 12)):
        _grow(log, start, stop)
        _cosign(log, w)
    export = folder / "export.jsonl"
    export_log(log, export, checkpoint=False)
    pem = folder / "pub.pem"
    pem.write_text(public_pem(KEY.public_key()))
    kept = folder / "log" / "audit-publication" / "checkpoints" / "00000001.txt"
    return Setup(folder, log, w, export, pem, kept)


def tool(path: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, str(TOOL), str(path), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


def _entry_line(lines: Lines, index: int) -> dict[str, Any]:
    return next(o for o in lines if o.get("type") == "entry" and o["index"] == index)


def _cp_line(lines: Lines, cid: int) -> dict[str, Any]:
    return next(o for o in lines if o.get("type") == "checkpoint" and o["id"] == cid)


def _text(lines: Lines) -> str:
    return "".join(json.dumps(o) + "\n" for o in lines)


# -- crafted exports ---------------------------------------------------------------------
def dup_header(lines: Lines) -> Lines:
    return [lines[0], *lines]


def second_header_later(lines: Lines) -> Lines:
    header = {**lines[0], "entries": 3}
    return [*lines[:2], header, *lines[2:]]


def missing_header(lines: Lines) -> Lines:
    return lines[1:]


def header_names_other_key(lines: Lines) -> Lines:
    lines[0]["pubkey"] = public_hex(OTHER.public_key())
    lines[0]["keys"] = {public_hex(OTHER.public_key()): {"since_size": 0, "until_size": None}}
    set_entry_field(lines, 2, "purpose", "civil_immigration_enforcement")
    return resign_export(lines, OTHER)


def header_pubkey_only(lines: Lines) -> Lines:
    lines[0]["pubkey"] = public_hex(OTHER.public_key())
    return lines


def other_origin_resigned(lines: Lines) -> Lines:
    set_entry_field(lines, 2, "purpose", "civil_immigration_enforcement")
    return resign_export(lines, KEY, origin="agency.example/audit-b")


def one_checkpoint_other_origin(lines: Lines) -> Lines:
    del lines[0]["origin"]
    cp = _cp_line(lines, 0)
    n = notes.sign("elsewhere.example/log", cp["size"], bytes.fromhex(cp["root"]), cp["time"], KEY)
    cp.update(note=n.text(), origin=n.origin, signature=n.signatures[0].data.hex())
    return lines


def non_json_line(lines: Lines) -> str:
    text = _text(lines).split("\n")
    return "\n".join([*text[:3], "this is not json", *text[3:]])


def json_array_line(lines: Lines) -> list[Any]:
    """A line that is JSON but not an object (an array)."""
    return [*lines[:3], [1, 2], *lines[3:]]


def blank_line(lines: Lines) -> str:
    text = _text(lines).split("\n")
    return "\n".join([*text[:3], "", *text[3:]])


def deeply_nested_line(lines: Lines) -> str:
    text = _text(lines).split("\n")
    return "\n".join([*text[:3], "[" * 100_000 + "]" * 100_000, *text[3:]])


def unknown_type(lines: Lines) -> Lines:
    return [*lines[:3], {"type": "note-to-self", "say": "trust me"}, *lines[3:]]


def checkpoint_after_entries(lines: Lines) -> Lines:
    cps = [o for o in lines if o["type"] == "checkpoint"]
    rest = [o for o in lines if o["type"] != "checkpoint"]
    return [*rest, *cps]


def entry_after_count(lines: Lines) -> Lines:
    extra = json.loads(json.dumps(_entry_line(lines, 11)))
    extra["index"] = 12
    extra.pop("proof", None)
    return [*lines, extra]


def duplicate_entry(lines: Lines) -> Lines:
    i = lines.index(_entry_line(lines, 5))
    return [*lines[: i + 1], lines[i], *lines[i + 1 :]]


def swapped_entries(lines: Lines) -> Lines:
    a, b = lines.index(_entry_line(lines, 5)), lines.index(_entry_line(lines, 6))
    lines[a], lines[b] = lines[b], lines[a]
    return lines


def proof_unknown_checkpoint(lines: Lines) -> Lines:
    _entry_line(lines, 3)["proof"]["checkpoint"] = 99
    return lines


def consistency_unknown_checkpoint(lines: Lines) -> Lines:
    next(o for o in lines if o["type"] == "consistency")["to"] = 99
    return lines


def note_not_text(lines: Lines) -> Lines:
    _cp_line(lines, 0)["note"] = 5
    return lines


def entry_not_text(lines: Lines) -> Lines:
    _entry_line(lines, 2)["entry"] = 5
    return lines


def index_not_number(lines: Lines) -> Lines:
    _entry_line(lines, 2)["index"] = "2"
    return lines


def huge_note_size(lines: Lines) -> Lines:
    cp = _cp_line(lines, 0)
    body = cp["note"].split("\n")
    body[1] = "9" * 5000
    cp["note"] = "\n".join(body)
    return lines


def huge_checkpoint_size(lines: Lines) -> Lines:
    cp = _cp_line(lines, 2)
    n = notes.sign(ORIGIN, 2**64, bytes.fromhex(cp["root"]), cp["time"], KEY)
    cp.update(size=2**64, note=n.text(), signature=n.signatures[0].data.hex())
    return lines


def huge_index(lines: Lines) -> Lines:
    _entry_line(lines, 4)["index"] = 10**40
    return lines


def size_root_mismatch(lines: Lines) -> Lines:
    _cp_line(lines, 1)["size"] = 8
    return lines


def unreadable_entry_time(lines: Lines) -> Lines:
    set_entry_field(lines, 7, "time", "yesterday")
    return resign_export(lines, KEY)


def naive_entry_time(lines: Lines) -> Lines:
    set_entry_field(lines, 7, "time", "2030-01-01T00:01:10")
    return resign_export(lines, KEY)


def entry_not_object(lines: Lines) -> Lines:
    _entry_line(lines, 7)["entry"] = "[1, 2, 3]"
    return resign_export(lines, KEY)


def backdated_into_signed_history(lines: Lines) -> Lines:
    # checkpoint 0 (size 4) was signed at T0+35s; entry 4 claims T0+32s: after entry 3
    # (T0+30s), so the entries alone look in order, but before checkpoint 0 existed.
    set_entry_field(lines, 4, "time", (T0 + timedelta(seconds=32)).isoformat())
    return resign_export(lines, KEY)


def dated_after_its_checkpoint(lines: Lines) -> Lines:
    # entry 3 claims T0+38s (before entry 4) though checkpoint 0 signed it at T0+35s.
    set_entry_field(lines, 3, "time", (T0 + timedelta(seconds=38)).isoformat())
    return resign_export(lines, KEY)


def rewrite_resigned(lines: Lines) -> Lines:
    set_entry_field(lines, 2, "purpose", "civil_immigration_enforcement")
    return resign_export(lines, KEY)


def negative_legacy_size(lines: Lines) -> Lines:
    cp = _cp_line(lines, 0)
    msg = f"idgraph-audit-checkpoint/v1\n-1\n{cp['root']}\n{cp['time']}\n".encode()
    cp.update(size=-1, note=None, format="v1", signature=KEY.sign(msg).hex())
    return lines


def header_entries_not_number(lines: Lines) -> Lines:
    lines[0]["entries"] = "twelve"
    return lines


PEM = "--pubkey={pem}"
TAIL = "--allow-unsigned-tail"
EXPORTS: list[tuple[str, Callable[[Lines], Lines | str], tuple[str, ...], str]] = [
    # (attack, crafted export, extra arguments, what the FAIL line must say)
    ("duplicate header", dup_header, (), "line 2: a second header"),
    ("second header later", second_header_later, (), "line 3: a second header"),
    ("missing header", missing_header, (), "line 1: not a header"),
    ("header names another key", header_names_other_key, (), "bad signature"),
    ("header alone names another key", header_pubkey_only, (), "header: names the log key"),
    ("another origin, re-signed", other_origin_resigned, ("--pubkey={vkey}",), "origin"),
    ("another origin vs kept", other_origin_resigned, ("--checkpoint={kept}",), "origin"),
    ("checkpoints of two origins", one_checkpoint_other_origin, (), "origin"),
    ("non-JSON line", non_json_line, (), "line 4: not JSON"),
    ("JSON array line", json_array_line, (), "line 4: not an export line"),
    ("blank line", blank_line, (), "line 4: not JSON"),
    ("deeply nested line", deeply_nested_line, (), "line 4: not JSON"),
    ("unknown line type", unknown_type, (), "line 4: not an export line"),
    ("checkpoint after entries", checkpoint_after_entries, (), "out of order"),
    ("entry after the declared count", entry_after_count, (), "after the 12 entries"),
    ("duplicate entry line", duplicate_entry, (), "entry 5: repeated or out of order"),
    ("swapped entry lines", swapped_entries, (), "entry 5: missing"),
    ("proof against unknown checkpoint", proof_unknown_checkpoint, (), "unknown checkpoint 99"),
    ("consistency unknown checkpoint", consistency_unknown_checkpoint, (), "unknown checkpoint"),
    ("note is not text", note_not_text, (), "checkpoint 0"),
    ("entry is not text", entry_not_text, (), "entry 2"),
    ("index is not a number", index_not_number, (), "not a valid index"),
    ("5000-digit tree size", huge_note_size, (), "bad tree size"),
    ("checkpoint size 2**64", huge_checkpoint_size, (), "checkpoint 2"),
    ("index 10**40", huge_index, (), "not a valid index"),
    ("size disagrees with note", size_root_mismatch, (), "disagree with its signed note"),
    ("unreadable entry time", unreadable_entry_time, (), "entry 7: time"),
    ("naive entry time", naive_entry_time, (), "entry 7: time"),
    ("entry is not an object", entry_not_object, (), "entry 7: time"),
    ("back-dated into signed history", backdated_into_signed_history, (), "back-dated"),
    ("dated after its checkpoint", dated_after_its_checkpoint, (), "after checkpoint 0"),
    ("rewrite re-signed vs witness", rewrite_resigned, ("--witness-key={wkey}",), "witness"),
    ("rewrite re-signed vs kept", rewrite_resigned, ("--checkpoint={kept}",), "rewrite"),
    ("negative legacy size", negative_legacy_size, (), "checkpoint 0"),
    ("header entries not a number", header_entries_not_number, (), "header"),
]


def _args(setup: Setup, args: tuple[str, ...]) -> list[str]:
    fill = {
        "pem": str(setup.pem),
        "vkey": notes.vkey(ORIGIN, KEY.public_key()),
        "wkey": setup.witness.vkey(),
        "kept": str(setup.kept),
    }
    out = [a.format(**fill) for a in args]
    if not any(a.startswith("--pubkey") for a in out):
        out.append(PEM.format(**fill))
    return out


@pytest.mark.parametrize(("name", "craft", "args", "message"), EXPORTS, ids=[c[0] for c in EXPORTS])
def test_crafted_export_fails_clearly(
    setup: Setup,
    tmp_path: Path,
    name: str,
    craft: Callable[[Lines], Lines | str],
    args: tuple[str, ...],
    message: str,
) -> None:
    crafted = craft(setup.lines())
    path = tmp_path / "crafted.jsonl"
    if isinstance(crafted, str):
        path.write_text(crafted)
    else:
        write_export(path, crafted)
    code, output = tool(path, *_args(setup, args))
    assert "Traceback" not in output, output
    assert code == 1, output
    assert output.startswith("FAIL:") and message in output, output


def test_honest_export_still_verifies(setup: Setup) -> None:
    code, output = tool(
        setup.export,
        *_args(setup, ("--pubkey={vkey}", "--checkpoint={kept}", "--witness-key={wkey}")),
    )
    assert code == 0, output
    assert output.startswith("OK: 12 entries, 3 checkpoints, 1 kept")


def test_unknown_signature_lines_are_ignored(setup: Setup, tmp_path: Path) -> None:
    """C2SP: a verifier ignores signatures by keys it does not know; they add nothing."""
    lines = setup.lines()
    cp = _cp_line(lines, 1)
    cp["note"] = cp["note"] + notes.Signature("other.example/x", b"\0" * 4, b"\1" * 64).line()
    code, output = tool(write_export(tmp_path / "e.jsonl", lines), *_args(setup, ()))
    assert code == 0, output


def test_no_pubkey_is_not_ok(setup: Setup, tmp_path: Path) -> None:
    """Without a key obtained independently, the tool cannot tell the operator's re-signed
    rewrite from the log: it must not say OK (it used to trust the header's key)."""
    forged = write_export(tmp_path / "e.jsonl", header_names_other_key(setup.lines()))
    for path in (setup.export, forged):
        code, output = tool(path)
        assert code == 1 and "Traceback" not in output, output
        assert "no --pubkey" in output


@pytest.mark.parametrize(
    ("name", "write", "message"),
    [
        ("missing file", None, "cannot read"),
        ("empty file", "", "not JSON"),
        ("binary file", "\udcff\udcfe", "not UTF-8"),
    ],
)
def test_unreadable_input_fails_clearly(
    tmp_path: Path, name: str, write: str | None, message: str
) -> None:
    path = tmp_path / "in.jsonl"
    if write is not None:
        path.write_bytes(write.encode("utf-8", "surrogateescape"))
    code, output = tool(path, "--pubkey", public_hex(KEY.public_key()))
    assert code == 1 and "Traceback" not in output, output
    assert output.startswith("FAIL:") and message in output, output


def test_missing_kept_checkpoint_file_fails_clearly(setup: Setup, tmp_path: Path) -> None:
    code, output = tool(setup.export, *_args(setup, ()), "--checkpoint", str(tmp_path / "nope"))
    assert code == 1 and "Traceback" not in output and "cannot read" in output, output


def test_kept_checkpoint_of_size_zero_with_a_wrong_root(setup: Setup, tmp_path: Path) -> None:
    kept = tmp_path / "zero.txt"
    kept.write_text(notes.sign(ORIGIN, 0, b"\7" * 32, T0.isoformat(), KEY).text())
    code, output = tool(setup.export, *_args(setup, ()), "--checkpoint", str(kept))
    assert code == 1 and "empty tree" in output, output


def test_report_checkpoint_by_another_key(setup: Setup, tmp_path: Path) -> None:
    """A report whose proofs are against a checkpoint the kept key did not sign."""
    proof = setup.log.prove(2)
    forged = notes.sign(ORIGIN, proof.checkpoint.size, proof.checkpoint.root, T0.isoformat(), OTHER)
    cp = {**proof.checkpoint.to_json(), "note": forged.text(), "time": T0.isoformat()}
    report = {
        "identity_id": "P-1",
        "disclosures": [{"index": 2, "proof": {**proof.to_json(), "checkpoint": cp}}],
        "checkpoint": cp,
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report, indent=2))
    code, output = tool(path, *_args(setup, ()))
    assert code == 1 and "Traceback" not in output and "bad signature" in output, output


# -- the witness: one history per log key ------------------------------------------------
def test_witness_refuses_a_second_history_under_another_origin(tmp_path: Path) -> None:
    """Fork: the operator shows the witness its real log, then a rewritten one under a new
    origin (same key). A fresh origin used to look like a new log to the witness."""
    real = _log(tmp_path / "a")
    w = Witness.init(tmp_path / "w", "witness.example/w1", [KEY.public_key()])
    _grow(real, 0, 6)
    _cosign(real, w)
    fork = _log(tmp_path / "b", origin="agency.example/audit-b")
    fork.append_many(_entry(i) for i in range(6))
    cp = fork.checkpoint()
    assert cp.note is not None
    with pytest.raises(WitnessRefused, match=r"key of log agency\.example/audit;.*fork"):
        w.cosign(cp.note, ())


# -- the signer and `audit verify` against edits of the database and the folder ---------
def _malform(field: str, value: str) -> Callable[[AuditLog], None]:
    def go(log: AuditLog) -> None:
        log.store.execute(f"UPDATE audit_checkpoints SET {field} = ? WHERE id = 0", [value])

    return go


def _bad_cosignature(log: AuditLog) -> None:
    log.store.execute(
        "INSERT INTO audit_cosignatures VALUES (1, 'x', 'not a signature line', 'now')"
    )


ROWS: list[tuple[str, Callable[[AuditLog], None]]] = [
    ("root not hex", _malform("root", "zz")),
    ("signature not hex", _malform("signature", "zz")),
    ("note not a note", _malform("note", "garbage")),
    ("time not a time", _malform("time", "garbage")),
    ("cosignature line garbage", _bad_cosignature),
    ("pubkey column swapped", _malform("pubkey", public_hex(OTHER.public_key()))),
]


@pytest.mark.parametrize(("name", "edit"), ROWS, ids=[r[0] for r in ROWS])
def test_edited_checkpoint_rows_are_named(
    tmp_path: Path, name: str, edit: Callable[[AuditLog], None]
) -> None:
    log = _log(tmp_path)
    _grow(log, 0, 4)
    _grow(log, 4, 9)
    edit(log)
    result = log.verify(KEY.public_key())
    assert not result.ok
    assert result.first_bad_checkpoint in (0, 1), result.summary()
    with pytest.raises(AuditIntegrityError, match=r"checkpoint [01]"):
        log.checkpoint()


def test_garbage_in_the_publication_folder_is_refused_not_a_crash(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _grow(log, 0, 4)
    (tmp_path / "audit-publication" / "checkpoints" / "00000007.txt").write_text("garbage")
    with pytest.raises(AuditIntegrityError, match="published checkpoint 7"):
        log.checkpoint()
    auto = enable_auto_checkpoints(log.store, log, every_entries=1, every_seconds=0)
    log.append(_entry(4))  # appending never fails because signing does
    assert auto.last_error is not None and "published checkpoint 7" in auto.last_error


def test_deleted_checkpoint_rows_are_detected(tmp_path: Path) -> None:
    """The DBA deletes every checkpoint row: the folder still holds them. The signer used
    to sign a new checkpoint 0 (never published: the file 00000000.txt existed)."""
    log = _log(tmp_path)
    _grow(log, 0, 4)
    _grow(log, 4, 9)
    log.store.execute("DELETE FROM audit_checkpoints")
    result = log.verify(KEY.public_key())
    assert not result.ok and "checkpoint.published" in result.summary(), result.summary()
    with pytest.raises(AuditIntegrityError, match=r"checkpoint 1 .*deleted"):
        log.checkpoint()


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE audit_head SET size = 2",
        "UPDATE audit_head SET chain = 'zz'",
        "UPDATE audit_head SET last_time = 'yesterday'",
    ],
)
def test_edited_head_row_is_named(tmp_path: Path, edit: str) -> None:
    log = _log(tmp_path)
    _grow(log, 0, 4)
    log.store.execute(edit)
    with pytest.raises(AuditIntegrityError, match="audit_head"):
        log.append(_entry(4))


def test_key_path_that_is_not_a_file(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.mkdir()
    with pytest.raises(AuditKeyError):
        load_private_key(path=path, create=False)


# -- key rotation: only the holder of the old key hands over -------------------------------
EVIL = Ed25519PrivateKey.generate()


def test_a_rotation_row_written_without_the_old_key_does_not_count(tmp_path: Path) -> None:
    """The DBA (no signing key) appends an ``audit.key_rotate`` row handing over to its own
    key, just before an automatic checkpoint signs it, then signs what follows with its
    key. Trust used to follow any rotation entry inside a tree the old key signed."""
    log = _log(tmp_path)
    _grow(log, 0, 4)
    kh, eh = public_hex(KEY.public_key()), public_hex(EVIL.public_key())
    forged = AuditEntry(
        time=T0 + timedelta(seconds=40),
        principal="dba",
        action="audit.key_rotate",
        outcome="ok",
        detail={"origin": ORIGIN, "old_pubkey": kh, "new_pubkey": eh},
    )
    log.append(forged)
    log.checkpoint()  # the honest signer signs size 5 = r + 1
    log.append_many(_entry(i) for i in range(5, 8))
    n = notes.sign(ORIGIN, 8, log.root(8), (T0 + timedelta(seconds=100)).isoformat(), EVIL)
    log.store.execute(
        "INSERT INTO audit_checkpoints (id, size, root, time, signature, pubkey, note, origin) "
        "VALUES (2, 8, ?, ?, ?, ?, ?, ?)",
        [n.root.hex(), n.time, n.signatures[0].data.hex(), eh, n.text(), ORIGIN],
    )
    result = log.verify(KEY.public_key())
    assert not result.ok and result.first_bad_checkpoint == 2, result.summary()
    assert result.first_bad_index == 4 and "rotation" in result.summary(), result.summary()
    out = export_log(log, tmp_path / "e.jsonl", checkpoint=False).path
    code, output = tool(out, "--pubkey", kh)
    assert code == 1 and "entry 4: a key rotation not signed by both keys" in output, output


def test_a_real_rotation_is_followed_from_either_key(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _grow(log, 0, 4)
    new = Ed25519PrivateKey.generate()
    log.rotate_key(
        new, AuditEntry(time=T0 + timedelta(seconds=40), principal="root", action="x", outcome="ok")
    )
    _grow(log, 6, 9)
    out = export_log(log, tmp_path / "e.jsonl", checkpoint=False).path
    for key in (KEY, new):
        assert log.verify(key.public_key()).ok
        code, output = tool(out, "--pubkey", public_hex(key.public_key()))
        assert code == 0, output


# -- the witness's own state ---------------------------------------------------------------
def _witnessed(tmp_path: Path) -> tuple[AuditLog, Witness, Path]:
    log = _log(tmp_path / "log")
    w = Witness.init(tmp_path / "w", "witness.example/w1", [KEY.public_key()])
    _grow(log, 0, 6)
    _cosign(log, w)
    return log, w, tmp_path / "w" / "witness.json"


def _state_rollback(state: dict[str, Any]) -> None:
    """Make the witness forget how far it cosigned (so a rewrite of entries 2..5 passes)."""
    state["logs"][ORIGIN]["size"] = 2


def _state_forget(state: dict[str, Any]) -> None:
    del state["logs"][ORIGIN]


def _state_garbage(state: dict[str, Any]) -> None:
    state["logs"] = "gone"


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        ("size rolled back", _state_rollback, "state file was edited"),
        ("log forgotten", _state_forget, "state file was edited"),
        ("garbage", _state_garbage, "not a readable witness state"),
    ],
)
def test_an_edited_witness_state_is_refused(
    tmp_path: Path, name: str, edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    log, _, path = _witnessed(tmp_path)
    state = json.loads(path.read_text())
    edit(state)
    path.write_text(json.dumps(state))
    log.append_many(_entry(i) for i in range(6, 8))
    cp = log.checkpoint()
    assert cp.note is not None
    with pytest.raises(WitnessRefused, match=message):
        w = Witness(path.parent)
        w.cosign(cp.note, log.consistency(2, cp.size).path)


# -- `audit prove` must not believe the key a checkpoint row names ------------------------
def test_prove_does_not_trust_the_key_named_by_the_row(tmp_path: Path) -> None:
    """The DBA rewrites an entry and adds a checkpoint row signed by its own key, naming
    that key in the row's ``pubkey`` column: `audit prove` used to verify the proof with
    the key the row names, and said "verified"."""
    from audit_forge import rewrite, set_purpose
    from typer.testing import CliRunner

    from idgraph.cli import app
    from idgraph.policy.registry import Registry
    from idgraph.policy.users import add_user

    with open_store(tmp_path / "idgraph.duckdb") as store:
        add_user(store, "root", "admin", "agency", actor=None)
        add_user(store, "auditor", "overseer", "agency", actor="root")
        Registry(store)
        log = AuditLog(store, tmp_path)
        log.append_many(_entry(i) for i in range(4))
        log.checkpoint()
        target = log.size() - 2
        rewrite(store, target, set_purpose("civil_immigration_enforcement"))
        forged = AuditLog(store, key=EVIL)
        size = forged.size()
        n = notes.sign(log.origin, size, forged.root(size), "2031-01-01T00:00:00+00:00", EVIL)
        store.execute(
            "INSERT INTO audit_checkpoints (id, size, root, time, signature, pubkey, note, "
            "origin) VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
            [
                size,
                n.root.hex(),
                n.time,
                n.signatures[0].data.hex(),
                public_hex(EVIL.public_key()),
                n.text(),
                log.origin,
            ],
        )
    result = CliRunner().invoke(
        app,
        ["--data-dir", str(tmp_path), "audit", "prove", str(target), "--json"],
        env={"IDGRAPH_USER": "auditor"},
    )
    assert result.exit_code == 1, result.output
    assert '"verified": false' in result.output


def test_a_checkpoint_is_never_dated_before_the_previous_one(tmp_path: Path) -> None:
    """The operator sets the clock back and edits the head's last time: the new checkpoint
    used to be signed with the earlier time (a back-dated tree head)."""
    log = _log(tmp_path)
    _grow(log, 0, 4)  # signed at T0 + 35 s
    log.append(_entry(4))
    log.store.execute(
        "UPDATE audit_head SET last_time = ?", [(T0 - timedelta(days=365)).isoformat()]
    )
    with clock.frozen(T0 - timedelta(days=365)):
        cp = log.checkpoint()
    assert datetime.fromisoformat(cp.time) >= T0 + timedelta(seconds=40)
    assert log.verify(KEY.public_key()).ok


def test_witness_run_against_a_truncated_log_is_refused_not_a_crash(tmp_path: Path) -> None:
    """The witness cosigned size 6; the DBA truncates the log to 3 entries and runs the
    witness again: the log cannot prove consistency (it used to crash with a traceback)."""
    from audit_forge import truncate
    from typer.testing import CliRunner

    from idgraph.cli import app

    with open_store(tmp_path / "idgraph.duckdb") as store:
        log = AuditLog(store, tmp_path)
        log.append_many(_entry(i) for i in range(6))
        log.checkpoint()
        Witness.init(tmp_path / "w", "witness.example/w1", [log.public_key])
    args = ["--data-dir", str(tmp_path), "audit", "witness", "--state", str(tmp_path / "w")]
    assert CliRunner().invoke(app, args).exit_code == 0  # the witness saw size 6
    with open_store(tmp_path / "idgraph.duckdb") as store:
        truncate(store, 3)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "entries were removed" in result.output, result.output


def test_a_swapped_key_file_with_a_forged_key_table_is_refused(tmp_path: Path) -> None:
    """The DBA adds its own key to ``audit_keys`` and swaps the key file: the signer used to
    sign with it, since the table (which anyone with the database edits) named it."""
    log = _log(tmp_path)
    _grow(log, 0, 4)
    log.store.execute(
        "INSERT INTO audit_keys VALUES (?, ?, 0, NULL, 'now')",
        [public_hex(EVIL.public_key()), ORIGIN],
    )
    log.append(_entry(4))
    with pytest.raises(AuditKeyError, match="handed over"):
        AuditLog(log.store, tmp_path, key=EVIL, origin=ORIGIN).checkpoint()


def test_an_edited_head_does_not_stop_automatic_checkpoints(tmp_path: Path) -> None:
    """The DBA sets the head's checkpoint size far ahead: appends then never looked due."""
    log = _log(tmp_path)
    _grow(log, 0, 4)
    auto = enable_auto_checkpoints(log.store, log, every_entries=3, every_seconds=0)
    log.store.execute("UPDATE audit_head SET cp_size = 1000000")
    log.append(_entry(4))
    assert auto.last_error is None
    latest = log.latest_checkpoint()
    assert latest is not None and latest.size == 5


def test_deleted_head_with_a_garbage_last_entry_still_verifies(tmp_path: Path) -> None:
    """The head row is a cache rebuilt from the log; a last row that is not an entry used
    to make the rebuild (and so every command, `audit verify` too) crash."""
    store = open_store(tmp_path / "idgraph.duckdb")
    log = AuditLog(store, tmp_path, key=KEY, origin=ORIGIN)
    _grow(log, 0, 4)
    store.execute("UPDATE audit_log SET entry = 'not an entry' WHERE seq = 3")
    store.execute("DELETE FROM audit_head")
    store.close()
    with open_store(tmp_path / "idgraph.duckdb") as again:
        result = AuditLog(again, tmp_path, key=KEY, origin=ORIGIN).verify(KEY.public_key())
    assert not result.ok and result.first_bad_index == 3, result.summary()
