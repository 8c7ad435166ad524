"""The Anthropic Message Batches API through the official SDK's client."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anthropic

from phaseroute.errors import ProviderError
from phaseroute.providers._base import CompletionRequest
from phaseroute.providers._batch import (
    BatchItem,
    BatchItemResult,
    BatchStatus,
    batch_response,
)
from phaseroute.providers._http_errors import error_for_status
from phaseroute.wire import anthropic as wire

# An errored batch result carries the error body but no HTTP status: the type says it.
_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


class AnthropicBatchAPI:
    """Message Batches on one Anthropic client; SDK errors map like live calls'."""

    def __init__(
        self,
        name: str,
        client: anthropic.Anthropic,
        map_error: Callable[[Exception, str], ProviderError],
    ) -> None:
        self._name = name
        self._client = client
        self._map_error = map_error

    @property
    def name(self) -> str:
        return self._name

    def _fail(self, e: Exception, model: str = "") -> ProviderError:
        return self._map_error(e, model)

    def submit(self, items: Sequence[BatchItem]) -> str:
        requests: list[Any] = [
            {"custom_id": item.custom_id, "params": wire.request_to_wire(item.request)}
            for item in items
        ]
        try:
            batch = self._client.messages.batches.create(requests=requests)
        except (anthropic.AnthropicError, OSError) as e:
            raise self._fail(e, items[0].request.model if items else "") from e
        return batch.id

    def status(self, batch_id: str) -> BatchStatus:
        try:
            batch = self._client.messages.batches.retrieve(batch_id)
        except (anthropic.AnthropicError, OSError) as e:
            raise self._fail(e) from e
        counts = batch.request_counts.model_dump()
        if batch.processing_status != "ended":
            return BatchStatus(batch.id, "in_progress", counts)
        return BatchStatus(batch.id, "ended", counts)

    def results(
        self, batch_id: str, requests: Mapping[str, CompletionRequest]
    ) -> list[BatchItemResult]:
        out: list[BatchItemResult] = []
        try:
            for line in self._client.messages.batches.results(batch_id):
                request = requests.get(line.custom_id)
                model = request.model if request is not None else ""
                result = line.result
                if result.type == "succeeded":
                    response = wire.response_from_wire(
                        result.message.model_dump(),
                        provider=self._name,
                        model_requested=model,
                        request_id=result.message.id,
                    )
                    out.append(
                        BatchItemResult(line.custom_id, "succeeded", batch_response(response))
                    )
                elif result.type == "errored":
                    body = result.error.model_dump()
                    err = body.get("error") or {}
                    kind = str(err.get("type") or "api_error")
                    error = error_for_status(
                        _STATUS.get(kind, 500),
                        provider=self._name,
                        model=model,
                        error_type=kind,
                        error_code=None,
                        message=str(err.get("message") or kind),
                        headers={},
                        request_id=None,
                    )
                    out.append(BatchItemResult(line.custom_id, "errored", error=error))
                else:
                    out.append(BatchItemResult(line.custom_id, result.type))
        except (anthropic.AnthropicError, OSError) as e:
            raise self._fail(e) from e
        return out

    def cancel(self, batch_id: str) -> BatchStatus:
        try:
            self._client.messages.batches.cancel(batch_id)
        except (anthropic.AnthropicError, OSError) as e:
            raise self._fail(e) from e
        return self.status(batch_id)
