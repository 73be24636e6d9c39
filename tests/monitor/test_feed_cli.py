"""``idgraph feed token|watch|status``: a feed token printed once; a watched folder's
files pushed, moved to done/ (or failed/ with the receipt naming the bad lines)."""

from __future__ import annotations

import json
from pathlib import Path

from feed_fixtures import backend_environ, booking, lines, linked_env
from typer.testing import CliRunner

from idgraph.cli import app

runner = CliRunner()


ENVIRON: dict[str, str] = {}


def run(data: Path, *args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["--data-dir", str(data), *args], env=ENVIRON)
    return res.exit_code, res.output


def test_feed_token_watch_and_status(tmp_path: Path) -> None:
    e = linked_env(tmp_path)
    data = e.settings.data_dir
    ENVIRON.clear()
    ENVIRON.update(backend_environ(e.settings))
    e.close()
    code, out = run(data, "feed", "token", "bookings", "--as", "root", "--days", "2")
    assert code == 0 and out.strip().splitlines()[-1].startswith("idgf_")
    code, out = run(data, "feed", "token", "bookings", "--as", "gov")
    assert code == 3  # denied by the policy layer
    code, out = run(data, "feed", "token", "bookings", "--as", "root")
    token_id = out.strip().splitlines()[-1].split("_")[1]
    code, out = run(data, "feed", "revoke", token_id, "--as", "root")
    assert code == 0 and token_id in out
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "a.jsonl").write_bytes(lines(booking("W1"), booking("W2", "MARIA", "GARCIA")))
    (drop / "b.jsonl").write_bytes(lines(booking("W3", "AL", "BO"), "{broken"))
    (drop / "c.jsonl.part").write_bytes(b"still being written")
    code, out = run(data, "feed", "watch", "bookings", str(drop), "--once", "--settle", "0")
    assert code == 0, out
    assert (drop / "done" / "a.jsonl").exists() and (drop / "failed" / "b.jsonl").exists()
    assert (drop / "c.jsonl.part").exists()
    receipt = json.loads((drop / "failed" / "b.jsonl.receipt.json").read_text())
    assert [(x["line"], x["status"]) for x in receipt["lines"]] == [
        (1, "stored"), (2, "quarantined")]
    # the same file dropped again is stored no second time
    (drop / "a.jsonl").write_bytes(lines(booking("W1"), booking("W2", "MARIA", "GARCIA")))
    code, out = run(data, "feed", "watch", "bookings", str(drop), "--once", "--settle", "0")
    assert code == 0 and (drop / "done" / "a.1.jsonl").exists()
    again = json.loads((drop / "done" / "a.1.jsonl.receipt.json").read_text())
    assert [x["status"] for x in again["lines"]] == ["duplicate", "duplicate"]
    code, out = run(data, "feed", "status", "bookings", "--json")
    assert code == 0, out
    st = json.loads(out)
    assert st["stored"] == 3 and st["duplicate"] == 2 and st["quarantined"] == 1
