"""The send journal: what a later try learns from an earlier one, in memory and in Airflow's store."""

from __future__ import annotations

from typing import Any

import pytest

from fxiaoke_provider.airflow_support.task_state import TaskStateJournal, journal_for
from fxiaoke_provider.airflow_support.version_compat import AIRFLOW_V_3_3_PLUS
from fxiaoke_provider.messaging import journal as checkpoint
from fxiaoke_provider.messaging.journal import (
    DELIVERED,
    IN_FLIGHT,
    SendJournal,
)
from fxiaoke_provider.messaging.journal import batch_digest as _batch_digest
from fxiaoke_provider.messaging.journal import fingerprint as _fingerprint
from tests.airflow_helpers import load_dag, run_dag, task_states, xcom
from tests.support import TEST_DAGS

PATH = "/cgi/app/message/send"
FIELDS = {"msgType": "text", "text": {"content": "hi"}}


def body(recipients: list[str], fields: dict = FIELDS) -> dict:
    return {"toUser": recipients, **fields}


def fingerprint(path: str, fields: dict, batches: list[list[str]]) -> str:
    return _fingerprint(path, [body(batch, fields) for batch in batches])


def batch_digest(fp: str, index: int, recipients: list[str]) -> str:
    return _batch_digest(fp, index, body(recipients))


