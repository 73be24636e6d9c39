"""Every setting is documented in docs/settings.md, and the env prefix works."""

from __future__ import annotations

from pathlib import Path

import pytest

from idgraph.settings import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_setting_is_documented(name: str) -> None:
    text = DOC.read_text()
    assert f"| `{name}` | `IDGRAPH_{name.upper()}` |" in text


def test_env_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IDGRAPH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("IDGRAPH_THREADS", "1")
    s = Settings()
    assert s.data_dir == tmp_path and s.threads == 1
    assert s.db_path == tmp_path / "idgraph.duckdb"
