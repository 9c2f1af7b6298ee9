"""Exactly once or reported, across what Airflow does around a send: timeouts, retries, kills.

Real ``dag.test()`` runs (execution_timeout is Airflow's own SIGALRM, retries are Airflow's) against
the sandbox; what counts is how often each recipient got the message. On Airflow >= 3.3 the send
journal lives in the task state store and a retry resumes; below 3.3 the operator fails for good
rather than risk a second delivery.
"""

from __future__ import annotations

import collections

import pytest

from fxiaoke_provider.airflow_support.task_state import TaskStateJournal
from fxiaoke_provider.airflow_support.version_compat import AIRFLOW_V_3_3_PLUS, AirflowFailException
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.messaging import wire
from fxiaoke_provider.messaging.journal import SendJournal
from fxiaoke_provider.operators.fxiaoke import TRACE_IDS_XCOM_KEY, FxiaokeSendMessageOperator
from fxiaoke_provider.sandbox import SandboxGateway
from tests.airflow_helpers import load_dag, run_dag, task_states, xcom
from tests.support import TEST_DAGS
from tests.test_checkpoint import DictStore

SEND = wire.SERVICE_MESSAGE_SEND_PATH
DAG_FILE = TEST_DAGS / "fxiaoke_it_exactly_once.py"


def deliveries(gateway: SandboxGateway) -> collections.Counter:
    return collections.Counter(user for message in gateway.messages() for user in message["toUser"])


def run_send(monkeypatch, recipients: int, timeout_s: float | None, retries: int):
    monkeypatch.setenv("FXIAOKE_IT_RECIPIENTS", str(recipients))
    monkeypatch.setenv("FXIAOKE_IT_TIMEOUT_S", str(timeout_s or 0))
    monkeypatch.setenv("FXIAOKE_IT_RETRIES", str(retries))
    return run_dag(load_dag(DAG_FILE, "fxiaoke_it_exactly_once"))


def try_number(dag_run) -> int:
    return next(ti.try_number for ti in dag_run.get_task_instances())


@pytest.mark.slow
def test_timeout_while_a_delivered_message_waits_for_its_answer_delivers_once(
    sandbox, use_connection, monkeypatch
):
    """The gateway delivers, then answers after 3 s; execution_timeout is 1 s, retries=2."""
    use_connection(sandbox)
    sandbox.add_fault(SEND, "delay", count=3, seconds=3, deliver=True)
    dag_run = run_send(monkeypatch, recipients=1, timeout_s=1, retries=2)
    assert task_states(dag_run) == {"send": "failed"}
    assert deliveries(sandbox) == {"100000": 1}
    assert try_number(dag_run) == 1  # failed for good: a retry could only deliver it again


@pytest.mark.slow
def test_timeout_mid_fan_out_never_delivers_twice(monkeypatch, use_connection):
    """6,000 recipients (12 requests) against 10 requests per 2 s; execution_timeout 1.2 s, retries=2.

    The first try sends what the window allows and stops before a pacing wait would outlast the
    timeout. From 3.3 on the retries resume and everyone gets it exactly once; below, the task
    fails with the partial report and the rest get nothing, but nobody gets it twice.
    """
    with SandboxGateway(port=0, token_delay_s=0, rate_limit_calls=10, rate_limit_window_s=2) as gateway:
        use_connection(gateway, rate_limit_calls=10, rate_limit_window=2)
        dag_run = run_send(monkeypatch, recipients=6_000, timeout_s=1.2, retries=2)
        got = deliveries(gateway)
        refusals = gateway.stats()["error_codes"].get(str(protocol.RATE_LIMITED), 0)
    assert max(got.values()) == 1
    assert refusals == 0
    if AIRFLOW_V_3_3_PLUS:
        assert task_states(dag_run) == {"send": "success"}
        assert len(got) == 6_000
        assert try_number(dag_run) >= 2
        assert len(xcom(dag_run, "send", TRACE_IDS_XCOM_KEY)) == 12
    else:
        assert task_states(dag_run) == {"send": "failed"}
        assert 0 < len(got) < 6_000 and len(got) % 500 == 0


@pytest.mark.slow
def test_refused_batch_of_a_split_send_is_resumed_by_the_retry(sandbox, use_connection, monkeypatch):
    """1,201 recipients; batch 2 answers -1 past the retry budget; the task has retries=1."""
    use_connection(sandbox, retry_max_attempts=2)
    sandbox.add_fault(SEND, "delay", count=1, seconds=0, deliver=True)  # batch 1: answered normally
    sandbox.add_fault(SEND, "error", count=2, code=protocol.SYSTEM_BUSY)  # batch 2: both attempts busy
    dag_run = run_send(monkeypatch, recipients=1_201, timeout_s=None, retries=1)
    got = deliveries(sandbox)
    assert max(got.values()) == 1
    if AIRFLOW_V_3_3_PLUS:
        assert task_states(dag_run) == {"send": "success"}
        assert len(got) == 1_201 and try_number(dag_run) == 2
        trace_ids = xcom(dag_run, "send", TRACE_IDS_XCOM_KEY)
        assert len(trace_ids) == 3 and all(trace_ids)
        assert sum(1 for r in sandbox.requests() if r["path"] == SEND and r["delivered"]) == 3
    else:
        assert task_states(dag_run) == {"send": "failed"}
        assert len(got) == 500 and try_number(dag_run) == 1


