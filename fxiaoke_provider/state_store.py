"""``StateStore``: what the resumable jobs (sends, exports, upserts) need of a store that outlives a try.

Airflow's task state store (Airflow >= 3.3) is one; ``airflow_support.task_state`` hands it over.
The capabilities keep their progress through this protocol only, so they stay free of Airflow.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["StateStore"]


class StateStore(Protocol):
    """A key/value store that outlives a try (Airflow's ``TaskStateStoreAccessor`` is one)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...
