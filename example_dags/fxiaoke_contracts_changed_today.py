"""The contracts changed today: each owner gets a card that opens the contract in the Fxiaoke app.

A window task turns the run into a ``last_modified_time`` filter (from midnight UTC of the run's day
to the end of its data interval; epoch milliseconds), ``FxiaokeQueryOperator`` reads the contracts
changed in it (at most 1,000: a larger result fails the task and points to the export), and one
mapped send per contract gives its owners a card whose link opens the record. The owners are CRM
employee ids, which the header auth style sends to as they are.
"""

from __future__ import annotations

from typing import Any

import pendulum

from fxiaoke_provider.messaging.bodies import crm_record_link
from fxiaoke_provider.operators.crm import FxiaokeQueryOperator
from fxiaoke_provider.operators.fxiaoke import FxiaokeSendMessageOperator

try:
    from airflow.sdk import DAG, get_current_context, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task
    from airflow.operators.python import get_current_context

CONTRACTS = "ContractObj"


def _epoch_ms(moment: Any) -> int:
    return int(moment.timestamp() * 1000)


with DAG(
    dag_id="fxiaoke_contracts_changed_today",
    schedule="0 18 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["fxiaoke", "example", "crm"],
) as dag:

    @task
    def changed_today() -> list[list[Any]]:
        """The run's window as filters: ``[midnight of the run's day, the end of its interval)``."""
        context = get_current_context()
        # Airflow 3 runs without a logical date have no data interval: they end when they were created.
        end = pendulum.instance(context.get("data_interval_end") or context["dag_run"].run_after)
        start = end.in_timezone("UTC").start_of("day")
        return [["last_modified_time", "GTE", _epoch_ms(start)], ["last_modified_time", "LT", _epoch_ms(end)]]

    contracts = FxiaokeQueryOperator(
        task_id="contracts_changed_today",
        object_api_name=CONTRACTS,
        filters=changed_today(),
        fields=["name", "owner", "last_modified_time"],
    )

    @task
    def cards(changed: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One card per contract, to its owners; the link opens the contract."""
        return [
            {
                "to_users": contract["owner"],
                "message": {
                    "head": {"title": "Contract changed today"},
                    "first": {"content": contract["name"]},
                    "form": [
                        {
                            "label": "Changed at",
                            "value": pendulum.from_timestamp(contract["last_modified_time"] / 1000).format(
                                "HH:mm [UTC]"
                            ),
                        }
                    ],
                    "remark": {"content": "Open the contract to review the change."},
                    "link": {"title": "Open contract", "url": crm_record_link(CONTRACTS, contract["_id"])},
                },
            }
            for contract in changed
        ]

    FxiaokeSendMessageOperator.partial(task_id="tell_owner", msg_type="composite").expand_kwargs(
        cards(contracts.output)
    )