# --- a timeout or termination that lands mid-request, with no deadline known in advance ---------
def _airflow_timeout(seconds: float):
    try:
        from airflow.sdk.execution_time.timeout import timeout
    except ImportError:  # Airflow 2.11
        from airflow.utils.timeout import timeout
    return timeout(seconds)


try:
    from airflow.sdk.exceptions import AirflowTaskTimeout
except ImportError:  # Airflow 2.11
    from airflow.exceptions import AirflowTaskTimeout  # type: ignore[no-redef]


class _TI:
    def xcom_push(self, key: str, value: object) -> None:
        pass


@pytest.mark.parametrize("durable", [False, True])
def test_timeout_landing_mid_request_fails_for_good_with_the_report(
    sandbox, use_connection, durable, monkeypatch
):
    use_connection(sandbox)
    sandbox.add_fault(SEND, "delay", seconds=2, deliver=True)
    store = DictStore()
    journal = TaskStateJournal(store) if durable else SendJournal()
    monkeypatch.setattr("fxiaoke_provider.airflow_support.task_state.journal_for", lambda context: journal)
    op = FxiaokeSendMessageOperator(task_id="send", to_users=["1000"], message="hi")
    stopped = r"stopped \(AirflowTaskTimeout\).*thirdTraceId"
    with pytest.raises(AirflowFailException, match=stopped), _airflow_timeout(0.5):
        op.execute({"ti": _TI()})
    assert deliveries(sandbox) == {"1000": 1}
    if durable:  # the record stays for the retry that Airflow will not make, and for a person
        assert store.data["fxiaoke_send_batch_0"]["state"] == "in_flight"


def test_termination_mid_request_fails_for_good_with_the_report(sandbox, use_connection):
    """SIGTERM calls on_kill (Airflow 3 only calls it); the send stops with a report, not a retry."""
    import signal
    import threading

    use_connection(sandbox)
    sandbox.add_fault(SEND, "delay", seconds=2, deliver=True)
    op = FxiaokeSendMessageOperator(task_id="send", to_users=["1000"], message="hi")
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: op.on_kill())
    timer = threading.Timer(0.5, lambda: signal.raise_signal(signal.SIGTERM))
    try:
        timer.start()
        with pytest.raises(AirflowFailException, match=r"stopped \(FxiaokeTerminatedError\)"):
            op.execute({"ti": _TI()})
    finally:
        timer.cancel()
        signal.signal(signal.SIGTERM, previous)
    assert deliveries(sandbox) == {"1000": 1}
    op.on_kill()  # outside a send: nothing to stop, no error


def test_changed_recipients_between_tries_start_afresh(sandbox, use_connection, monkeypatch):
    use_connection(sandbox)
    store = DictStore()
    monkeypatch.setattr(
        "fxiaoke_provider.airflow_support.task_state.journal_for", lambda context: TaskStateJournal(store)
    )
    for users in (["1000", "1001"], ["1000", "1002"]):
        store.set("fxiaoke_send", {"version": 1, "fingerprint": "stale", "total": 1})
        op = FxiaokeSendMessageOperator(task_id="send", to_users=users, message="hi")
        op.execute({"ti": _TI()})
    assert deliveries(sandbox) == {"1000": 2, "1001": 1, "1002": 1}
    assert store.data == {}  # cleared on success


def test_at_least_once_resends_a_batch_of_unknown_outcome(sandbox, use_connection, monkeypatch):
    use_connection(sandbox, retry_unknown_outcome=True)
    store = DictStore()
    monkeypatch.setattr(
        "fxiaoke_provider.airflow_support.task_state.journal_for", lambda context: TaskStateJournal(store)
    )
    sandbox.add_fault(SEND, "delay", seconds=2, deliver=True)
    op = FxiaokeSendMessageOperator(task_id="send", to_users=["1000"], message="hi")
    with pytest.raises(AirflowTaskTimeout), _airflow_timeout(0.5):  # retryable: resending was chosen
        op.execute({"ti": _TI()})
    assert store.data["fxiaoke_send_batch_0"]["state"] == "in_flight"
    FxiaokeSendMessageOperator(task_id="send", to_users=["1000"], message="hi").execute({"ti": _TI()})
    assert deliveries(sandbox) == {"1000": 2}  # chosen: at least once
    assert store.data == {}


def test_unknown_batch_of_an_earlier_try_is_reported_not_resent(sandbox, use_connection, monkeypatch):
    use_connection(sandbox)
    store = DictStore()
    monkeypatch.setattr(
        "fxiaoke_provider.airflow_support.task_state.journal_for", lambda context: TaskStateJournal(store)
    )
    users = [str(5000 + i) for i in range(600)]  # two batches
    sandbox.add_fault(SEND, "delay", seconds=2, deliver=True)
    op = FxiaokeSendMessageOperator(task_id="send", to_users=users, message="hi")
    with pytest.raises(AirflowTaskTimeout), _airflow_timeout(0.5):
        op.execute({"ti": _TI()})
    third = store.data["fxiaoke_send_batch_0"]["thirdTraceId"]
    with pytest.raises(AirflowFailException, match=f"thirdTraceId {third}"):
        FxiaokeSendMessageOperator(task_id="send", to_users=users, message="hi").execute({"ti": _TI()})
    assert deliveries(sandbox) == dict.fromkeys(users, 1)  # batch 1 once (late answer), batch 2 once
