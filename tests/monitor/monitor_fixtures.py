"""Fixtures of the watch and alert tests (synthetic data only).

The policy tests' world (sources, two organisations' users, open cases), one identity
``I1`` with a court record, and helpers that place a new record into it and tell the
listeners, as a feed does after its commit (``events.record_joined``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "policy"))

from policy_fixtures import add_record, add_verified, link, new_store, seed

__all__ = ["add_record"]

from idgraph import clock
from idgraph.app.context import Caller, Env
from idgraph.cases import open_case
from idgraph.monitor import alerts, events
from idgraph.policy.users import add_user
from idgraph.settings import Settings

TODAY = date(2026, 6, 1)  # every test runs on this day (clock.frozen)
IMM = "civil_immigration_enforcement"
CI = "criminal_investigation"
FED = {"level": "federal", "court": "S.D.N.Y.", "judge": "J. Roe",
       "judge_appointment": "article_iii"}
IDENTITY = "I1"


def make_env(tmp: Path) -> Env:
    store = new_store()
    with clock.frozen(TODAY - timedelta(days=30)):
        seed(store)
        add_user(store, "acmesup", "supervisor", "acme", org_type="private", actor="root")
        # a second agency (deconfliction is between agencies)
        add_user(store, "det", "investigator", "nypd", org_type="government", actor="root")
        add_user(store, "nysup", "supervisor", "nypd", org_type="government", actor="root")
        open_case(store, "N1", title="robbery", kind="criminal", actor="det")
        first = add_record(store, "court", "c1", first_name="ANA", last_name="ROE")
        link(store, IDENTITY, [first], [])
    return Env(store=store, settings=Settings(data_dir=tmp))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with clock.frozen(TODAY):
        environment = make_env(tmp_path)
        alerts.install()
        try:
            yield environment
        finally:
            alerts.uninstall()
            alerts.DISPATCHER.flush(environment.store)
            environment.close()


def warrant(env: Env, *, expires: date | None = None, number: str = "W-1") -> str:
    """A verified Article III judicial warrant of ice for case IM1."""
    with clock.frozen(TODAY - timedelta(days=10)):
        lid = add_verified(env.store, type="judicial_warrant", number=number,
                           issued=TODAY - timedelta(days=10), expires=expires, case_id="IM1",
                           **FED)
    env.refresh()
    return lid


_N = [0]


def join(env: Env, source: str, identity: str = IDENTITY, **values: Any) -> str:
    """Place a new record of ``source`` into ``identity`` and tell the listeners."""
    _N[0] += 1
    rid = add_record(env.store, source, f"n{_N[0]}", first_name="ANA", last_name="ROE",
                     **values)
    env.store.execute("INSERT INTO identity_members VALUES (?, ?)", [identity, rid])
    events.record_joined(env, [events.RecordJoined(
        rid, identity, source, None, "b-feed", "new", datetime.now(UTC))])
    return rid


def entries(env: Env, action: str | None = None) -> list[dict[str, Any]]:
    rows = env.store.fetchall("SELECT entry FROM audit_log ORDER BY seq")
    out = [json.loads(r[0]) for r in rows]
    return [e for e in out if action is None or e["action"] == action]


def notices(env: Env) -> int:
    return int(env.store.scalar("SELECT count(*) FROM notices") or 0)


def caller(name: str) -> Caller:
    return Caller(name, via="api")
