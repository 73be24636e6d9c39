""":class:`AuditLog`: the signer, prover and verifier over one store's log.

``checkpoint()`` never signs a tree that does not extend what was signed before: it
rebuilds the tree from the entry bytes of the whole log and checks every stored
checkpoint (and the latest one in the publication folder) against it
(:mod:`idgraph.audit.integrity`). Checkpoints are C2SP signed notes under the name
``origin``; each is written to the publication folder once its transaction commits.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from idgraph import clock
from idgraph.audit import merkle, note, publish, trust
from idgraph.audit.checkpoint import (
    DEFAULT_ORIGIN,
    Checkpoint,
    ConsistencyProof,
    InclusionProof,
    StoredEntry,
    insert_checkpoint,
    load_checkpoints,
)
from idgraph.audit.entry import AuditEntry
from idgraph.audit.integrity import AuditIntegrityError, check_extends, recompute
from idgraph.audit.keys import (
    AuditKeyError,
    key_path,
    load_private_key,
    pending_path,
    public_hex,
    stage_key,
)
from idgraph.audit.log import append_entries, ensure_tables, read_head
from idgraph.store import Store
from idgraph.store.auditlog import AuditRepo

if TYPE_CHECKING:
    from idgraph.audit.verify import VerifyResult

_CHUNK = 100_000
KeySpec = Ed25519PublicKey | Path | str | bytes
Passphrase = bytes | Callable[[], bytes | None] | None


def _aware(text: str | None) -> datetime | None:
    try:
        t = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return t if t is not None and t.tzinfo is not None else None


class AuditLog:
    """The audit log of one store.

    The signing key is ``key``, else the PEM at ``key_path`` (default
    ``data_dir/audit_ed25519.pem``), decrypted with ``passphrase`` (bytes, or a callable
    asked once when the key is first needed). Checkpoints go to ``publication``
    (default ``data_dir/audit-publication``; none without a data dir).
    """

    def __init__(
        self,
        store: Store,
        data_dir: Path | None = None,
        key: Ed25519PrivateKey | None = None,
        *,
        key_path: Path | None = None,
        passphrase: Passphrase = None,
        origin: str = DEFAULT_ORIGIN,
        publication: Path | None = None,
    ) -> None:
        ensure_tables(store)
        note.body(origin, 0, bytes(32), "")  # validates the origin
        self.store = store
        self.repo = AuditRepo(store)
        self.data_dir = data_dir
        self.origin = origin
        self._key = key
        self._from_file = False  # the key was read from key_path (rotations replace it)
        self._key_path = key_path
        self._passphrase = passphrase
        if publication is None and data_dir is not None:
            publication = Path(data_dir) / publish.FOLDER
        self.publication = publication
        self._levels = merkle.MerkleLevels()

    # -- keys -------------------------------------------------------------
    @property
    def key_path(self) -> Path | None:
        if self._key_path is not None:
            return self._key_path
        return key_path(self.data_dir) if self.data_dir is not None else None

    def passphrase(self) -> bytes | None:
        p = self._passphrase
        if callable(p):
            p = p()
            self._passphrase = p
        return p

    @property
    def key(self) -> Ed25519PrivateKey:
        if self._key is None:
            path = self.key_path
            if path is None:
                raise ValueError("AuditLog needs a data_dir, a key_path or a key to sign")
            key = load_private_key(path=path, passphrase=self.passphrase())
            self._key = self._adopt_pending(path, key)
            self._from_file = True
        return self._key

    def _adopt_pending(self, path: Path, key: Ed25519PrivateKey) -> Ed25519PrivateKey:
        """A rotation stages the new key (``<key>.next``) before it commits. If the process
        died after the commit but before replacing the key file, the log has handed over
        to the staged key: adopt it (else the log could never sign again). A staged key
        the log never recorded (the rotation rolled back) is removed."""
        pending = pending_path(path)
        if not pending.exists():
            return key
        keys = self.recorded_keys()
        staged = load_private_key(path=pending, create=False, passphrase=self.passphrase())
        old = keys.get(public_hex(key.public_key()))
        new = keys.get(public_hex(staged.public_key()))
        if old is not None and old[1] is not None and new is not None and new[1] is None:
            os.replace(pending, path)
            return staged
        if new is None:
            pending.unlink(missing_ok=True)
        return key

    def _reload_rotated(self) -> None:
        """A key read from the key file that the log has since retired was rotated by
        another process (which replaced the file once its rotation committed): read the
        file again rather than refuse every later checkpoint."""
        if not self._from_file or self._key is None:
            return
        window = self.recorded_keys().get(public_hex(self._key.public_key()))
        if window is not None and window[1] is not None:
            self._key, self._from_file = None, False

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.key.public_key()

    def recorded_keys(self) -> dict[str, tuple[int, int | None]]:
        """Hex public key -> (first size, last size or None) it may sign."""
        return {k.pubkey: (k.since_size, k.until_size) for k in self.repo.signing_keys()}

    # -- entries ----------------------------------------------------------
    def size(self) -> int:
        return self.repo.size()

    def append(self, entry: AuditEntry) -> int:
        return append_entries(self.store, [entry])[0]

    def append_many(self, entries: Iterable[AuditEntry]) -> range:
        return append_entries(self.store, entries)

    def entries(self, start: int = 0, stop: int | None = None) -> list[StoredEntry]:
        """Stored entries with ``start <= index < stop``."""
        stop = self.size() if stop is None else stop
        return [StoredEntry(s, e.encode(), bytes.fromhex(h))
                for s, e, h in self.repo.entries(start, stop)]

    # -- tree -------------------------------------------------------------
    def _sync(self) -> merkle.MerkleLevels:
        """Bring the cached levels up to the stored size, reading only new leaf hashes."""
        n = self.size()
        if n < self._levels.size:
            self._levels = merkle.MerkleLevels()
        while self._levels.size < n:
            start = self._levels.size
            rows = self.repo.leaf_hashes(start, min(n, start + _CHUNK))
            if not rows or int(rows[0][0]) != start or int(rows[-1][0]) != start + len(rows) - 1:
                raise AuditIntegrityError(f"audit_log has a gap at or after index {start}")
            self._levels.extend(bytes(r[1]) for r in rows)
        return self._levels

    def tree(self) -> merkle.MerkleLevels:
        """The Merkle levels over the stored leaf hashes (cached, grown on demand)."""
        return self._sync()

    def root(self, size: int | None = None) -> bytes:
        return self._sync().root(size)

    # -- checkpoints ------------------------------------------------------
    def checkpoints(self) -> list[Checkpoint]:
        return load_checkpoints(self.store)

    def latest_checkpoint(self) -> Checkpoint | None:
        cps = self.checkpoints()
        return cps[-1] if cps else None

    def _trusted(self, signer: str) -> dict[str, Ed25519PublicKey]:
        keys = self.recorded_keys()
        window = keys.get(signer)
        if window is not None and window[1] is not None:
            raise AuditKeyError(
                f"the signing key {signer[:16]}... was rotated out at size {window[1]}; "
                "refusing to sign with it"
            )
        if keys and window is None:
            raise AuditKeyError(
                f"the signing key {signer[:16]}... is not a key this log recorded (a swapped "
                "key file?); change keys only with `idgraph audit rotate-key`"
            )
        hexes = set(keys)
        if not keys:  # a log from before the key table: its own key signed everything
            hexes.add(signer)
        try:
            return {h: Ed25519PublicKey.from_public_bytes(bytes.fromhex(h)) for h in hexes}
        except ValueError:
            raise AuditIntegrityError(
                "audit_keys holds a row that is not an Ed25519 public key (edited?); "
                "refusing to sign"
            ) from None

    def _check_handover(
        self, cps: list[Checkpoint], signer: str, size: int, rows: list[tuple[int, str]]
    ) -> None:
        """The signer is the key of the log's first checkpoint, or one it handed over to
        by a rotation entry (``rows``: the log's ``audit.key_rotate`` entries) signed by
        both keys (``audit_keys`` is a table anyone with the database can edit; the log's
        own signed evidence is not)."""
        if not cps:
            return
        rotations = [r for seq, e in rows if (r := trust.rotation_of(seq, e)) is not None]
        signed = [(cp.size, cp.pubkey) for cp in cps]  # check_extends verified each
        windows = trust.key_windows([cps[0].pubkey], rotations, signed)
        if not trust.in_window(windows, signer, size):
            raise AuditKeyError(
                f"the signing key {signer[:16]}... neither signed this log's first checkpoint "
                "nor was handed over to by a rotation signed by both keys (a swapped key "
                "file, an edited key table?); refusing to sign"
            )

    def _check_published(
        self, levels: merkle.MerkleLevels, trusted: set[str], next_id: int
    ) -> None:
        if self.publication is None:
            return
        latest = publish.latest_published(self.publication)
        if latest is None:
            return
        cid, n = latest
        if not any(
            n.signed_by(n.origin, Ed25519PublicKey.from_public_bytes(bytes.fromhex(h)))
            for h in trusted
        ):
            raise AuditIntegrityError(f"published checkpoint {cid}: no valid log signature")
        if n.size > levels.size or levels.root(n.size) != n.root:
            raise AuditIntegrityError(
                f"the log is not consistent with published checkpoint {cid} (size {n.size}): "
                "rewritten or rolled back; refusing to sign"
            )
        if cid >= next_id:
            raise AuditIntegrityError(
                f"published checkpoint {cid} is not in the database (its latest is "
                f"{next_id - 1 if next_id else 'none'}): checkpoint rows were deleted; "
                "refusing to sign"
            )

    def checkpoint(self) -> Checkpoint:
        """Check that the stored log extends every signed checkpoint; sign its head.

        Under the store's ``audit`` lock: no append (of any process) moves the log between
        the check and the signature, and checkpoints get consecutive ids. On PostgreSQL
        (other processes append meanwhile) the whole log is rehashed before the lock is
        taken, and only the entries appended since then under it: appends wait for the
        tail, not for a scan of the whole log. What is signed is still the tree of the
        bytes checked (a row edited after its check is found by the next verification,
        never signed over)."""
        self._reload_rotated()
        signer = public_hex(self.public_key)
        levels: merkle.MerkleLevels | None = None
        rotating: list[tuple[int, str]] = []  # rotation entries among the levels' leaves
        if self.repo.pg and not self.store.in_transaction:
            levels = recompute(self.store)
            rotating = [r for r in self.repo.entries_with_action(trust.ROTATE_ACTION)
                        if r[0] < levels.size]
        with self.store.transaction():
            self.repo.lock()
            trusted = self._trusted(signer)
            known = levels.size if levels is not None else 0
            levels = recompute(self.store, levels)
            cps = self.checkpoints()
            check_extends(levels, cps, trusted)
            rotating += self.repo.entries_with_action(trust.ROTATE_ACTION, known)
            self._check_handover(cps, signer, levels.size, rotating)
            self._check_published(levels, set(trusted), cps[-1].id + 1 if cps else 0)
            self._levels = levels
            head = read_head(self.store)
            now = clock.now()
            when = max(now, head.last) if head.last else now
            # never before the latest checkpoint or the last entry (a clock set back, an
            # edited head row): a tree head is not dated before what it signs
            last = self.repo.entry_time(levels.size - 1) if levels.size else None
            for text in (cps[-1].time if cps else None, last):
                t = _aware(text)
                when = max(when, t) if t is not None else when
            n = levels.size
            signed = note.sign(self.origin, n, levels.root(n), when.isoformat(), self.key)
            cp = Checkpoint(
                id=cps[-1].id + 1 if cps else 0,
                size=n,
                root=signed.root,
                time=when.isoformat(),
                signature=signed.signatures[0].data,
                pubkey=signer,
                note=signed.text(),
                origin=self.origin,
            )
            insert_checkpoint(self.store, cp)
            self.repo.add_key(signer, self.origin, 0, cp.time, if_absent=True)
            self.repo.mark_checkpoint(cp.time, n, now.isoformat())
        self.publish()
        return cp

    def publish(self) -> int:
        """Write unpublished checkpoints and the log's keys to the publication folder
        (only outside a transaction: nothing that may still roll back is published)."""
        if self.publication is None or self.store.in_transaction:
            return 0
        for h, _ in self.recorded_keys().items():
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(h))
            publish.publish_key(self.publication, self.origin, key)
        return publish.publish_checkpoints(self.publication, self.checkpoints())

    def check_cosigner(self, checkpoint_id: int, witness: str, line_or_key: str | bytes) -> None:
        """Refuse a second witness under a name another key already cosigned with
        (``line_or_key``: a cosignature line or the witness's 4-byte key id): its
        cosignature would be dropped silently and its publication fail."""
        held_line = self.repo.cosignature(checkpoint_id, witness)
        if held_line is None:
            return
        try:
            kid = (
                line_or_key
                if isinstance(line_or_key, bytes)
                else note.parse_signature(line_or_key).key_id
            )
            held = note.parse_signature(held_line).key_id
        except note.NoteError:
            raise AuditIntegrityError(
                f"checkpoint {checkpoint_id}: the cosignature of {witness} does not parse"
            ) from None
        if kid != held:
            raise AuditIntegrityError(
                f"checkpoint {checkpoint_id} is already cosigned by another witness named "
                f"{witness} (key id {held.hex()}): two witnesses share a name; give each its "
                "own --name"
            )

    def add_cosignature(self, checkpoint_id: int, witness: str, line: str) -> Checkpoint:
        """Store a witness's cosignature line (after checking it parses) and publish it."""
        cps = {cp.id: cp for cp in self.checkpoints()}
        cp = cps.get(checkpoint_id)
        if cp is None or cp.note is None:
            raise ValueError(f"no signed-note checkpoint {checkpoint_id}")
        merged = cp.with_cosignatures([line])
        self.check_cosigner(checkpoint_id, witness, line)
        self.repo.add_cosignature(checkpoint_id, witness, line, clock.now().isoformat())
        if self.publication is not None and merged.note is not None:
            publish.publish_cosigned(self.publication, checkpoint_id, witness, merged.note)
        return merged

    def rotate_key(self, new_key: Ed25519PrivateKey, entry: AuditEntry) -> tuple[Checkpoint, ...]:
        """Hand over to ``new_key``: log an ``audit.key_rotate`` entry naming both keys,
        sign it with the old key, retire the old key, and cross-sign with the new one.

        A key read from ``key_path`` is replaced there once the database has committed;
        the new key is staged beside it first (``<key>.next``), so a crash in between
        loses nothing (:meth:`_adopt_pending`).
        """
        old_key = self.key
        old, new = public_hex(self.public_key), public_hex(new_key.public_key())
        if old == new:
            raise AuditKeyError("the new key is the current key")
        handing = trust.rotation_message(self.origin, old, new)
        detail = {
            **entry.detail,
            "origin": self.origin,
            "old_pubkey": old,
            "new_pubkey": new,
            "old_vkey": note.vkey(self.origin, self.public_key),
            "new_vkey": note.vkey(self.origin, new_key.public_key()),
            "old_sig": self.key.sign(handing).hex(),
            "new_sig": new_key.sign(handing).hex(),
        }
        rotate = entry.model_copy(update={"action": "audit.key_rotate", "detail": detail})
        path = self.key_path if self._from_file else None
        if path is not None and self.store.in_transaction:
            raise AuditKeyError(
                "rotate the key outside a transaction (the key file is replaced once the "
                "rotation has committed)"
            )
        staged = stage_key(path, new_key, self.passphrase()) if path is not None else None
        try:
            signed = self._rotate(rotate, old, new, new_key)
        except BaseException:
            self._key = old_key  # rolled back: the old key still signs
            if staged is not None:
                staged.unlink(missing_ok=True)
            raise
        if path is not None and staged is not None:
            os.replace(staged, path)  # the database committed: the new key takes over
        self.publish()
        return signed

    def _rotate(
        self, rotate: AuditEntry, old: str, new: str, new_key: Ed25519PrivateKey
    ) -> tuple[Checkpoint, Checkpoint]:
        with self.store.transaction():
            index = self.append(rotate)
            handover = self.checkpoint()  # the old key vouches for the new one
            self.repo.retire_key(old, index + 1)
            self.repo.add_key(new, self.origin, index + 1, clock.now().isoformat())
            self._key = new_key
            cross = self.checkpoint()
        return handover, cross

    # -- proofs -----------------------------------------------------------
    def prove(self, index: int, checkpoint: Checkpoint | None = None) -> InclusionProof:
        """Inclusion proof of entry ``index`` against ``checkpoint`` (default: the
        latest checkpoint covering it, signing a new one when none does)."""
        cp = checkpoint or self.latest_checkpoint()
        if cp is None or cp.size <= index:
            cp = self.checkpoint()
        if not 0 <= index < cp.size:
            raise ValueError(f"index {index} outside checkpoint of size {cp.size}")
        levels = self._levels if self._levels.size >= cp.size else self._sync()
        stored = self.entries(index, index + 1)
        if not stored:
            raise AuditIntegrityError(f"entry {index} is missing")
        path = levels.inclusion_path(index, cp.size)
        return InclusionProof(index, stored[0].data, levels.levels[0][index], tuple(path), cp)

    def consistency(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """Proof that the log at ``old_size`` is a prefix of the log at ``new_size``."""
        levels = self._sync()
        n = levels.size if new_size is None else new_size
        if not 0 <= old_size <= n <= levels.size:
            raise AuditIntegrityError(
                f"cannot prove size {old_size} is a prefix of size {n}: the log holds "
                f"{levels.size} entries (a checkpoint beyond it means entries were removed)"
            )
        path = levels.consistency_path(old_size, n)
        return ConsistencyProof(old_size, n, levels.root(old_size), levels.root(n), tuple(path))

    # -- verification -----------------------------------------------------
    def verify(self, pubkey: KeySpec | list[KeySpec] | None = None) -> VerifyResult:
        """Check the whole log against ``pubkey`` (default: this log's own key)."""
        from idgraph.audit.verify import verify_log

        if isinstance(pubkey, list):
            return verify_log(self.store, pubkey, publication=self.publication)

        if pubkey is None and self._key is not None:
            pubkey = self._key.public_key()
        elif pubkey is None and self.key_path is not None:
            try:
                pubkey = load_private_key(
                    path=self.key_path, create=False, passphrase=self.passphrase()
                ).public_key()
            except AuditKeyError:
                pubkey = None  # no key yet: any checkpoint is reported unverifiable
        return verify_log(self.store, pubkey, publication=self.publication)
