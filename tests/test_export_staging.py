"""The staged export on real object storage (an S3-compatible server on loopback, and a local disk):
parts, resume after a failed try, atomic replace, CSV.

The records come from a plain generator here: these tests are about files, parts and progress. The
operator reading the sandbox's CRM through the hook is ``test_export_object_storage.py``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from fxiaoke_provider.airflow_support.version_compat import object_storage_path
from fxiaoke_provider.transfers import staging

STAGING_PREFIX = "fxiaoke/_fxiaoke_staging/"


def _records(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "_id": f"{i:024x}",
            "name": f"Account {i}",
            "owner": ["1000"],
            "last_modified_time": 1_700_000_000_000 + i,
        }
        for i in range(start, start + count)
    ]


class DictStore(dict):
    """Stands in for Airflow's task state store (get/set/delete); the real one is in the DAG tests."""

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return json.loads(json.dumps(super().get(key, default)))  # stored as JSON, as Airflow does

    def set(self, key: str, value: Any) -> None:
        self[key] = json.loads(json.dumps(value))

    def delete(self, key: str) -> None:
        self.pop(key, None)


class Reader:
    """``read(after_id)``: the records after that ``_id``; optionally fails after ``fail_after`` of them."""

    def __init__(self, records: list[dict[str, Any]], fail_after: int | None = None) -> None:
        self.records = records
        self.fail_after = fail_after
        self.calls: list[str | None] = []
        self.yielded = 0

    def __call__(self, after_id: str | None) -> Any:
        self.calls.append(after_id)
        for record in self.records:
            if after_id is not None and record["_id"] <= after_id:
                continue
            if self.fail_after is not None and self.yielded >= self.fail_after:
                raise ConnectionError("the gateway went away mid-export")
            self.yielded += 1
            yield record


def _export(
    dest: Any, *, store: Any = None, file_format: str = "jsonl", fields=None, per_part: int = 10, fp="q1"
):
    return staging.StagedExport(
        dest,
        file_format=file_format,
        fields=fields,
        query_fingerprint=fp,
        records_per_part=per_part,
        store=store,
        window=[1, 2],
    )


def _lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines()]


def test_jsonl_lands_whole_on_s3_and_staging_is_removed(s3_bucket):
    dest = object_storage_path(s3_bucket.url("fxiaoke/accounts.jsonl"), conn_id="aws_default")
    records = _records(25)

    assert _export(dest).run(Reader(records)) == 25

    assert _lines(s3_bucket.read("fxiaoke/accounts.jsonl")) == records
    assert s3_bucket.object_keys() == ["fxiaoke/accounts.jsonl"]


def test_a_retry_resumes_after_the_last_closed_part_and_writes_each_record_once(s3_bucket):
    dest = object_storage_path(s3_bucket.url("fxiaoke/accounts.jsonl"), conn_id="aws_default")
    records, store = _records(25), DictStore()

    first = Reader(records, fail_after=23)  # parts 0 and 1 closed (20 records); 3 more in an open part
    with pytest.raises(ConnectionError):
        _export(dest, store=store).run(first)

    saved = store.get(staging.STATE_KEY)
    assert (saved["parts"], saved["records"], saved["last_id"]) == (2, 20, records[19]["_id"])
    assert s3_bucket.object_keys(STAGING_PREFIX) == [
        f"{STAGING_PREFIX}accounts.jsonl/{saved['token']}/part-00000.jsonl",
        f"{STAGING_PREFIX}accounts.jsonl/{saved['token']}/part-00001.jsonl",
    ]
    assert "fxiaoke/accounts.jsonl" not in s3_bucket.object_keys()  # no reader sees a half-written file

    second = Reader(records)
    assert _export(dest, store=store).run(second) == 25

    assert second.calls == [records[19]["_id"]]  # resumed after the last closed part
    assert second.yielded == 5  # read only what the closed parts did not hold
    assert _lines(s3_bucket.read("fxiaoke/accounts.jsonl")) == records  # each record once, in order
    assert s3_bucket.object_keys() == ["fxiaoke/accounts.jsonl"]
    assert staging.STATE_KEY not in store


def test_a_changed_query_does_not_resume_a_stale_cursor(s3_bucket):
    dest = object_storage_path(s3_bucket.url("fxiaoke/accounts.jsonl"), conn_id="aws_default")
    records, store = _records(25), DictStore()
    with pytest.raises(ConnectionError):
        _export(dest, store=store, fp="yesterday's window").run(Reader(records, fail_after=15))

    again = Reader(records)
    assert _export(dest, store=store, fp="today's window").run(again) == 25

    assert again.calls == [None]
    assert _lines(s3_bucket.read("fxiaoke/accounts.jsonl")) == records
    assert s3_bucket.object_keys() == ["fxiaoke/accounts.jsonl"]  # the stale staging went too


