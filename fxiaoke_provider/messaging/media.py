"""Images for articles: the material API's rules checked locally, and covers given as local files.

An article may name ``coverImagePath`` (a local file) instead of ``coverImage`` (a media id). Before a
send, every such file is read and checked (size, type) BEFORE any request, then uploaded once per
distinct content, and the article goes out with the media id; ``coverImagePath`` itself never
reaches the gateway. No HTTP here: the hook passes its upload in.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fxiaoke_provider.exceptions import FxiaokeInvalidInputError, FxiaokeProtocolError
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.messaging import bodies as messages
from fxiaoke_provider.messaging import wire

#: The provider's own article field (not a wire name): a local image file to upload as the cover.
COVER_PATH_FIELD = "coverImagePath"
#: Stands in for the media id while a message with cover files is checked, before any upload.
PENDING_MEDIA_ID = "(uploaded before the send)"

#: How each allowed extension's content starts (the gateway's types, checked by content too, so a
#: renamed text file is refused here rather than by the gateway).
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
)
_KIND_BY_EXTENSION = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png", "gif": "gif", "bmp": "bmp"}
TYPE_RULE = "must be a JPG, JPEG, PNG, GIF or BMP image"
SIZE_RULE = f"images are at most 5 MB ({wire.MEDIA_MAX_BYTES} bytes)"

FileInput = str | os.PathLike[str] | bytes


@dataclass(frozen=True)
class Image:
    """An image that passed the local checks, ready to upload."""

    filename: str
    content: bytes
    kind: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    def form_file(self) -> tuple[str, bytes, str]:
        """``(filename, content, content type)`` for the multipart field."""
        return self.filename, self.content, f"image/{self.kind}"


def _kind_by_name(filename: str) -> str | None:
    suffix = filename.rsplit(".", 1)[1].lower() if "." in filename else ""
    return _KIND_BY_EXTENSION.get(suffix)


def _kind_by_content(content: bytes) -> str | None:
    return next((kind for magic, kind in _MAGIC if content.startswith(magic)), None)


def check_image_name(filename: object, field: str) -> str:
    """The type rule on a name alone (usable when a DAG file is parsed, before the file exists)."""
    if not isinstance(filename, str) or not filename.strip():
        raise FxiaokeInvalidInputError(field, "required, the path of a local image file")
    if _kind_by_name(filename.strip()) is None:
        raise FxiaokeInvalidInputError(field, f"{TYPE_RULE} (by extension); got {filename.strip()!r}")
    return filename.strip()


def load_image(file: FileInput, filename: str | None = None, field: str = "file") -> Image:
    """Read and check an image: exists, not empty, at most 5 MB, an allowed type by name AND content.

    ``file`` is a path or the bytes themselves; ``filename`` is the name the gateway sees (default
    the path's name; for bytes, ``image.<type>`` by content).
    """
    if isinstance(file, (bytes, bytearray)):
        content = bytes(file)
        kind = _kind_by_content(content)
        name = filename or (f"image.{'jpg' if kind == 'jpeg' else kind}" if kind else "")
    else:
        path = Path(os.fspath(file)).expanduser()
        name = filename or path.name
        check_image_name(name, field)
        try:
            size = path.stat().st_size
            if not path.is_file():
                raise FxiaokeInvalidInputError(field, f"not a file: {str(path)!r}")
            if size > wire.MEDIA_MAX_BYTES:  # refused before reading a huge file
                raise FxiaokeInvalidInputError(field, f"{SIZE_RULE}; {str(path)!r} has {size} bytes")
            content = path.read_bytes()
        except FileNotFoundError:
            raise FxiaokeInvalidInputError(field, f"no such file: {str(path)!r}") from None
        except OSError as error:
            raise FxiaokeInvalidInputError(
                field, f"cannot read {str(path)!r} ({error.strerror or type(error).__name__})"
            ) from None
    if not content:
        raise FxiaokeInvalidInputError(field, "the image is empty (0 bytes)")
    if len(content) > wire.MEDIA_MAX_BYTES:
        raise FxiaokeInvalidInputError(field, f"{SIZE_RULE}; got {len(content)} bytes")
    by_name, by_content = _kind_by_name(name), _kind_by_content(content)
    if by_name is None or by_name != by_content:
        seen = f"content is {by_content or 'not an allowed image'}"
        raise FxiaokeInvalidInputError(field, f"{TYPE_RULE} by extension and content; got {name!r} ({seen})")
    return Image(filename=name, content=content, kind=by_name)


def media_id_from_answer(answer: Mapping[str, Any]) -> str:
    """The media id an upload answered; an answer without one is broken."""
    media_id = answer.get(wire.MEDIA_ID_FIELD)
    if not isinstance(media_id, str) or not media_id:
        raise FxiaokeProtocolError(
            f"upload answer lacks {wire.MEDIA_ID_FIELD!r}",
            path=wire.MEDIA_UPLOAD_PATH,
            trace_id=answer.get(protocol.TRACE_ID_FIELD),
        )
    return media_id


# --- covers of articles -------------------------------------------------------------------------
def _cover_articles(message: object) -> list[tuple[int, Mapping[str, Any]]]:
    if not isinstance(message, Sequence) or isinstance(message, (str, bytes)):
        return []
    return [
        (i, article)
        for i, article in enumerate(message)
        if isinstance(article, Mapping) and COVER_PATH_FIELD in article
    ]


def without_cover_paths(message: Any) -> Any:
    """The message as the body checks see it: each ``coverImagePath`` checked by name and replaced by
    a pending ``coverImage``. Anything but a list of articles is returned as it is."""
    articles = _cover_articles(message)
    if not articles:
        return message
    replaced = list(message)
    for i, article in articles:
        field = f"message[{i}].{COVER_PATH_FIELD}"
        if article.get(wire.ARTICLE_COVER_FIELD):
            raise FxiaokeInvalidInputError(
                field, f"give {wire.ARTICLE_COVER_FIELD} (a media id) or {COVER_PATH_FIELD}, not both"
            )
        path = article[COVER_PATH_FIELD]
        if not messages.has_template(path):
            check_image_name(path, field)
        cover = {key: value for key, value in article.items() if key != COVER_PATH_FIELD}
        replaced[i] = {**cover, wire.ARTICLE_COVER_FIELD: PENDING_MEDIA_ID}
    return replaced


def load_covers(message: Any) -> dict[int, Image]:
    """Every cover file of a message, read and checked (article index -> image), before any upload."""
    return {
        i: load_image(article[COVER_PATH_FIELD], field=f"message[{i}].{COVER_PATH_FIELD}")
        for i, article in _cover_articles(message)
    }


def with_media_ids(message: Any, media_ids: Mapping[int, str]) -> Any:
    """The message with each cover file's article carrying its media id instead of the path."""
    if not media_ids:
        return message
    replaced = list(message)
    for i, media_id in media_ids.items():
        cover = {key: value for key, value in message[i].items() if key != COVER_PATH_FIELD}
        replaced[i] = {**cover, wire.ARTICLE_COVER_FIELD: media_id}
    return replaced


class CoverUploads:
    """Media ids of the cover files one hook uploaded, by content: each distinct file once per task."""

    def __init__(self, upload: Callable[[Image], str]) -> None:
        self._upload = upload
        self._media_ids: dict[str, str] = {}

    def media_ids(self, covers: Mapping[int, Image]) -> dict[int, str]:
        found: dict[int, str] = {}
        for i, image in covers.items():
            if image.digest not in self._media_ids:
                self._media_ids[image.digest] = self._upload(image)
            found[i] = self._media_ids[image.digest]
        return found
