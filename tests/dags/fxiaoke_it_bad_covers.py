"""Covers that break the material API's rules, known only once rendered: each task fails on try 1."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import pendulum

from fxiaoke_provider.operators.fxiaoke import FxiaokeSendMessageOperator, FxiaokeUploadImageOperator

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

RETRIES = {"retries": 2, "retry_delay": timedelta(0)}  # bad input must not be retried


def _article(cover_key: str) -> list[dict[str, str]]:
    path = "{{ ti.xcom_pull(task_ids='make_files')['" + cover_key + "'] }}"
    return [{"title": "Digest", "type": "TEXT", "content": "body", "coverImagePath": path}]


with DAG(
    dag_id="fxiaoke_it_bad_covers",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["fxiaoke", "test"],
) as dag:

    @task
    def make_files() -> dict[str, str]:
        folder = Path(tempfile.mkdtemp(prefix="fxiaoke-bad-covers-"))
        big = folder / "big.png"
        big.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * (6 * 1024 * 1024))  # 6 MB
        text = folder / "notes.txt"
        text.write_text("not an image")
        return {"big": str(big), "text": str(text)}

    files = make_files()
    oversized = FxiaokeSendMessageOperator(
        task_id="oversized_cover", to_users=["1000"], msg_type="articles", message=_article("big"), **RETRIES
    )
    text_cover = FxiaokeSendMessageOperator(
        task_id="text_cover", to_users=["1000"], msg_type="articles", message=_article("text"), **RETRIES
    )
    upload_text = FxiaokeUploadImageOperator(
        task_id="upload_text_file", image_path="{{ ti.xcom_pull(task_ids='make_files')['text'] }}", **RETRIES
    )
    files >> [oversized, text_cover, upload_text]