def test_staged_parts_that_vanished_mean_a_fresh_start(s3_bucket):
    dest = object_storage_path(s3_bucket.url("fxiaoke/accounts.jsonl"), conn_id="aws_default")
    records, store = _records(25), DictStore()
    with pytest.raises(ConnectionError):
        _export(dest, store=store).run(Reader(records, fail_after=15))
    for key in s3_bucket.object_keys(STAGING_PREFIX):
        s3_bucket.client.delete_object(Bucket=s3_bucket.name, Key=key)

    again = Reader(records)
    assert _export(dest, store=store).run(again) == 25
    assert again.calls == [None]
    assert _lines(s3_bucket.read("fxiaoke/accounts.jsonl")) == records


def test_without_a_state_store_a_failed_try_keeps_the_old_file_and_leaves_no_staging(s3_bucket):
    s3_bucket.put("fxiaoke/accounts.jsonl", b'{"_id":"old"}\n')
    dest = object_storage_path(s3_bucket.url("fxiaoke/accounts.jsonl"), conn_id="aws_default")

    with pytest.raises(ConnectionError):
        _export(dest).run(Reader(_records(25), fail_after=15))

    assert s3_bucket.read("fxiaoke/accounts.jsonl") == b'{"_id":"old"}\n'
    assert s3_bucket.object_keys() == ["fxiaoke/accounts.jsonl"]


def test_a_rerun_replaces_the_file_on_a_local_disk(tmp_path):
    target = tmp_path / "data" / "fxiaoke" / "accounts" / "2026-01-02.jsonl"
    dest = object_storage_path(f"file://{target}")

    assert _export(dest).run(Reader(_records(12))) == 12
    assert _export(dest).run(Reader(_records(3, start=100))) == 3

    assert _lines(target.read_bytes()) == _records(3, start=100)
    assert [p.name for p in target.parent.iterdir()] == ["2026-01-02.jsonl"]  # no staging folder left


def test_an_empty_window_writes_an_empty_file(tmp_path):
    dest = object_storage_path(f"file://{tmp_path / 'empty.jsonl'}")
    assert _export(dest).run(Reader([])) == 0
    assert (tmp_path / "empty.jsonl").read_bytes() == b""


def test_csv_header_of_every_key_and_json_text_for_lists_and_objects(s3_bucket):
    dest = object_storage_path(s3_bucket.url("fxiaoke/accounts.csv"), conn_id="aws_default")
    records = [
        {"_id": "a1", "name": 'Zhōng, "Quoted"\nline', "owner": ["1000", "1001"], "amount": 12.5},
        {"_id": "a2", "name": "北京客户", "address": {"city": "北京"}, "vip": True, "note": None},
    ]

    assert _export(dest, file_format="csv", per_part=1).run(Reader(records)) == 2

    data = s3_bucket.read("fxiaoke/accounts.csv")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows == [
        ["_id", "address", "amount", "name", "note", "owner", "vip"],
        ["a1", "", "12.5", 'Zhōng, "Quoted"\nline', "", '["1000","1001"]', ""],
        ["a2", '{"city":"北京"}', "", "北京客户", "", "", "true"],
    ]
    assert not data.startswith(b"\xef\xbb\xbf")  # UTF-8 without a byte-order mark


def test_csv_with_fields_keeps_their_order_and_the_columns_survive_a_resume(tmp_path):
    dest = object_storage_path(f"file://{tmp_path / 'accounts.csv'}")
    records, store = _records(25), DictStore()
    fields = ["name", "last_modified_time", "missing_field"]
    with pytest.raises(ConnectionError):
        _export(dest, store=store, file_format="csv", fields=fields).run(Reader(records, fail_after=12))
    _export(dest, store=store, file_format="csv", fields=fields).run(Reader(records))

    rows = list(csv.reader(io.StringIO((tmp_path / "accounts.csv").read_text("utf-8"), newline="")))
    assert rows[0] == fields
    assert rows[1:] == [[r["name"], str(r["last_modified_time"]), ""] for r in records]


def test_jsonl_with_fields_holds_only_those_fields(tmp_path):
    dest = object_storage_path(f"file://{tmp_path / 'accounts.jsonl'}")
    _export(dest, fields=["name"]).run(Reader(_records(3)))
    assert _lines((tmp_path / "accounts.jsonl").read_bytes()) == [{"name": f"Account {i}"} for i in range(3)]


def test_unreadable_progress_is_ignored():
    assert staging.Progress.from_json({"version": 99}) is None
    assert staging.Progress.from_json({"version": 1, "fingerprint": "f", "token": "t", "parts": 2}) is None
    assert staging.Progress.from_json("garbage") is None
