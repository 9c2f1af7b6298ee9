"""One task process of a fan-out, started by the tests as ``python tests/proc_send.py``.

Usage: ``proc_send.py <signal_dir> <count> <tag> <conn_id> [<conn_id> ...]``. For each connection id
(an ``AIRFLOW_CONN_*`` variable, as a task process would read it) it builds an ``FxiaokeHook``; then,
phase by phase, it waits for the start file ``go-<phase>`` in ``signal_dir``, sends ``count`` messages
with that hook and leaves ``done-<phase>-<tag>``. Importing Airflow is slow; the start files make the
sends of all processes start together. Prints the traceIds and each phase's seconds from its start
signal to its last delivery as one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

START_TIMEOUT_S = 180.0


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not path.exists():
        if time.monotonic() > deadline:
            sys.exit(f"no start signal {path.name}")
        time.sleep(0.002)


def main(signal_dir: Path, count: int, tag: str, conn_ids: list[str]) -> None:
    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

    hooks = [FxiaokeHook(conn_id) for conn_id in conn_ids]
    for hook in hooks:
        _ = hook.config  # parse the connection before the start, like a task about to send
    (signal_dir / f"ready-{tag}").touch()
    trace_ids: list[list[str]] = []
    elapsed_s: list[float] = []
    for phase, hook in enumerate(hooks):
        wait_for(signal_dir / f"go-{phase}")
        started = time.monotonic()
        trace_ids.append(
            [
                hook.send_message(["1000"], f"fan-out {tag} phase {phase} #{i}")[0]["traceId"]
                for i in range(count)
            ]
        )
        elapsed_s.append(time.monotonic() - started)
        (signal_dir / f"done-{phase}-{tag}").touch()
    print(json.dumps({"tag": tag, "trace_ids": trace_ids, "elapsed_s": elapsed_s}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:])
