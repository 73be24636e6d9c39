"""Why records end outside their person's main identity: error analysis of a resolved store.

    python benchmarks/populations/misses.py DATA_DIR SRC_DIR [--resolve] [--examples 5]

For every record outside its person's main identity (the identity holding most of the
person's records), its true pairs with the main identity's records are classified:

* ``unblocked``: no blocking rule makes any of them;
* ``below``: blocked, but the best one scores under the match threshold (its
  comparison levels are tallied: which comparisons disagree or are missing);
* ``refused``: one scores at or above the threshold, yet the two clusters stayed apart:
  the cannot-link rule the two clusters' facts violate together, or ``held`` when none
  does (held back as ambiguous, homonym or middle-named, or lost to edge order).

Pairs are scored with the saved model through Splink's predict on exactly these pairs
(blocked or not). Then every candidate blocking rule in :data:`CANDIDATES` is counted:
the unblocked missed records it would reach and the new pairs it would add.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
from splink import DuckDBAPI

from idgraph.link.constraints import VIA_CONTACT, VIA_ID, Constraints, Facts, column_facts
from idgraph.link.evaluate import read_truth
from idgraph.link.evidence import comparison_names, level_labels
from idgraph.link.model import BLOCKING_RULES, INPUT_TABLE
from idgraph.link.train import build_linker, latest_model, prepare_input, scratch
from idgraph.settings import Settings
from idgraph.store import Store, open_store

# candidate extra blocking rules (SQL over l/r input rows), tried on the unblocked misses
CANDIDATES: dict[str, str] = {
    "swap sound+dob_year": "l.first_name_phonetic = r.last_name_phonetic AND "
    "l.last_name_phonetic = r.first_name_phonetic AND l.birth_year = r.birth_year",
    "swap sound+zip": "l.first_name_phonetic = r.last_name_phonetic AND "
    "l.last_name_phonetic = r.first_name_phonetic AND l.zip = r.zip",
    "swap sound+house": "l.first_name_phonetic = r.last_name_phonetic AND "
    "l.last_name_phonetic = r.first_name_phonetic AND l.house_number = r.house_number",
    "swap canon+last": "l.first_name_canon = r.last_name AND l.last_name = r.first_name_canon",
    "first sound+last sound+year": "l.first_name_phonetic = r.first_name_phonetic AND "
    "l.last_name_phonetic = r.last_name_phonetic AND l.birth_year = r.birth_year",
    "first sound+last sound+city": "l.first_name_phonetic = r.first_name_phonetic AND "
    "l.last_name_phonetic = r.last_name_phonetic AND l.city = r.city",
    "first sound+last sound+state": "l.first_name_phonetic = r.first_name_phonetic AND "
    "l.last_name_phonetic = r.last_name_phonetic AND l.state = r.state",
    "first canon+year+city": "l.first_name_canon = r.first_name_canon AND "
    "l.birth_year = r.birth_year AND l.city = r.city",
    "first canon+house+street": "l.first_name_canon = r.first_name_canon AND "
    "l.house_number = r.house_number AND l.street = r.street",
    "first sound+house+zip": "l.first_name_phonetic = r.first_name_phonetic AND "
    "l.house_number = r.house_number AND l.zip = r.zip",
    "house+street": "l.house_number = r.house_number AND l.street = r.street",
    "house+street+city": "l.house_number = r.house_number AND l.street = r.street "
    "AND l.city = r.city",
    "dob+city": "l.dob_day = r.dob_day AND l.city = r.city",
    "dob+first canon": "l.dob_day = r.dob_day AND l.first_name_canon = r.first_name_canon",
    "dob+last part": "l.dob_day = r.dob_day AND list_has_any(l.last_name_parts, "
    "r.last_name_parts)",
    "last part+first canon+year": "list_has_any(l.last_name_parts, r.last_name_parts) AND "
    "l.first_name_canon = r.first_name_canon AND l.birth_year = r.birth_year",
    "first canon+last+zip": "l.first_name_canon = r.first_name_canon AND "
    "l.last_name = r.last_name AND l.zip = r.zip",
    "first canon+last sound": "l.first_name_canon = r.first_name_canon AND "
    "l.last_name_phonetic = r.last_name_phonetic",
    "first canon+zip": "l.first_name_canon = r.first_name_canon AND l.zip = r.zip",
    "last sound+first initial+zip": "l.last_name_phonetic = r.last_name_phonetic AND "
    "left(l.first_name, 1) = left(r.first_name, 1) AND l.zip = r.zip",
    "last+first initial+year": "l.last_name = r.last_name AND "
    "left(l.first_name, 1) = left(r.first_name, 1) AND l.birth_year = r.birth_year",
    "house+street+zip+last part": "l.house_number = r.house_number AND l.street = r.street "
    "AND l.zip = r.zip AND list_has_any(l.last_name_parts, r.last_name_parts)",
    "house+street+zip+first initial": "l.house_number = r.house_number AND "
    "l.street = r.street AND l.zip = r.zip AND left(l.first_name, 1) = left(r.first_name, 1)",
    "house+street+zip+swap": "l.house_number = r.house_number AND l.street = r.street AND "
    "l.zip = r.zip AND (l.first_name_phonetic = r.last_name_phonetic "
    "OR l.last_name_phonetic = r.first_name_phonetic)",
    "house+street+zip": "l.house_number = r.house_number AND l.street = r.street "
    "AND l.zip = r.zip",
    "dob+zip3": "l.dob_day = r.dob_day AND left(l.zip, 3) = left(r.zip, 3)",
}


def _main_identities(truth: dict[str, str], member: dict[str, str]
                     ) -> tuple[dict[str, str], list[str]]:
    held = Counter((truth[r], member.get(r, r)) for r in truth)
    main: dict[str, tuple[int, str]] = {}
    for (person, ident), k in sorted(held.items()):
        main[person] = max(main.get(person, (0, "")), (k, ident))
    missed = [r for r in truth if member.get(r, r) != main[truth[r]][1]]
    return {p: i for p, (_, i) in main.items()}, missed


def _score(store: Store, model: dict[str, Any], pairs: pa.Table) -> list[dict[str, Any]]:
    """Splink's predict on exactly ``pairs`` (uid_l < uid_r); one dict per pair."""
    store.con.register("__miss_pairs_arrow", pairs)
    with scratch(store):
        store.execute("""CREATE OR REPLACE TABLE __miss_blocked AS SELECT '0' AS match_key,
                         uid_l AS join_key_l, uid_r AS join_key_r FROM __miss_pairs_arrow""")
        linker = build_linker(store, model, keep_values=True)
        linker.table_management.register_blocked_pairs_for_predict(
            DuckDBAPI(connection=store.con).register("__miss_blocked"))
        pred = linker.inference.predict(warning_mode="never")
        cur = store.con.execute(f"SELECT * FROM {pred.physical_name}")
        names = [d[0] for d in cur.description or []]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        linker.table_management.delete_tables_created_by_splink_from_db()
        store.execute("DROP TABLE IF EXISTS __miss_blocked")
    store.con.unregister("__miss_pairs_arrow")
    return rows


