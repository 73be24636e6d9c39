"""Synthetic population and multi-source record generator with ground truth.

Everything generated is fictional. Not to be imported by production code paths.

    from idgraph.synth import generate, tiny
    summary = generate(Path("data/synth"), people=20_000, seed=1)
"""

from __future__ import annotations

from idgraph.synth.generate import (
    HARD_CASE_KINDS,
    HARD_CASES_FILE,
    SOURCES,
    SUMMARY_FILE,
    TRUTH_FILE,
    SynthSummary,
    generate,
    tiny,
)

__all__ = [
    "HARD_CASES_FILE",
    "HARD_CASE_KINDS",
    "SOURCES",
    "SUMMARY_FILE",
    "TRUTH_FILE",
    "SynthSummary",
    "generate",
    "tiny",
]
