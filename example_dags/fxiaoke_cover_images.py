"""Articles with cover images from local files: rendered by a task, uploaded through the material API.

``coverImagePath`` in an article is uploaded before the send (once per distinct file per task) and
sent as its media id; ``FxiaokeUploadImageOperator`` uploads once and hands the media id to any
number of later sends through XCom. Images: at most 5 MB, JPG, JPEG, PNG, GIF or BMP. The files must
be readable by the worker that runs the send (on a distributed deployment, write to shared storage).
"""

from __future__ import annotations

import struct
import tempfile
import zlib
from pathlib import Path

import pendulum

from fxiaoke_provider.operators.fxiaoke import FxiaokeSendMessageOperator, FxiaokeUploadImageOperator

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain-colour PNG: a stand-in for your chart library's ``savefig``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = (b"\x00" + bytes(rgb) * width) * height
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


with DAG(
    dag_id="fxiaoke_cover_images",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["fxiaoke", "example"],
) as dag:

    @task
    def render_images() -> dict[str, str]:
        folder = Path(tempfile.mkdtemp(prefix="fxiaoke-covers-"))
        (folder / "pipeline.png").write_bytes(_png(360, 200, (32, 120, 200)))
        (folder / "banner.png").write_bytes(_png(900, 300, (240, 140, 0)))
        return {name: str(folder / f"{name}.png") for name in ("pipeline", "banner")}

    CHART = "{{ ti.xcom_pull(task_ids='render_images')['pipeline'] }}"
    images = render_images()
    digest = FxiaokeSendMessageOperator(
        task_id="weekly_digest",
        to_users=["1000", "1001"],
        msg_type="articles",
        message=[
            {
                "title": "Pipeline digest for {{ ds }}",
                "coverImagePath": CHART,  # a local file: uploaded before the send
                "type": "TEXT",
                "content": "12 loads, 0 failures, 1.2M rows.",
            },
            {
                "title": "Dashboard",
                "coverImagePath": CHART,  # the same file: uploaded once, both get its media id
                "type": "URL",
                "content": "https://bi.example.com/pipelines",
            },
        ],
    )
    upload_banner = FxiaokeUploadImageOperator(
        task_id="upload_banner", image_path="{{ ti.xcom_pull(task_ids='render_images')['banner'] }}"
    )
    announce = FxiaokeSendMessageOperator(
        task_id="announce_to_sales",
        to_departments=[2],
        msg_type="articles",
        message=[
            {
                "title": "New sales dashboard",
                "coverImage": "{{ ti.xcom_pull(task_ids='upload_banner') }}",  # the media id, reused
                "type": "URL",
                "content": "https://bi.example.com/sales",
            }
        ],
    )
    images >> [digest, upload_banner]
    upload_banner >> announce
