"""Airflow's task state store (AIP-103, Airflow >= 3.3) for the resumable jobs, and the send journal in it.

The journal's model is the messaging capability's (``messaging.journal``); this adapter keeps it in
the store Airflow gives a task, which survives retries, worker crashes and moves to another machine.
"""

from __future__ import annotations

from typing import Any

from fxiaoke_provider.airflow_support.version_compat import AIRFLOW_V_3_3_PLUS
from fxiaoke_provider.messaging.journal import (
    BATCH_KEY_PREFIX,
    HEADER_KEY,
    JOURNAL_VERSION,
    BatchRecord,
    SendJournal,
)
from fxiaoke_provider.state_store import StateStore


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


def state_store_of(context: Any) -> StateStore | None:
    """The task state store Airflow gives this try (>= 3.3), or None where there is none."""
    if not AIRFLOW_V_3_3_PLUS or context is None:
        return None
    try:
        return context.get("task_state_store")
    except AttributeError:  # a plain object instead of Airflow's context
        return None


def journal_for(context: Any) -> SendJournal:
    """The durable journal when Airflow offers a task state store (>= 3.3), else the in-memory one."""
    store = state_store_of(context)
    return TaskStateJournal(store) if store is not None else SendJournal()
