"""Check an idgraph webhook delivery:
``python tools/verify_webhook.py SECRET_HEX HEADER BODY_FILE``.

Exit 0 and print the timestamp when the ``X-Idgraph-Signature`` header verifies over the
body (HMAC-SHA256 of ``t.body``) within 300 s of now; exit 1 with the reason otherwise
(``signature``, ``stale``, ``malformed``)."""

from __future__ import annotations

import sys
from pathlib import Path

from idgraph.monitor.webhooks import WebhookError, verify


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    secret, header, body = bytes.fromhex(argv[0]), argv[1], Path(argv[2]).read_bytes()
    try:
        t = verify(secret, header, body)
    except WebhookError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    print(f"ok: signed at {t}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
