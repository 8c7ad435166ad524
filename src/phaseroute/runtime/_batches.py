"""Routed calls through the providers' batch APIs, for phases that tolerate batch latency.

`submit` sends a phase's requests as one batch to the phase's primary model (a batch has
no fallback: it is one provider's job). `collect` matches the results to the requests and
gives every request exactly one outcome:

- ``served``: the batch answered it; billed at batch prices, recorded in the ledger with
  the batch flag and, for recorded phases, in the audit trail like any call of the phase;
- ``served_after_retry``: the batch could not (a retryable error, expiry, or an answer that
  failed the phase's validator), so it was re-run as an ordinary routed call under the
  phase's retry, fallback and escalation policy;
- ``failed``: neither the batch nor the retry produced an answer (the error is kept);
- ``canceled``: the batch was canceled before the request ran (nothing was billed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from phaseroute.errors import (
    ProviderError,
    RequestError,
    RetryableProviderError,
    RoutingUnavailable,
)
from phaseroute.providers._base import CompletionRequest
from phaseroute.providers._batch import BatchAPI, BatchItem, BatchItemResult, BatchStatus
from phaseroute.runtime._engine import Call
from phaseroute.runtime._request import build_request
from phaseroute.runtime._result import RoutedResponse, Validation

if TYPE_CHECKING:
    from phaseroute.runtime._router import Router

Outcome = Literal["served", "served_after_retry", "failed", "canceled"]
_REQUEST_KEYS = frozenset(
    {
        "custom_id", "messages", "system", "max_tokens", "temperature", "stop",
        "stop_sequences", "tools", "tool_choice", "parallel_tool_calls", "top_p", "top_k",
        "metadata", "case_id",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class BatchHandle:
    """A submitted batch: enough to poll and collect it, also from another process."""

    id: str
    workflow: str
    phase: str
    model: str  # catalogue name
    provider: str
    submitted_at: str
    requests: Mapping[str, Mapping[str, Any]]  # custom_id -> the request as given

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workflow": self.workflow,
            "phase": self.phase,
            "model": self.model,
            "provider": self.provider,
            "submitted_at": self.submitted_at,
            "requests": {k: dict(v) for k, v in self.requests.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BatchHandle:
        try:
            return cls(
                str(data["id"]),
                str(data["workflow"]),
                str(data["phase"]),
                str(data["model"]),
                str(data["provider"]),
                str(data["submitted_at"]),
                dict(data["requests"]),
            )
        except (KeyError, TypeError) as e:
            raise RequestError(f"not a batch handle: missing or bad field {e}") from None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """The one outcome of one request of a batch."""

    custom_id: str
    outcome: Outcome
    batch_result: str  # what the batch said: succeeded, errored, expired, canceled, missing
    result: RoutedResponse | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BatchCollection:
    """Every request's outcome, in submission order, and where batch prices came from."""

    handle: BatchHandle
    status: BatchStatus
    outcomes: tuple[BatchOutcome, ...]
    batch_price_source: str | None

    def counts(self) -> dict[str, int]:
        out = {"served": 0, "served_after_retry": 0, "failed": 0, "canceled": 0}
        for o in self.outcomes:
            out[o.outcome] += 1
        return out


def _request_args(i: int, item: object) -> tuple[str, dict[str, Any]]:
    if not isinstance(item, Mapping):
        raise RequestError(
            f"requests[{i}]: expected a mapping with 'messages', got {type(item).__name__}"
        )
    unknown = sorted(set(item) - _REQUEST_KEYS)
    if unknown:
        raise RequestError(
            f"requests[{i}]: unknown field(s) {', '.join(unknown)} — a batch request takes "
            f"{', '.join(sorted(_REQUEST_KEYS))}"
        )
    if "messages" not in item:
        raise RequestError(f"requests[{i}].messages: missing")
    custom_id = str(item.get("custom_id", i))
    return custom_id, dict(item)


