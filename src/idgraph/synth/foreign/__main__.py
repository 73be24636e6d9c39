"""``python -m idgraph.synth.foreign --people N --seed S --out DIR``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from idgraph.synth.foreign.catalogue import SOURCES
from idgraph.synth.foreign.generate import generate_foreign


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m idgraph.synth.foreign",
        description="Write a foreign-conventions population (synthetic): one file and "
        "manifest per source, truth.csv, hard_cases.csv, conventions.csv.")
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.people < 1:
        parser.error("--people must be at least 1")
    err = Console(stderr=True)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task("people", total=len(SOURCES) + 1)

        def advance(stage: str, _n: int) -> None:
            bar.update(task, advance=1, description=f"{stage} done")

        s = generate_foreign(args.people, args.seed, args.out, advance)
    Console().print(f"wrote {s.records:,} records for {s.people:,} people in "
                    f"{len(s.by_source)} sources to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
