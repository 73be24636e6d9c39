"""Item 9: the signer refuses to sign a tree that does not extend the latest checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from audit_forge import rewrite, set_purpose, truncate
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from idgraph.audit import AuditEntry, AuditIntegrityError, AuditLog, record
from idgraph.audit.keys import AuditKeyError, public_hex
from idgraph.cli import app
from idgraph.policy.registry import Registry
from idgraph.policy.users import add_user
from idgraph.store import Store, open_store

T0 = datetime(2030, 3, 1, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()


def _read(i: int, purpose: str = "criminal_investigation") -> AuditEntry:
    return AuditEntry(
        time=T0 + timedelta(seconds=i),
        principal="inv1",
        action="profile.read",
        outcome="ok",
        purpose=purpose,
        identity_ids=(f"P-{i}",),
    )


def _log(data_dir: Path | None = None) -> tuple[Store, AuditLog]:
    store = open_store(None)
    log = AuditLog(store, data_dir, key=KEY)
    log.append_many([_read(i) for i in range(6)])
    log.checkpoint()
    log.append_many([_read(i) for i in range(6, 10)])
    return store, log


def _checkpoints(store: Store) -> int:
    return int(store.scalar("SELECT count(*) FROM audit_checkpoints"))


ATTACKS: list[tuple[str, Callable[[Store], None], str]] = [
    # (name, what the forger does to the database, what the refusal names)
    ("rewrite signed entry", lambda s: rewrite(s, 2, set_purpose("subject_access")), "[0, 6)"),
    ("rewrite first entry", lambda s: rewrite(s, 0, set_purpose("x")), "checkpoint 0"),
    ("roll back signed entries", lambda s: truncate(s, 4), "[4, 6) were removed"),
    (
        "forge leaf column only",
        lambda s: s.execute("UPDATE audit_log SET leaf_hash = ? WHERE seq = 7", ["00" * 32]),
        "entry 7",
    ),
]


@pytest.mark.parametrize(("name", "attack", "named"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_checkpoint_refuses_a_tree_that_does_not_extend_the_last(
    name: str, attack: Callable[[Store], None], named: str
) -> None:
    store, _ = _log()
    attack(store)
    with pytest.raises(AuditIntegrityError, match="refusing to sign") as err:
        AuditLog(store, key=KEY).checkpoint()  # a fresh process: no cached tree
    assert named in str(err.value)
    assert _checkpoints(store) == 1


def test_an_honest_log_still_checkpoints() -> None:
    store, log = _log()
    cp = log.checkpoint()
    assert cp.size == 10 and _checkpoints(store) == 2 and log.verify().ok


def test_deleting_checkpoint_rows_is_caught_by_the_publication_folder(tmp_path: Path) -> None:
    store, _ = _log(tmp_path)
    assert (tmp_path / "audit-publication" / "checkpoints" / "00000000.txt").exists()
    store.execute("DELETE FROM audit_checkpoints")
    rewrite(store, 2, set_purpose("subject_access"))
    with pytest.raises(AuditIntegrityError, match="published checkpoint 0"):
        AuditLog(store, tmp_path, key=KEY).checkpoint()


def test_a_swapped_key_file_is_refused() -> None:
    store, _ = _log()
    with pytest.raises(AuditKeyError, match="rotate-key"):
        AuditLog(store, key=Ed25519PrivateKey.generate()).checkpoint()


def test_a_checkpoint_by_a_key_the_log_never_recorded_is_refused() -> None:
    store, _ = _log()
    other = AuditLog(store, key=Ed25519PrivateKey.generate())
    store.execute("DELETE FROM audit_keys")  # as if the key table were forged
    for k in ("11" * 32, public_hex(other.public_key)):
        store.execute("INSERT INTO audit_keys VALUES (?, 'x', 0, NULL, 'now')", [k])
    with pytest.raises(AuditIntegrityError, match="never recorded"):
        other.checkpoint()


# -- the attack as reported: through the CLI ----------------------------------------
runner = CliRunner()


def _cli(data_dir: Path, *args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["--data-dir", str(data_dir), "audit", *args, "--as", "root"])
    return res.exit_code, res.output


def test_cli_checkpoint_refuses_after_a_rewrite_with_recomputed_hashes(tmp_path: Path) -> None:
    with open_store(tmp_path / "idgraph.duckdb") as store:
        add_user(store, "root", "admin", "agency")
        Registry(store)
        target = record(store, _read(0))
        for i in range(1, 4):
            record(store, _read(i))
    assert _cli(tmp_path, "checkpoint")[0] == 0
    with open_store(tmp_path / "idgraph.duckdb") as store:
        record(store, _read(5))
        rewrite(store, target, set_purpose("subject_access"))
        before = _checkpoints(store)
    code, out = _cli(tmp_path, "checkpoint")
    assert code == 1
    assert "differ from what checkpoint 0 signed" in " ".join(out.split())
    with open_store(tmp_path / "idgraph.duckdb") as store:
        assert _checkpoints(store) == before
        last = AuditLog(store).entries()[-1].entry
        assert (last.action, last.outcome) == ("audit.checkpoint", "refused")
