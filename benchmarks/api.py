"""REST API under load: searches and profiles from 50 concurrent users, then the audit log.

    python benchmarks/api.py --data DIR [--users 50] [--seconds 60] [--spawn-rate 25]
        [--database-url postgresql://... --workers N]

On the store in ``DIR`` (built by ``idgraph synth`` + ``ingest`` + ``resolve`` +
``index rebuild``): makes a benchmark investigator with an API token and a case (acting
as the store's first admin, or making ``bench_admin`` when there are no users), samples
people to look for (surname + first name, birth year) and identities to open, then

1. starts ``idgraph serve`` in a process of its own on a free port of 127.0.0.1;
2. runs locust headless in a second process: ``--users`` users, each looping a search
   (70 %) or a profile (30 %) with no wait, for ``--seconds`` (≤ 120);
3. stops the server and prints throughput, p50/p99 latency and errors (locust's own
   statistics), then runs ``audit verify`` and checks that the audit entries the
   benchmark user caused equal the responses locust counted;
4. makes the same reads in-process, in one thread, for ``--inproc-seconds``: the same
   sampled people and identities, the same 70/30 mix, each an ``app.reads.search`` /
   ``app.reads.profile`` call (and its ``to_dict()``) as the benchmark user's token
   acts (its ``Caller`` made once, by ``auth.token_caller``); printed beside the HTTP
   figures with their ratio (HTTP / in-process), so that what the API adds (the token
   check, FastAPI, uvicorn, the HTTP client, and at many users the queue for the lock)
   shows side by side with what the read itself costs.

Every app call in the server holds its process's env lock (one connection: see
docs/api.md), so one worker serves one reader at a time; latency at 50 users is mostly
queueing for that lock. With ``--database-url`` the store is that PostgreSQL database
(``DIR`` still holds its keys and search index) and ``--workers N`` serves it from N
processes (``idgraph serve --workers N``); ``benchmarks/api_load_pg.py`` runs both
backends side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx

from idgraph.app import admin, auth, reads
from idgraph.app import cases as app_cases
from idgraph.app.audit import audit_verify, log_of
from idgraph.app.context import Caller, Env
from idgraph.policy.users import list_users
from idgraph.settings import Settings

BENCH_USER = "bench_det"
BENCH_ADMIN = "bench_admin"
ORG = "bench-pd"
CASE = "BENCH-1"
PURPOSE = "criminal_investigation"
CLAIMS = "DPPA-b1,GLBA-e8"
SAMPLE = 500

LOCUSTFILE = textwrap.dedent('''
    import json, os, random
    from locust import FastHttpUser, task, constant

    SAMPLE = json.loads(open(os.environ["BENCH_SAMPLE"]).read())
    READ = {"purpose": os.environ["BENCH_PURPOSE"], "claims": os.environ["BENCH_CLAIMS"],
            "case_id": os.environ["BENCH_CASE"]}
    AUTH = {"Authorization": "Bearer " + os.environ["BENCH_TOKEN"]}

    class Reader(FastHttpUser):
        wait_time = constant(0)

        @task(7)
        def search(self):
            name, year = random.choice(SAMPLE["people"])
            self.client.get("/api/v1/search", params={**READ, "name": name, "dob": str(year)},
                            headers=AUTH, name="search")

        @task(3)
        def profile(self):
            identity = random.choice(SAMPLE["identities"])
            self.client.get("/api/v1/identities/" + identity, params=READ, headers=AUTH,
                            name="profile")
''')


def prepare(settings: Settings) -> tuple[str, dict[str, list[Any]]]:
    """The benchmark user, case and token; the people and identities to ask for."""
    env = Env.open(settings)
    try:
        users = list_users(env.store)
        admins = [u.name for u in users if u.role == "admin" and not u.disabled]
        root = admins[0] if admins else BENCH_ADMIN
        actor = Caller(root, via="cli")
        if not users:
            admin.add_user(env, actor, BENCH_ADMIN, "admin", ORG, org_type="government")
        if BENCH_USER not in {u.name for u in users}:
            admin.add_user(env, actor, BENCH_USER, "investigator", ORG, org_type="government")
        env.refresh()
        if CASE not in env.registry().cases:
            app_cases.open_case(env, Caller(BENCH_USER, via="cli"), CASE, title="api benchmark",
                            kind="criminal")
        token = auth.create_token(env, actor, user=BENCH_USER,
                                  name=f"bench-{int(time.time())}", days=1).secret
        # a sample of the population (the same SQL on both backends: benchmark only)
        people = env.store.fetchall(
            f"""SELECT last_name || ' ' || first_name, CAST(extract(year FROM dob) AS INTEGER)
                FROM records WHERE is_current AND dob IS NOT NULL AND first_name IS NOT NULL
                  AND last_name IS NOT NULL ORDER BY random() LIMIT {SAMPLE}""")
        identities = env.store.fetchall(
            f"""SELECT identity_id FROM (SELECT DISTINCT identity_id FROM identity_members) t
                ORDER BY random() LIMIT {SAMPLE}""")
    finally:
        env.close()
    return token, {"people": [[str(n), int(y)] for n, y in people],
                   "identities": [str(i) for (i,) in identities]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(data: Path, port: int, log: Path, *, database_url: str | None = None,
                 workers: int = 1) -> subprocess.Popen[bytes]:
    idgraph = Path(sys.executable).parent / "idgraph"
    env = {k: v for k, v in os.environ.items() if k != "IDGRAPH_DATABASE_URL"}
    if database_url is not None:
        env["IDGRAPH_DATABASE_URL"] = database_url
    with log.open("wb") as out:
        proc = subprocess.Popen([str(idgraph), "--data-dir", str(data), "serve", "--port",
                                 str(port), "--workers", str(workers)], stdout=out,
                                stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server stopped: see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not start within 300 s")


def run_locust(work: Path, port: int, users: int, seconds: int, spawn_rate: int,
               token: str) -> list[dict[str, Any]]:
    """locust's final statistics, one dict per request name (``--json-file``)."""
    locustfile = work / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    env = {**os.environ, "BENCH_SAMPLE": str(work / "sample.json"), "BENCH_TOKEN": token,
           "BENCH_PURPOSE": PURPOSE, "BENCH_CLAIMS": CLAIMS, "BENCH_CASE": CASE}
    locust = Path(sys.executable).parent / "locust"
    subprocess.run([str(locust), "-f", str(locustfile), "--headless", "-u", str(users),
                    "-r", str(spawn_rate), "-t", f"{seconds}s", "--host",
                    f"http://127.0.0.1:{port}", "--json-file", str(work / "stats"),
                    "--skip-log", "--stop-timeout", "30"],
                   env=env, check=False, timeout=seconds + 180, stdout=subprocess.DEVNULL)
    stats: list[dict[str, Any]] = json.loads((work / "stats.json").read_text())
    return stats


