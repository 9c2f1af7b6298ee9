"""The CRM operators and the record sensor inside real Airflow, and the base every operator shares.

``dag.test()`` on the SQLite metadata DB, the sandbox over loopback. The connection is installed
under an id that only the rendered template names, so a run that succeeds proves the id was rendered.
The query operator's limit against the sandbox is in ``test_crm_sandbox.py``.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from fxiaoke_provider.airflow_support.sending import HOOK_PARAMS
from fxiaoke_provider.airflow_support.version_compat import AirflowFailException
from fxiaoke_provider.crm.wire import PRESET_DATA_PREFIX, QUERY_ACTION
from fxiaoke_provider.exceptions import FxiaokeInvalidInputError
from fxiaoke_provider.gateway.protocol import NO_PERMISSION, SYSTEM_BUSY
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.operators.crm import FxiaokeQueryOperator, FxiaokeUpsertRecordsOperator
from fxiaoke_provider.operators.fxiaoke import (
    FxiaokeRevokeMessageOperator,
    FxiaokeSendMessageOperator,
    FxiaokeUploadImageOperator,
)
from fxiaoke_provider.sensors.crm import FxiaokeRecordSensor
from fxiaoke_provider.transfers.fxiaoke_to_object_storage import FxiaokeToObjectStorageOperator
from tests.airflow_helpers import load_dag, reschedules, run_dag, task_states, xcom
from tests.support import TEST_DAGS, context_with_ti, requests_to

QUERY = PRESET_DATA_PREFIX + QUERY_ACTION
CONN_ID = "fxiaoke_crm"  # what "{{ params.conn }}" renders to in the test DAGs

#: Every operator of the provider and the sensor, with the least each needs to be built.
EVERY_OPERATOR: dict[type, dict[str, Any]] = {
    FxiaokeSendMessageOperator: {"to_users": ["1000"], "message": "hi"},
    FxiaokeRevokeMessageOperator: {"message_id": "m-1"},
    FxiaokeUploadImageOperator: {"image_path": "chart.png"},
    FxiaokeQueryOperator: {"object_api_name": "AccountObj"},
    FxiaokeUpsertRecordsOperator: {"object_api_name": "LeadsObj", "match_field": "ext__c", "records": []},
    FxiaokeToObjectStorageOperator: {"object_api_name": "AccountObj", "dest_path": "file:///tmp/a.jsonl"},
    FxiaokeRecordSensor: {"object_api_name": "ContractObj"},
}


# --- the base: one mechanism for every operator -----------------------------------------------------
@pytest.mark.parametrize("cls", list(EVERY_OPERATOR), ids=lambda cls: cls.__name__)
def test_every_operator_templates_the_connection_and_hands_hook_params_and_deadline_to_its_hook(
    cls, sandbox, use_connection
):
    use_connection(sandbox, CONN_ID)
    op = cls(
        task_id="t",
        fxiaoke_conn_id=CONN_ID,
        hook_params={"timeout": 7, "token_cache": "memory", "retry_max_attempts": 2},
        execution_timeout=timedelta(seconds=30),
        **EVERY_OPERATOR[cls],
    )
    assert "fxiaoke_conn_id" in op.template_fields
    hook = op.hook
    assert isinstance(hook, FxiaokeHook) and hook.fxiaoke_conn_id == CONN_ID
    assert (hook.config.timeout_s, hook.config.token_cache, hook.config.retry.max_attempts) == (
        7,
        "memory",
        2,
    )
    assert 25 < hook.deadline.remaining() <= 30  # the try's execution_timeout, counted from now


def test_hook_params_name_exactly_the_hooks_settings():
    """One list for operators, sensors and the notifier: the hook's keyword settings, minus time."""
    import inspect

    settings = [
        name
        for name, p in inspect.signature(FxiaokeHook).parameters.items()
        if p.kind is p.KEYWORD_ONLY and name not in ("sleep", "clock")
    ]
    assert settings == list(HOOK_PARAMS)


@pytest.mark.parametrize("hook_params", [{"timeout_s": 5}, "timeout=5", ["timeout"]])
def test_bad_hook_params_fail_when_the_dag_file_is_parsed(hook_params):
    with pytest.raises(FxiaokeInvalidInputError, match="hook_params"):
        FxiaokeQueryOperator(task_id="q", object_api_name="AccountObj", hook_params=hook_params)


