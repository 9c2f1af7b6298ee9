"""Material uploads: a small ``multipart/form-data`` reader and the image checks of the reference.

Pure functions over the raw body; no HTTP here. Only what the sandbox needs: named parts, their
filename and bytes (no nested multiparts, no transfer encodings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fxiaoke_provider.sandbox.rules import MEDIA_FIELD, MEDIA_MAX_BYTES, image_type

_BOUNDARY_RE = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_PARAM_RE = re.compile(r';\s*([a-zA-Z*]+)="((?:[^"\\]|\\.)*)"|;\s*([a-zA-Z*]+)=([^;\s]+)')


@dataclass(frozen=True)
class FormPart:
    name: str
    filename: str | None
    content: bytes


@dataclass(frozen=True)
class Upload:
    """An accepted image: what the sandbox records (never the bytes themselves)."""

    filename: str
    size: int
    image_type: str


def is_multipart(content_type: str | None) -> bool:
    return content_type is not None and content_type.split(";", 1)[0].strip().lower() == "multipart/form-data"


def parse_multipart(content_type: str, body: bytes) -> list[FormPart] | None:
    """The parts of a form, or None if it is not a well-formed ``multipart/form-data`` body."""
    match = _BOUNDARY_RE.search(content_type)
    if match is None:
        return None
    delimiter = b"--" + (match.group(1) or match.group(2)).encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        return None
    parts: list[FormPart] = []
    for chunk in chunks[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            return None
        head, separator, content = chunk[2:-2].partition(b"\r\n\r\n")
        if not separator:
            return None
        disposition = None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-disposition":
                disposition = value
        if disposition is None or not disposition.strip().lower().startswith("form-data"):
            return None
        params = {}
        for quoted_key, quoted, key, plain in _PARAM_RE.findall(disposition):
            params[(quoted_key or key).lower()] = quoted.replace('\\"', '"') if quoted_key else plain
        if "name" not in params:
            return None
        parts.append(FormPart(params["name"], params.get("filename"), content))
    return parts


def check_upload(parts: list[FormPart]) -> tuple[Upload | None, str]:
    """The accepted image, or None and the reason (for ``errorMessage``)."""
    media = [part for part in parts if part.name == MEDIA_FIELD]
    if len(media) != 1 or media[0].filename is None:
        return None, f"invalid parameter {MEDIA_FIELD}: exactly one file in form field {MEDIA_FIELD!r}"
    part = media[0]
    if not part.content:
        return None, f"invalid parameter {MEDIA_FIELD}: the file is empty"
    if len(part.content) > MEDIA_MAX_BYTES:
        return None, f"invalid parameter {MEDIA_FIELD}: images are at most {MEDIA_MAX_BYTES} bytes"
    kind = image_type(part.filename, part.content)
    if kind is None:
        return None, f"invalid parameter {MEDIA_FIELD}: JPG, JPEG, PNG, GIF or BMP images only"
    return Upload(filename=part.filename, size=len(part.content), image_type=kind), ""
