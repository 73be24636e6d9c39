"""Person search: latency through the gate and the log, and accuracy on held-out records.

    python benchmarks/search.py --people 5000              # a quick figure (~25k records)
    python benchmarks/search.py --people 220000            # ~1M records (the target scale)
    python benchmarks/search.py --data DIR --both          # reuse a kept run; both query modes
    python benchmarks/search.py --data DIR --match-rows 100000 --match-only   # bulk only
    python benchmarks/search.py --people 5000 --keep DIR   # keep the data dir for reuse
    python benchmarks/search.py --population pseudopeople --queries 1000 --both
        # pseudopeople's sample data (made and ingested as benchmarks/linkage.py does)

What it does, in one process:

1. ``idgraph synth --people N --seed S`` and ingest (the same API call as ``idgraph
   ingest``); then ``--queries`` people with three records or more each lose one record
   (made not current before resolving: held out, so no query can find its own record).
   ``--population pseudopeople``: instead, pseudopeople's sample data (decennial census,
   SSA, W-2/1099, 1040; ``populations.make.make_population`` with ``--seed``, as
   ``benchmarks/linkage.py --population pseudopeople`` makes it) ingested with its
   manifests; a held-out record there needs a name and a birth date or an address (the
   tax forms carry no birth date, the SSA events no address);
2. resolve (``idgraph link``: train and cluster) and build the search index;
3. one noisy query per held-out record, cycling through the noise kinds: a typo in a
   name, a nickname, the name in surname-first order, a partial birth date (year, or
   month and year), and an old address (the person's earliest-observed address on one
   of their other records). By default ("full") a query carries what a searcher holding
   the record would type: its name, birth date, address line and ZIP, and phone (not
   its SSN or licence number), with the noise applied (the old address replaces the
   record's own); ``--sparse``: the name and birth date only (the name and the old
   address for that kind; a record without a birth date: the name and its address),
   the design before; ``--both`` runs both and prints them side by side (same seed,
   same noise). On pseudopeople a kind that cannot apply to the record (no birth date
   to make partial, no nickname for the given name, no address on the person's other
   records, names too short for a typo) gives way to the next kind that can, and the
   kinds made are counted (on synth the cycle is as it always was);
4. each query through :func:`idgraph.search.find` as an investigator would run it
   (the gate, the purpose-scoped view, scoring, minimisation, the audit entries
   written to the store's log), timed end to end: p50, p99, queries/s from one
   process; then again without the audit write, to show its share;
5. accuracy: the right identity is the one holding most of the person's other records;
   top-1 and top-5 of the search, beside an exact lookup on the normalised given name,
   surname and full birth date (the baseline: what a records clerk's query does).
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idgraph.cases import open_case
from idgraph.link.evaluate import read_truth
from idgraph.link.resolve import resolve
from idgraph.policy.engine import allowed
from idgraph.policy.registry import Registry
from idgraph.policy.users import add_user
from idgraph.schema import Query
from idgraph.search.criteria import Criteria, CriteriaError, parse_criteria, readings
from idgraph.search.find import Engine, find
from idgraph.search.index import SearchIndex, SearchIndexError
from idgraph.settings import Settings
from idgraph.sources import ingest_paths
from idgraph.store import Store, open_store

KINDS = ("typo", "nickname", "order swap", "partial birth date", "old address")
POPULATIONS = ("synth", "pseudopeople")
QUERY = Query(principal="bench", purpose="criminal_investigation",
              claims=("DPPA-b1", "GLBA-e8"), case_id="B1")
_HELD_COLUMNS = ("record_id", "first_name", "last_name", "dob", "dob_precision", "house_number",
                 "street", "city", "state", "zip")


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- the population ----------------------------------------------------------------------


def make(people: int, seed: int, work: Path) -> tuple[Path, Path]:
    """Synthesise and ingest; (data dir, truth.csv)."""
    src, data = work / "src", work / "data"
    subprocess.run([sys.executable, "-m", "idgraph.cli", "synth", "--people", str(people),
                    "--seed", str(seed), "--out", str(src)], check=False,
                   capture_output=True)
    if not (src / "truth.csv").exists():
        subprocess.run(["idgraph", "synth", "--people", str(people), "--seed", str(seed),
                        "--out", str(src)], check=True, capture_output=True)
    settings = Settings(data_dir=data)
    store = open_store(settings.db_path, threads=settings.threads,
                       memory_limit=settings.memory_limit)
    try:
        ingest_paths(store, [src], settings)
    finally:
        store.close()
    return data, src / "truth.csv"


def make_pseudopeople(seed: int, work: Path) -> tuple[Path, Path]:
    """pseudopeople's sample data as ``benchmarks/linkage.py --population pseudopeople``
    makes it (``populations.make``: the same function, the same seed) and ingested with
    its manifests through the same API call; (data dir, truth.csv)."""
    from populations.make import ingest_population, make_population

    src, data = work / "src", work / "data"
    label = make_population("pseudopeople", src, argparse.Namespace(seed=seed, people=0))
    rows = ingest_population(src, data)
    (work / "population.txt").write_text(f"pseudopeople\n{label}\n")
    say(f"population pseudopeople: {label}; {rows:,} rows ingested")
    return data, src / "truth.csv"


def hold_out(store: Store, truth: dict[str, str], n: int, seed: int,
             population: str = "synth") -> list[dict[str, Any]]:
    """One record with a name and a birth date each of ``n`` people with three records
    or more, made not current; their values (what the queries are made from). A query
    of a common name alone names no one: every query carries a birth date (to the day,
    or partial) or an address. On pseudopeople a record with a name and an address but
    no birth date may be held out too (the tax forms give none), and the "old address"
    is one of the person's other records' addresses, one other than the held-out
    record's own when there is one (those records carry no observation date)."""
    pp = population == "pseudopeople"
    need = "(dob IS NOT NULL OR street IS NOT NULL)" if pp else "dob IS NOT NULL"
    by_person: dict[str, list[str]] = {}
    for rid, pid in truth.items():
        by_person.setdefault(pid, []).append(rid)
    rng = random.Random(seed)
    people = sorted(p for p, ids in by_person.items() if len(ids) >= 3)
    rng.shuffle(people)
    held: list[dict[str, Any]] = []
    for pid in people:
        if len(held) >= n:
            break
        ids = sorted(by_person[pid])
        rng.shuffle(ids)
        rows = store.fetchall(
            f"SELECT {', '.join(_HELD_COLUMNS)} FROM records WHERE is_current AND "
            f"first_name IS NOT NULL AND last_name IS NOT NULL AND {need} AND "
            "record_id IN (SELECT unnest(?))", [ids])
        if not rows:
            continue
        row = dict(zip(_HELD_COLUMNS, rows[0], strict=True))
        row["person_id"] = pid
        # the person's oldest address on another record (what "an old address" is)
        if pp:  # an address other than the record's own first
            old = store.fetchall(
                "SELECT house_number, street, zip FROM records WHERE is_current AND street IS "
                "NOT NULL AND record_id IN (SELECT unnest(?)) AND record_id <> ? ORDER BY "
                "(street IS NOT DISTINCT FROM ? AND zip IS NOT DISTINCT FROM ?), "
                "observed_at NULLS LAST, record_id LIMIT 1",
                [ids, row["record_id"], row["street"], row["zip"]])
        else:
            old = store.fetchall(
                "SELECT house_number, street, zip FROM records WHERE is_current AND street IS "
                "NOT NULL AND record_id IN (SELECT unnest(?)) AND record_id <> ? "
                "ORDER BY observed_at NULLS LAST, record_id LIMIT 1", [ids, row["record_id"]])
        row["old_address"] = list(old[0]) if old else None
        held.append(row)
    store.execute("UPDATE records SET is_current = false WHERE record_id IN (SELECT unnest(?))",
                  [[h["record_id"] for h in held]])
    return held