def _build(args: Mapping[str, Any], where: str) -> CompletionRequest:
    kwargs = {k: v for k, v in args.items() if k not in ("custom_id", "messages", "case_id")}
    try:
        return build_request(
            args["messages"],
            system=kwargs.pop("system", None),
            max_tokens=kwargs.pop("max_tokens", 1024),
            temperature=kwargs.pop("temperature", None),
            stop=kwargs.pop("stop", None),
            metadata=kwargs.pop("metadata", None),
            **kwargs,
        )
    except RequestError as e:
        raise RequestError(f"{where}: {e}") from None


class BatchRunner:
    """Batch submission and collection for one router (internal; see `Router.submit_batch`)."""

    def __init__(self, router: Router) -> None:
        self._router = router

    def _api(self, provider: str) -> BatchAPI:
        instance = self._router.providers[provider]
        make = getattr(instance, "batch_api", None)
        if make is None:
            raise RequestError(
                f"provider {provider!r} has no batch API — batches go through the Anthropic "
                "Message Batches or the OpenAI Batch API"
            )
        api: BatchAPI = make()
        return api

    def submit(
        self, workflow: str, phase: str, requests: Iterable[Mapping[str, Any]]
    ) -> BatchHandle:
        router = self._router
        router.decide(workflow, phase)
        config = router.plan.policy.workflows[workflow].phases[phase]
        if not config.batch:
            raise RequestError(
                f"workflows.{workflow}.phases.{phase}: this phase does not tolerate batch "
                "latency — add `batch: true` to the phase in the policy to allow batches"
            )
        decision = router.plan.decisions[(workflow, phase)]
        model = decision.model
        given: dict[str, dict[str, Any]] = {}
        items: list[BatchItem] = []
        for i, item in enumerate(requests):
            custom_id, args = _request_args(i, item)
            if custom_id in given:
                raise RequestError(f"requests[{i}].custom_id: {custom_id!r} is used twice")
            request = replace(_build(args, f"requests[{i}]"), model=model.model_id)
            given[custom_id] = args
            items.append(BatchItem(custom_id, request))
        if not items:
            raise RequestError("requests: a batch needs at least one request")
        batch_id = self._api(model.provider).submit(items)
        return BatchHandle(
            batch_id,
            workflow,
            phase,
            model.name,
            model.provider,
            datetime.now(tz=UTC).isoformat().replace("+00:00", "Z"),
            given,
        )

    def status(self, handle: BatchHandle) -> BatchStatus:
        return self._api(handle.provider).status(handle.id)

    def cancel(self, handle: BatchHandle) -> BatchStatus:
        return self._api(handle.provider).cancel(handle.id)

    def collect(self, handle: BatchHandle, *, retry: bool = True) -> BatchCollection:
        router = self._router
        status = self.status(handle)
        if not status.done:
            raise RequestError(
                f"batch {handle.id} is still in progress ({dict(status.counts)}) — collect it "
                "once its status says it has ended"
            )
        model = router.plan.models[handle.model]
        requests = {
            cid: replace(_build(args, f"requests[{cid!r}]"), model=model.model_id)
            for cid, args in handle.requests.items()
        }
        by_id: dict[str, BatchItemResult] = {}
        for r in self._api(handle.provider).results(handle.id, requests):
            if r.custom_id in requests and r.custom_id not in by_id:
                by_id[r.custom_id] = r
        outcomes = tuple(
            self._one(handle, cid, requests[cid], by_id.get(cid), retry) for cid in requests
        )
        source = (
            router._accountant.prices.batch_price_source(model.name)
            if router._accountant.prices
            else None
        )
        return BatchCollection(handle, status, outcomes, source)

    def call_model_batch(
        self,
        model_name: str,
        requests: Sequence[CompletionRequest],
        workflow: str,
        phase: str | None,
        poll_s: float,
        timeout_s: float,
    ) -> list[RoutedResponse]:
        router = self._router
        model = router.plan.models.get(model_name)
        if model is None:
            raise RequestError(
                f"unknown model {model_name!r} (the catalogue has: {', '.join(router.plan.models)})"
            )
        api = self._api(model.provider)
        items = [
            BatchItem(str(i), replace(r, model=model.model_id)) for i, r in enumerate(requests)
        ]
        batch_id = api.submit(items)
        waited = 0.0
        status = api.status(batch_id)
        while not status.done:
            if waited >= timeout_s:
                api.cancel(batch_id)
                raise RequestError(
                    f"batch {batch_id} of {model_name} did not end within {timeout_s:g} s — "
                    "it was canceled; run again, or without --batch"
                )
            router.clock.sleep(poll_s)
            waited += poll_s
            status = api.status(batch_id)
        by_id = {
            r.custom_id: r for r in api.results(batch_id, {i.custom_id: i.request for i in items})
        }
        out: list[RoutedResponse] = []
        for item in items:
            found = by_id.get(item.custom_id)
            if found is not None and found.outcome == "succeeded" and found.response is not None:
                call = router._direct(model_name, item.request, workflow, phase)
                out.append(router._finish(call, router._accountant.bill(model, found.response)))
            else:  # not answered by the batch: asked live, with retries
                out.append(
                    router.call_model(model_name, item.request, workflow=workflow, phase=phase)
                )
        return out

    def _call(self, handle: BatchHandle, cid: str, request: CompletionRequest) -> Call:
        router = self._router
        args = handle.requests[cid]
        case_id = args.get("case_id")
        return Call(
            decision=router.plan.decisions[(handle.workflow, handle.phase)],
            route=router.decide(handle.workflow, handle.phase),
            request=replace(request, model=""),
            state=router._state(),
            started_at=router.clock.now(),
            case_id=None if case_id is None else str(case_id),
        )

    def _retry(self, call: Call, cid: str, said: str, why: str, retry: bool) -> BatchOutcome:
        if not retry:
            return BatchOutcome(cid, "failed", said, error=why)
        try:
            result = self._router._complete_call(call)[1]
        except (RoutingUnavailable, ProviderError) as e:
            return BatchOutcome(cid, "failed", said, error=f"{why}; retry: {e}")
        return BatchOutcome(cid, "served_after_retry", said, result=result, error=why)

    def _one(
        self,
        handle: BatchHandle,
        cid: str,
        request: CompletionRequest,
        item: BatchItemResult | None,
        retry: bool,
    ) -> BatchOutcome:
        router = self._router
        call = self._call(handle, cid, request)
        if item is None:
            return self._retry(call, cid, "missing", "the batch returned no result", retry)
        if item.outcome == "canceled":
            return BatchOutcome(cid, "canceled", "canceled")
        if item.outcome == "expired":
            return self._retry(call, cid, "expired", "expired in the batch", retry)
        if item.outcome == "errored" or item.response is None:
            error = item.error
            why = f"{type(error).__name__}: {error}" if error is not None else "errored"
            if isinstance(error, RetryableProviderError):
                return self._retry(call, cid, "errored", why, retry)
            router._accountant.record(
                at=router.clock.now(), decision=call.route, billed=None, outcome="unavailable",
                attempts=1, fell_back=False, degraded=False, stream=False, latency_s=0.0,
                case_id=call.case_id, failed_model=call.decision.model,
            )  # fmt: skip
            return BatchOutcome(cid, "failed", "errored", error=why)
        model = router.plan.models[handle.model]
        billed = router._accountant.bill(model, item.response)
        validator = router._validators.get(call.decision.key)
        if validator is not None and item.response.stop_reason != "tool_use":
            verdict = validator(item.response.text)
            if not verdict.ok:
                router._record(call, billed, "escalated")
                return self._retry(
                    call,
                    cid,
                    "succeeded",
                    f"the batch answer failed validation: {verdict.reason}",
                    retry,
                )
            call.validation = Validation(True, verdict.reason)
        result = router._finish(call, billed)
        return BatchOutcome(
            cid, "served", "succeeded", result=router._audited(call, billed, result)
        )


def read_requests(path: str) -> list[dict[str, Any]]:
    """Batch requests from a JSONL file: one JSON object per line (see `BatchRunner`)."""
    out: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as e:
                raise RequestError(
                    f"{path}:{n}: not JSON ({e}) — one request object per line"
                ) from None
            if not isinstance(row, dict):
                raise RequestError(f"{path}:{n}: expected a JSON object with 'messages'")
            out.append(row)
    return out
