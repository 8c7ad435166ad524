"""The Anthropic Messages API on the wire: request parsing, JSON, SSE events, error bodies."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from phaseroute.testing.upstream._answer import (
    Answer,
    arguments_json,
    dumps,
    text_of,
    tool_results_anthropic,
)
from phaseroute.testing.upstream._script import Outcome, OutcomeKind, UpstreamRequest

REQUEST_ID_HEADER = "request-id"
MESSAGE_ID_PREFIX = "msg_"
PATH = "/v1/messages"

_STOP = {
    "end": "end_turn",
    "stop_sequence": "stop_sequence",
    "max_tokens": "max_tokens",
    "tool_use": "tool_use",
}

# kind -> (status, error.type, message); the bodies the real API sends.
_ERRORS: dict[OutcomeKind, tuple[int, str, str]] = {
    OutcomeKind.BAD_REQUEST: (
        400,
        "invalid_request_error",
        "messages: at least one message is required",
    ),
    OutcomeKind.UNAUTHORIZED: (401, "authentication_error", "invalid x-api-key"),
    OutcomeKind.FORBIDDEN: (
        403,
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    OutcomeKind.NOT_FOUND: (404, "not_found_error", "model: {model}"),
    OutcomeKind.UNPROCESSABLE: (422, "invalid_request_error", "Unprocessable request"),
    OutcomeKind.RATE_LIMITED: (
        429,
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests per "
        "minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.",
    ),
    OutcomeKind.SPEND_LIMIT: (
        429,
        "rate_limit_error",
        "You have reached your specified API usage limits. You will regain access on "
        "2030-01-01 at 00:00 UTC.",
    ),
    OutcomeKind.SERVER_ERROR: (500, "api_error", "Internal server error"),
    OutcomeKind.OVERLOADED: (529, "overloaded_error", "Overloaded"),
}


def parse(body: Mapping[str, Any], headers: Mapping[str, str]) -> UpstreamRequest | str:
    """The normalised request, or the message of a 400 invalid_request_error."""
    for key in ("model", "max_tokens", "messages"):
        if key not in body:
            return f"{key}: Field required"
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    stop = body.get("stop_sequences") or []
    return UpstreamRequest(
        api="anthropic",
        model=str(body["model"]),
        messages=tuple((str(m.get("role")), text_of(m.get("content"))) for m in messages),
        system=text_of(body["system"]) if "system" in body else None,
        max_tokens=int(body["max_tokens"]),
        temperature=body.get("temperature"),
        stop=tuple(str(s) for s in stop),
        stream=bool(body.get("stream", False)),
        include_usage=True,
        headers=headers,
        tools=tuple(str(t.get("name")) for t in body.get("tools") or () if isinstance(t, Mapping)),
        tool_results=tool_results_anthropic(messages),
        tool_choice=body.get("tool_choice"),
    )


def api_key(headers: Mapping[str, str]) -> str | None:
    """The key from `x-api-key`, or from `Authorization: Bearer` (newer SDKs send that)."""
    auth = headers.get("authorization", "")
    return headers.get("x-api-key") or (auth[7:] if auth.startswith("Bearer ") else None)


def _usage(answer: Answer, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": answer.input_tokens,
        "cache_creation_input_tokens": answer.cache_write_tokens,
        "cache_read_input_tokens": answer.cache_read_tokens,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def complete_body(answer: Answer) -> bytes:
    return dumps(
        {
            "id": answer.message_id,
            "type": "message",
            "role": "assistant",
            "model": answer.model,
            "content": [
                *(
                    [{"type": "text", "text": answer.text}]
                    if answer.text or not answer.tool_calls
                    else []
                ),
                *(
                    {"type": "tool_use", "id": id, "name": call.name, "input": dict(call.arguments)}
                    for id, call in answer.tool_calls
                ),
            ],
            "stop_reason": _STOP[answer.stop_name],
            "stop_sequence": answer.stop_sequence,
            "usage": _usage(answer, answer.output_tokens),
        }
    )


def event(name: str, data: Mapping[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + dumps(data) + b"\n\n"


def stream_head(answer: Answer) -> Iterator[bytes]:
    """message_start, the text block's start and a ping: all before the first token."""
    yield event(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": answer.message_id,
                "type": "message",
                "role": "assistant",
                "model": answer.model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": _usage(answer, 1),
            },
        },
    )
    yield event(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    yield event("ping", {"type": "ping"})


def stream_delta(answer: Answer, text: str) -> bytes:
    del answer  # the event names the block index only
    return event(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
    )


def stream_tail(answer: Answer, include_usage: bool) -> Iterator[bytes]:
    del include_usage  # message_delta always carries usage
    yield event("content_block_stop", {"type": "content_block_stop", "index": 0})
    for n, (id, call) in enumerate(answer.tool_calls, start=1):
        start = {"type": "tool_use", "id": id, "name": call.name, "input": {}}
        yield event(
            "content_block_start",
            {"type": "content_block_start", "index": n, "content_block": start},
        )
        raw = arguments_json(call)
        for piece in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
            delta = {"type": "input_json_delta", "partial_json": piece}
            yield event(
                "content_block_delta", {"type": "content_block_delta", "index": n, "delta": delta}
            )
        yield event("content_block_stop", {"type": "content_block_stop", "index": n})
    yield event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {
                "stop_reason": _STOP[answer.stop_name],
                "stop_sequence": answer.stop_sequence,
            },
            "usage": {"output_tokens": answer.output_tokens},
        },
    )
    yield event("message_stop", {"type": "message_stop"})


def stream_error(request_id: str) -> bytes:
    """The error event the API sends inside an HTTP 200 stream (e.g. overloaded mid-answer)."""
    return event(
        "error",
        {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"},
            "request_id": request_id,
        },
    )


def error(
    outcome: Outcome, model: str, request_id: str, message: str | None = None, key: str = ""
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of an error response for `outcome`."""
    del key  # the API never echoes the key
    status, err_type, text = _ERRORS[outcome.kind]
    error_obj: dict[str, Any] = {
        "type": err_type,
        "message": message or outcome.message or text.format(model=model),
    }
    headers: dict[str, str] = {}
    if outcome.kind is OutcomeKind.SPEND_LIMIT:
        error_obj["details"] = {"error_code": "enforced_spend_limit_reached"}
    if outcome.kind is OutcomeKind.RATE_LIMITED:
        headers["anthropic-ratelimit-requests-limit"] = "50"
        headers["anthropic-ratelimit-requests-remaining"] = "0"
    if outcome.kind is not OutcomeKind.SPEND_LIMIT:
        if outcome.retry_after is not None:
            headers["retry-after"] = outcome.retry_after
        if outcome.retry_after_ms is not None:
            headers["retry-after-ms"] = outcome.retry_after_ms
    if outcome.kind is OutcomeKind.OVERLOADED or status >= 500:
        headers["x-should-retry"] = "true"
    body = {"type": "error", "error": error_obj, "request_id": request_id}
    return outcome.status or status, headers, dumps(body)