def setup_users(store: Store) -> None:
    add_user(store, "bench_admin", "admin", "ops", org_type="government")
    add_user(store, "bench", "investigator", "pd", org_type="government", actor="bench_admin")
    open_case(store, "B1", title="benchmark", kind="criminal", actor="bench")


# -- queries ---------------------------------------------------------------------------


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(("swap", "drop", "double", "replace"))
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == "drop":
        return word[:i] + word[i + 1:]
    if op == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("AEIOURSTN") + word[i + 1:]


def _nickname(first: str, rng: random.Random) -> str | None:
    from nicknames import NickNamer

    names: list[str] = sorted(
        str(n) for n in NickNamer().nicknames_of(first.lower()) if len(n) > 2)
    return str(rng.choice(names)).upper() if names else None


def _dob(row: dict[str, Any], partial: bool, rng: random.Random) -> str | None:
    dob, precision = row["dob"], row["dob_precision"]
    if dob is None:
        return None
    if precision == "year" or (partial and rng.random() < 0.5):
        return str(dob.year)
    if precision == "month" or partial:
        return f"{dob.month:02d}/{dob.year}"
    return str(dob.isoformat())


def applies(row: dict[str, Any], kind: str) -> bool:
    """Whether noise ``kind`` can be made from held-out record ``row``."""
    first, last = row["first_name"], row["last_name"]
    if kind == "typo":
        return max(len(first), len(last)) >= 4
    if kind == "nickname":
        from nicknames import NickNamer

        return any(len(str(n)) > 2 for n in NickNamer().nicknames_of(first.lower()))
    if kind == "order swap":
        return bool(first != last)
    if kind == "partial birth date":
        return row["dob"] is not None
    old = row.get("old_address")
    return old is not None and old[1] is not None and _address_ok(old[0], old[1])