def percentile(row: dict[str, Any], q: float) -> float:
    """The ``q`` quantile (ms) of locust's response-time histogram (rounded buckets)."""
    times = sorted((int(ms), n) for ms, n in row["response_times"].items())
    total = sum(n for _, n in times)
    seen = 0
    for ms, n in times:
        seen += n
        if seen >= q * total:
            return float(ms)
    return float(times[-1][0]) if times else 0.0


def audit_after(settings: Settings, start: int) -> tuple[dict[str, Any], dict[str, int]]:
    """``audit verify``, and the entries the benchmark user caused since ``start``."""
    env = Env.open(settings)
    try:
        entries = [s for s in log_of(env).entries(start, None)]
        mine: dict[str, int] = {}
        for s in entries:
            doc = json.loads(s.data)
            if doc.get("principal") == BENCH_USER:
                mine[doc["action"]] = mine.get(doc["action"], 0) + 1
        verified = audit_verify(env, Caller(BENCH_USER, via="cli"))
    finally:
        env.close()
    return verified, mine


def audit_size(settings: Settings) -> int:
    env = Env.open(settings)
    try:
        return log_of(env).size()
    finally:
        env.close()


def in_process(settings: Settings, token: str, sample: dict[str, list[Any]],
               seconds: float) -> tuple[dict[str, list[float]], float]:
    """The locust mix made in-process, one thread: latencies (ms) by request name, and
    the seconds the loop took."""
    rng = random.Random(2)
    times: dict[str, list[float]] = {"search": [], "profile": []}
    env = Env.open(settings)
    try:
        caller = auth.token_caller(env, token, purpose=PURPOSE, claims=CLAIMS.split(","),
                                   case_id=CASE)
        name, year = sample["people"][0]
        reads.search(env, caller, name=name, dob=str(year))  # opens the index (warm-up)
        start = time.monotonic()
        while time.monotonic() < start + seconds:
            t0 = time.perf_counter()
            if rng.random() < 0.7:
                name, year = rng.choice(sample["people"])
                reads.search(env, caller, name=name, dob=str(year)).to_dict()
                kind = "search"
            else:
                reads.profile(env, caller, rng.choice(sample["identities"])).to_dict()
                kind = "profile"
            times[kind].append((time.perf_counter() - t0) * 1000)
        took = time.monotonic() - start
    finally:
        env.close()
    return times, took


def quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def side_by_side(rows: dict[str, dict[str, Any]], elapsed: float,
                 local: dict[str, list[float]], local_seconds: float) -> None:
    """HTTP (locust) beside in-process (one thread) figures, with HTTP / in-process."""
    print(f"\nHTTP (locust) vs in-process (app.reads, one thread, {local_seconds:.0f} s): "
          "http / in-process (ratio)")
    print(f"{'':10} {'req/s':^24} {'p50 ms':^24} {'p99 ms':^24}")
    merged_local: list[float] = []
    for name in ("search", "profile"):
        row, mine = rows.get(name), local.get(name, [])
        merged_local.extend(mine)
        if row is None or not mine:
            continue
        http = (row["num_requests"] / elapsed, percentile(row, 0.5), percentile(row, 0.99))
        own = (len(mine) / local_seconds, quantile(mine, 0.5), quantile(mine, 0.99))
        _line(name, http, own)
    merged: dict[str, int] = {}
    for row in rows.values():
        for ms, n in row["response_times"].items():
            merged[ms] = merged.get(ms, 0) + n
    total = {"response_times": merged}
    http = (sum(r["num_requests"] for r in rows.values()) / elapsed,
            percentile(total, 0.5), percentile(total, 0.99))
    own = (len(merged_local) / local_seconds, quantile(merged_local, 0.5),
           quantile(merged_local, 0.99))
    _line("all", http, own)


