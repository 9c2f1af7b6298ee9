"""A journal of split sends, so a later try of a task resumes a send instead of repeating it.

Before a batch goes out it is recorded as in flight (index, digest of message + recipients, the
request's ``thirdTraceId``); after its answer, as delivered (with the ``traceId``). On Airflow >= 3.3
the journal lives in the task state store (AIP-103), which survives retries, worker crashes and
moves to another machine; a later try reads it back:

- delivered batches are not sent again (their traceIds are reused),
- a batch still in flight when a try died has an unknown outcome: it is reported with its
  ``thirdTraceId`` and resent only when at-least-once delivery was chosen,
- batches never sent go out.

A different message or recipient list is a different send: the journal starts fresh. On success
the journal is cleared. Without a durable store (Airflow < 3.3, or no task context) the same
object keeps the record in memory only, for the failure report of the current try.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

IN_FLIGHT = "in_flight"
DELIVERED = "delivered"

#: Keys in the task state store. The header names the send; one key per batch keeps writes small.
HEADER_KEY = "fxiaoke_send"
BATCH_KEY_PREFIX = "fxiaoke_send_batch_"
JOURNAL_VERSION = 1


def fingerprint(path: str, fields: dict[str, Any], recipients: Sequence[str]) -> str:
    """Identity of a whole send: endpoint, rendered message fields and every recipient, in order."""
    material = json.dumps([path, fields, list(recipients)], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(material.encode()).hexdigest()


def batch_digest(send_fingerprint: str, index: int, recipients: Sequence[str]) -> str:
    """Identity of one batch: the send it belongs to, its place and its recipients."""
    material = json.dumps([send_fingerprint, index, list(recipients)], ensure_ascii=False)
    return hashlib.sha256(material.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class BatchRecord:
    """What is known about one batch: in flight (outcome unknown if a try died) or delivered."""

    index: int
    digest: str
    state: str
    third_trace_id: str | None = None
    trace_id: str | None = None
    recipients: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "state": self.state,
            "thirdTraceId": self.third_trace_id,
            "traceId": self.trace_id,
            "recipients": self.recipients,
        }

    @classmethod
    def from_json(cls, index: int, data: Any) -> BatchRecord | None:
        if not isinstance(data, dict) or data.get("state") not in (IN_FLIGHT, DELIVERED):
            return None
        digest = data.get("digest")
        if not isinstance(digest, str):
            return None
        recipients = data.get("recipients")
        return cls(
            index=index,
            digest=digest,
            state=data["state"],
            third_trace_id=_text(data.get("thirdTraceId")),
            trace_id=_text(data.get("traceId")),
            recipients=recipients if isinstance(recipients, int) else 0,
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class StateStore(Protocol):
    """The part of Airflow's ``TaskStateStoreAccessor`` the journal uses."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...


