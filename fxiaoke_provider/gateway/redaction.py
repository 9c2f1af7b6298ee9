"""Redaction of gateway text: what an error quotes never shows a credential or a token.

The gateway's ``errorMessage`` is free text that may quote what a request carried, so every error
text passes through ``redact`` before it exists. Secrets are registered with ``mask`` (the
gateway registers the app secret, the permanent code and every token it sees). Without Airflow a
small registry of this process does the work; a process that loads the Airflow face connects
Airflow's secrets masker (``use_masker``), so task logs and errors mask the same values.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

#: Shorter values are not masked (too many false hits in ordinary text), as Airflow's masker does.
MIN_LENGTH = 5
REPLACEMENT = "***"

_lock = threading.Lock()
_secrets: set[str] = set()
_masker: tuple[Callable[[Any], None], Callable[[str], Any]] | None = None


def mask(secret: Any) -> None:
    """Never show ``secret`` in an error text (nor, with Airflow's masker connected, in a log)."""
    masker = _masker
    if masker is not None:
        masker[0](secret)  # the external masker applies its own rules (e.g. a minimum length)
    if isinstance(secret, str) and len(secret) >= MIN_LENGTH:
        with _lock:
            _secrets.add(secret)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    masker = _masker
    if masker is not None:
        text = str(masker[1](text))
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)  # longest first: one may contain another
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REPLACEMENT)
    return text


def use_masker(mask_secret: Callable[[Any], None], redact_text: Callable[[str], Any]) -> None:
    """Route masking through an external masker (Airflow's), handing it what is registered so far."""
    global _masker
    with _lock:
        _masker = (mask_secret, redact_text)
        known = list(_secrets)
    for secret in known:
        mask_secret(secret)