# --- the query operator under dag.test() --------------------------------------------------------------
def test_query_renders_the_connection_and_uses_hook_params_and_fails_for_good_beyond_its_limit(
    sandbox, use_connection
):
    use_connection(sandbox, CONN_ID)  # no fxiaoke_default: only the rendered id finds a connection
    sandbox.seed_records("AccountObj", 40)
    sandbox.seed_records("Ticket__c", 6)
    sandbox.add_fault(QUERY, "error", code=SYSTEM_BUSY)  # the first query of a preset object: "owned"
    dag_run = run_dag(load_dag(TEST_DAGS / "fxiaoke_it_crm_query.py", "fxiaoke_it_crm_query"))

    assert task_states(dag_run) == {"owned": "success", "too_many": "failed"}
    tries = {ti.task_id: ti.try_number for ti in dag_run.get_task_instances()}
    owned = [r for r in sandbox.records("AccountObj") if "1001" in r["owner"]]
    assert owned and len(owned) < 40
    assert xcom(dag_run, "owned") == [
        {"_id": r["_id"], "name": r["name"], "owner": r["owner"]} for r in owned
    ]
    # hook_params={"retry_max_attempts": 1}: the busy answer ended a try, Airflow's retry read
    assert tries["owned"] == 2
    # six tickets, max_records=5: failed without a retry (retries=1), nothing pushed
    assert tries["too_many"] == 1
    assert xcom(dag_run, "too_many") is None
    assert sandbox.crm_counts()["Ticket__c"]["queries"] == 1  # asked for 6, got 6: no more pages


# --- the sensor: poke and reschedule ------------------------------------------------------------------
def _add_after_first_poke(sandbox, object_api_name: str, records: list[dict], stop: threading.Event) -> None:
    """Add ``records`` once the sensor has queried the object at least once (found nothing)."""
    while not stop.is_set():
        if sandbox.crm_counts().get(object_api_name, {}).get("queries", 0) >= 1:
            sandbox.put_records(object_api_name, records)
            return
        time.sleep(0.05)


@pytest.mark.slow  # a reschedule waits out its poke_interval in real time
def test_record_sensor_waits_for_a_match_in_poke_and_reschedule_mode(sandbox, use_connection):
    use_connection(sandbox, CONN_ID)
    sandbox.put_records("ContractObj", [{"name": "Draft", "approval__c": "draft"}])
    arrivals = {
        "ContractObj": [{"name": "C-1", "approval__c": "approved"}],
        "OpportunityObj": [{"name": f"O-{i}", "stage__c": "approved"} for i in range(3)],
    }
    stop = threading.Event()
    adders = [
        threading.Thread(target=_add_after_first_poke, args=(sandbox, name, records, stop), daemon=True)
        for name, records in arrivals.items()
    ]
    for adder in adders:
        adder.start()
    try:
        dag_run = run_dag(load_dag(TEST_DAGS / "fxiaoke_it_crm_sensors.py", "fxiaoke_it_crm_sensors"))
    finally:
        stop.set()
        for adder in adders:
            adder.join(timeout=5)

    assert task_states(dag_run) == {"wait_poke": "success", "wait_reschedule": "success"}
    counts = sandbox.crm_counts()
    assert counts["ContractObj"]["queries"] >= 2 and counts["OpportunityObj"]["queries"] >= 2
    assert reschedules(dag_run, "wait_reschedule") >= 1  # the slot was given back between pokes
    assert reschedules(dag_run, "wait_poke") == 0
    (approved,) = [r for r in sandbox.records("ContractObj") if r["approval__c"] == "approved"]
    assert xcom(dag_run, "wait_poke") == [{"_id": approved["_id"], "name": "C-1", "approval__c": "approved"}]
    opportunities = sandbox.records("OpportunityObj")
    assert xcom(dag_run, "wait_reschedule") == opportunities[:2]  # max_records=2, in _id order


def test_a_poke_the_gateway_refuses_for_good_fails_without_a_retry(sandbox, use_connection):
    """Through the shared base: the sensor asks the outcomes table like every operator does."""
    use_connection(sandbox)
    sandbox.add_fault(QUERY, "error", code=NO_PERMISSION)
    sensor = FxiaokeRecordSensor(task_id="s", object_api_name="ContractObj")
    with pytest.raises(AirflowFailException, match=f"errorCode {NO_PERMISSION}"):
        sensor.poke(context_with_ti()[0])
    assert [r["errorCode"] for r in requests_to(sandbox, QUERY)] == [NO_PERMISSION]  # one call


def test_sensor_checks_max_records_when_the_dag_file_is_parsed():
    for bad in (0, 101, True, "1"):
        with pytest.raises(FxiaokeInvalidInputError, match="max_records"):
            FxiaokeRecordSensor(task_id="s", object_api_name="ContractObj", max_records=bad)