def _address_ok(house: Any, street: Any) -> bool:
    """Whether an address line names a street (pseudopeople's noise blanks street names:
    "715" alone is no address a search can read)."""
    try:
        parse_criteria(address=" ".join(str(p) for p in (house, street) if p) or None)
    except CriteriaError:
        return False
    return True


def kind_for(row: dict[str, Any], i: int) -> str | None:
    """The ``i``-th query's kind in the cycle, or the next in the cycle that applies."""
    for k in range(len(KINDS)):
        kind = KINDS[(i + k) % len(KINDS)]
        if applies(row, kind):
            return kind
    return None


@dataclass
class Case:
    kind: str
    person_id: str
    criteria: Criteria


def make_query(row: dict[str, Any], kind: str, rng: random.Random, full: bool = True,
               only_applicable: bool = False) -> Criteria | None:
    """The query of a held-out record with the one noise of ``kind``.

    ``full`` (the default mode): what a searcher holding that record would type: its
    name, birth date, address line and ZIP, and phone, as the record gives them (no SSN
    or licence number: those would find the person alone), with the noise applied; for
    "old address" the person's oldest address on another record replaces the record's
    own. Not ``full`` (``--sparse``): the name and birth date only, or for "old
    address" the name and the old address. Both modes draw the same noise from ``rng``
    (the full mode draws nothing more), so one seed gives the same noisy names and
    dates in both. A record without a birth date (pseudopeople's tax forms) gives its
    address and ZIP in both modes. ``only_applicable`` (pseudopeople, where the kind was
    chosen by :func:`applies`): a typo goes in the name long enough to take one, and an
    address line naming no street (noise blanked it) is left out of the query."""
    first, last = row["first_name"], row["last_name"]
    name = f"{first} {last}"
    dob = _dob(row, kind == "partial birth date", rng)
    address: str | None = None
    zip_code: str | None = None
    phone: str | None = None
    if (full or row["dob"] is None) and (
            not only_applicable or _address_ok(row.get("house_number"), row.get("street"))):
        address = " ".join(str(p) for p in (row.get("house_number"), row.get("street"))
                           if p) or None
        zip_code = row.get("zip")
        phone = row.get("phone") if full else None
    if kind == "typo":
        in_last = rng.random() < 0.5
        if only_applicable and len(last if in_last else first) < 4:
            in_last = not in_last
        name = f"{first} {_typo(last, rng)}" if in_last else f"{_typo(first, rng)} {last}"
    elif kind == "nickname":
        nick = _nickname(first, rng)
        name = f"{nick or _typo(first, rng)} {last}"
    elif kind == "order swap":
        name = f"{last} {first}"
    elif kind == "old address":
        if not full:
            dob = None
        house, street, zip_code = row.get("old_address") or (None, None, None)
        if street is None:
            return None
        address = " ".join(str(p) for p in (house, street) if p)
    try:
        return parse_criteria(name=name, dob=dob, address=address, zip=zip_code, phone=phone)
    except CriteriaError:
        return None


