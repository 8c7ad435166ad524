"""What the gateway needs from keys/budgets, metrics and tracing: small protocols.

The concrete implementations live beside this module (`_access.py`, `_metrics.py`,
`_telemetry.py`); the app takes any object that fits, or None. `access=None` means open
local mode, which `serve` allows only on a loopback address.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol


class CallerLike(Protocol):
    """Who is calling: the key's id (never the key) travels to the ledger and the audit."""

    @property
    def key_id(self) -> str: ...


class AccessControl(Protocol):
    """Keys, allowed workflows and budgets (raises `phaseroute.errors.GatewayRefusal`s)."""

    def authenticate(self, headers: Mapping[str, str]) -> Any: ...

    def authorize(self, caller: Any, workflow: str) -> None: ...

    async def reserve(
        self, caller: Any, workflow: str, phase: str, estimate_usd: Decimal
    ) -> Any: ...

    async def settle(self, reservation: Any, cost_usd: Decimal | None) -> None: ...


@dataclass(frozen=True, slots=True)
class RequestObservation:
    """One finished gateway request, as metrics and access logs see it (never content)."""

    protocol: str
    path: str
    status: int
    workflow: str | None
    phase: str | None
    model: str | None
    tier: str | None
    stream: bool
    outcome: str  # served | refused | failed | cancelled | incomplete
    latency_s: float
    overhead_s: float | None  # the gateway's own time: total minus the upstream's
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: Decimal | None = None
    fell_back: bool = False
    degraded: bool = False
    key_id: str | None = None


class GatewayMetrics(Protocol):
    """Prometheus metrics: observe each request; render the exposition for `/metrics`."""

    def observe(self, observation: RequestObservation) -> None: ...

    def render(self) -> tuple[bytes, str]: ...  # body, content type


class Telemetry(Protocol):
    """Tracing: one span per routed request (OpenTelemetry GenAI conventions)."""

    def span(self, name: str, attributes: Mapping[str, Any]) -> AbstractContextManager[Any]: ...
