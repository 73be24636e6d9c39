"""The demo's example person: someone of the synthetic population to look for."""

from __future__ import annotations

from idgraph.store import Store


def example_person(store: Store) -> tuple[str, int] | None:
    """A person to look for: the first New York DMV record (by record id) with a name and
    a birth date, read surname first (``"garcia maria"``) with the birth year only; None
    when the store holds no such record."""
    row = store.fetchone(
        """SELECT last_name, first_name, year(dob) FROM records
           WHERE is_current AND source_id = 'ny_dmv' AND dob IS NOT NULL
             AND first_name IS NOT NULL AND last_name IS NOT NULL
           ORDER BY record_id LIMIT 1"""
    )
    if row is None:
        return None
    return f"{row[0]} {row[1]}", int(row[2])
