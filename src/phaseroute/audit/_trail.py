"""`AuditTrail`: the router's handle on the chain — durable appends, signed checkpoints.

Appends from many threads are group-committed: each caller encodes its records, queues them,
and either waits or takes the commit turn and writes every record queued so far in one
transaction; each caller returns only after the transaction holding its record has committed.
The database lock (not this batching) is what keeps the chain single across processes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from phaseroute.audit._codec import EncodedRecord, encode_record
from phaseroute.audit._entry import AuditEntry, AuditReceipt
from phaseroute.audit._inspect import trusted_keys, verify_store
from phaseroute.audit._schema import now_iso
from phaseroute.audit._snapshot import Checkpoint
from phaseroute.audit._store import ChainStore, checkpointed
from phaseroute.audit._verify import VerificationReport
from phaseroute.audit._witness import Witness
from phaseroute.errors import AuditWriteFailed, RequestError

_log = logging.getLogger("phaseroute.audit")


@dataclass
class _Pending:
    """A queued record; `done` (set under the trail's lock) once its commit has finished."""

    record: EncodedRecord
    done: bool = False
    receipt: AuditReceipt | None = None
    error: BaseException | None = None


class AuditTrail:
    """An open audit chain. Thread-safe; share one per process."""

    def __init__(
        self,
        store: ChainStore,
        *,
        signing_key: Ed25519PrivateKey | None = None,
        checkpoint_every: int = 1000,
        checkpoint_seconds: float = 60.0,
        witness: Witness | None = None,
    ) -> None:
        if checkpoint_every < 1:
            raise RequestError(f"checkpoint_every must be at least 1, got {checkpoint_every}")
        if checkpoint_seconds <= 0:
            raise RequestError(f"checkpoint_seconds must be positive, got {checkpoint_seconds}")
        self.store = store
        self._key = signing_key
        self._witness = witness
        self._every = checkpoint_every
        self._seconds = checkpoint_seconds
        self._queue: list[_Pending] = []
        self._turn = threading.Condition()  # guards the queue and the `_committing` flag
        self._committing = False
        self._last_batch = 0
        self._closed = threading.Event()
        self._timer: threading.Thread | None = None
        if signing_key is not None:
            # A writer that was killed may have left records no checkpoint covers.
            self._publish(self.store.checkpoint(signing_key))
            self._timer = threading.Thread(
                target=self._tick, name="phaseroute-audit-checkpoint", daemon=True
            )
            self._timer.start()

    @classmethod
    def open(
        cls,
        location: str | Path | None,
        *,
        signing_key: Ed25519PrivateKey | None = None,
        checkpoint_every: int = 1000,
        checkpoint_seconds: float = 60.0,
        witness: Witness | None = None,
    ) -> AuditTrail:
        """Open (creating and migrating if needed) the chain at `location`.

        `location` is a SQLite file path or a ``postgresql://`` URL (None: phaseroute.db).
        Without a `signing_key` records are chained but never checkpointed. With a `witness`
        every signed tree head is also published there.
        """
        return cls(
            ChainStore.open(location),
            signing_key=signing_key,
            checkpoint_every=checkpoint_every,
            checkpoint_seconds=checkpoint_seconds,
            witness=witness,
        )

    @property
    def signing_key(self) -> Ed25519PrivateKey | None:
        return self._key

    def append(self, entry: AuditEntry) -> AuditReceipt:
        """Chain `entry`; returns only once the record is durable, else AuditWriteFailed."""
        return self.append_many([entry])[0]

    def append_many(self, entries: list[AuditEntry]) -> list[AuditReceipt]:
        """Chain several entries (in order, adjacent only if no other writer interleaves)."""
        if self._closed.is_set():
            raise AuditWriteFailed("the audit trail is closed; the record was not written")
        if not entries:
            return []
        recorded_at = now_iso()
        pending = [_Pending(encode_record(e, recorded_at)) for e in entries]
        last = pending[-1]
        with self._turn:
            self._queue.extend(pending)
            # Wait until a commit holds our records, or take the turn and commit the queue.
            while not last.done:
                if not self._committing:
                    self._commit_queued()
                    break
                self._turn.wait()
        receipts: list[AuditReceipt] = []
        for p in pending:
            if p.error is not None:
                if isinstance(p.error, AuditWriteFailed):
                    raise AuditWriteFailed(str(p.error)) from p.error
                raise AuditWriteFailed(f"the audit record could not be written: {p.error}") from (
                    p.error
                )
            if p.receipt is None:  # unreachable: done is set with a receipt or an error
                raise AuditWriteFailed("the audit record was not acknowledged")
            receipts.append(p.receipt)
        return receipts

    def _commit_queued(self) -> None:
        """Commit every queued record in one transaction; called holding `_turn`, which is
        released while the database works so other threads can queue the next batch."""
        self._committing = True
        if self._last_batch > 1:
            self._let_callers_queue()
        batch, self._queue = self._queue, []
        self._last_batch = len(batch)
        self._turn.release()
        error: BaseException | None = None
        receipts: list[AuditReceipt] = []
        signed: list[Checkpoint] = []
        try:
            receipts = self.store.append(
                [p.record for p in batch],
                signing_key=self._key,
                checkpoint_every=self._every,
                checkpoint_seconds=self._seconds,
                signed=signed,
            )
        except BaseException as e:
            error = e
        finally:
            self._turn.acquire()
            self._committing = False
            for i, p in enumerate(batch):
                if error is None:
                    p.receipt = receipts[i]
                else:
                    p.error = error
                p.done = True
            self._turn.notify_all()
        if error is not None and not isinstance(error, Exception):
            raise error
        if signed:
            self._turn.release()
            try:
                self._publish(signed[-1])
            finally:
                self._turn.acquire()

    def _publish(self, cp: Checkpoint | None) -> None:
        """Hand a new signed head to the witness. A failure is logged, not raised: the records
        are already durable, and the next checkpoint publishes a head covering them."""
        if self._witness is None or cp is None or cp.note is None:
            return
        try:
            self._witness.publish(cp.note)
        except Exception as e:
            _log.warning(
                "could not publish the signed head at seq %s to witness %s: %s",
                cp.seq,
                self._witness.describe(),
                e,
            )

    def _let_callers_queue(self) -> None:
        """Under concurrency, let writers woken by the last commit queue again before the
        batch is taken: yield the GIL (no timer, no added wait when nobody queues) while the
        queue keeps growing.

        Without this, commits alternate between two halves of the writers, each half committing
        while the other re-queues; with it, most writers share every commit.
        """
        for _ in range(self._last_batch):
            queued = len(self._queue)
            self._turn.release()
            time.sleep(0)
            self._turn.acquire()
            if len(self._queue) == queued:
                return

    def checkpoint(self) -> Checkpoint | None:
        """Sign the head now if any record is not yet covered; needs the signing key."""
        if self._key is None:
            raise RequestError(
                "this audit trail has no signing key, so it cannot write checkpoints — "
                "open it with signing_key=load_signing_key(...)"
            )
        cp = self.store.checkpoint(self._key)
        self._publish(cp)
        return cp

    def verify(
        self,
        public_keys: Sequence[Ed25519PublicKey] = (),
        *,
        allow_uncovered: bool = False,
    ) -> VerificationReport:
        """Verify the whole chain; trusts `public_keys`, else this trail's own signing key."""
        keys = list(public_keys)
        if not keys and self._key is not None:
            keys = [self._key.public_key()]
        return verify_store(self.store, trusted_keys(keys), allow_uncovered=allow_uncovered)

    def erase(self, seqs: Sequence[int], *, reason: str, authority: str) -> AuditReceipt:
        """Erase the stored request/response of records `seqs` and chain an erasure record
        (which records, why, under which authority); the chain stays intact and verify
        counts the content as erased. With a signing key the erasure is signed at once.
        Returns the erasure record's receipt."""
        if self._closed.is_set():
            raise AuditWriteFailed("the audit trail is closed; nothing was erased")
        receipt = self.store.erase(seqs, reason=reason, authority=authority)
        if self._key is None:
            return receipt
        self._publish(self.store.checkpoint(self._key))
        return checkpointed(receipt)

    def _tick(self) -> None:
        while not self._closed.wait(self._seconds):
            try:
                if self._key is not None:
                    self._publish(self.store.checkpoint(self._key))
            except Exception as e:  # the next append or close retries; never kill the thread
                _log.warning("periodic audit checkpoint failed: %s", e)

    def close(self) -> None:
        """Stop the checkpoint timer and sign the head if it is not covered yet."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self._timer is not None:
            self._timer.join()
        try:
            if self._key is not None:
                self._publish(self.store.checkpoint(self._key))
        finally:
            self.store.dispose()

    def __enter__(self) -> AuditTrail:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