def _facts(store: Store) -> tuple[dict[str, int], list[Facts]]:
    t = store.con.sql(f"""SELECT record_id, ssn, dl_key, suffix, dob_day, dob_month,
        birth_year, first_name, first_name_canon, first_name_phonetic, middle_name
        FROM {INPUT_TABLE} ORDER BY uid""").to_arrow_table()
    c = {n: t.column(n).to_pylist() for n in t.column_names}
    facts = column_facts(c["ssn"], c["dl_key"], c["suffix"],
                         (c["dob_day"], c["dob_month"], c["birth_year"]), Constraints(),
                         (c["first_name"], c["first_name_canon"], c["first_name_phonetic"],
                          c["middle_name"]))
    return {r: i for i, r in enumerate(c["record_id"])}, facts


def _cluster_facts(members: list[int], facts: list[Facts]) -> Facts:
    f = facts[members[0]].copy()
    for m in members[1:]:
        f.absorb(facts[m])
    return f


def _brief(f: Facts) -> str:
    names = sorted({n[0] or "" for n in f.names})
    return (f"names {names} dobs {sorted(d[0] or f'{d[2]}' for d in f.dobs)} "
            f"keys {f.keys} ssns {sorted(f.ssns)}")


def _values(store: Store, record_id: str) -> str:
    row = store.con.execute(
        f"""SELECT source_id, first_name, middle_name, last_name, suffix, dob_day,
            birth_year, sex, house_number, street, city, zip, phone, ssn, dl_key, email
            FROM {INPUT_TABLE} WHERE record_id = ?""", [record_id]).fetchall()[0]
    names = ("src", "first", "middle", "last", "sfx", "dob", "year", "sex", "house",
             "street", "city", "zip", "phone", "ssn", "dl", "email")
    return " ".join(f"{n}={v}" for n, v in zip(names, row, strict=True) if v is not None)


