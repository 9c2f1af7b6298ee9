"""``bash scripts/bench.sh``: what the provider costs, as ratios against a baseline measured in the same run.

Behaviour is asserted by the tests; this only measures. Every figure is compared with something the
same machine did in the same minute (a bare ``requests.Session`` posting the same bodies or paging
with the same keyset bodies, the gateway's own rate limit, one token per process, Airflow's base
import, the bytes a stream carried, the fewest calls an upsert can make), so the ratios travel
between machines even where the absolute numbers do not. The sandbox gateway runs in its own
process, so its work never counts as the client's CPU. Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import ROOT, TEXT, USER_ID, conn_env, connection_dict

BENCH_CONN_ID = "fxiaoke_bench"
READY_TIMEOUT_S = 120.0
PROC_SEND = ROOT / "tests" / "proc_send.py"


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the sandbox in its own process -------------------------------------------------------------
@dataclass(frozen=True)
class Sandbox:
    url: str

    def stats(self) -> dict:
        return self._get("stats")

    def requests(self) -> list[dict]:
        """One entry per API request the sandbox answered (path, errorCode...), oldest first."""
        return self._get("requests")

    def _get(self, route: str) -> Any:
        with urllib.request.urlopen(f"{self.url}/__sandbox__/{route}", timeout=60) as answer:  # loopback
            return json.load(answer)

    def put_records(self, object_api_name: str, records: list[dict]) -> list[str]:
        body = json.dumps({"object": object_api_name, "records": records}).encode()
        request = urllib.request.Request(f"{self.url}/__sandbox__/crm/put", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=60) as answer:  # loopback
            return json.load(answer)["ids"]

    def calls_to(self, path: str) -> collections.Counter:
        """errorCode -> how many requests to ``path`` got it."""
        return collections.Counter(r["errorCode"] for r in self.requests() if r["path"] == path)


@contextlib.contextmanager
def sandbox_process(*args: str) -> Iterator[Sandbox]:
    """``python -m fxiaoke_provider.sandbox`` on a free loopback port, stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="fxiaoke-bench-") as tmp:
        ready = Path(tmp) / "ready"
        command = [sys.executable, "-m", "fxiaoke_provider.sandbox", "--port", "0", "--quiet"]
        process = subprocess.Popen([*command, "--ready-file", str(ready), *args], stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while not ready.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the sandbox did not start")
                time.sleep(0.05)
            yield Sandbox(ready.read_text().strip())
        finally:
            process.terminate()
            process.wait(timeout=10)


@contextlib.contextmanager
def bench_connection(sandbox: Sandbox, tmp: Path, **extra: object) -> Iterator[None]:
    """``AIRFLOW_CONN_FXIAOKE_BENCH`` for hooks in this process; client pacing off unless given."""
    env = conn_env(BENCH_CONN_ID, connection_dict(sandbox, tmp, **{"rate_limit_calls": 0, **extra}))
    os.environ.update(env)
    try:
        yield
    finally:
        for key in env:
            os.environ.pop(key, None)


def new_hook():
    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

    return FxiaokeHook(BENCH_CONN_ID)


def bare_headers(hook) -> dict[str, str]:
    """The headers a hand-written client sends, on the hook's own token (header auth style)."""
    from fxiaoke_provider.gateway import protocol

    token = hook.get_token()
    return {
        "Content-Type": "application/json; charset=utf-8",
        protocol.HEADER_AUTHORIZATION: protocol.BEARER_PREFIX + token.value,
        protocol.HEADER_EA: token.tenant,
        protocol.HEADER_USER_ID: USER_ID,
    }


def bare_poster(sandbox: Sandbox, hook) -> Callable[[dict], None]:
    """What a hand-written client minimally does per request, on the hook's own token and body shape."""
    import requests

    from fxiaoke_provider.gateway import protocol
    from fxiaoke_provider.messaging import wire

    session = requests.Session()
    url = sandbox.url + wire.SERVICE_MESSAGE_SEND_PATH
    headers = bare_headers(hook)

    def post(body: dict) -> None:
        answer = session.post(
            url,
            params={protocol.TRACE_QUERY_PARAM: str(uuid.uuid4())},
            data=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
            headers=headers,
            timeout=30,
            allow_redirects=False,
        )
        if answer.json()["errorCode"] != protocol.SUCCESS:
            raise RuntimeError(f"bare send refused: {answer.text[:200]}")

    return post


def bodies_for(recipients: list[str]) -> list[dict]:
    from fxiaoke_provider.messaging import bodies, wire
    from tests.support import SERVICE_ID

    fields = bodies.build_message_fields("text", TEXT)
    return [
        {wire.TO_USER_FIELD: chunk, **fields, wire.SERVICE_ID_FIELD: SERVICE_ID}
        for chunk in bodies.batches(recipients)
    ]


# --- measurements -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    measure: str
    provider: str
    baseline: str
    ratio: float
    reads: str  # how to read the ratio


def timed(action: Callable[[], None], repeat: int = 1) -> tuple[float, float]:
    """Wall and CPU seconds of ``repeat`` calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        action()
    return time.perf_counter() - wall, time.process_time() - cpu


def throughput(sandbox: Sandbox, rounds: int, per_round: int) -> list[Row]:
    """Hook and bare client alternate (neither always first); medians of the per-round figures."""
    hook = new_hook()
    post = bare_poster(sandbox, hook)
    body = bodies_for([USER_ID])[0]
    sides = {"hook": lambda: hook.send_message([USER_ID], TEXT), "bare": lambda: post(body)}
    for action in sides.values():
        timed(action, 20)  # connections open, caches warm
    figures: dict[str, list[tuple[float, float]]] = {"hook": [], "bare": []}
    for index in range(rounds):
        for name in sorted(sides, reverse=bool(index % 2)):
            wall, cpu = timed(sides[name], per_round)
            figures[name].append((per_round / wall, cpu / per_round * 1e6))
    rate = {name: statistics.median(f[0] for f in rows) for name, rows in figures.items()}
    cpu = {name: statistics.median(f[1] for f in rows) for name, rows in figures.items()}
    return [
        Row(
            "send throughput, 1 recipient",
            f"{rate['hook']:.0f} msg/s",
            f"{rate['bare']:.0f} msg/s",
            rate["hook"] / rate["bare"],
            "1.0 = as fast as bare requests",
        ),
        Row(
            "client CPU per message",
            f"{cpu['hook']:.0f} us",
            f"{cpu['bare']:.0f} us",
            cpu["hook"] / cpu["bare"],
            "1.0 = no CPU beyond bare requests",
        ),
    ]


def fan_out(sandbox: Sandbox, recipients: int) -> list[Row]:
    """One send to ``recipients`` people vs the bare client posting the same 500-id bodies.

    Time is measured without tracing; peak memory in a second send under ``tracemalloc``.
    """
    hook = new_hook()
    post = bare_poster(sandbox, hook)
    ids = [str(100_000 + i) for i in range(recipients)]
    sides = {
        "hook": lambda: hook.send_message(ids, TEXT),
        "bare": lambda: [post(body) for body in bodies_for(ids)],
    }
    wall, peak = {}, {}
    for name, action in sides.items():
        action()  # warm
        wall[name] = statistics.median(timed(action)[0] for _ in range(3))
        tracemalloc.start()
        try:
            action()
            peak[name] = tracemalloc.get_traced_memory()[1] / 1024
        finally:
            tracemalloc.stop()
    label = f"fan-out to {recipients:,} ({math.ceil(recipients / 500)} requests)"
    return [
        Row(
            f"{label}: time",
            f"{wall['hook'] * 1e3:.0f} ms",
            f"{wall['bare'] * 1e3:.0f} ms",
            wall["hook"] / wall["bare"],
            "1.0 = as fast as bare requests",
        ),
        Row(
            f"{label}: peak memory",
            f"{peak['hook']:.0f} KiB",
            f"{peak['bare']:.0f} KiB",
            peak["hook"] / peak["bare"],
            "1.0 = no memory beyond bare requests",
        ),
    ]


def paced_delivery(requests_n: int, calls: int, window_s: float, tmp: Path) -> list[Row]:
    """N requests through one hook against a gateway enforcing ``calls`` per ``window_s`` (the real one:
    100 per 20 s, scaled down so it runs in seconds). The floor: request ``k*calls + 1`` cannot start
    before ``k`` windows have passed."""
    limit = ("--rate-limit-calls", str(calls), "--rate-limit-window", str(window_s), "--token-delay", "0")
    paced = {"rate_limit_calls": calls, "rate_limit_window": window_s}
    with sandbox_process(*limit) as sandbox, bench_connection(sandbox, tmp, **paced):
        hook = new_hook()
        hook.get_token()
        wall, _ = timed(lambda: [hook.send_message([USER_ID], TEXT) for _ in range(requests_n)])
        refused = sandbox.stats()["error_codes"].get("30004", 0)
    floor = (requests_n - 1) // calls * window_s
    return [
        Row(
            f"{requests_n} requests under {calls} per {window_s:g} s ({refused} x 30004)",
            f"{wall:.2f} s",
            f"limit allows {floor:.2f} s",
            floor / wall,
            "1.0 = as fast as the limit allows",
        ),
    ]


def token_calls(processes: int, sends: int, tmp: Path) -> list[Row]:
    """P task processes (``tests/proc_send.py``) send M messages each, starting together."""
    with sandbox_process() as sandbox:  # the default token delay: overlapping fetches would show
        signal_dir = tmp / "signals"
        signal_dir.mkdir(parents=True)
        env = {**os.environ, **conn_env(BENCH_CONN_ID, connection_dict(sandbox, tmp, rate_limit_calls=0))}
        command = [sys.executable, str(PROC_SEND), str(signal_dir), str(sends)]
        workers = [
            subprocess.Popen([*command, f"p{n}", BENCH_CONN_ID], env=env, stdout=subprocess.DEVNULL)
            for n in range(processes)
        ]
        try:
            deadline = time.monotonic() + 300
            while len(list(signal_dir.glob("ready-*"))) < processes:
                if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                    raise RuntimeError("token benchmark workers did not get ready")
                time.sleep(0.05)
            (signal_dir / "go-0").touch()
            codes = [w.wait(timeout=300) for w in workers]
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
        if any(codes):
            raise RuntimeError(f"token benchmark workers failed: exit codes {codes}")
        calls = sandbox.stats()["token_calls"]
    return [
        Row(
            f"token calls for {processes} x {sends} sends",
            str(calls),
            f"{processes} (one per process)",
            calls / processes,
            "lower is better; 1/P = one per machine",
        ),
    ]


IMPORT_CHILD = """
import json, time
w0 = time.perf_counter()
from airflow.sdk import BaseOperator, BaseNotifier
w1 = time.perf_counter()
import fxiaoke_provider.operators.fxiaoke, fxiaoke_provider.notifications.fxiaoke
w2 = time.perf_counter()
print(json.dumps({"base": w1 - w0, "total": w2 - w0}))
"""


def import_cost(runs: int) -> list[Row]:
    """Fresh interpreters (as the DAG processor uses), bytecode cached in a private directory."""
    with tempfile.TemporaryDirectory(prefix="fxiaoke-bench-pyc-") as pyc:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPYCACHEPREFIX=pyc, PYTHONWARNINGS="ignore")
        samples = []
        for index in range(runs + 1):
            out = subprocess.run(
                [sys.executable, "-c", IMPORT_CHILD], env=env, check=True, capture_output=True, text=True
            ).stdout
            if index:  # the first run only compiles bytecode
                samples.append(json.loads(out.strip().splitlines()[-1]))
    base = statistics.median(s["base"] for s in samples)
    total = statistics.median(s["total"] for s in samples)
    ratio = statistics.median(s["total"] / s["base"] for s in samples)
    return [
        Row(
            "import operator + notifier",
            f"{total * 1e3:.0f} ms",
            f"Airflow base {base * 1e3:.0f} ms",
            ratio,
            "1.0 = free at DAG-parse time",
        ),
    ]


# --- CRM: export, reading, memory, upsert --------------------------------------------------------
EXPORT_OBJECT = "AccountObj"
PAGE = 100  # records per query page: the gateway's most
CALL_LIMIT_CODES = ("30004", "14001")


def bare_reader(sandbox: Sandbox, hook) -> Callable[[str], int]:
    """A hand-written keyset loop on the hook's own token, posting the bodies the provider posts:
    ``_id`` ascending, offset 0, ``_id GT <last>`` as the cursor, until a page comes back short."""
    import requests

    from fxiaoke_provider.crm import wire
    from fxiaoke_provider.gateway import protocol

    session = requests.Session()
    headers = bare_headers(hook)

    def read(object_api_name: str) -> int:
        url = sandbox.url + wire.data_path(object_api_name, wire.QUERY_ACTION)
        count, after = 0, None
        while True:
            cursor = (
                [] if after is None else [{"field_name": "_id", "operator": "GT", "field_values": [after]}]
            )
            search = {
                "limit": PAGE,
                "offset": 0,
                "filters": cursor,
                "orders": [{"fieldName": "_id", "isAsc": True}],
            }
            body = {
                "data": {
                    "dataObjectApiName": object_api_name,
                    "find_explicit_total_num": False,
                    "search_query_info": search,
                }
            }
            answer = session.post(
                url,
                params={protocol.TRACE_QUERY_PARAM: str(uuid.uuid4())},
                data=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                headers=headers,
                timeout=30,
                allow_redirects=False,
            ).json()
            if answer["errorCode"] != protocol.SUCCESS:
                raise RuntimeError(f"bare query refused: {answer}")
            page = answer["data"]["dataList"]
            count += len(page)
            if len(page) < PAGE:
                return count
            after = page[-1]["_id"]

    return read


def export_pace(pages: int, tmp: Path) -> list[Row]:
    """``FxiaokeToObjectStorageOperator`` exports ``pages`` full pages into a local file against the
    gateway's real limit (100 calls / 20 s), the client pacing at its defaults. The stream ends with
    one more, empty page; the floor is the paced-delivery one: call ``k*100 + 1`` cannot start before
    ``k`` windows have passed."""
    from fxiaoke_provider.crm import wire
    from fxiaoke_provider.gateway import protocol
    from fxiaoke_provider.transfers.fxiaoke_to_object_storage import FxiaokeToObjectStorageOperator

    records = pages * PAGE
    seed = ("--crm-seed", f"{EXPORT_OBJECT}={records}", "--token-delay", "0")  # the documented limit: on
    defaults = {"rate_limit_calls": None, "retry_max_wait": None}  # None: the connection's defaults
    with sandbox_process(*seed) as sandbox, bench_connection(sandbox, tmp, **defaults):
        dest = tmp / "export" / "accounts.jsonl"
        operator = FxiaokeToObjectStorageOperator(
            task_id="bench_export",
            object_api_name=EXPORT_OBJECT,
            dest_path=f"file://{dest}",
            incremental=False,
            fxiaoke_conn_id=BENCH_CONN_ID,
        )
        operator.hook.get_token()  # the token endpoint has a limit of its own
        outcome: dict[str, Any] = {}
        wall, _ = timed(lambda: outcome.update(operator.execute({})))
        codes = sandbox.calls_to(wire.data_path(EXPORT_OBJECT, wire.QUERY_ACTION))
        with dest.open("rb") as written:
            lines = sum(1 for _ in written)
    if outcome.get("records") != records or lines != records:
        raise RuntimeError(f"the export wrote {outcome} ({lines} lines), not {records} records")
    calls = sum(codes.values())
    refused = sum(codes.get(int(code), 0) for code in CALL_LIMIT_CODES)
    limit, window = protocol.RATE_LIMIT_CALLS, protocol.RATE_LIMIT_WINDOW_S
    floor = (calls - 1) // limit * window
    return [
        Row(
            f"export {pages} pages under {limit} per {window:g} s ({refused} x 30004/14001)",
            f"{wall:.2f} s",
            f"limit allows {floor:.2f} s",
            floor / wall,
            "1.0 = as fast as the limit allows",
        ),
    ]


def reading_overhead(pages: int, rounds: int, tmp: Path) -> list[Row]:
    """``hook.iter_records`` vs ``bare_reader`` over the same ``pages`` pages, limit off; alternating
    rounds (neither always first), medians of the per-round figures."""
    records = pages * PAGE
    fast = ("--rate-limit-calls", "0", "--token-delay", "0", "--crm-seed", f"{EXPORT_OBJECT}={records}")
    with sandbox_process(*fast) as sandbox, bench_connection(sandbox, tmp):
        hook = new_hook()
        bare = bare_reader(sandbox, hook)
        sides = {
            "hook": lambda: sum(1 for _ in hook.iter_records(EXPORT_OBJECT)),
            "bare": lambda: bare(EXPORT_OBJECT),
        }
        for name, read in sides.items():  # connections open, the sandbox's query cached
            if read() != records:
                raise RuntimeError(f"{name} did not read {records} records")
        figures: dict[str, list[tuple[float, float]]] = {"hook": [], "bare": []}
        for index in range(rounds):
            for name in sorted(sides, reverse=bool(index % 2)):
                wall, cpu = timed(sides[name])
                figures[name].append((records / wall, cpu / (pages + 1) * 1e6))
    rate = {name: statistics.median(f[0] for f in rows) for name, rows in figures.items()}
    cpu = {name: statistics.median(f[1] for f in rows) for name, rows in figures.items()}
    return [
        Row(
            f"read {pages} pages of {PAGE}: throughput",
            f"{rate['hook']:.0f} rec/s",
            f"{rate['bare']:.0f} rec/s",
            rate["hook"] / rate["bare"],
            "1.0 = as fast as bare requests",
        ),
        Row(
            f"read {pages} pages of {PAGE}: client CPU per page",
            f"{cpu['hook']:.0f} us",
            f"{cpu['bare']:.0f} us",
            cpu["hook"] / cpu["bare"],
            "1.0 = no CPU beyond bare requests",
        ),
    ]


MEMORY_CHILD = """
import gc, itertools, json, os, resource, sys, threading
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

conn_id, name, records = sys.argv[1], sys.argv[2], int(sys.argv[3])
page_bytes = os.sysconf("SC_PAGE_SIZE")

def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * page_bytes

hook = FxiaokeHook(conn_id)
sum(1 for _ in itertools.islice(hook.iter_records(name), 1000))  # code paths and buffers warm
gc.collect()
base, base_max = rss(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
peak, done = [base], threading.Event()

def sample():
    while not done.wait(0.002):
        peak[0] = max(peak[0], rss())

sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
read, size = 0, 0
for record in itertools.islice(hook.iter_records(name), records):
    read += 1
    size += len(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode())
done.set()
sampler.join()
after_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
top = max(peak[0], after_max if after_max > base_max else 0, rss())
print(json.dumps({"records": read, "growth": top - base, "streamed": size}))
"""


def reading_memory(points: list[int], record_bytes: int, tmp: Path) -> list[Row]:
    """Peak RSS growth of a fresh process while it streams ``n`` records of ~``record_bytes`` through
    ``hook.iter_records``, for each ``n`` of ``points`` (RSS sampled every 2 ms and checked against
    the process's high-water mark), against the bytes of JSON streamed in the same run: holding the
    records would grow with them (ratio ~1), streaming stays flat (ratio ~0)."""
    seed = ("--rate-limit-calls", "0", "--token-delay", "0", "--crm-record-bytes", str(record_bytes))
    with sandbox_process(*seed, "--crm-seed", f"{EXPORT_OBJECT}={max(points)}") as sandbox:
        env = {**os.environ, **conn_env(BENCH_CONN_ID, connection_dict(sandbox, tmp, rate_limit_calls=0))}
        figures = {}
        for count in points:
            progress(f"memory: streaming {count:,} records of ~{record_bytes} bytes in a fresh process")
            out = subprocess.run(
                [sys.executable, "-c", MEMORY_CHILD, BENCH_CONN_ID, EXPORT_OBJECT, str(count)],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            figures[count] = json.loads(out.strip().splitlines()[-1])
            if figures[count]["records"] != count:
                raise RuntimeError(f"the memory child read {figures[count]['records']} records, not {count}")
    mb = 2**20
    first, last = figures[points[0]], figures[points[-1]]
    kb = record_bytes // 1024
    return [
        Row(
            f"stream {points[-1]:,} records of ~{kb} KB: peak RSS growth",
            f"{last['growth'] / mb:.1f} MB",
            f"{last['streamed'] / mb:.0f} MB streamed",
            last["growth"] / last["streamed"],
            "0 = constant memory (budget 40 MB)",
        ),
        Row(
            f"stream {points[0]:,} -> {points[-1]:,} records: growth",
            f"{first['growth'] / mb:.1f} -> {last['growth'] / mb:.1f} MB",
            f"{first['streamed'] / mb:.0f} -> {last['streamed'] / mb:.0f} MB streamed",
            (last["growth"] - first["growth"]) / (last["streamed"] - first["streamed"]),
            "0 = flat as records grow; 1 = kept",
        ),
    ]


UPSERT_OBJECT = "LeadsObj"
UPSERT_MATCH = "external_id__c"


def upsert_pace(rows_n: int, existing_n: int, tmp: Path) -> list[Row]:
    """The upsert engine (what ``FxiaokeUpsertRecordsOperator`` runs) over ``rows_n`` rows of which
    ``existing_n`` (spread through them) already exist with another value; calls counted from the
    sandbox's request log. The floor: one write per row and one look-up per 100 rows."""
    from fxiaoke_provider.crm import wire
    from fxiaoke_provider.crm.upsert import Upsert, rows_of_list

    rows = [
        {UPSERT_MATCH: f"bench-{i:05d}", "name": f"Lead {i}", "company": f"Company {i}", "source": "web"}
        for i in range(rows_n)
    ]
    step = max(1, rows_n // existing_n) if existing_n else 0
    existing = rows[::step][:existing_n] if existing_n else []
    with (
        sandbox_process("--rate-limit-calls", "0", "--token-delay", "0") as sandbox,
        bench_connection(sandbox, tmp),
    ):
        sandbox.put_records(UPSERT_OBJECT, [{**row, "company": "before"} for row in existing])
        hook = new_hook()
        hook.get_token()
        result = Upsert(hook, UPSERT_OBJECT, UPSERT_MATCH).run(rows_of_list(rows))
        calls = {
            action: sum(sandbox.calls_to(wire.data_path(UPSERT_OBJECT, action)).values())
            for action in (wire.QUERY_ACTION, wire.CREATE_ACTION, wire.UPDATE_ACTION)
        }
    expected = {"created": rows_n - existing_n, "updated": existing_n, "refused": 0}
    if result.counts() != expected:
        raise RuntimeError(f"the upsert did {result.counts()}, not {expected}")
    created, writes = expected["created"], expected["created"] + expected["updated"]
    lookups = calls[wire.QUERY_ACTION]
    label = f"upsert {rows_n:,} rows ({existing_n} exist)"
    return [
        Row(
            f"{label}: create calls per created row",
            f"{calls[wire.CREATE_ACTION] / created:.3f}",
            "1 (one create each)",
            calls[wire.CREATE_ACTION] / created,
            "1.0 = one call per created row",
        ),
        Row(
            f"{label}: look-ups per 100 rows",
            f"{lookups * 100 / rows_n:.2f} ({lookups} calls)",
            f"1 ({math.ceil(rows_n / PAGE)} calls)",
            lookups / math.ceil(rows_n / PAGE),
            "1.0 = one look-up per 100 rows",
        ),
        Row(
            f"{label}: all calls per row",
            f"{sum(calls.values()) / rows_n:.3f}",
            f"{(writes + math.ceil(rows_n / PAGE)) / rows_n:.3f} (floor)",
            sum(calls.values()) / (writes + math.ceil(rows_n / PAGE)),
            "1.0 = one write per row + 1 look-up / 100",
        ),
    ]


# --- the table ----------------------------------------------------------------------------------
def render(rows: list[Row]) -> str:
    import airflow

    cells = [("Measure", "Provider", "Baseline (same run)", "Ratio", "Reads")]
    cells += [
        (r.measure, r.provider, r.baseline, f"{r.ratio:.3f}".replace("-0.000", "0.000"), r.reads)
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(5)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    lines = [
        f"{os.cpu_count()} cores, load {', '.join(f'{x:.1f}' for x in os.getloadavg())}; "
        f"Python {platform.python_version()}, Airflow {airflow.__version__}",
        rule,
    ]
    for index, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            lines.append(rule)
    lines.append(rule)
    return "\n".join(lines)


def _messages(args: argparse.Namespace, tmp: Path) -> list[Row]:
    fast = ("--rate-limit-calls", "0", "--token-delay", "0")
    with sandbox_process(*fast) as sandbox, bench_connection(sandbox, tmp):
        progress(f"throughput: {args.rounds} rounds x {args.per_round} messages per client")
        rows = throughput(sandbox, args.rounds, args.per_round)
        progress(f"fan-out to {args.recipients} recipients")
        return rows + fan_out(sandbox, args.recipients)


def _pacing(args: argparse.Namespace, tmp: Path) -> list[Row]:
    progress(f"{args.paced} requests against {args.limit} per {args.window:g} s")
    return paced_delivery(args.paced, args.limit, args.window, tmp)


def _tokens(args: argparse.Namespace, tmp: Path) -> list[Row]:
    progress(f"token calls: {args.processes} processes x {args.sends} sends")
    return token_calls(args.processes, args.sends, tmp)


def _import(args: argparse.Namespace, _tmp: Path) -> list[Row]:
    progress(f"import cost: {args.import_runs} fresh interpreters")
    return import_cost(args.import_runs)


def _export(args: argparse.Namespace, tmp: Path) -> list[Row]:
    progress(f"export pace: {args.export_pages} pages against the gateway's limit (about 40 s)")
    return export_pace(args.export_pages, tmp)


def _reading(args: argparse.Namespace, tmp: Path) -> list[Row]:
    progress(f"reading overhead: {args.read_rounds} rounds x {args.read_pages} pages per reader")
    return reading_overhead(args.read_pages, args.read_rounds, tmp)


def _memory(args: argparse.Namespace, tmp: Path) -> list[Row]:
    return reading_memory(args.memory_points, args.record_bytes, tmp)


def _upsert(args: argparse.Namespace, tmp: Path) -> list[Row]:
    progress(f"upsert: {args.upsert_rows} rows of which {args.upsert_existing} exist")
    return upsert_pace(args.upsert_rows, args.upsert_existing, tmp)


#: The table's groups of rows, in its order (``--only`` picks some).
GROUPS: dict[str, Callable[[argparse.Namespace, Path], list[Row]]] = {
    "messages": _messages,
    "pacing": _pacing,
    "tokens": _tokens,
    "import": _import,
    "export": _export,
    "reading": _reading,
    "memory": _memory,
    "upsert": _upsert,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating hook / bare rounds")
    parser.add_argument("--per-round", type=int, default=200, help="messages per client per round")
    parser.add_argument("--recipients", type=int, default=5_000, help="fan-out size")
    parser.add_argument("--paced", type=int, default=61, help="requests against the scaled limit")
    parser.add_argument("--limit", type=int, default=20, help="calls per window of the scaled limit")
    parser.add_argument("--window", type=float, default=1.0, help="seconds of the scaled limit's window")
    parser.add_argument("--processes", type=int, default=4, help="task processes sharing one token")
    parser.add_argument("--sends", type=int, default=10, help="messages per process")
    parser.add_argument("--import-runs", type=int, default=10, help="fresh interpreters")
    parser.add_argument("--export-pages", type=int, default=200, help="full pages the paced export reads")
    parser.add_argument("--read-pages", type=int, default=200, help="pages per reader per round")
    parser.add_argument(
        "--read-rounds", type=int, default=7, help="alternating provider / bare reading rounds"
    )
    parser.add_argument(
        "--memory-points",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[25_000, 100_000],
        help="records streamed in fresh processes, comma-separated; the first is the baseline",
    )
    parser.add_argument("--record-bytes", type=int, default=2048, help="bytes of JSON per record (memory)")
    parser.add_argument("--upsert-rows", type=int, default=1000, help="rows the upsert writes")
    parser.add_argument("--upsert-existing", type=int, default=200, help="of which exist already")
    parser.add_argument(
        "--only",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        help=f"comma-separated groups of rows to measure ({', '.join(GROUPS)}); default: all",
    )
    args = parser.parse_args(argv)

    unknown = set(args.only or GROUPS) - set(GROUPS)
    if unknown:
        parser.error(f"--only: unknown group(s) {', '.join(sorted(unknown))}; known: {', '.join(GROUPS)}")
    wanted = [group for group in GROUPS if group in (args.only or GROUPS)]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="fxiaoke-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        for group in wanted:
            rows += GROUPS[group](args, tmp / group)
    print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
