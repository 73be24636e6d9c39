"""Several processes on one PostgreSQL database: what one changes, the others' cached
policy registry sees from their next read on (the registry generation, migration 2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from idgraph.app import admin
from idgraph.app import cases as app_cases
from idgraph.app.context import Caller, Env
from idgraph.settings import Settings
from idgraph.store import migrations
from pgdb import fresh_database

ROOT = Caller("root", via="cli")


@pytest.fixture
def two_envs(tmp_path: Path) -> Iterator[tuple[Env, Env]]:
    with fresh_database() as url:
        settings = Settings(data_dir=tmp_path, database_url=url, threads=1,
                            memory_limit="1GB")
        a, b = Env.open(settings), Env.open(settings)  # two workers' stores
        try:
            admin.add_user(a, ROOT, "root", "admin", "ops", org_type="government")
            yield a, b
        finally:
            a.close()
            b.close()


def test_a_user_disabled_by_one_worker_is_disabled_in_the_other(two_envs: tuple[Env, Env]
                                                                  ) -> None:
    a, b = two_envs
    admin.add_user(a, ROOT, "det", "investigator", "nypd", org_type="government")
    assert not b.registry().users["det"].disabled  # b has read (cached) the registry
    admin.disable_user(a, ROOT, "det")
    assert b.registry().users["det"].disabled


def test_a_case_closed_by_one_worker_is_closed_in_the_other(two_envs: tuple[Env, Env]
                                                             ) -> None:
    a, b = two_envs
    admin.add_user(a, ROOT, "det", "investigator", "nypd", org_type="government")
    a.refresh()
    app_cases.open_case(a, Caller("det"), "C-1", title="t", kind="criminal")
    assert b.registry().cases["C-1"].status == "open"
    app_cases.close_case(a, Caller("det"), "C-1")
    assert b.registry().cases["C-1"].status != "open"


def test_the_generation_moves_only_when_the_change_commits(two_envs: tuple[Env, Env]) -> None:
    a, b = two_envs
    before = b.store.fetchone("SELECT generation FROM registry_generation WHERE id = 0")
    with a.store.transaction():
        a.store.execute("UPDATE users SET org = 'x' WHERE name = 'root'")
        assert b.store.fetchone(
            "SELECT generation FROM registry_generation WHERE id = 0") == before
    after = b.store.fetchone("SELECT generation FROM registry_generation WHERE id = 0")
    assert after is not None and before is not None and after[0] > before[0]


def test_both_backends_are_at_the_latest_version(two_envs: tuple[Env, Env]) -> None:
    a, _ = two_envs
    assert migrations.applied(a.store) == list(range(1, migrations.latest() + 1))