def analyse(data: Path, src: Path, resolve_first: bool, examples: int,
            candidates: bool = True) -> None:
    settings = Settings(data_dir=data)
    store = open_store(settings.db_path)
    if resolve_first:
        from idgraph.link.resolve import resolve
        s = resolve(store, settings)
        print(f"resolved: {s.n_identities:,} identities, refused {s.refused}")
    trained = latest_model(store)
    assert trained is not None, "no model: resolve first"
    model = trained.model
    threshold = settings.match_threshold
    prepare_input(store)
    truth = read_truth(src / "truth.csv")
    member = dict(store.fetchall("SELECT record_id, identity_id FROM identity_members"))
    main, missed = _main_identities(truth, member)
    by_ident: dict[str, list[str]] = defaultdict(list)
    for r in truth:
        by_ident[member.get(r, r)].append(r)
    uid = dict(store.fetchall(f"SELECT record_id, uid FROM {INPUT_TABLE}"))
    tags: dict[str, set[str]] = defaultdict(set)
    if (src / "conventions.csv").exists():
        with (src / "conventions.csv").open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                tags[f"{row['source']}/{row['record_id']}"].add(row["convention"])
    # true pairs: each missed record with each record of its person's main identity
    pairs: list[tuple[int, int]] = []
    for r in missed:
        for s in by_ident[main[truth[r]]]:
            if r in uid and s in uid:
                a, b = uid[r], uid[s]
                pairs.append((min(a, b), max(a, b)))
    print(f"\n{src}: {len(truth):,} records, {len(missed):,} outside their person's main "
          f"identity ({len(missed) / len(truth):.2%}); {len(pairs):,} true pairs to it")
    if not missed:
        store.close()
        return
    table = pa.table({"uid_l": [a for a, _ in pairs], "uid_r": [b for _, b in pairs]})
    store.con.register("__mp", table)
    cond = ", ".join(f"coalesce({r}, false)" for r in BLOCKING_RULES)
    blocked_rows = store.fetchall(
        f"""SELECT mp.uid_l, mp.uid_r, list_value({cond}) FROM __mp mp
            JOIN {INPUT_TABLE} l ON l.uid = mp.uid_l JOIN {INPUT_TABLE} r ON r.uid = mp.uid_r""")
    blocked = {(a, b): any(v) for a, b, v in blocked_rows}
    scored = _score(store, model, table)
    names = comparison_names(model)
    labels = level_labels(model)
    rid = {v: k for k, v in uid.items()}
    by_pair = {(int(s["uid_l"]), int(s["uid_r"])): s for s in scored}
    index, facts = _facts(store)

    def mw(s: dict[str, Any], n: str) -> float:
        if int(s[f"gamma_{n}"]) == -1:
            return 0.0
        return float(s.get(f"mw_{n}") or 0.0) + float(s.get(f"mw_tf_adj_{n}") or 0.0)

    def via(s: dict[str, Any]) -> int:
        bits = 0
        for n, bit in (("ssn", VIA_ID), ("dl_key", VIA_ID), ("phone", VIA_CONTACT),
                       ("email", VIA_CONTACT)):
            if n in labels and labels[n].get(int(s[f"gamma_{n}"])) == "exact":
                bits |= bit
        return bits

    klass: dict[str, str] = {}
    best_of: dict[str, dict[str, Any]] = {}
    rule_of: Counter[str] = Counter()
    why_of: dict[str, str] = {}
    by_level: Counter[tuple[str, str]] = Counter()
    for r in missed:
        ps = [(min(uid[r], uid[s]), max(uid[r], uid[s]))
              for s in by_ident[main[truth[r]]] if s in uid]
        bl = [p for p in ps if blocked.get(p)]
        if not bl:
            klass[r] = "unblocked"
            best = max((by_pair[p] for p in ps if p in by_pair),
                       key=lambda s: float(s["match_weight"]), default=None)
        else:
            best = max((by_pair[p] for p in bl if p in by_pair),
                       key=lambda s: float(s["match_weight"]))
            if float(best["match_probability"]) < threshold:
                klass[r] = "below"
            else:
                mine = _cluster_facts([index[x] for x in by_ident[member.get(r, r)]], facts)
                theirs = _cluster_facts([index[x] for x in by_ident[main[truth[r]]]], facts)
                why = mine.conflict(theirs, via(best))
                klass[r] = "refused"
                rule_of[why or "held (no conflict: ambiguous/homonym/middle-name/order)"] += 1
                lvl = labels["first_name"].get(int(best["gamma_first_name"]), "?")
                by_level[(why or "held", lvl)] += 1
                why_of[r] = f"{why}: {_brief(mine)} | main {_brief(theirs)}"
        if best is not None:
            best_of[r] = best
    n = len(missed)
    size = Counter(member.get(r, r) for r in truth)
    cnt = Counter(klass.values())
    print(f"{'class':<12}{'records':>9}{'share':>8}{'alone':>8}")
    for k in ("unblocked", "below", "refused"):
        alone = sum(1 for r in missed if klass[r] == k and size[member.get(r, r)] == 1)
        print(f"{k:<12}{cnt[k]:>9,}{cnt[k] / n:8.1%}{alone:>8,}")
    print("refused by rule (the two clusters' facts together):")
    for why, k in rule_of.most_common():
        print(f"  {why:<60}{k:>6,}")
    print("refused, by rule and the best pair's given-name level:")
    for (why, lvl), k in by_level.most_common(12):
        print(f"  {why:<12}{lvl:<40}{k:>6,}")
    # comparison levels of the best pair of the below-threshold ones
    for k in ("below", "unblocked"):
        rs = [r for r in missed if klass[r] == k and r in best_of]
        if not rs:
            continue
        ws = sorted(float(best_of[r]["match_weight"]) for r in rs)
        print(f"\n{k}: best pair's match weight median {ws[len(ws) // 2]:+.1f}, "
              f"quartiles {ws[len(ws) // 4]:+.1f} / {ws[3 * len(ws) // 4]:+.1f} "
              f"(threshold {math.log2(threshold / (1 - threshold)):+.1f})")
        print(f"  {'comparison':<12}{'missing':>9}{'exact':>8}{'fuzzy':>8}{'different':>10}"
              f"{'mean bits':>10}  fuzzy levels")
        for name in names:
            lv = Counter(labels[name].get(int(best_of[r][f"gamma_{name}"]), "?") for r in rs)
            fuzzy = {lab: c for lab, c in lv.items()
                     if lab not in ("exact", "different") and not lab.startswith("missing")}
            miss = sum(c for lab, c in lv.items() if lab.startswith("missing"))
            mean = sum(mw(best_of[r], name) for r in rs) / len(rs)
            print(f"  {name:<12}{miss:>9,}{lv['exact']:>8,}{sum(fuzzy.values()):>8,}"
                  f"{lv['different']:>10,}{mean:>+10.2f}  "
                  + ", ".join(f"{lab} {c}" for lab, c in Counter(fuzzy).most_common(3)))
    if tags:
        every = Counter(t for r in truth for t in tags.get(r, ()))
        print(f"\n{'convention':<22}{'of all':>8}" + "".join(f"{k:>11}" for k in
                                                        ("unblocked", "below", "refused")))
        for t, _ in every.most_common():
            row = [sum(1 for r in missed if klass[r] == k and t in tags.get(r, ()))
                   for k in ("unblocked", "below", "refused")]
            print(f"{t:<22}{every[t] / len(truth):8.1%}"
                  + "".join(f"{v / max(cnt[k], 1):11.1%}"
                            for v, k in zip(row, ("unblocked", "below", "refused"),
                                            strict=True)))
    if examples:
        for k in ("unblocked", "below", "refused"):
            rs = [r for r in missed if klass[r] == k and r in best_of][:examples]
            for r in rs:
                s = best_of[r]
                other = rid[int(s["uid_l"])] if rid[int(s["uid_l"])] != r else rid[
                    int(s["uid_r"])]
                lv = " ".join(f"{nm}:{labels[nm].get(int(s[f'gamma_{nm}']), '?')}"
                              f"({mw(s, nm):+.1f})" for nm in names
                              if int(s[f"gamma_{nm}"]) != -1)
                print(f"\n[{k}] w={float(s['match_weight']):+.1f} "
                      f"p={float(s['match_probability']):.3f} {sorted(tags.get(r, ()))}\n"
                      f"  {r}: {_values(store, r)}\n  {other}: {_values(store, other)}\n"
                      f"  {lv}" + (f"\n  {why_of[r]}" if r in why_of else ""))
    if candidates:
        _candidates(store, [p for p in pairs if not blocked.get(p)], missed, uid, klass)
    store.con.unregister("__mp")
    store.close()


