"""Both reports render in headless Chromium; screenshots go to test-artifacts/.

Skips only when no Chromium binary is installed (Debian package: ``chromium``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from reports_fixtures import ARTIFACTS, AT, END, START, THRESHOLDS, build

from idgraph.audit.reports import oversight_report, subject_report, write

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


# In CI (CI=true) chromium is installed by scripts/test.sh, so a missing browser fails.
@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="chromium is not installed (apt-get install chromium)",
)
def test_reports_render_in_chromium(tmp_path: Path) -> None:
    store, log = build()
    pages = {
        "report_subject": subject_report(store, "P-ALICE", log=log, actor="rec", at=AT),
        "report_oversight": oversight_report(
            store, start=START, end=END, actor="ovs", thresholds=THRESHOLDS, at=AT
        ),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, report in pages.items():
        page = write(report, tmp_path / f"{name}.html")
        shot = ARTIFACTS / f"{name}.png"
        shot.unlink(missing_ok=True)
        res = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri())
        assert res.returncode == 0, res.stderr[-2000:]
        assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        dom = _chromium(tmp_path, "--dump-dom", page.as_uri())
        assert dom.returncode == 0, dom.stderr[-2000:]
        assert "<svg" in dom.stdout or name == "report_subject"
        assert "<h1>" in dom.stdout and "</footer>" in dom.stdout
