"""The gateway core, without Airflow: one authorised, paced, retried call (``Gateway``).

``gateway.Gateway`` and ``gateway.GatewaySettings`` are loaded on first use, so importing a module
of this package (the wire names, the error table) stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Gateway", "GatewaySettings"]


def __getattr__(name: str) -> Any:
    if name == "Gateway":
        from fxiaoke_provider.gateway.gateway import Gateway

        return Gateway
    if name == "GatewaySettings":
        from fxiaoke_provider.gateway.settings import GatewaySettings

        return GatewaySettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