class DictStore:
    """The three calls of Airflow's task state store accessor, over a dict (a JSON round trip each)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        import json

        self.data[key] = json.loads(json.dumps(value))

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


def first_try(store: DictStore, recipients: list[list[str]]) -> str:
    """Batch 0 delivered, batch 1 in flight when the try dies, batch 2 never reached."""
    fp = fingerprint(PATH, FIELDS, recipients)
    journal = TaskStateJournal(store)
    journal.start(fp, len(recipients))
    digest0 = batch_digest(fp, 0, recipients[0])
    journal.in_flight(0, digest0, "third-0", len(recipients[0]))
    journal.delivered(0, digest0, "trace-0", len(recipients[0]))
    journal.in_flight(1, batch_digest(fp, 1, recipients[1]), "third-1", len(recipients[1]))
    return fp


BATCHES = [["1000", "1001"], ["1002"], ["1003"]]


def test_later_try_sees_delivered_and_unknown_batches():
    store = DictStore()
    fp = first_try(store, BATCHES)
    journal = TaskStateJournal(store)
    journal.start(fp, 3)
    delivered = journal.earlier(0, batch_digest(fp, 0, BATCHES[0]))
    unknown = journal.earlier(1, batch_digest(fp, 1, BATCHES[1]))
    assert delivered is not None and (delivered.state, delivered.trace_id) == (DELIVERED, "trace-0")
    assert delivered.third_trace_id == "third-0" and delivered.recipients == 2
    assert unknown is not None and (unknown.state, unknown.third_trace_id) == (IN_FLIGHT, "third-1")
    assert journal.earlier(2, batch_digest(fp, 2, BATCHES[2])) is None


def test_changed_recipients_start_afresh_and_drop_the_old_batches():
    store = DictStore()
    first_try(store, BATCHES)
    changed = [["1000", "1001"], ["1002"], ["1004"]]
    fp = fingerprint(PATH, FIELDS, changed)
    journal = TaskStateJournal(store)
    journal.start(fp, 3)
    assert journal.earlier(0, batch_digest(fp, 0, changed[0])) is None
    assert set(store.data) == {checkpoint.HEADER_KEY}
    assert store.data[checkpoint.HEADER_KEY]["fingerprint"] == fp


def test_changed_message_starts_afresh():
    store = DictStore()
    first_try(store, BATCHES)
    fp = fingerprint(PATH, {"msgType": "text", "text": {"content": "other"}}, BATCHES)
    journal = TaskStateJournal(store)
    journal.start(fp, 3)
    assert journal.prior == {}


def test_record_of_another_batch_at_the_same_index_is_not_trusted():
    store = DictStore()
    fp = first_try(store, BATCHES)
    journal = TaskStateJournal(store)
    journal.start(fp, 3)
    assert journal.earlier(0, batch_digest(fp, 0, ["9999"])) is None


def test_refused_request_is_forgotten_and_success_clears_everything():
    store = DictStore()
    fp = first_try(store, BATCHES)
    journal = TaskStateJournal(store)
    journal.start(fp, 3)
    journal.in_flight(2, batch_digest(fp, 2, BATCHES[2]), "third-2", 1)
    journal.not_sent(2)
    assert f"{checkpoint.BATCH_KEY_PREFIX}2" not in store.data
    assert journal.untouched() == [0, 1, 2]  # earlier tries' records are not this try's until carried
    journal.carry(journal.prior[0])
    journal.carry(journal.prior[1])
    assert [r.index for r in journal.unknown()] == [1]
    assert [r.trace_id for r in journal.delivered_records()] == ["trace-0"]
    assert journal.untouched() == [2]
    journal.finish()
    assert store.data == {}


def test_unreadable_records_are_ignored():
    store = DictStore()
    fp = first_try(store, BATCHES)
    store.data[f"{checkpoint.BATCH_KEY_PREFIX}0"] = {"state": "delivered"}  # no digest
    store.data[f"{checkpoint.BATCH_KEY_PREFIX}1"] = "garbage"
    journal = TaskStateJournal(store)
    journal.start(fp, 3)
    assert journal.prior == {}
    store.data[checkpoint.HEADER_KEY] = {"version": 99, "fingerprint": fp, "total": 3}
    assert TaskStateJournal(store)._load_header() is None


def test_memory_journal_forgets_between_tries():
    fp = fingerprint(PATH, FIELDS, [["1000"]])
    first = SendJournal()
    first.start(fp, 1)
    first.in_flight(0, batch_digest(fp, 0, ["1000"]), "third-0", 1)
    assert [r.third_trace_id for r in first.unknown()] == ["third-0"]
    later = SendJournal()
    later.start(fp, 1)
    assert later.prior == {} and not later.durable


def test_journal_for_picks_the_durable_store_only_where_airflow_has_one():
    store = DictStore()
    assert isinstance(journal_for({"task_state_store": store}), TaskStateJournal) is AIRFLOW_V_3_3_PLUS
    assert type(journal_for({})) is SendJournal
    assert type(journal_for(None)) is SendJournal


@pytest.mark.slow
@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="the task state store exists from Airflow 3.3 on")
def test_record_survives_an_airflow_retry_in_the_real_task_state_store():
    dag_run = run_dag(load_dag(TEST_DAGS / "fxiaoke_checkpoint_store.py", "fxiaoke_checkpoint_store"))
    assert task_states(dag_run) == {"send": "success"}
    assert xcom(dag_run, "send") == {
        "seen": {"0": [DELIVERED, "trace-0", "third-0"], "1": [IN_FLIGHT, None, "third-1"]},
        "cleared": True,
    }


def test_report_and_errors_travel_through_pickle():
    """Airflow pickles task errors (and deep-copies them); the provider's own errors survive both."""
    import copy
    import pickle

    from fxiaoke_provider.gateway.deadline import Deadline, FxiaokeDeadlineError
    from fxiaoke_provider.messaging.journal import FxiaokeUnknownBatchesError

    store = DictStore()
    fp = first_try(store, BATCHES)
    journal = TaskStateJournal(store)
    journal.start(fp, 3)
    for record in journal.prior.values():
        journal.carry(record)
    error = FxiaokeUnknownBatchesError(journal)
    assert "#2 (1 recipients, thirdTraceId third-1)" in str(error) and "not sent: #3" in str(error)
    assert error.third_trace_id == "third-1" and error.delivered_trace_ids == ["trace-0"]
    with pytest.raises(FxiaokeDeadlineError) as late:
        Deadline(at=10.0, margin_s=1.0, clock=lambda: 5.0).check_wait(4.5)
    for original in (error, late.value):
        for travelled in (pickle.loads(pickle.dumps(original)), copy.deepcopy(original)):
            assert type(travelled) is type(original) and str(travelled) == str(original)
    assert late.value.retryable_by_airflow  # nothing went out for the request it stopped