class SendJournal:
    """The in-memory journal: this try's record only (used where no durable store exists)."""

    durable = False

    def __init__(self) -> None:
        self.fingerprint: str | None = None
        self.total = 0
        self.records: dict[int, BatchRecord] = {}
        self.prior: dict[int, BatchRecord] = {}  # what earlier tries left, for this same send

    def start(self, send_fingerprint: str, total: int) -> None:
        """Begin (or resume) the send; loads what earlier tries recorded when it is the same send."""
        self.fingerprint, self.total = send_fingerprint, total
        self.records, self.prior = {}, {}
        stored = self._load_header()
        if stored is not None and stored.get("fingerprint") == send_fingerprint:
            for index in range(min(total, int(stored.get("total") or 0))):
                record = BatchRecord.from_json(index, self._load_batch(index))
                if record is not None:
                    self.prior[index] = record
            if self.prior:
                log.info(
                    "Resuming a split send: %d batch(es) delivered by an earlier try, %d of unknown outcome",
                    sum(1 for r in self.prior.values() if r.state == DELIVERED),
                    sum(1 for r in self.prior.values() if r.state == IN_FLIGHT),
                )
        elif stored is not None:
            log.info("The message or recipients changed since the last try: starting the send afresh")
            self._drop_batches(int(stored.get("total") or 0))
        self._store_header({"version": JOURNAL_VERSION, "fingerprint": send_fingerprint, "total": total})

    def earlier(self, index: int, digest: str) -> BatchRecord | None:
        """What an earlier try recorded for this batch, if it was the same batch."""
        record = self.prior.get(index)
        return record if record is not None and record.digest == digest else None

    def in_flight(self, index: int, digest: str, third_trace_id: str, recipients: int) -> None:
        """Record that a request for this batch is about to go out (call before every attempt)."""
        self._put(BatchRecord(index, digest, IN_FLIGHT, third_trace_id, None, recipients))

    def delivered(self, index: int, digest: str, trace_id: str | None, recipients: int) -> None:
        third = self.records.get(index)
        self._put(
            BatchRecord(
                index, digest, DELIVERED, third.third_trace_id if third else None, trace_id, recipients
            )
        )

    def not_sent(self, index: int) -> None:
        """The request was refused before any work was done: forget it was in flight."""
        if self.records.pop(index, None) is not None:
            self._drop_batch(index)

    def carry(self, record: BatchRecord) -> None:
        """Keep an earlier try's record as part of this try's (delivered or of unknown outcome)."""
        self.records[record.index] = record

    def finish(self) -> None:
        """The send is complete: clear the record so nothing stale outlives it."""
        self._drop_batches(self.total)
        self._drop_header()

    # --- report --------------------------------------------------------------------------------
    def unknown(self) -> list[BatchRecord]:
        return sorted((r for r in self.records.values() if r.state == IN_FLIGHT), key=lambda r: r.index)

    def delivered_records(self) -> list[BatchRecord]:
        return sorted((r for r in self.records.values() if r.state == DELIVERED), key=lambda r: r.index)

    def untouched(self) -> list[int]:
        """Batches with no record: provably never sent in this try (or any earlier one)."""
        return [index for index in range(self.total) if index not in self.records]

    # --- storage (none here) ---------------------------------------------------------------------
    def _put(self, record: BatchRecord) -> None:
        self.records[record.index] = record
        self._store_batch(record)

    def _load_header(self) -> dict[str, Any] | None:
        return None

    def _load_batch(self, index: int) -> Any:
        return None

    def _store_header(self, header: dict[str, Any]) -> None:
        return None

    def _store_batch(self, record: BatchRecord) -> None:
        return None

    def _drop_batch(self, index: int) -> None:
        return None

    def _drop_batches(self, total: int) -> None:
        for index in range(total):
            self._drop_batch(index)

    def _drop_header(self) -> None:
        return None


class TaskStateJournal(SendJournal):
    """The journal in Airflow's task state store: survives retries, kills and moves between workers."""

    durable = True

    def __init__(self, store: StateStore) -> None:
        super().__init__()
        self._store = store

    def _load_header(self) -> dict[str, Any] | None:
        header = self._store.get(HEADER_KEY)
        return header if isinstance(header, dict) and header.get("version") == JOURNAL_VERSION else None

    def _load_batch(self, index: int) -> Any:
        return self._store.get(f"{BATCH_KEY_PREFIX}{index}")

    def _store_header(self, header: dict[str, Any]) -> None:
        self._store.set(HEADER_KEY, header)

    def _store_batch(self, record: BatchRecord) -> None:
        self._store.set(f"{BATCH_KEY_PREFIX}{record.index}", record.to_json())

    def _drop_batch(self, index: int) -> None:
        self._store.delete(f"{BATCH_KEY_PREFIX}{index}")

    def _drop_header(self) -> None:
        self._store.delete(HEADER_KEY)


def journal_for(context: Any) -> SendJournal:
    """The durable journal when Airflow offers a task state store (>= 3.3), else the in-memory one."""
    from fxiaoke_provider.version_compat import AIRFLOW_V_3_3_PLUS

    store = None
    if AIRFLOW_V_3_3_PLUS and context is not None:
        try:
            store = context.get("task_state_store")
        except AttributeError:  # a plain object instead of Airflow's context
            store = None
    return TaskStateJournal(store) if store is not None else SendJournal()
