"""A population written by foreign conventions: sources that disagree as real files do.

A separate generator from :mod:`idgraph.synth` (it shares none of its choices), so that
linkage is measured on data its tuning did not see. Run it with
``python -m idgraph.synth.foreign --people N --seed S --out DIR``.
"""

from idgraph.synth.foreign.generate import ForeignSummary, generate_foreign

__all__ = ["ForeignSummary", "generate_foreign"]
