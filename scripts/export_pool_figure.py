"""The figure behind the export docs' pool advice, from a real run against the sandbox on loopback.

Three objects of ``N`` records each (default 10,000: 101 query calls each) are read through
``FxiaokeHook.iter_records`` at the gateway's documented limit (100 calls / 20 s per endpoint):

- ``pool``: one after another, as a pool of one slot runs them;
- ``side-by-side``: at the same time, each with its own pacer, as tasks on three machines do.

Prints, per way and run, the seconds taken, the query calls answered and refused (``30004``),
the most attempts one call needed (call-limit refusals are waited out for up to three windows,
not counted against ``retry_max_attempts``), whether the exports that finished read every record
once, and the exports whose refusals outlasted the client's patience (an Airflow task would retry
those). About three minutes
per run at the default size::

    source scripts/_env.sh && fxiaoke_env 3 && "$PY" scripts/export_pool_figure.py [N [RUNS]]
"""

from __future__ import annotations

import collections
import json
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fxiaoke_provider.sandbox import SandboxGateway  # noqa: E402
from tests.support import connection_dict  # noqa: E402

OBJECTS = ["AccountObj", "ContactObj", "OpportunityObj"]
QUERY_PATH = "/cgi/crm/v2/data/query"


class Attempts(logging.Handler):
    """The retry policy's log line per failed attempt ("... (attempt N), retrying ..."): the highest N."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.most = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Fxiaoke request failed (attempt"):
            self.most = max(self.most, int(record.args[0]))


def measure(way: str, records: int, scratch: Path) -> dict[str, object]:
    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

    with SandboxGateway(port=0, token_delay_s=0.0, crm_seed=dict.fromkeys(OBJECTS, records)) as gateway:
        for index in range(len(OBJECTS)):
            # One pacer per machine: side by side, each task has a machine (cache folder) of its own.
            machine = scratch / way / (str(index) if way == "side-by-side" else "0")
            conn = connection_dict(gateway, machine, retry_max_wait=30)
            os.environ[f"AIRFLOW_CONN_FXIAOKE_FIGURE_{index}"] = json.dumps(conn)
        ids: dict[str, list[str]] = {}
        failed: dict[str, str] = {}

        def export(index: int, name: str) -> None:
            hook = FxiaokeHook(f"fxiaoke_figure_{index}")
            try:
                ids[name] = [record["_id"] for record in hook.iter_records(name)]
            except Exception as error:  # what would fail the task's try
                failed[name] = f"{type(error).__name__}: {error}"[:200]

        attempts = Attempts()
        retry_log = logging.getLogger("fxiaoke_provider.gateway.retry")
        retry_log.addHandler(attempts)
        level = retry_log.level
        retry_log.setLevel(logging.WARNING)  # whatever the logging configuration says
        started = time.monotonic()
        if way == "side-by-side":
            threads = [threading.Thread(target=export, args=item) for item in enumerate(OBJECTS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        else:
            for index, name in enumerate(OBJECTS):
                export(index, name)
        seconds = time.monotonic() - started
        retry_log.removeHandler(attempts)
        retry_log.setLevel(level)
        codes = collections.Counter(r["errorCode"] for r in gateway.requests() if r["path"] == QUERY_PATH)
        once = all(len(ids[name]) == len(set(ids[name])) == records for name in ids)
        return {
            "way": way,
            "seconds": round(seconds, 1),
            "answered": codes.get(0, 0),
            "refused_30004": codes.get(30004, 0),
            # a call that failed for good used every attempt; the log names those that were retried
            "most_attempts_of_one_call": (attempts.most + 1) if attempts.most else 1,
            "every_record_once_where_done": once,
            "failed_tries": failed,
        }


def main() -> None:
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    for run in range(runs):
        for way in ("pool", "side-by-side"):
            with tempfile.TemporaryDirectory() as scratch:
                print(json.dumps({"run": run + 1, **measure(way, records, Path(scratch))}), flush=True)


if __name__ == "__main__":
    main()
