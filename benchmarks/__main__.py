"""``python -m benchmarks``: measure everything in one run and print one table (see ``scripts/bench.sh``)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator

from benchmarks import imports, machine, roundtrips, table, throughput, tokens
from benchmarks.report import NOTES, build_rows


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--import-runs", type=int, default=20, help="fresh interpreters per scenario")
    parser.add_argument("--rounds", type=int, default=7, help="alternating hook / bare rounds")
    parser.add_argument("--per-round", type=int, default=300, help="messages per client per round")
    parser.add_argument("--processes", type=int, default=8, help="parallel task processes (token test)")
    parser.add_argument("--sends", type=int, default=20, help="messages per process (token test)")
    parser.add_argument("--operator-runs", type=int, default=5)
    return parser


@contextlib.contextmanager
def _stdout_to(path: str) -> Iterator[None]:
    """Library log lines (Airflow logs to stdout) go to a file, so stdout carries only the table."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(path, "a", encoding="utf-8") as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def _progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.sandbox_proc import sandbox_process

    args = _parser().parse_args(argv)
    title = machine.describe()
    log_path = os.path.join(tempfile.gettempdir(), f"fxiaoke-bench-{os.getpid()}.log")
    with _stdout_to(log_path):
        _progress(f"1/4 import cost: {args.import_runs} fresh interpreters per scenario")
        costs = imports.measure(args.import_runs)
        with sandbox_process("--token-delay", "0") as sandbox, tempfile.TemporaryDirectory() as tmp:
            os.environ["AIRFLOW_CONN_FXIAOKE_BENCH"] = sandbox.connection_json(os.path.join(tmp, "cache"))
            _progress(f"2/4 throughput: {args.rounds} rounds x {args.per_round} messages per client")
            speed = throughput.measure(sandbox, args.rounds, args.per_round)
            _progress("3/4 operator round trips and fan-out")
            runs = roundtrips.operator_runs(sandbox, args.operator_runs)
            fans = roundtrips.fan_out(sandbox)
        _progress(f"4/4 token sharing: {args.processes} processes x {args.sends} sends")
        sharing = tokens.measure(args.processes, args.sends)
    print(table.render(title, build_rows(costs, speed, sharing, runs, fans), NOTES))
    print(f"  (library logs of this run: {log_path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
