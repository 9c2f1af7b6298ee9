"""Images through the material API: local checks before any request, uploads with the call's token,
retry policy and error mapping, and article covers given as local files. Real HTTP to the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from fxiaoke_provider.exceptions import (
    FxiaokeInvalidInputError,
    FxiaokePermanentError,
    FxiaokeWrongHostError,
)
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.messaging.media import COVER_PATH_FIELD
from fxiaoke_provider.messaging.wire import MEDIA_MAX_BYTES, MEDIA_UPLOAD_PATH
from fxiaoke_provider.operators.fxiaoke import FxiaokeSendMessageOperator, FxiaokeUploadImageOperator
from fxiaoke_provider.sandbox import DEFAULT_DIRECTORY, SandboxGateway
from tests.airflow_helpers import load_dag, run_dag, task_states
from tests.support import TEST_DAGS

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
OPEN_ID_1001 = DEFAULT_DIRECTORY.people[1].open_user_id


@pytest.fixture
def hook(sandbox: SandboxGateway, use_connection) -> FxiaokeHook:
    use_connection(sandbox)
    return FxiaokeHook()


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def article(title: str, **cover: str) -> dict[str, str]:
    return {"title": title, "type": "TEXT", "content": "body", **cover}


# --- upload_image --------------------------------------------------------------------------------
def test_upload_a_file_and_bytes(sandbox, hook, tmp_path) -> None:
    from_file = hook.upload_image(write(tmp_path, "chart.png", PNG))
    from_bytes = hook.upload_image(GIF)
    named = hook.upload_image(JPEG, filename="photo.jpeg")

    assert [(m["mediaId"], m["filename"], m["type"], m["size"]) for m in sandbox.media()] == [
        (from_file, "chart.png", "png", len(PNG)),
        (from_bytes, "image.gif", "gif", len(GIF)),
        (named, "photo.jpeg", "jpeg", len(JPEG)),
    ]


def test_legacy_style_uploads_with_credentials_in_the_query(sandbox, use_connection, tmp_path) -> None:
    use_connection(sandbox, auth_style="legacy", user_id=OPEN_ID_1001)
    media_id = FxiaokeHook().upload_image(write(tmp_path, "logo.bmp", b"BM" + b"\x00" * 40))

    (upload,) = sandbox.media()
    assert (upload["mediaId"], upload["auth_style"]) == (media_id, "legacy")


@pytest.mark.parametrize(
    ("name", "content", "rule"),
    [
        ("big.png", PNG + b"\x00" * (6 * 1024 * 1024), "images are at most 5 MB"),
        ("notes.txt", b"just text", "must be a JPG, JPEG, PNG, GIF or BMP image (by extension)"),
        (
            "renamed.png",
            b"just text",
            "by extension and content; got 'renamed.png' (content is not an allowed",
        ),
        ("wrong.jpg", PNG, "got 'wrong.jpg' (content is png)"),
        ("empty.gif", b"", "the image is empty"),
        ("noextension", PNG, "(by extension)"),
    ],
)
def test_bad_images_are_refused_before_any_request(sandbox, hook, tmp_path, name, content, rule) -> None:
    with pytest.raises(FxiaokeInvalidInputError) as caught:
        hook.upload_image(write(tmp_path, name, content))

    assert caught.value.field == "file"
    assert rule in caught.value.rule
    assert sandbox.requests() == []  # not even a token call


def test_missing_file_and_bytes_of_no_image_type(sandbox, hook, tmp_path) -> None:
    with pytest.raises(FxiaokeInvalidInputError, match="file: no such file"):
        hook.upload_image(tmp_path / "gone.png")
    with pytest.raises(FxiaokeInvalidInputError, match="must be a JPG, JPEG, PNG, GIF or BMP image"):
        hook.upload_image(b"%PDF-1.7")
    with pytest.raises(FxiaokeInvalidInputError, match="images are at most 5 MB"):
        hook.upload_image(PNG + b"\x00" * MEDIA_MAX_BYTES)
    assert sandbox.requests() == []


def test_exactly_5_mb_is_accepted(sandbox, hook) -> None:
    hook.upload_image(PNG + b"\x00" * (MEDIA_MAX_BYTES - len(PNG)))
    assert sandbox.media()[0]["size"] == MEDIA_MAX_BYTES


def test_upload_follows_the_retry_policy_and_error_mapping(sandbox, hook) -> None:
    sandbox.add_fault(MEDIA_UPLOAD_PATH, "error", code=30004)  # transient: retried
    sandbox.add_fault(MEDIA_UPLOAD_PATH, "expired-token")  # 20016: renewed once, retried
    media_id = hook.upload_image(PNG)
    assert [m["mediaId"] for m in sandbox.media()] == [media_id]
    assert [r["path"] for r in sandbox.requests()].count(MEDIA_UPLOAD_PATH) == 3

    sandbox.add_fault(MEDIA_UPLOAD_PATH, "error", code=15003)
    with pytest.raises(FxiaokePermanentError) as caught:
        hook.upload_image(PNG)
    assert (caught.value.error_code, caught.value.path) == (15003, MEDIA_UPLOAD_PATH)
    assert caught.value.third_trace_id

    sandbox.add_fault(MEDIA_UPLOAD_PATH, "non-json")
    with pytest.raises(FxiaokeWrongHostError):
        hook.upload_image(PNG)


@pytest.mark.parametrize("style", ["header", "legacy"])
def test_an_upload_error_quoting_the_token_is_redacted(sandbox, use_connection, style) -> None:
    extra = {"auth_style": "legacy", "user_id": OPEN_ID_1001} if style == "legacy" else {}
    use_connection(sandbox, **extra)
    sandbox.add_fault(MEDIA_UPLOAD_PATH, "echo_secrets", code=15003)
    with pytest.raises(FxiaokePermanentError) as caught:
        FxiaokeHook().upload_image(PNG)

    (token,) = sandbox.issued_tokens()
    assert "accessToken=" in str(caught.value) or "corpAccessToken=" in str(caught.value)
    assert token not in str(caught.value)


# --- covers from local files ---------------------------------------------------------------------
def test_article_covers_are_uploaded_once_per_distinct_file(sandbox, hook, tmp_path) -> None:
    chart = write(tmp_path, "chart.png", PNG)
    same_chart = write(tmp_path, "chart-copy.png", PNG)
    logo = write(tmp_path, "logo.gif", GIF)
    message = [
        article("Chart", **{COVER_PATH_FIELD: str(chart)}),
        article("Logo", **{COVER_PATH_FIELD: str(logo)}),
        article("Chart again", **{COVER_PATH_FIELD: str(same_chart)}),
        article("Given", coverImage="media-from-earlier"),
    ]
    hook.send_message(["1000"], message, msg_type="articles")
    hook.send_message(["1001"], message[:2], msg_type="articles")  # same hook: nothing new to upload

    chart_id, logo_id = (m["mediaId"] for m in sandbox.media())
    first, second = sandbox.messages()
    assert [a["coverImage"] for a in first["message"]] == [chart_id, logo_id, chart_id, "media-from-earlier"]
    assert [a["coverImage"] for a in second["message"]] == [chart_id, logo_id]
    assert all(COVER_PATH_FIELD not in a for a in first["message"] + second["message"])
    assert message[0] == article("Chart", **{COVER_PATH_FIELD: str(chart)})  # the caller's list is untouched


@pytest.mark.parametrize(
    ("name", "content", "rule"),
    [
        ("big.png", PNG + b"\x00" * (6 * 1024 * 1024), "images are at most 5 MB"),
        ("notes.txt", b"just text", "must be a JPG, JPEG, PNG, GIF or BMP image"),
        (None, b"", "no such file"),
    ],
)
def test_a_bad_cover_file_sends_nothing(sandbox, hook, tmp_path, name, content, rule) -> None:
    good = write(tmp_path, "good.png", PNG)
    bad = write(tmp_path, name, content) if name else tmp_path / "missing.png"
    message = [
        article("Good", **{COVER_PATH_FIELD: str(good)}),
        article("Bad", **{COVER_PATH_FIELD: str(bad)}),
    ]
    with pytest.raises(FxiaokeInvalidInputError) as caught:
        hook.send_message(["1000"], message, msg_type="articles", to_mobiles=["13800001001"])

    assert caught.value.field == f"message[1].{COVER_PATH_FIELD}"
    assert rule in caught.value.rule
    assert sandbox.requests() == []  # no lookup, no upload of the good file, no token


def test_cover_path_next_to_a_media_id_is_refused(sandbox, hook, tmp_path) -> None:
    cover = {COVER_PATH_FIELD: str(write(tmp_path, "c.png", PNG)), "coverImage": "m1"}
    with pytest.raises(FxiaokeInvalidInputError, match=r"message\[0\].coverImagePath: give coverImage"):
        hook.send_message(["1000"], [article("Both", **cover)], msg_type="articles")
    assert sandbox.requests() == []


def test_operators_check_plain_cover_names_when_the_dag_is_parsed() -> None:
    with pytest.raises(FxiaokeInvalidInputError, match=r"message\[0\].coverImagePath: must be a JPG"):
        FxiaokeSendMessageOperator(
            task_id="t",
            to_users=["1000"],
            msg_type="articles",
            message=[article("A", coverImagePath="a.txt")],
        )
    with pytest.raises(FxiaokeInvalidInputError, match="image_path: must be a JPG"):
        FxiaokeUploadImageOperator(task_id="u", image_path="/data/report.pdf")
    # templated paths are checked once rendered
    FxiaokeSendMessageOperator(
        task_id="t",
        to_users=["1000"],
        msg_type="articles",
        message=[article("A", coverImagePath="{{ ti.xcom_pull(task_ids='render') }}")],
    )
    FxiaokeUploadImageOperator(task_id="u", image_path="{{ ti.xcom_pull(task_ids='render') }}")


def test_bad_cover_files_fail_their_tasks_on_try_1_before_any_request(sandbox, use_connection) -> None:
    use_connection(sandbox)
    dag_run = run_dag(load_dag(TEST_DAGS / "fxiaoke_it_bad_covers.py", "fxiaoke_it_bad_covers"))

    assert task_states(dag_run) == {
        "make_files": "success",
        "oversized_cover": "failed",
        "text_cover": "failed",
        "upload_text_file": "failed",
    }
    assert {ti.task_id: ti.try_number for ti in dag_run.get_task_instances()} == {
        "make_files": 1,
        "oversized_cover": 1,
        "text_cover": 1,
        "upload_text_file": 1,
    }
    assert sandbox.requests() == []
