"""The demo's example person: someone of the synthetic population to look for."""

from __future__ import annotations

from idgraph.store import Store, records


def example_person(store: Store) -> tuple[str, int] | None:
    """A person to look for: the first New York DMV record (by record id) with a name and
    a birth date, read surname first (``"garcia maria"``) with the birth year only; None
    when the store holds no such record."""
    row = records.example_person(store, "ny_dmv")
    if row is None:
        return None
    return f"{row[0]} {row[1]}", row[2]