def _line(name: str, http: tuple[float, float, float], own: tuple[float, float, float]) -> None:
    cells = []
    for h, o in zip(http, own, strict=True):
        ratio = f"{h / o:.2f}x" if o else "-"
        cells.append(f"{h:>7.1f} / {o:>6.1f} ({ratio:>5})")
    print(f"{name:10} " + " ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--spawn-rate", type=int, default=25)
    parser.add_argument("--inproc-seconds", type=float, default=15.0,
                        help="How long to make the same reads in-process (0: skip).")
    parser.add_argument("--database-url", default=None,
                        help="The PostgreSQL store (default: the DuckDB file in --data).")
    parser.add_argument("--workers", type=int, default=1,
                        help="Server processes (more than 1: PostgreSQL only).")
    parser.add_argument("--json", type=Path, default=None,
                        help="Also write the figures to this JSON file.")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 120:
        raise SystemExit("--seconds must be 1..120")
    if not 0 <= args.inproc_seconds <= 120:
        raise SystemExit("--inproc-seconds must be 0..120")
    settings = Settings(data_dir=args.data, database_url=args.database_url)
    random.seed(1)
    t0 = time.monotonic()
    token, sample = prepare(settings)
    print(f"prepared in {time.monotonic() - t0:.1f} s: {len(sample['people'])} people, "
          f"{len(sample['identities'])} identities")
    start = audit_size(settings)
    with tempfile.TemporaryDirectory(prefix="idgraph-bench-api-") as tmp:
        work = Path(tmp)
        (work / "sample.json").write_text(json.dumps(sample))
        port = free_port()
        t0 = time.monotonic()
        server = start_server(args.data, port, work / "server.log",
                              database_url=args.database_url, workers=args.workers)
        backend = "PostgreSQL" if args.database_url else "DuckDB"
        print(f"server up in {time.monotonic() - t0:.1f} s on port {port} ({backend}, "
              f"{args.workers} worker{'s' if args.workers > 1 else ''})")
        try:
            stats = run_locust(work, port, args.users, args.seconds, args.spawn_rate, token)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
    rows = {r["name"]: r for r in stats}
    elapsed = max(r["last_request_timestamp"] for r in stats) - min(
        r["start_time"] for r in stats)
    requests = sum(r["num_requests"] for r in stats)
    failures = sum(r["num_failures"] for r in stats)
    print(f"\n{args.users} users, {args.seconds} s, store {args.data}")
    print(f"{'':10} {'requests':>9} {'errors':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    merged: dict[str, int] = {}
    for name, row in sorted(rows.items()):
        for ms, n in row["response_times"].items():
            merged[ms] = merged.get(ms, 0) + n
        print(f"{name:10} {row['num_requests']:>9} {row['num_failures']:>7} "
              f"{row['num_requests'] / elapsed:>8.1f} {percentile(row, 0.5):>8.0f} "
              f"{percentile(row, 0.99):>8.0f}")
    total = {"response_times": merged}
    print(f"{'all':10} {requests:>9} {failures:>7} {requests / elapsed:>8.1f} "
          f"{percentile(total, 0.5):>8.0f} {percentile(total, 0.99):>8.0f}")
    verified, by_action = audit_after(settings, start)
    responses = by_action.get("search", 0) + by_action.get("profile.read", 0)
    print(f"\naudit verify: ok={verified.get('ok')} size={verified.get('size')} "
          f"problems={len(verified.get('problems', []))}")
    print(f"audit entries by {BENCH_USER}: {by_action} (policy.decide: one per source "
          "decided, beside each response entry)")
    print(f"response entries (search + profile.read) {responses}, responses counted by "
          f"locust {requests} (errors {failures}): "
          + ("equal" if responses == requests else f"MISMATCH {responses - requests:+d}"))
    if args.json is not None:
        args.json.write_text(json.dumps({
            "backend": "postgres" if args.database_url else "duckdb",
            "workers": args.workers, "users": args.users, "seconds": args.seconds,
            "requests": requests, "errors": failures, "rps": requests / elapsed,
            "p50_ms": percentile(total, 0.5), "p99_ms": percentile(total, 0.99),
            "audit_ok": bool(verified.get("ok")), "audit_size": verified.get("size"),
            "response_entries": responses}, indent=2))
    if args.inproc_seconds:
        local, took = in_process(settings, token, sample, args.inproc_seconds)
        side_by_side(rows, elapsed, local, took)


if __name__ == "__main__":
    main()
