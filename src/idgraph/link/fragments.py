"""Fragments: small clusters scored against a whole identity, comparison by comparison.

Pairwise scores miss a person whose evidence is spread over several records: a licence
under a married surname with the birth date of a credit header that still carries the
maiden name, while only a phone record knows the married surname. No single pair
reaches the threshold; the identity as a whole agrees on the given name, the surname
and the birth date.

After clustering, every small cluster (a fragment) is compared with each cluster its
records have scored edges into. For each comparison the strongest level over all those
edges counts once (missing values count nothing), plus the prior once: the score a
pair would get if one record carried the identity's best-matching values. A fragment
joins the best cluster when that score reaches the threshold's match weight, the
cannot-link rules allow it, and no rival cluster the best one cannot merge with comes
within ``LinkConfig.ambiguity_margin`` bits (rule ``rival``). Records the clustering held
back (ambiguous, household homonyms) are never moved, and nothing joins a cluster
through them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from idgraph.link.cluster import Candidate, ClusterState, attach_best, state_of
from idgraph.link.config import LinkConfig
from idgraph.link.constraints import Facts
from idgraph.store import DuckDBStore


@dataclass(frozen=True)
class FragmentScore:
    fragment: int  # cluster label of the fragment
    target: int  # cluster label it would join
    score: float  # prior + sum over comparisons of the best level weight (bits)
    via: int  # VIA_* bits of any edge between the two


def score_fragments(store: DuckDBStore, labels: Sequence[int], held: set[int], n_comparisons: int,
                    prior_weight: float, floor: float = -math.inf,
                    max_fragment: int = 3) -> dict[int, list[FragmentScore]]:
    """fragment label -> its candidate targets scoring ``floor`` or more, best first.

    Reads ``__idg_edges`` (``cw``: per-comparison weights, NULL where a value is
    missing) and ``__idg_ends`` (``eid``, the record indexes ``idx_l``, ``idx_r``).
    :func:`join_fragments` never looks at a candidate below its ``min_weight`` less
    the margin, so that is the floor to pass (at 1M records most candidates are)."""
    lab = np.asarray(labels, dtype=np.int64)
    is_held = np.zeros(len(lab), dtype=bool)
    if held:
        is_held[np.fromiter(held, dtype=np.int64)] = True
    store.con.register("__idg_lab", pa.table({
        "idx": np.arange(len(lab), dtype=np.int64), "label": lab, "held": is_held}))
    # summed left to right in doubles, missing levels adding nothing: the same floats
    # as summing the best levels in Python
    best = " + ".join(["CAST(0 AS DOUBLE)"] + [f"coalesce(CAST(max(cw[{k + 1}]) AS DOUBLE), 0)"
                                               for k in range(n_comparisons)])
    try:
        rows = store.con.sql(f"""
            WITH sizes AS (SELECT label, count(*) AS n FROM __idg_lab GROUP BY 1),
            e AS (
                SELECT la.label AS la, lb.label AS lb, la.held AS ha, lb.held AS hb,
                       e.cw, e.via
                FROM __idg_edges e JOIN __idg_ends x USING (eid)
                JOIN __idg_lab la ON la.idx = x.idx_l
                JOIN __idg_lab lb ON lb.idx = x.idx_r
                WHERE la.label <> lb.label),
            d AS (SELECT la AS s, lb AS c, ha OR hb AS held, cw, via FROM e
                  UNION ALL SELECT lb, la, ha OR hb, cw, via FROM e)
            SELECT * FROM (
                SELECT d.s, d.c, CAST(? AS DOUBLE) + ({best}) AS score,
                       bit_or(d.via) AS via
                FROM d JOIN sizes ON sizes.label = d.s
                WHERE sizes.n <= {int(max_fragment)}
                GROUP BY d.s, d.c
                HAVING NOT bool_or(d.held))
            WHERE score >= ?""", params=[prior_weight, floor]).to_arrow_table()
    finally:
        store.con.unregister("__idg_lab")
    out: dict[int, list[FragmentScore]] = {}
    for s, c, score, via in zip(*(rows.column(k).to_pylist() for k in range(4)), strict=True):
        out.setdefault(s, []).append(FragmentScore(s, c, score, via))
    for cands in out.values():
        cands.sort(key=lambda f: (-f.score, f.target))
    return out


def join_fragments(
    labels: list[int],
    facts: list[Facts],
    candidates: dict[int, list[FragmentScore]],
    min_weight: float,
    config: LinkConfig | None = None,
    state: ClusterState | None = None,
) -> tuple[list[int], int]:
    """Move fragments into their best cluster where the rules allow
    (:func:`~idgraph.link.cluster.attach_best`); return the new labels and how many
    fragments moved. ``state`` is the clustering's union-find for these labels (built
    from ``labels`` when not given)."""
    uf = state if state is not None else state_of(facts, labels)
    moved = attach_best(
        uf, {s: [Candidate(f.target, f.score, f.via) for f in fs] for s, fs in candidates.items()},
        min_weight, config or LinkConfig())
    if not moved:
        return labels, 0
    return uf.labels().tolist(), moved
