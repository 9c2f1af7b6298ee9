"""Prints what the demo run left behind: the traceId from XCom beside the message the sandbox received.

Exits non-zero when they disagree, so the demo proves the round trip instead of only printing.
Run by ``scripts/demo.sh`` with the project root on ``PYTHONPATH`` (it reads XCom with the tests'
``tests.airflow_helpers``).
"""

from __future__ import annotations

import json
import sys
import urllib.request

from tests.airflow_helpers import task_states, xcom

DAG_ID = "fxiaoke_nightly_load"


def latest_run():
    from airflow.models.dagrun import DagRun

    runs = DagRun.find(dag_id=DAG_ID)
    if not runs:
        raise SystemExit(f"no run of {DAG_ID} in the metadata DB")
    return max(runs, key=lambda run: run.start_date)


def main(sandbox_url: str) -> int:
    run = latest_run()
    trace_id = xcom(run, "notify_data_team")
    audited = xcom(run, "audit")
    with urllib.request.urlopen(f"{sandbox_url}/__sandbox__/messages", timeout=5) as answer:
        received = json.load(answer)
    if isinstance(received, dict):
        received = received.get("messages", [])
    match = next((m for m in received if m.get("traceId") == trace_id), None)

    print()
    print(f"DAG run        {run.dag_id} / {run.run_id}: {run.state}")
    print(f"task states    {json.dumps(task_states(run), sort_keys=True)}")
    print(f"XCom traceId   {trace_id}   (notify_data_team return_value; audit task saw {audited})")
    if match is None:
        print(f"sandbox        received {len(received)} message(s), none with traceId {trace_id}")
        return 1
    print(f"sandbox        traceId {match['traceId']} thirdTraceId {match['thirdTraceId']}")
    print(f"               {match['path']} serviceId={match.get('serviceId')} msgType={match['msgType']}")
    print(f"               toUser={match['toUser']}")
    print(f"               content: {json.dumps(match['message'], ensure_ascii=False)}")
    ok = trace_id == match["traceId"] == audited and str(run.state).endswith("success")
    print(f"round trip     {'OK: XCom traceId == sandbox traceId' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
