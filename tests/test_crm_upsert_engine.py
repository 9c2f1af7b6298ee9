"""The upsert engine's rules, each once, against a scripted store (edge cases the sandbox cannot stage).

What the store sees is what counts: how many calls of each kind, which values each record ends with,
and what the journal holds between tries. The same scenarios against the sandbox, through Airflow,
are in ``test_crm_upsert.py``.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from contextlib import nullcontext

import pytest

from fxiaoke_provider.crm.upsert import (
    CHUNK_KEY_PREFIX,
    HEADER_KEY,
    LOOKUP_BATCH,
    Upsert,
    UpsertJournal,
    csv_rows,
    json_lines_rows,
    refusal_reason,
    rows_of_list,
    source_format,
)
from fxiaoke_provider.exceptions import (
    FxiaokeAuthError,
    FxiaokeConnectionConfigError,
    FxiaokeInvalidInputError,
    FxiaokeOutcomeUnknownError,
    FxiaokePermanentError,
    FxiaokeTransientError,
)
from tests.support import FakeRecords
from tests.test_checkpoint import DictStore

OBJ = "LeadsObj"
MATCH = "external_id__c"


def lead(i: int, **extra) -> dict:
    return {MATCH: f"ext-{i:04d}", "name": f"Lead {i}", "company": f"Company {i}", **extra}


def run(store: FakeRecords, rows: list[dict], journal: UpsertJournal | None = None):
    return Upsert(store, OBJ, MATCH, journal=journal).run(rows_of_list(rows))


def one_record_per_row(store: FakeRecords, rows: list[dict]) -> None:
    """Every row's record exists exactly once and carries the row's values."""
    counts = Counter(r[MATCH] for r in store.records.values())
    assert all(counts[row[MATCH]] == 1 for row in rows), counts.most_common(3)
    for row in rows:
        (record,) = store.with_value(MATCH, row[MATCH])
        assert {k: record.get(k) for k in row} == row


def test_120_rows_of_which_20_exist_create_100_and_update_20_at_the_documented_pace():
    rows = [lead(i) for i in range(120)]
    store = FakeRecords([{**row, "company": "old"} for row in rows[50:70]])
    existing = set(store.records)
    result = run(store, rows)

    assert result.counts() == {"created": 100, "updated": 20, "refused": 0}
    one_record_per_row(store, rows)
    assert store.count("query") == 2 == result.lookups  # 99 + 21 rows: one page each
    assert store.count("create") == 100
    updates = [payload[1] for kind, payload in store.calls if kind == "update"]
    assert updates == [{"company": row["company"]} for row in rows[50:70]]  # only what differs
    assert len(store.calls) <= 1.1 * 100 + 120 / 100 + 1 + 20
    assert set(result.created_ids) == set(store.records) - existing and len(result.created_ids) == 100


def test_rerun_of_the_same_rows_creates_nothing_and_sends_no_unchanged_update():
    rows = [lead(i) for i in range(120)]
    store = FakeRecords()
    run(store, rows)
    store.calls.clear()
    again = run(store, rows)
    assert again.counts() == {"created": 0, "updated": 120, "refused": 0}
    assert again.unchanged == 120
    assert [kind for kind, _ in store.calls] == ["query", "query"]
    one_record_per_row(store, rows)


def test_lookups_go_in_batches_with_every_value_of_the_chunk():
    rows = [lead(i) for i in range(250)]
    store = FakeRecords()
    run(store, rows)
    batches = [values for kind, values in store.calls if kind == "query"]
    assert [len(b) for b in batches] == [LOOKUP_BATCH, LOOKUP_BATCH, 250 - 2 * LOOKUP_BATCH]
    assert [v for b in batches for v in b] == [row[MATCH] for row in rows]


def test_lost_create_answer_is_resolved_by_the_next_try_from_the_durable_journal():
    rows = [lead(i) for i in range(120)]
    store, state = FakeRecords(rows[:20]), DictStore()
    store.script[rows[110][MATCH]] = "lose"  # created, answer lost (chunk 2)
    with pytest.raises(FxiaokeOutcomeUnknownError):
        run(store, rows, UpsertJournal(state))
    entry = state.data[f"{CHUNK_KEY_PREFIX}1"]
    assert entry["in_flight"] == {rows[110][MATCH]: "third-" + entry["in_flight"][rows[110][MATCH]][6:]}
    assert state.data[f"{CHUNK_KEY_PREFIX}0"]["done"] is True
    store.calls.clear()

    result = run(store, rows, UpsertJournal(state))

    one_record_per_row(store, rows)
    assert result.counts() == {"created": 100, "updated": 20, "refused": 0}  # the lost one counts as created
    assert len(set(result.created_ids)) == 100
    assert store.count("query") == 1  # chunk 1 was done: not looked up again
    created_now = [fields[MATCH] for kind, fields in store.calls if kind == "create"]
    assert rows[110][MATCH] not in created_now and len(created_now) == 120 - 111
    assert state.data == {}  # cleared once every row was handled


def test_lost_create_that_never_arrived_is_created_by_the_next_try():
    rows = [lead(i) for i in range(5)]
    store, state = FakeRecords(), DictStore()
    store.script[rows[2][MATCH]] = "lose-unsent"
    with pytest.raises(FxiaokeOutcomeUnknownError):
        run(store, rows, UpsertJournal(state))
    result = run(store, rows, UpsertJournal(state))
    one_record_per_row(store, rows)
    assert result.created == 5


def test_without_a_durable_journal_a_retry_starts_over_and_still_creates_nothing_twice():
    rows = [lead(i) for i in range(30)]
    store = FakeRecords()
    store.script[rows[10][MATCH]] = "lose"
    with pytest.raises(FxiaokeOutcomeUnknownError):
        run(store, rows)
    result = run(store, rows)
    one_record_per_row(store, rows)
    assert result.counts() == {"created": 19, "updated": 11, "refused": 0}  # the earlier try's count as found


def test_a_create_the_journal_saw_succeed_is_not_repeated_when_the_lookup_misses_it():
    rows = [lead(i) for i in range(3)]
    store, state = FakeRecords(), DictStore()
    store.script[rows[2][MATCH]] = "busy"
    with pytest.raises(FxiaokeTransientError):
        run(store, rows, UpsertJournal(state))
    lagging = store.records.pop(next(iter(store.records)))  # the index has not caught up with it yet
    result = run(store, rows, UpsertJournal(state))
    assert result.created_ids[0] == lagging["_id"] and result.created == 3
    assert [f[MATCH] for kind, f in store.calls if kind == "create"].count(rows[0][MATCH]) == 1


def test_refused_rows_are_reported_by_match_value_and_the_others_are_written():
    rows = [lead(i) for i in range(10)]
    rows[3] = {MATCH: rows[3][MATCH], "company": "no name"}  # refused by the create check
    store = FakeRecords([{MATCH: rows[7][MATCH], "name": "x"}, {MATCH: rows[7][MATCH], "name": "y"}])
    store.script[rows[5][MATCH]] = "refuse"
    result = run(store, rows)

    refused = {r.match_value: r for r in result.refused}
    assert sorted(refused) == [rows[3][MATCH], rows[5][MATCH], rows[7][MATCH]]
    assert refused[rows[3][MATCH]].row == "records[3]" and "fields['name']" in refused[rows[3][MATCH]].reason
    assert (
        "errorCode=10422" in refused[rows[5][MATCH]].reason and "bad value" in refused[rows[5][MATCH]].reason
    )
    assert refused[rows[7][MATCH]].reason.startswith("ambiguous: 2 records have external_id__c")
    assert {r["name"] for r in store.with_value(MATCH, rows[7][MATCH])} == {"x", "y"}  # never guessed
    assert result.counts() == {"created": 7, "updated": 0, "refused": 3}
    one_record_per_row(store, [r for i, r in enumerate(rows) if i not in (3, 5, 7)])


@pytest.mark.parametrize(
    ("error", "about_the_row"),
    [
        (FxiaokeInvalidInputError("fields['name']", "is required"), True),
        (FxiaokePermanentError("refused", error_code=10422), True),
        (FxiaokePermanentError("no such record", error_code=10404), True),
        (FxiaokePermanentError("quota", error_code=30002), False),
        (FxiaokePermanentError("permission", error_code=15003), False),
        (FxiaokeAuthError("credentials", error_code=20017), False),
        (FxiaokeConnectionConfigError("fxiaoke_default", "user_id", "is missing"), False),
        (FxiaokeTransientError("busy", error_code=-1), False),
        (FxiaokeOutcomeUnknownError("lost"), False),
    ],
)
def test_only_refusals_of_the_row_itself_count_as_refused_rows(error, about_the_row):
    assert (refusal_reason(error) is not None) is about_the_row


def test_an_error_that_is_not_about_the_row_stops_the_run_and_says_how_far_it_got():
    rows = [lead(i) for i in range(5)]
    store = FakeRecords()
    store.script[rows[2][MATCH]] = "quota"
    upsert = Upsert(store, OBJ, MATCH)
    with pytest.raises(FxiaokePermanentError, match="quota"):
        upsert.run(rows_of_list(rows))
    assert upsert.result.created == 2 and upsert.result.refused == []
    assert store.count("create") == 3


@pytest.mark.parametrize(
    ("rows", "field", "rule"),
    [
        ([lead(0), {"name": "no match value"}], "records[1]['external_id__c']", "is missing"),
        ([lead(0), {**lead(1), MATCH: "  "}], "records[1]['external_id__c']", "non-empty text or a number"),
        ([lead(0), {**lead(1), MATCH: True}], "records[1]['external_id__c']", "non-empty text or a number"),
        ([lead(0), lead(1), lead(0)], "records[2]['external_id__c']", "also the match value of records[0]"),
        ([lead(0), ["not", "a", "dict"]], "records[1]", "must be an object"),
        ([{**lead(0), "_id": "5f1a2b3c4d5e6f7a8b9c0d1e"}], "records[0]['_id']", "must not be given"),
        (
            [{**lead(0), "dataObjectApiName": "AccountObj"}],
            "records[0]['dataObjectApiName']",
            "must not be given",
        ),
        ([{**lead(0), "seen": object()}], "records[0]", "must hold JSON values"),
    ],
)
def test_bad_rows_fail_before_anything_is_sent(rows, field, rule):
    """Even after two whole chunks of good rows: the check reads everything before the first call."""
    good = [lead(1000 + i) for i in range(2 * LOOKUP_BATCH)]
    store = FakeRecords()
    with pytest.raises(FxiaokeInvalidInputError) as raised:
        run(store, [*good, *rows])
    shifted = re.sub(r"records\[(\d+)\]", lambda m: f"records[{int(m[1]) + len(good)}]", field)
    assert raised.value.field == shifted and re.sub(r"records\[\d+\]", "", rule) in re.sub(
        r"records\[\d+\]", "", raised.value.rule
    )
    assert store.calls == []


@pytest.mark.parametrize("match_field", ["", None, "_id", "dataObjectApiName", 7])
def test_match_field_must_name_a_field_of_the_rows(match_field):
    with pytest.raises(FxiaokeInvalidInputError) as raised:
        Upsert(FakeRecords(), OBJ, match_field)
    assert raised.value.field == "match_field"


def test_numbers_and_their_text_match_the_same_record():
    store = FakeRecords([{MATCH: 42, "name": "Answer"}])
    result = run(store, [{MATCH: "42", "name": "Answer"}])
    assert result.counts() == {"created": 0, "updated": 1, "refused": 0}
    assert len(store.records) == 1


def test_a_different_upsert_in_the_same_store_starts_afresh():
    state = DictStore()
    state.data[HEADER_KEY] = {"version": 1, "identity": "another", "chunks": 2}
    state.data[f"{CHUNK_KEY_PREFIX}0"] = {"digest": "x", "done": True}
    state.data[f"{CHUNK_KEY_PREFIX}1"] = {"digest": "y", "done": True}
    store = FakeRecords()
    store.script["ext-0001"] = "busy"
    with pytest.raises(FxiaokeTransientError):
        run(store, [lead(0), lead(1)], UpsertJournal(state))
    assert sorted(state.data) == [HEADER_KEY, f"{CHUNK_KEY_PREFIX}0"]
    assert state.data[f"{CHUNK_KEY_PREFIX}0"]["created"] == {
        "ext-0000": store.with_value(MATCH, "ext-0000")[0]["_id"]
    }


def test_a_chunk_whose_rows_changed_since_the_last_try_is_redone_from_its_lookup():
    state = DictStore()
    store = FakeRecords()
    store.script["ext-0001"] = "busy"
    with pytest.raises(FxiaokeTransientError):
        run(store, [lead(0), lead(1)], UpsertJournal(state))
    result = run(store, [lead(0, company="new"), lead(1)], UpsertJournal(state))
    assert result.counts() == {"created": 1, "updated": 1, "refused": 0}  # no journal credit for changed rows
    one_record_per_row(store, [lead(0, company="new"), lead(1)])


# --- reading files --------------------------------------------------------------------------------
def _opener(text: str):
    return lambda: nullcontext(io.StringIO(text))


def test_json_lines_rows_skip_blank_lines_and_name_the_line_of_bad_json():
    rows = json_lines_rows(_opener('{"a": 1}\n\n{"a": 2}\n{oops\n'), "leads.jsonl")
    with pytest.raises(FxiaokeInvalidInputError) as raised:
        list(rows())
    assert raised.value.field == "leads.jsonl line 4"
    assert list(json_lines_rows(_opener('{"a": 1}\n\n{"a": null}\n'), "f")()) == [
        ("f line 1", {"a": 1}),
        ("f line 3", {"a": None}),
    ]


def test_csv_rows_leave_empty_cells_out_and_check_the_header():
    rows = csv_rows(_opener('external_id__c,name,mobile\next-1,Ann,\next-2,"Bo, Jr",138\n'), "leads.csv")
    assert list(rows()) == [
        ("leads.csv row 1", {"external_id__c": "ext-1", "name": "Ann"}),
        ("leads.csv row 2", {"external_id__c": "ext-2", "name": "Bo, Jr", "mobile": "138"}),
    ]
    for text, field in [("a,a\n1,2\n", "leads.csv header"), ("a,b\n1,2,3\n", "leads.csv row 1")]:
        with pytest.raises(FxiaokeInvalidInputError) as raised:
            list(csv_rows(_opener(text), "leads.csv")())
        assert raised.value.field == field


def test_source_format_follows_the_file_name():
    assert source_format("s3://bucket/leads/2026-12-04.jsonl") == "jsonl"
    assert source_format("file:///tmp/leads.CSV") == "csv"
    with pytest.raises(FxiaokeInvalidInputError, match="source_path"):
        source_format("s3://bucket/leads.parquet")