def add_phones(store: Store, held: list[dict[str, Any]]) -> None:
    """The held-out records' phones (read from the store: a holdout.json written before
    the full mode existed has none; the records are kept, not current)."""
    rows = store.fetchall("SELECT record_id, phone FROM records WHERE record_id IN "
                          "(SELECT unnest(?))", [[h["record_id"] for h in held]])
    phones = dict(rows)
    for h in held:
        h["phone"] = phones.get(h["record_id"])


# -- truth -----------------------------------------------------------------------------


def main_identity(store: Store, truth: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(person -> the identity holding most of their current records, identity -> the
    person most of its current records are of)."""
    members = dict(store.fetchall(
        "SELECT m.record_id, m.identity_id FROM identity_members m "
        "JOIN records r ON r.record_id = m.record_id AND r.is_current"))
    votes: dict[str, Counter[str]] = {}
    owners: dict[str, Counter[str]] = {}
    for rid, iid in members.items():
        pid = truth.get(rid)
        if pid is not None:
            votes.setdefault(pid, Counter())[iid] += 1
            owners.setdefault(iid, Counter())[pid] += 1
    return ({pid: c.most_common(1)[0][0] for pid, c in votes.items()},
            {iid: c.most_common(1)[0][0] for iid, c in owners.items()})


def baseline(store: Store, criteria: Criteria) -> list[str]:
    """Exact given name, surname and full birth date (first reading): identities by id."""
    q = readings(criteria)[0]
    if not (q["first_name"] and q["last_name"] and q["dob_day"]):
        return []
    rows = store.fetchall(
        "SELECT DISTINCT m.identity_id FROM records r JOIN identity_members m "
        "ON m.record_id = r.record_id WHERE r.is_current AND r.first_name = ? "
        "AND r.last_name = ? AND strftime(r.dob, '%Y%m%d') = ? "
        "AND coalesce(r.dob_precision, 'day') = 'day' ORDER BY 1",
        [q["first_name"], q["last_name"], q["dob_day"]])
    return [r[0] for r in rows]


# -- measuring -------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(cases: list[Case], run: Callable[[Case], list[str]]
          ) -> tuple[list[float], list[list[str]]]:
    times: list[float] = []
    results: list[list[str]] = []
    for c in cases:
        t0 = time.perf_counter()
        results.append(run(c))
        times.append(time.perf_counter() - t0)
    return times, results


def report_latency(label: str, times: list[float]) -> None:
    ms = [t * 1000 for t in times]
    print(f"{label:<34} p50 {percentile(ms, 50):7.2f} ms  p99 {percentile(ms, 99):7.2f} ms  "
          f"mean {statistics.fmean(ms):7.2f} ms  {len(ms) / sum(times):8.1f} queries/s")


def report_accuracy(cases: list[Case], expected: dict[str, str], owner: dict[str, str],
                    ours: list[list[str]], base: list[list[str]]) -> dict[str, list[int]]:
    """Two readings of "the right identity": the person's main identity (strict), or
    any identity most of whose records are the person's (resolution split the person:
    the hit is still them)."""
    rows: dict[str, list[int]] = {}
    for c, o, b in zip(cases, ours, base, strict=True):
        want = expected.get(c.person_id)
        if want is None:
            continue

        def theirs(ids: list[str], person: str = c.person_id) -> list[bool]:
            return [owner.get(i) == person for i in ids]

        for key in (c.kind, "all"):
            acc = rows.setdefault(key, [0] * 9)
            acc[0] += 1
            acc[1] += bool(o[:1] == [want])
            acc[2] += want in o[:5]
            acc[3] += any(theirs(o[:1]))
            acc[4] += any(theirs(o[:5]))
            acc[5] += bool(b[:1] == [want])
            acc[6] += want in b[:5]
            acc[7] += any(theirs(b[:1]))
            acc[8] += any(theirs(b[:5]))
    print("\nthe right identity: the person's main one (main), or one mostly of their records "
          "(person)")
    heads = ["n", "top-1 main", "top-5 main", "top-1 person", "top-5 person",
             "base top-1 main", "base top-5 main", "base top-1 person", "base top-5 person"]
    print(f"{'queries':<20}" + "".join(f"{h:>19}" if h.startswith("base") else f"{h:>14}"
                                       for h in heads))
    for key in (*KINDS, "all"):
        if key in rows:
            n, *hits = rows[key]
            cells = [f"{n:>14}"] + [
                f"{h / n:>19.3f}" if i >= 4 else f"{h / n:>14.3f}" for i, h in enumerate(hits)]
            print(f"{key:<20}" + "".join(cells))
    return rows


def report_modes(tables: dict[str, dict[str, list[int]]]) -> None:
    """Top-1 / top-5 (main, person) of each query mode side by side, by noise kind."""
    modes = list(tables)
    print("\nquery modes side by side: top-1 / top-5, main and person "
          f"({' | '.join(modes)})")
    heads = [f"{m} {h}" for m in modes for h in ("t1 main", "t5 main", "t1 pers", "t5 pers")]
    print(f"{'queries':<20}{'n':>6}" + "".join(f"{h:>16}" for h in heads))
    for key in (*KINDS, "all"):
        if all(key in t for t in tables.values()):
            n = tables[modes[0]][key][0]
            cells = [f"{t[key][i] / t[key][0]:>16.3f}" for t in tables.values()
                     for i in (1, 2, 3, 4)]
            print(f"{key:<20}{n:>6}" + "".join(cells))


def report_ties(cases: list[Case], expected: dict[str, str], owner: dict[str, str],
                ours: list[list[str]], tied: list[set[str]]) -> None:
    """Top-1 with ties counted: the first place is shared by every hit whose weight
    equals the first's (namesakes the query cannot tell apart under the model: their
    order, by identity id, is no evidence). Ties are seen among the 5 hits returned."""
    rows: dict[str, list[int]] = {}
    for c, o, t in zip(cases, ours, tied, strict=True):
        want = expected.get(c.person_id)
        if want is None:
            continue
        for key in (c.kind, "all"):
            acc = rows.setdefault(key, [0] * 5)
            acc[0] += 1
            acc[1] += bool(o[:1] == [want])
            acc[2] += want in t
            acc[3] += any(owner.get(i) == c.person_id for i in t)
            acc[4] += len(t) > 1
    print("\ntop-1 with ties counted (the right identity among those tied for first place)")
    print(f"{'queries':<20}{'n':>8}{'top-1 main':>14}{'tied main':>14}{'tied person':>14}"
          f"{'first tied':>14}")
    for key in (*KINDS, "all"):
        if key in rows:
            n, *hits = rows[key]
            print(f"{key:<20}{n:>8}" + "".join(f"{h / n:>14.3f}" for h in hits[:3])
                  + f"{hits[3]:>14}")


MATCH_MAPPING = """fields:
  full_name: NAME
  dob: BORN
  zip: ZIP
