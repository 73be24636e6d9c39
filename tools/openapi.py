#!/usr/bin/env python3
"""Write the REST API's OpenAPI document to docs/openapi.json (or check it is current).

    python tools/openapi.py            # regenerate docs/openapi.json
    python tools/openapi.py --check    # exit 1 when docs/openapi.json is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from idgraph.api.openapi import text

DOC = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; write nothing")
    parser.add_argument("--out", type=Path, default=DOC)
    args = parser.parse_args(argv)
    current = text()
    if args.check:
        if not args.out.exists() or args.out.read_text(encoding="utf-8") != current:
            print(f"{args.out} is stale: run python tools/openapi.py", file=sys.stderr)
            return 1
        print(f"{args.out} is current")
        return 0
    args.out.write_text(current, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
