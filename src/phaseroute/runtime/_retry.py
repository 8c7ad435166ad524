"""Retries and fallback, wrapped around providers (the router is the only retry loop).

A call walks an ordered chain of models (the plan's primary, then same-tier and higher-tier
fallbacks). Each model gets bounded attempts with exponential backoff and full jitter,
honouring ``retry-after``; the whole walk shares one deadline. Errors that waiting cannot
fix (spend limit, authentication, invalid request) are never retried on the same model;
spend-limit and authentication failures also skip the rest of that provider's models.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

from phaseroute.errors import (
    AuthenticationFailed,
    IncompleteResponse,
    ProviderError,
    RequestError,
    RetryableProviderError,
    SpendLimitReached,
)
from phaseroute.policy import ModelChoice
from phaseroute.providers._base import CompletionRequest, Provider
from phaseroute.providers._durations import check_seconds
from phaseroute.runtime._clock import Clock
from phaseroute.runtime._result import AttemptRecord

T = TypeVar("T")


class _Uniform(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one call tries before it gives up on a model, and on the whole chain.

    `deadline_s` bounds a call from start to its last byte, fallbacks and streams included;
    each attempt gets at most `attempt_timeout_s` of it (sync attempts then run on a worker
    thread the caller can stop waiting for). `attempt_timeout_s=None` runs sync attempts in
    the caller's thread, bounded only by the provider's own timeout: faster, but a hung
    upstream can then overrun the deadline by that much (async attempts and streams still
    end by the deadline). A ``retry-after`` longer than `max_retry_after_s` (or than the
    time left) moves on to the next model instead of waiting. Every field is checked here,
    so a bad value fails at construction with a `RequestError` naming it.
    """

    max_attempts: int = 3  # per model
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_retry_after_s: float = 30.0
    attempt_timeout_s: float | None = 60.0
    deadline_s: float = 120.0

    def __post_init__(self) -> None:
        n = self.max_attempts
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise RequestError(f"RetryPolicy.max_attempts must be a whole number >= 1, got {n!r}")
        for name in ("base_delay_s", "max_delay_s", "max_retry_after_s"):
            check_seconds(f"RetryPolicy.{name}", getattr(self, name), allow_zero=True)
        if self.attempt_timeout_s is not None:
            check_seconds(
                "RetryPolicy.attempt_timeout_s",
                self.attempt_timeout_s,
                fix="or None to leave attempts to the provider's own timeout",
            )
        check_seconds("RetryPolicy.deadline_s", self.deadline_s)

    def delay(self, retry_index: int, retry_after: float | None, rng: _Uniform) -> float:
        """Full-jitter exponential backoff, never shorter than the provider's retry-after."""
        cap = min(self.max_delay_s, self.base_delay_s * (2**retry_index))
        jitter = rng.uniform(0.0, cap)
        return max(jitter, retry_after) if retry_after is not None else jitter


def is_retryable(error: ProviderError) -> bool:
    # A cut-off answer that never reached the caller is as worth retrying as a 5xx.
    return isinstance(error, RetryableProviderError | IncompleteResponse)


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class _LockedRandom:
    """A shared RNG that many threads may draw from."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._lock = threading.Lock()

    def uniform(self, a: float, b: float) -> float:
        with self._lock:
            return self._rng.uniform(a, b)


@dataclass
class CallState:
    """The mutable history of one routed call (never shared between calls)."""

    clock: Clock
    policy: RetryPolicy
    started: float
    attempts: list[AttemptRecord] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)  # model names, in order first tried
    blocked_providers: dict[str, str] = field(default_factory=dict)
    last_error: dict[str, str] = field(default_factory=dict)  # model -> its last error
    errors: list[ProviderError] = field(default_factory=list)

    @property
    def deadline(self) -> float:
        return self.started + self.policy.deadline_s

    def remaining(self) -> float:
        return self.deadline - self.clock.monotonic()

    def attempt_timeout(self, *, within_deadline: bool = False) -> float | None:
        """The bound of the next attempt. With no `attempt_timeout_s`, sync attempts trust
        the provider's own timeout (None; see RetryPolicy); `within_deadline` attempts
        (async ones, which cost nothing to cancel) still end by the call's deadline."""
        if self.policy.attempt_timeout_s is None:
            return max(self.remaining(), 0.0) if within_deadline else None
        return min(self.policy.attempt_timeout_s, max(self.remaining(), 0.0))

    def skip(self, model: ModelChoice, why: str) -> None:
        self.attempts.append(
            AttemptRecord(model.name, model.model_id, model.tier, model.provider, why, "Skipped")
        )
        self.last_error[model.name] = why

    def failed(
        self, model: ModelChoice, error: BaseException, waited: float, elapsed: float
    ) -> None:
        pe = error if isinstance(error, ProviderError) else None
        self.attempts.append(
            AttemptRecord(
                model.name,
                model.model_id,
                model.tier,
                model.provider,
                describe(error),
                type(error).__name__,
                pe.status_code if pe else None,
                getattr(error, "retry_after", None),
                waited,
                elapsed,
            )
        )
        self.last_error[model.name] = describe(error)
        _drop_tracebacks(error)
        if pe is not None:
            self.errors.append(pe)

    def succeeded(self, model: ModelChoice, waited: float, elapsed: float) -> None:
        self.attempts.append(
            AttemptRecord(
                model.name, model.model_id, model.tier, model.provider, None, None, None, None,
                waited, elapsed,
            )
        )  # fmt: skip


