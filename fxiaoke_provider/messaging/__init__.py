"""The messaging capability, without Airflow: bodies, recipients and the address book, images, the
send journal's model, and the service that sends, revokes, looks up and uploads (``Messaging``).

``messaging.Messaging`` is loaded on first use, so checking a message body stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Messaging"]


def __getattr__(name: str) -> Any:
    if name == "Messaging":
        from fxiaoke_provider.messaging.service import Messaging

        return Messaging
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
