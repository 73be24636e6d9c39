"""idgraph.search: find people inside the policy gate.

- :func:`find` -- ranked identities for partial facts (:class:`Criteria`), scored with
  the trained model on the purpose-scoped view, one audited act;
- :func:`associates` -- identities sharing an address, phone or vehicle with a subject;
- :func:`match_list` -- the best identity per row of a list (bulk matching);
- :class:`SearchIndex` -- the tantivy index the candidates come from.

``idgraph.search.find`` and ``idgraph.search.associates`` are the functions here (the
modules of the same names: ``importlib.import_module("idgraph.search.find")``).
"""

from __future__ import annotations

from idgraph.search.associates import Associate, AssociatesResult, associates
from idgraph.search.criteria import Criteria, CriteriaError, parse_criteria, readings
from idgraph.search.find import SearchResult, find
from idgraph.search.index import Candidate, SearchIndex
from idgraph.search.match import MatchResult, load_mapping, match_list
from idgraph.search.scoring import Hit

__all__ = [
    "Associate",
    "AssociatesResult",
    "Candidate",
    "Criteria",
    "CriteriaError",
    "Hit",
    "MatchResult",
    "SearchIndex",
    "SearchResult",
    "associates",
    "find",
    "load_mapping",
    "match_list",
    "parse_criteria",
    "readings",
]