def _candidates(store: Store, unblocked: list[tuple[int, int]], missed: list[str],
                uid: dict[str, int], klass: dict[str, str]) -> None:
    """Per candidate rule: unblocked missed records it reaches, pairs it adds."""
    rec = {uid[r] for r in missed if klass[r] == "unblocked" and r in uid}
    store.con.register("__ub", pa.table({"uid_l": [a for a, _ in unblocked],
                                         "uid_r": [b for _, b in unblocked]}))
    existing = " OR ".join(f"coalesce({r}, false)" for r in BLOCKING_RULES)
    n = int(store.fetchall(f"SELECT count(*) FROM {INPUT_TABLE}")[0][0])
    print(f"\ncandidate blocking rules for the {len(rec):,} unblocked missed records "
          f"({n:,} records; 'new pairs': pairs no current rule makes)")
    print(f"{'rule':<30}{'records':>9}{'true pairs':>11}{'new pairs':>11}{'pairs/rec':>10}")
    for name, rule in CANDIDATES.items():
        hit = store.fetchall(
            f"""SELECT u.uid_l, u.uid_r FROM __ub u JOIN {INPUT_TABLE} l ON l.uid = u.uid_l
                JOIN {INPUT_TABLE} r ON r.uid = u.uid_r WHERE coalesce({rule}, false)""")
        reached = {a for a, b in hit if a in rec} | {b for a, b in hit if b in rec}
        new = int(store.fetchall(
            f"""SELECT count(*) FROM {INPUT_TABLE} l JOIN {INPUT_TABLE} r
                ON ({rule}) AND l.uid < r.uid WHERE NOT ({existing})""")[0][0])
        print(f"{name:<30}{len(reached):>9,}{len(hit):>11,}{new:>11,}"
              f"{new / max(len(reached), 1):>10,.0f}")
    store.con.unregister("__ub")


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path, help="data dir holding idgraph.duckdb")
    p.add_argument("src", type=Path, help="population folder holding truth.csv")
    p.add_argument("--resolve", action="store_true", help="resolve first")
    p.add_argument("--examples", type=int, default=4)
    p.add_argument("--no-candidates", action="store_true")
    a = p.parse_args(argv)
    analyse(a.data, a.src, a.resolve, a.examples, not a.no_candidates)


if __name__ == "__main__":
    main(sys.argv[1:])
