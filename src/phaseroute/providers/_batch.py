"""The providers' batch APIs behind one small contract: submit, status, results, cancel.

A batch is many `CompletionRequest`s, each with the caller's `custom_id`, sent to one model
at the provider's batch price and answered within the provider's window (24 h). Every
request ends with exactly one `BatchItemResult`: succeeded (with a response whose usage is
marked `batch`), errored (with the mapped `ProviderError`), expired or canceled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol, runtime_checkable

from phaseroute.errors import ProviderError
from phaseroute.providers._base import CompletionRequest, CompletionResponse

BatchState = Literal["in_progress", "ended", "canceled", "expired", "failed"]
ItemOutcome = Literal["succeeded", "errored", "expired", "canceled"]


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One request of a batch and the caller's id for it (unique in the batch)."""

    custom_id: str
    request: CompletionRequest


@dataclass(frozen=True, slots=True)
class BatchStatus:
    """Where a batch is: still in progress, or done (ended, canceled, expired, failed)."""

    id: str
    state: BatchState
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.state != "in_progress"


@dataclass(frozen=True, slots=True)
class BatchItemResult:
    """The one outcome of one request of a batch."""

    custom_id: str
    outcome: ItemOutcome
    response: CompletionResponse | None = None
    error: ProviderError | None = None


def batch_response(response: CompletionResponse) -> CompletionResponse:
    """A response served by a batch API: its usage is priced at batch rates."""
    return replace(response, usage=replace(response.usage, batch=True))


@runtime_checkable
class BatchAPI(Protocol):
    """A provider's batch API (Anthropic Message Batches, OpenAI Batch)."""

    @property
    def name(self) -> str: ...

    def submit(self, items: Sequence[BatchItem]) -> str: ...

    def status(self, batch_id: str) -> BatchStatus: ...

    def results(
        self, batch_id: str, requests: Mapping[str, CompletionRequest]
    ) -> list[BatchItemResult]: ...

    def cancel(self, batch_id: str) -> BatchStatus: ...