record_id: REF
"""


def bulk(store: Store, reg: Registry, engine: Engine, rows: int, work: Path,
         workers: int | None = None) -> None:
    """Match a list of ``rows`` people (current records' name, birth date and ZIP, with
    a typo in every fifth name; records are taken again, in another order, when the
    list is longer than the population) in one act; rows/s. ``workers``: processes
    (None: ``match.workers_for``'s choice)."""
    import csv

    from idgraph.search.match import load_mapping, match_list, workers_for

    sample = store.fetchall(
        "SELECT first_name, last_name, dob, zip FROM records WHERE is_current AND "
        "first_name IS NOT NULL AND last_name IS NOT NULL ORDER BY hash(record_id) LIMIT ?",
        [rows])
    while len(sample) < rows:  # a list longer than the population: people again
        sample += sample[: rows - len(sample)]
    rng = random.Random(1)
    path = work / "match_list.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["REF", "NAME", "BORN", "ZIP"])
        for i, (first, last, dob, zip_code) in enumerate(sample):
            name = f"{first} {_typo(last, rng) if i % 5 == 0 else last}"
            w.writerow([f"R{i}", name, dob.isoformat() if dob else "", zip_code or ""])
    (work / "match_map.yaml").write_text(MATCH_MAPPING)
    mapping = load_mapping(work / "match_map.yaml", path)
    n_workers = workers_for(path, workers)
    t0 = time.perf_counter()
    result = match_list(store, QUERY, path, mapping, registry=reg, engine=engine,
                        workers=n_workers)
    dt = time.perf_counter() - t0
    counts = result.counts()
    print(f"\nbulk match, {n_workers} process(es): {len(result.rows):,} rows in {dt:.1f} s = "
          f"{len(result.rows) / dt:,.0f} rows/s (incl. pool start, one gate decision and "
          "one audit entry listing every row); "
          f"{counts['matched']:,} matched, {counts['none']:,} none, "
          f"{counts['malformed']:,} malformed")


def measure(store: Store, reg: Registry, engine: Engine, held: list[dict[str, Any]],
            mode: str, expected: dict[str, str], owner: dict[str, str], seed: int,
            population: str = "synth") -> dict[str, list[int]]:
    """One query per held-out record in ``mode`` ("full" or "sparse": see
    :func:`make_query`): latency with and without the audit write, accuracy beside the
    baseline, ties; the accuracy table. On pseudopeople a kind that cannot apply gives
    way to the next that can (:func:`kind_for`)."""
    rng = random.Random(seed)
    pp = population == "pseudopeople"
    cases = []
    moved: Counter[str] = Counter()
    for i, row in enumerate(held):
        kind: str | None = KINDS[i % len(KINDS)]
        if pp:
            kind = kind_for(row, i)
            if kind is None:
                moved[f"{KINDS[i % len(KINDS)]} -> none"] += 1
                continue
            if kind != KINDS[i % len(KINDS)]:
                moved[f"{KINDS[i % len(KINDS)]} -> {kind}"] += 1
        assert kind is not None
        crit = make_query(row, kind, rng, full=mode == "full", only_applicable=pp)
        if crit is not None:
            cases.append(Case(kind, row["person_id"], crit))
    given = Counter(f for c in cases for f in c.criteria.fields())
    made = Counter(c.kind for c in cases)
    print(f"\n== {population}, {mode} queries ({len(cases)} of {len(held)} held out): "
          "criteria given " + ", ".join(f"{k} {v}" for k, v in given.most_common()))
    print("noise kinds made: " + ", ".join(f"{k} {made[k]}" for k in KINDS)
          + ("; a kind that could not apply gave way: "
             + (", ".join(f"{k} {v}" for k, v in sorted(moved.items())) or "never")
             if pp else ""))
    # warm: the scorer's term frequencies, the Cedar cache, DuckDB's caches
    for c in cases[:20]:
        find(store, QUERY, c.criteria, registry=reg, engine=engine, limit=5)

    tied: list[set[str]] = []  # each query's identities tied with its first hit

    def ours(c: Case) -> list[str]:
        hits = find(store, QUERY, c.criteria, registry=reg, engine=engine, limit=5).hits
        tied.append({h.identity_id for h in hits if abs(h.weight - hits[0].weight) < 1e-9})
        return [h.identity_id for h in hits]

    times, results = timed(cases, ours)
    first_ties = tied[:]
    base_times, base = timed(cases, lambda c: baseline(store, c.criteria))
    print()
    report_latency("search (gate + score + audit)", times)
    find_module = importlib.import_module("idgraph.search.find")
    real_audit = find_module.audit_decision
    try:
        setattr(find_module, "audit_decision", lambda *a, **k: [])  # noqa: B010
        no_audit, _ = timed(cases, ours)
    finally:
        setattr(find_module, "audit_decision", real_audit)  # noqa: B010
    report_latency("  the same without the audit write", no_audit)
    report_latency("baseline exact lookup (SQL only)", base_times)
    table = report_accuracy(cases, expected, owner, results, base)
    report_ties(cases, expected, owner, results, first_ties)
    return table


def run(data: Path, truth_csv: Path, held: list[dict[str, Any]], opts: argparse.Namespace
        ) -> None:
    settings = Settings(data_dir=data)
    store = open_store(settings.db_path, threads=settings.threads,
                       memory_limit=settings.memory_limit)
    try:
        truth = read_truth(truth_csv)
        n = store.scalar("SELECT count(*) FROM records WHERE is_current")
        expected, owner = main_identity(store, truth)
        try:
            index = SearchIndex.at(data / "index")
        except SearchIndexError:  # made by another version of the index: make it again
            shutil.rmtree(data / "index")
            index = SearchIndex.at(data / "index")
        if index.count() == 0:
            t0 = time.perf_counter()
            index.rebuild(store)
            say(f"index built: {index.count():,} documents in {time.perf_counter() - t0:.1f} s")
        reg = Registry(store)
        engine = Engine(store, index)
        decision = allowed(reg, QUERY)
        population = getattr(opts, "population", "synth")
        print(f"\npopulation {population}: {n:,} current records; permitted under "
              f"{QUERY.purpose} {'+'.join(QUERY.claims)}: {', '.join(decision.permitted)}; "
              f"withheld: {', '.join(decision.denied) or 'none'}")
        if population != "synth":  # what the gate decided on: the manifests' declarations
            print("sources as declared: " + "; ".join(
                f"{sid} (kind {info.kind}, {info.jurisdiction}, regimes "
                f"{', '.join(info.regimes) or 'none'})"
                for sid, info in sorted(reg.sources.items())))
        if not decision.permitted:
            raise SystemExit("the gate withholds every source under the benchmark's purpose")
        if opts.match_only:
            bulk(store, reg, engine, opts.match_rows, data.parent, opts.workers)
            return
        add_phones(store, held)
        modes = ["full", "sparse"] if opts.both else ["sparse" if opts.sparse else "full"]
        tables: dict[str, dict[str, list[int]]] = {}
        for mode in modes:
            tables[mode] = measure(store, reg, engine, held, mode, expected, owner, opts.seed,
                                   population)
        if len(tables) > 1:
            report_modes(tables)
        if opts.match_rows:
            bulk(store, reg, engine, opts.match_rows, data.parent, opts.workers)
    finally:
        store.close()


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--population", choices=POPULATIONS, default="synth",
                    help="synth (idgraph synth --people) or pseudopeople (its sample data, "
                         "made as benchmarks/linkage.py makes it, with --seed)")
    ap.add_argument("--people", type=int, default=5000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--match-rows", type=int, default=0,
                    help="Also time a bulk match of this many rows.")
    ap.add_argument("--workers", type=int, default=None,
                    help="Processes for the bulk match (default: match.workers_for).")
    ap.add_argument("--match-only", action="store_true",
                    help="Time the bulk match only (with --match-rows).")
    ap.add_argument("--sparse", action="store_true",
                    help="Queries of name and birth date only (the old address for its "
                         "kind), not the held-out record's other fields.")
    ap.add_argument("--both", action="store_true",
                    help="Run the full and the sparse queries, and print them side by side.")
    ap.add_argument("--keep", type=Path, help="Keep the work folder here.")
    ap.add_argument("--data", type=Path, help="Reuse a data dir made with --keep.")
    opts = ap.parse_args(argv)
    if opts.data is not None:
        work = opts.data
        kept = work / "population.txt"
        if kept.exists():
            opts.population = kept.read_text().split()[0]
        held = json.loads((work / "holdout.json").read_text(), object_hook=_dates)
        run(work / "data", work / "src" / "truth.csv", held, opts)
        return
    with tempfile.TemporaryDirectory(prefix="idg-search-") as tmp:
        work = opts.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        if opts.population == "pseudopeople":
            data, truth_csv = make_pseudopeople(opts.seed, work)
        else:
            data, truth_csv = make(opts.people, opts.seed, work)
        say(f"{opts.population} + ingest {time.perf_counter() - t0:.1f} s")
        settings = Settings(data_dir=data)
        store = open_store(settings.db_path, threads=settings.threads,
                           memory_limit=settings.memory_limit)
        try:
            held = hold_out(store, read_truth(truth_csv), opts.queries, opts.seed,
                            opts.population)
            t0 = time.perf_counter()
            res = resolve(store, settings)
            say(f"resolve {time.perf_counter() - t0:.1f} s: {res.n_records:,} records -> "
                f"{res.n_identities:,} identities")
            setup_users(store)
        finally:
            store.close()
        (work / "holdout.json").write_text(json.dumps(held, default=str))
        run(data, truth_csv, held, opts)


def _dates(obj: dict[str, Any]) -> dict[str, Any]:
    from datetime import date

    if isinstance(obj.get("dob"), str):
        obj["dob"] = date.fromisoformat(obj["dob"])
    return obj


if __name__ == "__main__":
    main(sys.argv[1:])
