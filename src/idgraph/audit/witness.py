"""An independent witness: cosigns a log's checkpoints only while the log is append-only.

The idea of C2SP tlog-witness: the witness keeps, per log origin, the latest checkpoint
it cosigned (size and root) in its own state folder with its own Ed25519 key. Offered a
new checkpoint and a consistency proof from the size it last cosigned, it cosigns
(``cosignature/v1``, :func:`idgraph.audit.note.cosign`) only if

* the note is signed by a log key the witness was told to trust,
* that key signs for one origin: the first one the witness cosigned for it (the same
  key under a new origin is a second history, a fork),
* the size did not shrink (rollback), and
* the proof shows the old tree is a prefix of the new one (no rewrite, no fork).

Anything else is refused with :class:`WitnessRefused`. The witness reads no database:
what it trusts is its state folder, and a state that is not what it cosigned (an
edited size or root, a log it cosigned before gone) is refused. A relying party that
requires this witness's cosignature (``tools/verify_audit.py --witness-key``) can then
not be shown a history that differs from what the witness saw, even one the operator
re-signed with its key.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from idgraph import clock
from idgraph.audit import merkle, note
from idgraph.audit.keys import load_private_key, public_hex

KEY_FILE = "witness_ed25519.pem"
STATE_FILE = "witness.json"
LOCK_FILE = "witness.lock"


class WitnessRefused(Exception):
    """The witness will not cosign this checkpoint (the reason says why)."""


@dataclass(frozen=True)
class Seen:
    """The latest checkpoint the witness cosigned for one origin."""

    size: int
    root: bytes
    note: str


class Witness:
    """A witness with its key and state in ``state_dir``."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        if not (self.state_dir / STATE_FILE).exists():
            raise WitnessRefused(f"{state_dir} is not a witness (run with --init first)")
        self._load()
        self.key: Ed25519PrivateKey = load_private_key(path=self.state_dir / KEY_FILE, create=False)

    def _load(self) -> None:
        path = self.state_dir / STATE_FILE
        try:
            self._state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            self.name: str = self._state["name"]
            note.body(self.name, 0, bytes(32), "")  # a valid key name
            if not isinstance(self._state["logs"], dict):
                raise TypeError("logs is not an object")
            [bytes.fromhex(k) for k in self._state["log_keys"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WitnessRefused(f"{path}: not a readable witness state ({exc})") from None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the state folder's lock and re-read the state: two runs of this witness
        at once (cron overlap, or an operator showing each a different fork) must not
        both cosign from the same old state, which would cosign a split view."""
        with open(self.state_dir / LOCK_FILE, "a", encoding="utf-8") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                self._load()
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    @classmethod
    def init(cls, state_dir: Path, name: str, log_keys: Sequence[Ed25519PublicKey]) -> Witness:
        """Make a new witness (key 0600 and state) trusting ``log_keys``."""
        note.body(name, 0, bytes(32), "")  # a valid key name
        state_dir = Path(state_dir)
        if (state_dir / STATE_FILE).exists():
            raise WitnessRefused(f"{state_dir} already holds a witness")
        load_private_key(path=state_dir / KEY_FILE, create=True)
        state = {"name": name, "log_keys": [public_hex(k) for k in log_keys], "logs": {}}
        _write_state(state_dir, state)
        return cls(state_dir)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.key.public_key()

    def vkey(self) -> str:
        """The verifier key a relying party passes to ``verify_audit.py --witness-key``."""
        return note.vkey(self.name, self.public_key, note.COSIGNATURE_V1)

    def trust_log_key(self, key: Ed25519PublicKey) -> None:
        hx = public_hex(key)
        with self._locked():  # never write back a state older than what is on disk
            if hx not in self._state["log_keys"]:
                self._state["log_keys"].append(hx)
                _write_state(self.state_dir, self._state)

    def seen(self, origin: str) -> Seen | None:
        """The latest checkpoint cosigned for ``origin``; the state must hold it as this
        witness cosigned it (an edited size, root or note is refused, not trusted)."""
        got = self._state["logs"].get(origin)
        if got is None:
            return None
        try:
            n = note.parse(got["note"])
            seen = Seen(int(got["size"]), base64.b64decode(got["root"]), got["note"])
        except (note.NoteError, KeyError, TypeError, ValueError):
            n = None
        if (
            n is None
            or (n.origin, n.size, n.root) != (origin, seen.size, seen.root)
            or n.cosigned_by(self.name, self.public_key) is None
        ):
            raise WitnessRefused(
                f"{origin}: my state for this log is not a checkpoint I cosigned (the state "
                "file was edited); refusing until it is restored"
            )
        return seen

    def cosign(self, note_text: str, proof: Sequence[bytes]) -> note.Signature:
        """Cosign ``note_text`` if it extends what this witness last cosigned (as its
        state says now, read under the state folder's lock)."""
        with self._locked():
            return self._cosign(note_text, proof)

    def _cosign(self, note_text: str, proof: Sequence[bytes]) -> note.Signature:
        try:
            n = note.parse(note_text)
        except note.NoteError as exc:
            raise WitnessRefused(f"not a checkpoint: {exc}") from exc
        signer = next(
            (
                k
                for k in self._log_keys()
                if n.signed_by(n.origin, Ed25519PublicKey.from_public_bytes(bytes.fromhex(k)))
            ),
            None,
        )
        if signer is None:
            raise WitnessRefused(f"{n.origin} size {n.size}: not signed by a log key I trust")
        bound = self._origin_of(signer)
        if bound == n.origin and n.origin not in self._state["logs"]:
            raise WitnessRefused(
                f"{n.origin}: I cosigned this log before but my state no longer holds its "
                "checkpoint (the state file was edited); refusing until it is restored"
            )
        if bound is not None and bound != n.origin:
            raise WitnessRefused(
                f"{n.origin}: signed by the key of log {bound}; a log key signs one log: a "
                "second history under another name is a fork"
            )
        seen = self.seen(n.origin)
        if seen is not None:
            if n.size < seen.size:
                raise WitnessRefused(
                    f"{n.origin}: rollback: size {n.size} is smaller than the size {seen.size} "
                    "I already cosigned"
                )
            if not merkle.verify_consistency(seen.size, n.size, seen.root, n.root, list(proof)):
                raise WitnessRefused(
                    f"{n.origin}: size {n.size} is not consistent with the checkpoint of size "
                    f"{seen.size} I cosigned (rewritten or forked history)"
                )
        sig = note.cosign(n, self.name, self.key, clock.now())
        signed = n.with_signature(sig)
        self._state["key_origins"][signer] = n.origin
        self._state["logs"][n.origin] = {
            "size": n.size,
            "root": base64.b64encode(n.root).decode(),
            "note": signed.text(),
            "at": clock.now().isoformat(),
        }
        _write_state(self.state_dir, self._state)
        return sig

    def _origin_of(self, signer: str) -> str | None:
        """The one log (origin) the log key ``signer`` signs for, as this witness saw it."""
        bound: dict[str, str] = self._state.setdefault("key_origins", {})
        if signer not in bound:  # a state from before key_origins: find it in the notes kept
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(signer))
            for origin, got in self._state["logs"].items():
                try:
                    if note.parse(got["note"]).signed_by(origin, key):
                        bound[signer] = origin
                        break
                except (note.NoteError, KeyError, TypeError):
                    continue
        return bound.get(signer)

    def _log_keys(self) -> list[str]:
        return list(self._state["log_keys"])


def _write_state(state_dir: Path, state: dict[str, Any]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / (STATE_FILE + ".new")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, state_dir / STATE_FILE)
