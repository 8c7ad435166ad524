"""What `Router.from_policy` builds from a policy: providers, the usage ledger, the audit trail.

Providers are built with the router, before any call's clock starts: importing an SDK and
building its clients takes seconds, which a first call must not pay against its attempt
timeout. A provider whose secret cannot be read yet is left to be built on first use (its
`SecretError` then names the missing key), so loading or explaining a policy, or serving it
through replay overrides, never needs a key it does not use. A server that must listen
first (the gateway) asks for them unbuilt (`build_now=False`) and builds them with
`warm()` in the background before it takes calls.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path

from phaseroute.audit import AuditTrail, DirectoryWitness, load_signing_key
from phaseroute.errors import RequestError, SecretError
from phaseroute.policy import RoutingPlan
from phaseroute.policy._schema import AnthropicProvider as AnthropicConfig
from phaseroute.policy._schema import OpenAICompatProvider as OpenAICompatConfig
from phaseroute.policy._schema import ProviderConfig
from phaseroute.policy._schema import ReplayProvider as ReplayConfig
from phaseroute.providers import ReplayProvider, resolve_secret
from phaseroute.providers._base import CompletionRequest, CompletionResponse, Provider, StreamEvent
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

    def warm(self) -> None:
        """Build the provider now (importing its SDK), so the first call does not wait."""
        self._get()

    @property
    def built(self) -> Provider:
        """The provider itself (built now if it was not yet)."""
        return self._get()

    def complete(self, request: CompletionRequest) -> CompletionResponse:
        return self._get().complete(request)

    async def acomplete(self, request: CompletionRequest) -> CompletionResponse:
        return await self._get().acomplete(request)

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        return self._get().stream(request)

    def astream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        return self._get().astream(request)

    def batch_api(self) -> object:
        """The built provider's batch API (Anthropic and OpenAI-compatible providers)."""
        make = getattr(self._get(), "batch_api", None)
        if make is None:
            raise RequestError(
                f"provider {self._name!r} has no batch API — batches go through the "
                "Anthropic Message Batches or the OpenAI Batch API"
            )
        return make()

    def close(self) -> None:
        with self._lock:
            if self._built is not None:
                self._built.close()

    async def aclose(self) -> None:
        """Close the built provider, its async client too when it has one."""
        built = self._built
        if built is not None:
            await close_provider(built)


async def close_provider(provider: Provider) -> None:
    """`aclose()` where a provider has one (it owns an async client), else `close()`."""
    aclose = getattr(provider, "aclose", None)
    if aclose is not None:
        await aclose()
    else:
        provider.close()


def _factory(name: str, config: ProviderConfig, base_dir: Path) -> Callable[[], Provider]:
    def make() -> Provider:
        # The SDK-backed providers are imported here, on first use: the SDKs take seconds
        # to import, which replay-only and explain-only runs should not pay.
        if isinstance(config, AnthropicConfig):
            from phaseroute.providers import AnthropicProvider  # noqa: PLC0415

            return AnthropicProvider(
                resolve_secret(config.api_key, base_dir),
                base_url=config.base_url,
                timeout=config.timeout_s,
                name=name,
            )
        if isinstance(config, OpenAICompatConfig):
            # A local endpoint (vLLM, Ollama) may need no key; the SDK still wants one.
            key = resolve_secret(config.api_key, base_dir) if config.api_key else "unused"
            from phaseroute.providers import OpenAICompatProvider  # noqa: PLC0415

            return OpenAICompatProvider(
                key, base_url=config.base_url, timeout=config.timeout_s, name=name
            )
        if isinstance(config, ReplayConfig):
            return ReplayProvider(
                base_dir / config.outcomes,
                name=name,
                unrecorded_output_tokens=config.unrecorded_output_tokens,
            )
        raise AssertionError(f"unknown provider config {config!r}")  # pragma: no cover

    return make


def build_providers(
    plan: RoutingPlan, overrides: Mapping[str, Provider], *, build_now: bool = True
) -> dict[str, Provider]:
    """One provider per entry of the policy's `providers`; `overrides` replace by name.

    `build_now=False` leaves every SDK-backed provider a `LazyProvider`, built by its
    `warm()` (or, failing that, its first call)."""
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
            lazy = LazyProvider(name, _factory(name, config, plan.base_dir))
            built[name] = _built_now(lazy) if build_now else lazy
    return built


def _built_now(lazy: LazyProvider) -> Provider:
    """The provider itself, built now; still lazy when its secret cannot be read yet."""
    try:
        return lazy.built
    except SecretError:
        return lazy


def database_location(plan: RoutingPlan, database: str | Path | None) -> str | Path:
    """The database a router records to: given, else the policy's, else beside the policy."""
    location: str | Path = database or plan.policy.database or DEFAULT_DATABASE
    if isinstance(location, str) and "://" in location:
        return location
    path = Path(location).expanduser()
    return path if path.is_absolute() else plan.base_dir / path


def open_audit(plan: RoutingPlan, location: str | Path) -> AuditTrail:
    """The policy's audit trail (signed checkpoints when it names a signing key)."""
    cfg = plan.policy.audit
    key = load_signing_key(cfg.signing_key, plan.base_dir) if cfg.signing_key else None
    witness = None
    if cfg.witness is not None:
        where = Path(cfg.witness).expanduser()
        witness = DirectoryWitness(where if where.is_absolute() else plan.base_dir / where)
    return AuditTrail.open(
        location,
        signing_key=key,
        checkpoint_every=cfg.checkpoint_every,
        checkpoint_seconds=cfg.checkpoint_seconds,
        witness=witness,
    )
