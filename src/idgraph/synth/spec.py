"""What a synthetic source is: its file, columns, manifest, and how it sees a person."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal, NamedTuple

from idgraph.synth import noise
from idgraph.synth.identifiers import IdFactory
from idgraph.synth.population import REF_DATE, Address, Person, rand_date

Row = dict[str, Any]


def corrupt_iso_dob(row: Row, rng: random.Random) -> str:
    """Make the row's ISO ``dob`` impossible (for sources that write dates as ISO)."""
    row["dob"] = noise.bad_date("%Y-%m-%d", rng)
    return "dob"
Emit = Callable[[Person, random.Random, IdFactory], list[Row]]
Corrupt = Callable[[Row, random.Random], str]  # returns the column it broke
MakeId = Callable[[Row, int], str]  # (row, n-th record of the source) -> record id


def numbered(prefix: str, width: int = 9) -> MakeId:
    """Record ids ``prefix`` + zero-padded running number."""

    fmt = f"{prefix}{{:0{width}d}}".format

    def make(_row: Row, n: int) -> str:
        return fmt(n)

    return make


@dataclass(frozen=True)
class SourceSpec:
    """One source: emits rows per person; the generator writes them and the manifest."""

    id: str
    fmt: Literal["csv", "jsonl", "parquet"]
    filename: str
    columns: tuple[str, ...]
    manifest: dict[str, Any]  # everything but ``id`` and ``input``
    emit: Emit
    corrupt: Corrupt
    make_id: MakeId | None = None  # None: the emitter's rows already carry their id
    delimiter: str = ","

    @property
    def record_id(self) -> str:
        return str(self.manifest["record_id"])

    def manifest_doc(self) -> dict[str, Any]:
        """The YAML document: id first, then the descriptive keys, input, mapping."""
        inp: dict[str, Any] = {"path": self.filename, "format": self.fmt}
        if self.delimiter != ",":
            inp["delimiter"] = self.delimiter
        m = dict(self.manifest)
        return {
            "id": self.id,
            "title": m.pop("title"),
            "kind": m.pop("kind"),
            "jurisdiction": m.pop("jurisdiction"),
            "regimes": m.pop("regimes"),
            "collected_for": m.pop("collected_for"),
            "retention_days": m.pop("retention_days"),
            "input": inp,
            **m,
        }


class Name(NamedTuple):
    first: str
    middle: str
    last: str
    suffix: str

    def first_last(self) -> str:
        return " ".join(x for x in (self.first, self.middle, self.last, self.suffix) if x)

    def last_first(self) -> str:
        rest = " ".join(x for x in (self.first, self.middle, self.suffix) if x)
        return f"{self.last}, {rest}" if rest else self.last


def name_at(p: Person, when: date, rng: random.Random, prof: noise.Profile) -> Name:
    """The person's name as this source recorded it on ``when``."""
    return Name(
        noise.given(p.first, rng, prof),
        noise.middle(p.middle, rng, prof),
        noise.family(p.last_at(when), p.compound, rng, prof),
        noise.suffix(p.suffix, rng, prof),
    )


def one_line(a: Address, long_type: bool = False, commas: bool = False) -> str:
    """"12 OAK ST APT 4 CHICAGO IL 60601" (with commas: "..., CHICAGO, IL 60601")."""
    unit = a.unit_text()
    street = f"{a.street_line(long_type)} {unit}" if unit else a.street_line(long_type)
    if commas:
        return f"{street}, {a.city}, {a.state} {a.zip5}"
    return f"{street} {a.city} {a.state} {a.zip5}"


def mdy(d: date) -> str:
    return f"{d.month:02d}/{d.day:02d}/{d.year:04d}"


def iso(d: date) -> str:
    return d.isoformat()


def ymd(d: date) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


def stamp(d: date, rng: random.Random) -> str:
    """An ISO timestamp on ``d`` at a random minute."""
    minute = int(rng.random() * 1440)
    return f"{d.isoformat()}T{minute // 60:02d}:{minute % 60:02d}:00"


def active_since(p: Person) -> date:
    """First day the person can appear in adult records."""
    return max(p.adult_from(), p.residences[0].start)


def random_day(rng: random.Random, lo: date, hi: date | None) -> date:
    return rand_date(rng, lo, (hi or REF_DATE) - timedelta(days=1))
