"""What `Router.from_policy` builds from a policy: providers, the usage ledger, the audit trail.

Providers are built on first use, so a policy naming an Anthropic provider can be loaded,
explained or served by replay overrides without its API key ever being read.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path

from phaseroute.errors import RequestError
from phaseroute.policy import RoutingPlan
from phaseroute.policy._schema import AnthropicProvider as AnthropicConfig
from phaseroute.policy._schema import OpenAICompatProvider as OpenAICompatConfig
from phaseroute.policy._schema import ProviderConfig
from phaseroute.policy._schema import ReplayProvider as ReplayConfig
from phaseroute.providers._base import CompletionRequest, CompletionResponse, Provider, StreamEvent
from phaseroute.runtime._accounting import AuditSink
from phaseroute.runtime._ledger import UsageLedger
from phaseroute.storage.database import DEFAULT_DATABASE


class LazyProvider:
    """A provider built on its first call (thread-safe), named before it exists."""

    def __init__(self, name: str, factory: Callable[[], Provider]) -> None:
        self._name = name
        self._factory = factory
        self._built: Provider | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    def _get(self) -> Provider:
        built = self._built
        if built is None:
            with self._lock:
                if self._built is None:
                    self._built = self._factory()
                built = self._built
        return built

    def complete(self, request: CompletionRequest) -> CompletionResponse:
        return self._get().complete(request)

    async def acomplete(self, request: CompletionRequest) -> CompletionResponse:
        return await self._get().acomplete(request)

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        return self._get().stream(request)

    def astream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        return self._get().astream(request)

    def close(self) -> None:
        with self._lock:
            if self._built is not None:
                self._built.close()


def _factory(name: str, config: ProviderConfig, base_dir: Path) -> Callable[[], Provider]:
    def make() -> Provider:
        from phaseroute import providers

        if isinstance(config, AnthropicConfig):
            return providers.AnthropicProvider.from_config(name, config)  # type: ignore[attr-defined,no-any-return]
        if isinstance(config, OpenAICompatConfig):
            return providers.OpenAICompatProvider.from_config(name, config)  # type: ignore[attr-defined,no-any-return]
        if isinstance(config, ReplayConfig):
            return providers.ReplayProvider.open(base_dir / config.outcomes, name=name)  # type: ignore[attr-defined,no-any-return]
        raise AssertionError(f"unknown provider config {config!r}")  # pragma: no cover

    return make


def build_providers(plan: RoutingPlan, overrides: Mapping[str, Provider]) -> dict[str, Provider]:
    """One provider per entry of the policy's `providers`; `overrides` replace by name."""
    unknown = sorted(set(overrides) - set(plan.policy.providers))
    if unknown:
        raise RequestError(
            f"providers: {', '.join(map(repr, unknown))} not in the policy's providers "
            f"({', '.join(plan.policy.providers)}) — override only providers the policy declares"
        )
    built: dict[str, Provider] = {}
    for name, config in plan.policy.providers.items():
        if name in overrides:
            built[name] = overrides[name]
        else:
            built[name] = LazyProvider(name, _factory(name, config, plan.base_dir))
    return built


def database_location(plan: RoutingPlan, database: str | Path | None) -> str | Path:
    """The database a router records to: given, else the policy's, else beside the policy."""
    location: str | Path = database or plan.policy.database or DEFAULT_DATABASE
    if isinstance(location, str) and "://" in location:
        return location
    path = Path(location).expanduser()
    return path if path.is_absolute() else plan.base_dir / path


def open_ledger(plan: RoutingPlan, database: str | Path | None) -> UsageLedger:
    return UsageLedger.open(database_location(plan, database))


def open_audit(plan: RoutingPlan, ledger: UsageLedger) -> AuditSink:
    """The policy's audit trail, in the same database as the ledger."""
    from phaseroute import audit

    cfg = plan.policy.audit
    key = (
        audit.load_signing_key(cfg.signing_key, plan.base_dir)  # type: ignore[attr-defined]
        if cfg.signing_key
        else None
    )
    return audit.AuditTrail.open(  # type: ignore[attr-defined,no-any-return]
        ledger.engine.url.render_as_string(hide_password=False),
        signing_key=key,
        checkpoint_every=cfg.checkpoint_every,
        checkpoint_seconds=cfg.checkpoint_seconds,
    )
