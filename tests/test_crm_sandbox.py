"""CRM reading, acceptance: the client against the sandbox over real HTTP on loopback.

What the gateway does with the bodies the unit layer checks (``test_crm_reading_rules.py``): every
record once past the offset cap, windows in both filter forms, legacy style's acting user, the
custom-object path, and the query operator's limit.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from fxiaoke_provider.airflow_support.version_compat import AirflowFailException
from fxiaoke_provider.crm.wire import (
    CURRENT_OPEN_USER_ID_FIELD,
    CUSTOM_DATA_PREFIX,
    OFFSET_OUT_OF_RANGE_CODE,
    PRESET_DATA_PREFIX,
    QUERY_ACTION,
)
from fxiaoke_provider.exceptions import FxiaokeConnectionConfigError
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.operators.crm import FxiaokeQueryOperator
from fxiaoke_provider.sandbox import DEFAULT_OPEN_USER_ID, SandboxGateway
from tests.support import context_with_ti, record_request_bodies, requests_to

QUERY = PRESET_DATA_PREFIX + QUERY_ACTION
CUSTOM_QUERY = CUSTOM_DATA_PREFIX + QUERY_ACTION
HOUR_MS = 3_600_000


def _limits(sent: list[tuple[str, dict]]) -> list[int]:
    return [body["data"]["search_query_info"]["limit"] for path, body in sent if path == QUERY]


# --- every record once, past the offset cap -----------------------------------------------------------
@pytest.mark.slow  # 251 pages of 100 records
def test_25000_records_are_read_exactly_once_past_the_offset_cap(use_connection):
    # The limit is not under test here (the benchmarks measure pacing): both sides let it be.
    with SandboxGateway(
        port=0, token_delay_s=0.0, rate_limit_calls=100_000, crm_seed={"AccountObj": 25_000}
    ) as gw:
        use_connection(gw, rate_limit_calls=0)
        ids = [record["_id"] for record in FxiaokeHook().iter_records("AccountObj", fields=["name"])]

        assert len(ids) == len(set(ids)) == 25_000
        assert set(ids) == {record["_id"] for record in gw.records("AccountObj")}
        queries = requests_to(gw, QUERY)
        assert len(queries) == 251  # 250 full pages, then an empty one ends the stream
        assert {r["errorCode"] for r in queries} == {0}  # never 10013
        assert OFFSET_OUT_OF_RANGE_CODE not in {r["errorCode"] for r in gw.requests()}


# --- a window, in both filter forms -------------------------------------------------------------------
def _window_records(sandbox, start_ms: int, end_ms: int) -> list[str]:
    """Records around and inside ``[start_ms, end_ms)``, both ends included as edge cases."""
    edges = [start_ms - 1, start_ms, start_ms + HOUR_MS, end_ms - 1, end_ms, end_ms + HOUR_MS]
    return sandbox.put_records("AccountObj", [{"name": f"at {ms}", "last_modified_time": ms} for ms in edges])


@pytest.mark.parametrize(
    "form",
    [
        lambda start, end: [("last_modified_time", "GTE", start), ("last_modified_time", "LT", end)],
        lambda start, end: [
            {"field_name": "last_modified_time", "operator": "GTE", "field_values": [start]},
            {"field_name": "last_modified_time", "operator": "LT", "field_values": [end]},
        ],
    ],
    ids=["short", "manual"],
)
def test_a_window_filter_selects_exactly_the_windows_records(sandbox, use_connection, form):
    use_connection(sandbox)
    sandbox.seed_records("AccountObj", 300)  # modified all over 2025 and early 2026
    start, end = 1_767_225_600_000, 1_767_225_600_000 + 24 * HOUR_MS  # 2026-01-01, one day
    _window_records(sandbox, start, end)
    expected = [r["_id"] for r in sandbox.records("AccountObj") if start <= r["last_modified_time"] < end]

    got = [r["_id"] for r in FxiaokeHook().iter_records("AccountObj", filters=form(start, end), page_size=7)]
    assert got == expected
    assert len(expected) >= 3  # the start, an hour in, the last millisecond
    assert all(r["errorCode"] == 0 for r in requests_to(sandbox, QUERY))


# --- legacy style ---------------------------------------------------------------------------------------
def test_legacy_style_carries_the_acting_open_user_id(use_connection):
    log = io.StringIO()
    with SandboxGateway(port=0, token_delay_s=0.0, log_stream=log) as gw:
        gw.seed_records("AccountObj", 5)
        use_connection(gw, auth_style="legacy", user_id=DEFAULT_OPEN_USER_ID)
        hook = FxiaokeHook()
        sent = record_request_bodies(hook.session)
        assert len(list(hook.iter_records("AccountObj"))) == 5

    (body,) = [b for p, b in sent if p == QUERY]
    assert body[CURRENT_OPEN_USER_ID_FIELD] == DEFAULT_OPEN_USER_ID
    (line,) = [line for line in log.getvalue().splitlines() if f" {QUERY} " in line]
    assert "-> errorCode=0 " in line and "auth=legacy" in line  # the sandbox requires the field


def test_a_legacy_connection_without_user_id_fails_naming_it_before_any_call(sandbox, use_connection):
    use_connection(sandbox, auth_style="legacy", user_id="")
    with pytest.raises(FxiaokeConnectionConfigError, match="user_id") as caught:
        FxiaokeHook().iter_records("AccountObj")
    assert "currentOpenUserId" in str(caught.value)
    assert sandbox.requests() == []  # not even a token


# --- custom objects -------------------------------------------------------------------------------------
def test_a_custom_object_is_read_through_the_custom_path(sandbox, use_connection):
    use_connection(sandbox)
    sandbox.seed_records("Invoice__c", 30)
    records = list(FxiaokeHook().iter_records("Invoice__c", page_size=20))
    assert [r["_id"] for r in records] == [r["_id"] for r in sandbox.records("Invoice__c")]
    assert [r["path"] for r in sandbox.requests() if "/crm/" in r["path"]] == [CUSTOM_QUERY] * 2


# --- the query operator's limit ------------------------------------------------------------------------
def _query_operator(sandbox, **kwargs) -> tuple[FxiaokeQueryOperator, list]:
    op = FxiaokeQueryOperator(task_id="q", execution_timeout=timedelta(minutes=1), **kwargs)
    return op, record_request_bodies(op.hook.session)


def test_the_query_operator_returns_up_to_1000_records_by_default(sandbox, use_connection):
    use_connection(sandbox)
    sandbox.seed_records("LeadsObj", 1000)
    op, sent = _query_operator(sandbox, object_api_name="LeadsObj", fields=["name"])
    records = op.execute(context_with_ti()[0])
    assert [r["_id"] for r in records] == [r["_id"] for r in sandbox.records("LeadsObj")]
    assert _limits(sent) == [100] * 10 + [1]  # the 1,001st would be one too many: none came


@pytest.mark.parametrize(("max_records", "limits"), [(None, [100] * 10 + [1]), (150, [100, 51])])
def test_more_than_max_records_fails_for_good_pointing_to_the_export(
    sandbox, use_connection, max_records, limits
):
    use_connection(sandbox)
    sandbox.seed_records("ContractObj", 1001)
    kwargs = {"max_records": max_records} if max_records is not None else {}
    op, sent = _query_operator(sandbox, object_api_name="ContractObj", **kwargs)
    context, ti = context_with_ti()
    with pytest.raises(AirflowFailException, match="FxiaokeToObjectStorageOperator"):
        op.execute(context)
    assert _limits(sent) == limits  # max_records + 1 read at most
    assert ti.pushed == []
