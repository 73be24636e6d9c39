"""The README's path for a new user, in a real browser: ``idgraph demo`` (a small
population) ends by serving the UI and printing a login per role; log in as the demo
investigator with the printed password, choose the purpose the demo names, search the
person its example search looked for, and open the first hit's profile.

The screenshot of the search (test-artifacts/web_readme_search.png) is the one the
README shows (docs/img/ui-search.png is a copy)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from web_fixtures import free_port, shot

IDGRAPH = str(Path(sys.executable).with_name("idgraph"))
LOGIN = re.compile(r"^\s+(demo_\w+)\s+([a-z2-7]{24})\s+(\w+) of (\S+)\s*$", re.M)
SEARCH = re.compile(r'^idgraph search "([^"]+)" --dob (\d{4}) --as (\S+) --purpose (\S+) '
                    r"--claims (\S+) --case (\S+)\s*$", re.M)


@dataclass
class Demo:
    url: str
    output: str
    logins: dict[str, str]
    name: str
    year: str
    purpose: str
    claims: list[str]
    case: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("demo")
    port = free_port()
    log = folder / "demo.log"
    env = {**os.environ, "COLUMNS": "200", "IDGRAPH_DATA_DIR": str(folder / "data")}
    with log.open("w") as out:
        proc = subprocess.Popen([IDGRAPH, "demo", "--people", "400", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 600
        text = ""
        while "Uvicorn running" not in text and "Application startup complete" not in text:
            assert proc.poll() is None, f"idgraph demo stopped:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "idgraph demo did not start serving"
            time.sleep(0.5)
            text = log.read_text()
        found = SEARCH.search(text)
        assert found, text[-3000:]
        logins = {m.group(1): m.group(2) for m in LOGIN.finditer(text)}
        yield Demo(f"http://127.0.0.1:{port}", text, logins, found.group(1), found.group(2),
                   found.group(4), found.group(5).split(","), found.group(6))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_demo_prints_a_login_for_each_role(demo: Demo) -> None:
    roles = {m.group(3) for m in LOGIN.finditer(demo.output)}
    assert roles == {"admin", "investigator", "supervisor", "records_officer", "counsel",
                     "overseer"}
    assert f"open {demo.url}/" in demo.output


def test_readme_path_to_a_logged_in_search(browser: Browser, demo: Demo) -> None:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(demo.url + "/")
    page.wait_for_url("**/login**")
    page.get_by_label("User name").fill("demo_det")
    page.get_by_label("Password").fill(demo.logins["demo_det"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/purpose**")
    page.get_by_label("Purpose", exact=True).select_option(demo.purpose)
    page.get_by_label("Case", exact=True).fill(demo.case)
    for code in demo.claims:
        page.locator(f"input[name='claims'][value='{code}']").check()
    page.get_by_role("button", name="Use this purpose").click()
    page.wait_for_load_state()
    assert "/purpose" not in page.url, page.content()[:2000]
    page.goto(demo.url + "/search")
    page.get_by_label("Name").fill(demo.name)
    page.get_by_label("Date of birth").fill(demo.year)
    page.get_by_role("button", name="Search").click()
    hits = page.locator(".hit")
    expect(hits.first).to_be_visible()
    surname = demo.name.split()[0]
    expect(hits.first).to_contain_text(surname)
    expect(page.locator(".purpose-banner")).to_contain_text(demo.case)
    shot(page, "readme_search", full_page=False)
    hits.first.get_by_role("link").first.click()
    page.wait_for_load_state()
    expect(page.locator("main")).to_contain_text(surname)
    shot(page, "readme_profile")
    assert not errors, errors