def _drop_tracebacks(error: BaseException) -> None:
    """Forget where a handled error (and the errors it came from) was raised.

    A traceback holds the frames it passed through, and those frames hold the call's state,
    which holds the error: a reference cycle per failed attempt, left for the garbage
    collector. Only the error's type and text are used once it is handled.
    """
    link: BaseException | None = error
    seen: set[int] = set()
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        link.__traceback__ = None
        link = link.__cause__ or link.__context__


class Exhausted(Exception):
    """Every model of a chain failed (internal: the router turns it into RoutingUnavailable)."""


def _gate(state: CallState, model: ModelChoice) -> str | None:
    """Why `model` must not be tried in this call, or None."""
    if model.provider in state.blocked_providers:
        return f"not tried: {state.blocked_providers[model.provider]}"
    if state.remaining() <= 0:
        return f"not tried: the call's deadline of {state.policy.deadline_s:g}s was spent"
    return None


def _after_failure(
    state: CallState, model: ModelChoice, error: ProviderError, retry_index: int, rng: _LockedRandom
) -> float | None:
    """The backoff before the next attempt on `model`, or None to move on."""
    if isinstance(error, SpendLimitReached | AuthenticationFailed):
        state.blocked_providers[model.provider] = (
            f"provider {model.provider!r} failed with {type(error).__name__} on {model.name!r}"
        )
        return None
    if not is_retryable(error) or retry_index + 1 >= state.policy.max_attempts:
        return None
    delay = state.policy.delay(retry_index, getattr(error, "retry_after", None), rng)
    if delay > state.policy.max_retry_after_s or delay >= state.remaining():
        return None
    return delay


class RetryingChain:
    """Calls a chain of models with retries; sync and async share the same decisions."""

    def __init__(self, providers: Mapping[str, Provider], clock: Clock, rng: random.Random) -> None:
        self._providers = providers
        self._clock = clock
        self._rng = _LockedRandom(rng)

    def provider(self, model: ModelChoice) -> Provider:
        return self._providers[model.provider]

    def run(
        self,
        state: CallState,
        chain: Sequence[ModelChoice],
        request: CompletionRequest,
        send: Callable[[Provider, CompletionRequest, float | None], T],
    ) -> tuple[T, ModelChoice]:
        """First answer along `chain`; `send(provider, request, timeout)` makes one attempt."""
        for model in chain:
            why = _gate(state, model)
            if why is not None:
                state.skip(model, why)
                continue
            state.tried.append(model.name)
            req = replace(request, model=model.model_id)
            provider = self.provider(model)
            waited = 0.0
            for i in range(state.policy.max_attempts):
                if i and state.remaining() <= 0:
                    break
                t0 = self._clock.monotonic()
                try:
                    result = send(provider, req, state.attempt_timeout())
                except ProviderError as e:
                    state.failed(model, e, waited, self._clock.monotonic() - t0)
                    delay = _after_failure(state, model, e, i, self._rng)
                    if delay is None:
                        break
                    self._clock.sleep(delay)
                    waited = delay
                    continue
                state.succeeded(model, waited, self._clock.monotonic() - t0)
                return result, model
        raise Exhausted

    async def arun(
        self,
        state: CallState,
        chain: Sequence[ModelChoice],
        request: CompletionRequest,
        send: Callable[[Provider, CompletionRequest, float | None], Awaitable[T]],
    ) -> tuple[T, ModelChoice]:
        """The async twin of `run`."""
        for model in chain:
            why = _gate(state, model)
            if why is not None:
                state.skip(model, why)
                continue
            state.tried.append(model.name)
            req = replace(request, model=model.model_id)
            provider = self.provider(model)
            waited = 0.0
            for i in range(state.policy.max_attempts):
                if i and state.remaining() <= 0:
                    break
                t0 = self._clock.monotonic()
                try:
                    result = await send(provider, req, state.attempt_timeout(within_deadline=True))
                except ProviderError as e:
                    state.failed(model, e, waited, self._clock.monotonic() - t0)
                    delay = _after_failure(state, model, e, i, self._rng)
                    if delay is None:
                        break
                    await self._clock.asleep(delay)
                    waited = delay
                    continue
                state.succeeded(model, waited, self._clock.monotonic() - t0)
                return result, model
        raise Exhausted
