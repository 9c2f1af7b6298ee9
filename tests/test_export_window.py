"""Which window an incremental export reads, from what Airflow puts in the task context.

The contexts here are built by hand with the values each timetable gives (Airflow's own values
are exercised end to end by the DAG runs in ``test_export_object_storage.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import lazy_object_proxy
import pytest

from fxiaoke_provider.transfers.window import (
    EMPTY_AFTER_LATER_SUCCESS,
    EVERYTHING_BEFORE_END,
    FROM_DATA_INTERVAL,
    SINCE_LAST_SUCCESS,
    Window,
    epoch_ms,
    run_window,
)

JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
JAN_2 = datetime(2026, 1, 2, tzinfo=UTC)
JAN_3 = datetime(2026, 1, 3, tzinfo=UTC)


def _lazy(value):
    """As Airflow hands ``prev_data_interval_end_success``: a proxy, even for None."""
    return lazy_object_proxy.Proxy(lambda: value)


def test_a_data_interval_with_a_length_is_the_window():  # CronDataIntervalTimetable, @daily on 2.x
    context = {
        "data_interval_start": JAN_1,
        "data_interval_end": JAN_2,
        "prev_data_interval_end_success": JAN_3,
    }
    assert run_window(context) == Window(epoch_ms(JAN_1), epoch_ms(JAN_2), FROM_DATA_INTERVAL)


def test_a_zero_length_interval_starts_where_the_last_successful_run_ended():  # CronTriggerTimetable
    context = {
        "data_interval_start": JAN_2,
        "data_interval_end": JAN_2,
        "prev_data_interval_end_success": _lazy(JAN_1),
    }
    assert run_window(context) == Window(epoch_ms(JAN_1), epoch_ms(JAN_2), SINCE_LAST_SUCCESS)


def test_the_first_zero_length_run_reads_everything_before_its_end():
    context = {
        "data_interval_start": JAN_2,
        "data_interval_end": JAN_2,
        "prev_data_interval_end_success": _lazy(None),
    }
    window = run_window(context)
    assert window == Window(None, epoch_ms(JAN_2), EVERYTHING_BEFORE_END)
    assert window.filters("last_modified_time") == [("last_modified_time", "LT", epoch_ms(JAN_2))]


def test_a_run_without_a_logical_date_ends_at_its_run_after_and_reads_everything_before():  # Airflow 3
    context = {"dag_run": SimpleNamespace(run_after=JAN_3)}
    assert run_window(context) == Window(None, epoch_ms(JAN_3), EVERYTHING_BEFORE_END)


def test_a_later_successful_run_makes_an_empty_window_that_says_so():
    context = {
        "data_interval_start": JAN_2,
        "data_interval_end": JAN_2,
        "prev_data_interval_end_success": JAN_3,
    }
    window = run_window(context)
    assert window.empty and window.reason == EMPTY_AFTER_LATER_SUCCESS
    assert window.start_ms == window.end_ms == epoch_ms(JAN_2)


def test_window_filters_are_half_open():
    window = Window(1_000, 2_000, FROM_DATA_INTERVAL)
    assert window.filters("modified__c") == [("modified__c", "GTE", 1_000), ("modified__c", "LT", 2_000)]
    assert "2026" not in window.describe() and window.describe().startswith(
        "[1970-01-01T00:00:01.000+00:00, "
    )


def test_epoch_milliseconds_are_exact():
    assert epoch_ms(datetime(2026, 1, 1, 0, 0, 0, 999_999, tzinfo=UTC)) == 1_767_225_600_999


def test_a_context_without_any_time_is_refused():
    with pytest.raises(ValueError, match="neither a data interval"):
        run_window({})
