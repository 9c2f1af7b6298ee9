"""Entry points: the ``airflow fxiaoke doctor`` action and ``python -m fxiaoke_provider.doctor``."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence

from fxiaoke_provider.doctor.findings import render_json, render_text
from fxiaoke_provider.doctor.options import DoctorOptions, build_parser
from fxiaoke_provider.doctor.run import run_doctor


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """While the checks run, anything written to stdout (log lines) goes to stderr instead.

    stdout carries the report only, so ``--json`` always parses. Done on the file descriptor,
    because some of Airflow's loggers hold their own reference to the stdout stream, and on
    ``sys.stdout`` for those that look it up per record.
    """
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no stdout file descriptor (embedded)
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):  # handlers that look sys.stdout up per record
            yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def run(options: DoctorOptions) -> int:
    with _stdout_to_stderr():
        report, redactor = run_doctor(options)
    render = render_json if options.as_json else render_text
    sys.stdout.write(render(report, redactor))
    sys.stdout.flush()
    return report.exit_code


def doctor_command(args: argparse.Namespace) -> None:
    """``airflow fxiaoke doctor``: Airflow ignores return values, so the exit code is raised."""
    code = run(DoctorOptions.from_namespace(args))
    if code:
        raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    return run(DoctorOptions.from_namespace(build_parser().parse_args(argv)))
