"""Live feeds: pushing records into a source, its feed tokens, its status.

* :func:`push` is authenticated by a feed token (``idgf_<id>_<secret>``) bound to one
  source, not by a user: a failed use is audited (``feed.auth``, deny) and answered
  :class:`Unauthenticated` (401); a token of another source :class:`Denied` (403). The
  push itself is audited with its records (``feed.push``) in their transaction
  (:mod:`idgraph.monitor.feeds`).
* :func:`push_local` is the same push by a user on the command line (``idgraph feed
  watch``): the act ``ingest.run`` (an operator, admin or records officer).
* :func:`create_token` is the act ``feeds.manage`` (admin); :func:`feed_status` the act
  ``feeds.status``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from idgraph.app.context import Caller, Env
from idgraph.app.errors import AppError, Conflict, Denied, Invalid, NotFound, Unauthenticated
from idgraph.app.gate import authorise_and_audit
from idgraph.app.reads import forget_engine
from idgraph.audit import record
from idgraph.audit.entry import AuditEntry
from idgraph.monitor import feeds as lib
from idgraph.monitor import upkeep
from idgraph.monitor.feeds import FeedReceipt, FeedStatus, LineResult
from idgraph.monitor.upkeep import FeedTokenInfo
from idgraph.search.sync import install_hooks
from idgraph.sources.ingest import AfterIngestError
from idgraph.sources.manifest import ManifestError
from idgraph.sources.readers import FileRejected

__all__ = [
    "FeedReceipt",
    "FeedStatus",
    "FeedTokenInfo",
    "LineResult",
    "create_token",
    "feed_status",
    "list_tokens",
    "push",
    "push_local",
    "revoke_token",
]

TOKEN_SOURCE_RULE = "feed.token_source"


@contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except AppError:
        raise
    except lib.FeedError as exc:
        raise (NotFound(exc.reason) if exc.status == "not_found"
               else Invalid(exc.reason)) from exc
    except FileRejected as exc:
        raise Invalid(f"the push cannot be read: {exc.cause} (nothing stored)") from exc
    except ManifestError as exc:
        raise Conflict(f"the source's registered manifest cannot be used: {exc}") from exc


def _deny(env: Env, principal: str, reason: str, *, source_id: str,
          token_id: str | None, outcome: str = "deny", rules: tuple[str, ...] = ()) -> None:
    detail: dict[str, Any] = {"reason": reason, "source": source_id, "via": "api"}
    if token_id:
        detail["token_id"] = token_id
    with env.store.transaction():
        record(env.store, AuditEntry(principal=principal, action="feed.auth", outcome=outcome,
                                     rules=rules, detail=detail))


def push(env: Env, bearer_feed_token: str, source_id: str, body: bytes) -> FeedReceipt:
    """Store the JSON lines ``body`` pushed to ``source_id`` with a feed token; the
    receipt answers each line: stored, duplicate or quarantined (with the reasons)."""
    store = env.store
    tok, why = lib.check_token(store, bearer_feed_token)
    if why is not None or tok is None:
        _deny(env, "anonymous" if tok is None else f"feed:{tok.token_id}", why or "invalid",
              source_id=source_id, token_id=tok.token_id if tok else None)
        shown = why if why in ("feed token revoked", "feed token expired") else \
            "invalid feed token"
        raise Unauthenticated(shown)
    if tok.source_id != source_id:
        _deny(env, f"feed:{tok.token_id}", "the feed token is for another source",
              source_id=source_id, token_id=tok.token_id, rules=(TOKEN_SOURCE_RULE,))
        raise Denied("this feed token may push only to its own source",
                     rules=(TOKEN_SOURCE_RULE,))
    return _push(env, source_id, body, token_id=tok.token_id, principal=f"feed:{tok.token_id}")


def _push(env: Env, source_id: str, body: bytes, *, token_id: str | None,
          principal: str) -> FeedReceipt:
    install_hooks()
    try:
        with _mapped():
            return lib.push(env.store, env.settings, source_id, body, token_id=token_id,
                            principal=principal, env=env)
    except AfterIngestError as exc:  # stored and acknowledged; the index lags
        raise Conflict(f"the push is stored (batch {exc.summary.batch_id}), but updating "
                       f"the search index failed: {exc.cause}; run `idgraph index rebuild`"
                       ) from exc
    finally:
        forget_engine(env)


def push_local(env: Env, caller: Caller, source_id: str, body: bytes) -> FeedReceipt:
    """The same push by a user (``idgraph feed watch``): the act ``ingest.run``."""
    with authorise_and_audit(env, caller, "ingest.run", target=f"feed:{source_id}",
                             atomic=False) as act:
        receipt = _push(env, source_id, body, token_id=None, principal=caller.actor)
        act.sources = [source_id]
        act.detail.update({"feed": True, "push_id": receipt.push_id,
                           "batches": [receipt.batch_id], "stored": receipt.stored,
                           "duplicate": receipt.duplicate,
                           "quarantined": receipt.quarantined})
    return receipt


def create_token(env: Env, caller: Caller, source_id: str, *, days: int) -> str:
    """A feed token for ``source_id`` (shown once: only its digest is kept); the act
    ``feeds.manage``."""
    with authorise_and_audit(env, caller, "feeds.manage", target=source_id) as act, \
            _mapped():
        tok, bearer = lib.mint_token(env.store, source_id, by=caller.actor, days=days)
        act.sources = [source_id]
        act.detail.update({"token_id": tok.token_id, "feed_source": source_id,
                           "expires": tok.expires_at.isoformat()})
    return bearer


def revoke_token(env: Env, caller: Caller, token_id: str, *,
                 source_id: str | None = None) -> FeedTokenInfo:
    """Revoke a feed token (``idgf_<token_id>_...``) at once; the act ``feeds.manage``.
    With ``source_id`` (the API's ``/feeds/{source}/tokens/{id}/revoke``) a token of
    another source is not found: a path naming one source never acts on another's."""
    with authorise_and_audit(env, caller, "feeds.manage", target=token_id,
                             action="feeds.revoke") as act, _mapped():
        known = {t.token_id: t for t in upkeep.list_feed_tokens(env.store, source_id)}
        if token_id not in known:
            raise NotFound(f"no feed token {token_id!r}"
                           + (f" of source {source_id!r}" if source_id else ""))
        tok = lib.revoke_token(env.store, token_id)
        act.sources = [tok.source_id]
        act.detail.update({"token_id": token_id, "feed_source": tok.source_id})
        [after] = [t for t in upkeep.list_feed_tokens(env.store, tok.source_id)
                   if t.token_id == token_id]
    return after


def list_tokens(env: Env, caller: Caller, source_id: str) -> list[FeedTokenInfo]:
    """A source's feed tokens, without secrets (active, expired, revoked); the act
    ``feeds.manage`` (admin), audited as ``feeds.tokens``."""
    with authorise_and_audit(env, caller, "feeds.manage", target=source_id,
                             action="feeds.tokens") as act, _mapped():
        if not lib.source_exists(env.store, source_id):
            raise NotFound(f"no source {source_id!r}")
        found = upkeep.list_feed_tokens(env.store, source_id)
        act.sources = [source_id]
        act.detail.update({"feed_source": source_id, "count": len(found)})
    return found


def feed_status(env: Env, caller: Caller, source_id: str) -> FeedStatus:
    """A source's feed: records/s over the last minute, stored, duplicate and
    quarantined totals, pushes not placed yet, lag, the last error; ``feeds.status``."""
    with authorise_and_audit(env, caller, "feeds.status", target=source_id) as act, \
            _mapped():
        out = lib.status(env.store, source_id)
        act.sources = [source_id]
    return out
