"""The OpenAI Batch API (with Files) through the official SDK's client."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import openai

from phaseroute.errors import ProviderError
from phaseroute.providers._base import CompletionRequest
from phaseroute.providers._batch import (
    BatchItem,
    BatchItemResult,
    BatchState,
    BatchStatus,
    batch_response,
)
from phaseroute.providers._http_errors import error_for_status
from phaseroute.wire import openai as wire

_ENDPOINT: Literal["/v1/chat/completions"] = "/v1/chat/completions"
_STATES: dict[str, BatchState] = {
    "validating": "in_progress",
    "in_progress": "in_progress",
    "finalizing": "in_progress",
    "cancelling": "in_progress",
    "completed": "ended",
    "expired": "expired",
    "cancelled": "canceled",
    "failed": "failed",
}


class OpenAIBatchAPI:
    """Batch + Files on one OpenAI-compatible client; SDK errors map like live calls'."""

    def __init__(
        self,
        name: str,
        client: openai.OpenAI,
        map_error: Callable[[Exception, str], ProviderError],
        max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens",
    ) -> None:
        self._name = name
        self._client = client
        self._map_error = map_error
        self._max_tokens_param = max_tokens_param

    @property
    def name(self) -> str:
        return self._name

    def _fail(self, e: Exception, model: str = "") -> ProviderError:
        return self._map_error(e, model)

    def submit(self, items: Sequence[BatchItem]) -> str:
        lines = [
            json.dumps(
                {
                    "custom_id": item.custom_id,
                    "method": "POST",
                    "url": _ENDPOINT,
                    "body": wire.request_to_wire(
                        item.request, max_tokens_param=self._max_tokens_param
                    ),
                }
            )
            for item in items
        ]
        model = items[0].request.model if items else ""
        try:
            file = self._client.files.create(
                file=("batch.jsonl", ("\n".join(lines) + "\n").encode()), purpose="batch"
            )
            batch = self._client.batches.create(
                input_file_id=file.id, endpoint=_ENDPOINT, completion_window="24h"
            )
        except (openai.OpenAIError, OSError) as e:
            raise self._fail(e, model) from e
        return batch.id

    def _retrieve(self, batch_id: str) -> Any:
        try:
            return self._client.batches.retrieve(batch_id)
        except (openai.OpenAIError, OSError) as e:
            raise self._fail(e) from e

    def status(self, batch_id: str) -> BatchStatus:
        batch = self._retrieve(batch_id)
        counts = batch.request_counts.model_dump() if batch.request_counts else {}
        return BatchStatus(batch.id, _STATES.get(batch.status, "in_progress"), counts)

    def _lines(self, file_id: str | None) -> list[dict[str, Any]]:
        if not file_id:
            return []
        try:
            text = self._client.files.content(file_id).text
        except (openai.OpenAIError, OSError) as e:
            raise self._fail(e) from e
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def results(
        self, batch_id: str, requests: Mapping[str, CompletionRequest]
    ) -> list[BatchItemResult]:
        batch = self._retrieve(batch_id)
        out: list[BatchItemResult] = []
        for line in [*self._lines(batch.output_file_id), *self._lines(batch.error_file_id)]:
            custom_id = str(line.get("custom_id"))
            request = requests.get(custom_id)
            model = request.model if request is not None else ""
            response = line.get("response") or None
            error = line.get("error") or None
            if response is not None and response.get("status_code") == 200:
                answer = wire.response_from_wire(
                    response.get("body") or {},
                    provider=self._name,
                    model_requested=model,
                    request_id=response.get("request_id"),
                )
                out.append(BatchItemResult(custom_id, "succeeded", batch_response(answer)))
            elif response is not None:
                body = (response.get("body") or {}).get("error") or {}
                failure = error_for_status(
                    int(response.get("status_code") or 500),
                    provider=self._name,
                    model=model,
                    error_type=body.get("type"),
                    error_code=body.get("code"),
                    message=body.get("message"),
                    headers={},
                    request_id=response.get("request_id"),
                )
                out.append(BatchItemResult(custom_id, "errored", error=failure))
            elif error is not None and error.get("code") == "batch_expired":
                out.append(BatchItemResult(custom_id, "expired"))
            elif error is not None and error.get("code") == "batch_cancelled":
                out.append(BatchItemResult(custom_id, "canceled"))
            else:
                failure = error_for_status(
                    500,
                    provider=self._name,
                    model=model,
                    error_type=None,
                    error_code=(error or {}).get("code"),
                    message=(error or {}).get("message") or "no result in the batch output",
                    headers={},
                    request_id=None,
                )
                out.append(BatchItemResult(custom_id, "errored", error=failure))
        return out

    def cancel(self, batch_id: str) -> BatchStatus:
        try:
            self._client.batches.cancel(batch_id)
        except (openai.OpenAIError, OSError) as e:
            raise self._fail(e) from e
        return self.status(batch_id)
