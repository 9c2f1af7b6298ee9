"""One task process of a fan-out, started by the tests as ``python tests/proc_send.py``.

It builds an ``FxiaokeHook`` from an ``AIRFLOW_CONN_*`` variable (as a task process would), says it is
ready, waits for the common start signal (a file), then sends ``count`` messages and prints the
traceIds as one JSON line. Importing Airflow is slow; the barrier makes the sends start together.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

START_TIMEOUT_S = 120.0


def main(conn_id: str, ready_dir: str, go_file: str, count: int, tag: str) -> None:
    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

    hook = FxiaokeHook(conn_id)
    _ = hook.config  # parse the connection before the start, like a task that is about to send
    Path(ready_dir, f"{tag}.ready").touch()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not os.path.exists(go_file):
        if time.monotonic() > deadline:
            sys.exit("no start signal")
        time.sleep(0.002)
    trace_ids = [hook.send_message(["1000"], f"fan-out {tag} #{i}")[0]["traceId"] for i in range(count)]
    print(json.dumps({"tag": tag, "trace_ids": trace_ids}))


if __name__ == "__main__":
    conn, ready, go, n, name = sys.argv[1:6]
    main(conn, ready, go, int(n), name)
