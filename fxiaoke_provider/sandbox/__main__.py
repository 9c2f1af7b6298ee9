"""``python -m fxiaoke_provider.sandbox``: run the sandbox gateway until SIGTERM / SIGINT.

Prints one line ``Fxiaoke sandbox listening on <url>`` when ready, then a ready-to-paste Airflow
connection to itself (an ``AIRFLOW_CONN_FXIAOKE_DEFAULT`` variable and an ``airflow connections
add`` command: the sandbox's own fake credentials, header style). With ``--ready-file`` it writes
the URL there atomically so scripts can wait for the file instead of parsing output.
``--crm-seed AccountObj=25000`` (repeatable) gives a CRM object generated records.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from typing import TextIO

from fxiaoke_provider.sandbox.config import (
    DEFAULT_APP,
    DEFAULT_CLI_PORT,
    DEFAULT_HOST,
    DEFAULT_TOKEN_DELAY_S,
    SandboxApp,
    connection_for,
)
from fxiaoke_provider.sandbox.rules import (
    RATE_LIMIT_CALLS,
    RATE_LIMIT_WINDOW_S,
    TOKEN_ENDPOINT_CALLS_PER_MINUTE,
    is_loopback,
)
from fxiaoke_provider.sandbox.server import SandboxGateway

#: The connection id the printed snippets create.
CONN_ID = "fxiaoke_default"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fxiaoke_provider.sandbox",
        description="Offline Fxiaoke OpenAPI gateway (loopback only).",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_CLI_PORT, help="0 picks a free port")
    parser.add_argument("--rate-limit-calls", type=int, default=RATE_LIMIT_CALLS, help="0 disables the limit")
    parser.add_argument("--rate-limit-window", type=float, default=RATE_LIMIT_WINDOW_S, help="seconds")
    parser.add_argument("--token-calls-per-minute", type=int, default=TOKEN_ENDPOINT_CALLS_PER_MINUTE)
    parser.add_argument(
        "--count-refused-token-calls",
        action="store_true",
        help="count refused token calls in the token endpoint's window too, as many limiters do",
    )
    parser.add_argument(
        "--token-delay", type=float, default=DEFAULT_TOKEN_DELAY_S, help="seconds a token call takes"
    )
    parser.add_argument(
        "--message-ids",
        action="store_true",
        help="send answers also carry a messageId (HYPOTHETICAL tenant behaviour, not documented)",
    )
    parser.add_argument(
        "--initial-token-age",
        type=float,
        default=None,
        help="start with tokens this many seconds old (6610: a new client gets expiresIn 590)",
    )
    parser.add_argument(
        "--crm-seed",
        action="append",
        default=[],
        type=_seed_option,
        metavar="OBJECT=COUNT",
        help="give a CRM object COUNT generated records, e.g. AccountObj=25000 (repeatable)",
    )
    parser.add_argument(
        "--crm-record-bytes",
        type=int,
        default=0,
        help="pad each seeded CRM record to about this many bytes of JSON",
    )
    parser.add_argument("--log-file", help="request log file (default: stderr)")
    parser.add_argument("--ready-file", help="write the URL here once listening")
    parser.add_argument("--quiet", action="store_true", help="no request log")
    return parser


def _seed_option(text: str) -> tuple[str, int]:
    """``AccountObj=25000`` -> ``("AccountObj", 25000)``."""
    name, sep, count = text.partition("=")
    if not sep or not name.strip() or not count.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected OBJECT=COUNT such as AccountObj=25000; got {text!r}")
    return name.strip(), int(count)


def _write_atomically(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".sandbox-ready-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def connection_snippets(url: str, app: SandboxApp = DEFAULT_APP) -> list[str]:
    """Lines that connect Airflow to this sandbox: an env variable and an ``airflow connections add``.

    These are the sandbox's own fake credentials, so printing them is fine.
    """
    conn = connection_for(url, app)
    extra = conn["extra"]
    command = [
        "airflow",
        "connections",
        "add",
        CONN_ID,
        "--conn-type",
        "fxiaoke",
        "--conn-host",
        url,
        "--conn-login",
        app.app_id,
        "--conn-password",
        app.app_secret,
        "--conn-extra",
        json.dumps(extra),
    ]
    return [
        "# Airflow connection to this sandbox (its own fake credentials), as an environment variable:",
        f"export AIRFLOW_CONN_{CONN_ID.upper()}={shlex.quote(json.dumps(conn))}",
        "# or stored in the Airflow metadata database:",
        shlex.join(command),
    ]


def _gateway(args: argparse.Namespace, log: TextIO | None) -> SandboxGateway:
    return SandboxGateway(
        host=args.host,
        port=args.port,
        rate_limit_calls=args.rate_limit_calls,
        rate_limit_window_s=args.rate_limit_window,
        token_calls_per_minute=args.token_calls_per_minute,
        count_refused_token_calls=args.count_refused_token_calls,
        token_delay_s=args.token_delay,
        log_stream=log,
        message_ids=args.message_ids,
        initial_token_age_s=args.initial_token_age,
        crm_seed=dict(args.crm_seed),
        crm_record_bytes=args.crm_record_bytes,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not is_loopback(args.host):
        print(f"refusing to listen on non-loopback host {args.host!r}", file=sys.stderr)
        return 2
    log: TextIO | None = None
    if args.log_file and not args.quiet:
        log = open(args.log_file, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - closed below
    elif not args.quiet:
        log = sys.stderr
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    try:
        gateway = _gateway(args, log)
    except ValueError as exc:  # e.g. --crm-seed naming an object the sandbox does not have
        print(f"cannot start the sandbox: {exc}", file=sys.stderr)
        if log is not None and log is not sys.stderr:
            log.close()
        return 2
    try:
        gateway.start()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    try:
        print(f"Fxiaoke sandbox listening on {gateway.url}", flush=True)
        print("\n".join(connection_snippets(gateway.url, gateway.app)), flush=True)
        if args.ready_file:
            _write_atomically(args.ready_file, gateway.url + "\n")
        while not stop.wait(0.2):
            pass
    finally:
        gateway.stop()
        if args.ready_file:
            with contextlib.suppress(OSError):
                os.unlink(args.ready_file)
        if log is not None and log is not sys.stderr:
            log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
