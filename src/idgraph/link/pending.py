"""Candidate lookups of live attach beside the injected source: exact keys in the store,
and the records of the chunk being placed (not in the search index until it commits)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from idgraph.link.resolve import sound_key
from idgraph.store import Store
from idgraph.store.graph import IdentityGraph

# most candidate records the default lookup returns
DEFAULT_CANDIDATE_LIMIT: Final = 500


def exact_key_candidates(store: Store, row: Mapping[str, Any],
                         limit: int = DEFAULT_CANDIDATE_LIMIT) -> list[str]:
    """Current records sharing an exact key with ``row``: SSN, licence, phone, given
    name with surname and birth year, or house, street and ZIP. (A scan of the
    records: for tests and small stores; the search index serves large ones.)"""
    dl_state, _, dl_number = (row.get("dl_key") or "").partition(":")
    return IdentityGraph(store).exact_key_candidates(str(row["record_id"]), {
        "ssn": row.get("ssn"), "phone": row.get("phone"), "dl_number": dl_number or None,
        "dl_state": dl_state, "first_name_canon": row.get("first_name_canon"),
        "last_name": row.get("last_name"), "birth_year": row.get("birth_year"),
        "house_number": row.get("house_number"), "street": row.get("street"),
        "zip": row.get("zip")}, limit)


def _keys(row: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """The record's exact keys (identifiers, contacts, address) and name keys (given
    name sound with surname, or with surname sound and birth year)."""
    keys: list[tuple[Any, ...]] = []
    for col in ("ssn", "dl_key", "phone", "email"):
        if row.get(col):
            keys.append((col, row[col]))
    if row.get("house_number") and row.get("street"):
        keys.append(("address", row["house_number"], row["street"]))
    first = row.get("first_name_canon") or row.get("first_name")
    last = row.get("last_name")
    if first and last:
        keys.append(("name", sound_key(str(first)), last))
        sound = row.get("last_name_phonetic") or last
        keys.append(("born", sound_key(str(first)), sound, row.get("birth_year")))
    return keys


class PendingIndex:
    """The records of a chunk not yet committed, by their exact and name keys: a
    record finds the chunk's earlier records through them while the search index
    does not hold them yet (cleared when the chunk commits and the index refreshes)."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[Any, ...], list[str]] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def add(self, row: Mapping[str, Any]) -> None:
        rid = str(row["record_id"])
        for key in _keys(row):
            self._by_key.setdefault(key, []).append(rid)

    def find(self, row: Mapping[str, Any]) -> list[str]:
        """Pending records sharing a key with ``row`` (not itself)."""
        rid = str(row["record_id"])
        out: dict[str, None] = {}
        for key in _keys(row):
            out.update(dict.fromkeys(self._by_key.get(key, ())))
        out.pop(rid, None)
        return list(out)

    def clear(self) -> None:
        self._by_key.clear()
