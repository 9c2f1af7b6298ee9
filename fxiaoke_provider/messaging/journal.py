"""The send journal's model: a record of split sends, so a later try resumes a send instead of repeating it.

Before a batch goes out it is recorded as in flight (index, digest of message + recipients, the
request's ``thirdTraceId``); after its answer, as delivered (with the ``traceId``). On Airflow >= 3.3
the journal lives in the task state store (AIP-103), which survives retries, worker crashes and
moves to another machine (the adapter is ``airflow_support.task_state``); a later try reads it back:

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
from typing import Any

from fxiaoke_provider.exceptions import FxiaokeOutcomeUnknownError
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.messaging import wire

log = logging.getLogger(__name__)

IN_FLIGHT = "in_flight"
DELIVERED = "delivered"

#: Keys in the task state store. The header names the send; one key per batch keeps writes small.
HEADER_KEY = "fxiaoke_send"
BATCH_KEY_PREFIX = "fxiaoke_send_batch_"
JOURNAL_VERSION = 1


def fingerprint(path: str, bodies: Sequence[dict[str, Any]]) -> str:
    """Identity of a whole send: endpoint and every request body (message and recipients), in order."""
    material = json.dumps([path, list(bodies)], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(material.encode()).hexdigest()


def batch_digest(send_fingerprint: str, index: int, body: dict[str, Any]) -> str:
    """Identity of one batch: the send it belongs to, its place and its body (message + recipients)."""
    material = json.dumps([send_fingerprint, index, body], sort_keys=True, ensure_ascii=False)
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
    message_id: str | None = None

    def answer(self) -> dict[str, Any]:
        """What stands in for the gateway's answer of a batch an earlier try delivered."""
        return {
            protocol.TRACE_ID_FIELD: self.trace_id,
            wire.MESSAGE_ID_FIELD: self.message_id,
            "resumed": True,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "state": self.state,
            "thirdTraceId": self.third_trace_id,
            "traceId": self.trace_id,
            "messageId": self.message_id,
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
            message_id=_text(data.get("messageId")),
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class FxiaokeUnknownBatchesError(FxiaokeOutcomeUnknownError):
    """The send is complete except batches an earlier try left in flight: they may or may not have
    arrived, so they were not resent (choose at-least-once delivery to resend them)."""

    def __init__(self, journal: SendJournal) -> None:
        self.unknown = journal.unknown()
        self.delivered_trace_ids = [r.trace_id for r in journal.delivered_records()]
        first = self.unknown[0]
        super().__init__(f"{len(self.unknown)} batch(es) of unknown outcome; {journal.report()}")
        self.third_trace_id = first.third_trace_id


class SendJournal:
    """The in-memory journal: this try's record only (used where no durable store exists).

    A durable journal overrides the storage methods below (``_load_*``, ``_store_*``, ``_drop_*``).
    """

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

    def delivered(
        self, index: int, digest: str, trace_id: Any, recipients: int, message_id: Any = None
    ) -> None:
        third = self.records.get(index)
        third_trace_id = third.third_trace_id if third else None
        trace, message = _text(trace_id), _text(str(message_id) if message_id else None)
        self._put(BatchRecord(index, digest, DELIVERED, third_trace_id, trace, recipients, message))

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

    def report(self) -> str:
        """One line for a person: what went out (traceIds), what may have (thirdTraceIds), what did not."""
        delivered = ", ".join(f"#{r.index + 1} (traceId {r.trace_id})" for r in self.delivered_records())
        unknown = ", ".join(
            f"#{r.index + 1} ({r.recipients} recipients, thirdTraceId {r.third_trace_id})"
            for r in self.unknown()
        )
        not_sent = ", ".join(f"#{i + 1}" for i in self.untouched())
        return (
            f"batches of {self.total}: delivered: {delivered or 'none'}; "
            f"outcome unknown (not resent; ask Fxiaoke support with the thirdTraceId): {unknown or 'none'}; "
            f"not sent: {not_sent or 'none'}"
        )

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
