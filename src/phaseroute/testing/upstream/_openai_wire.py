"""OpenAI Chat Completions on the wire: request parsing, JSON, SSE chunks, error bodies."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from phaseroute.testing.upstream._answer import (
    Answer,
    arguments_json,
    dumps,
    text_of,
    tool_results_openai,
)
from phaseroute.testing.upstream._script import Outcome, OutcomeKind, UpstreamRequest

REQUEST_ID_HEADER = "x-request-id"
MESSAGE_ID_PREFIX = "chatcmpl-"
PATH = "/v1/chat/completions"

_FINISH = {"end": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}
_FINGERPRINT = "fp_phaseroute_upstream"

# kind -> (status, error.type, error.code, message); the bodies the real API sends.
_ERRORS: dict[OutcomeKind, tuple[int, str, str | None, str]] = {
    OutcomeKind.BAD_REQUEST: (
        400,
        "invalid_request_error",
        None,
        "[] is too short - 'messages'",
    ),
    OutcomeKind.UNAUTHORIZED: (
        401,
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided: {key}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
    ),
    OutcomeKind.FORBIDDEN: (
        403,
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    OutcomeKind.NOT_FOUND: (
        404,
        "invalid_request_error",
        "model_not_found",
        "The model `{model}` does not exist or you do not have access to it.",
    ),
    OutcomeKind.UNPROCESSABLE: (422, "invalid_request_error", None, "Unprocessable Entity"),
    OutcomeKind.RATE_LIMITED: (
        429,
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for {model} in organization org-phaseroute on requests per min "
        "(RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.",
    ),
    OutcomeKind.SPEND_LIMIT: (
        429,
        "insufficient_quota",
        "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details. For "
        "more information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors.",
    ),
    OutcomeKind.SERVER_ERROR: (
        500,
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    OutcomeKind.OVERLOADED: (
        503,
        "server_error",
        None,
        "The engine is currently overloaded, please try again later.",
    ),
}


def parse(body: Mapping[str, Any], headers: Mapping[str, str]) -> UpstreamRequest | str:
    """The normalised request, or the message of a 400 invalid_request_error."""
    if "model" not in body:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "[] is too short - 'messages'"
    system = [
        text_of(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
    ]
    stop = body.get("stop") or []
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    options = body.get("stream_options") or {}
    return UpstreamRequest(
        api="openai",
        model=str(body["model"]),
        messages=tuple(
            (str(m.get("role")), text_of(m.get("content")))
            for m in messages
            if m.get("role") not in ("system", "developer")
        ),
        system="\n".join(system) if system else None,
        max_tokens=None if max_tokens is None else int(max_tokens),
        temperature=body.get("temperature"),
        stop=(stop,) if isinstance(stop, str) else tuple(str(s) for s in stop),
        stream=bool(body.get("stream", False)),
        include_usage=bool(options.get("include_usage", False)),
        headers=headers,
        tools=tuple(
            str((t.get("function") or {}).get("name"))
            for t in body.get("tools") or ()
            if isinstance(t, Mapping)
        ),
        tool_results=tool_results_openai(messages),
        tool_choice=body.get("tool_choice"),
    )


def api_key(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None


def _usage(answer: Answer) -> dict[str, Any]:
    prompt = answer.input_tokens + answer.cache_read_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": answer.output_tokens,
        "total_tokens": prompt + answer.output_tokens,
        "prompt_tokens_details": {"cached_tokens": answer.cache_read_tokens, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def complete_body(answer: Answer) -> bytes:
    return dumps(
        {
            "id": answer.message_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": answer.model,
            "system_fingerprint": _FINGERPRINT,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": answer.text or (None if answer.tool_calls else ""),
                        "refusal": None,
                        **({"tool_calls": _calls(answer)} if answer.tool_calls else {}),
                    },
                    "logprobs": None,
                    "finish_reason": _FINISH[answer.stop_name],
                }
            ],
            "usage": _usage(answer),
        }
    )


def _chunk(answer: Answer, choices: list[dict[str, Any]], usage: object = None) -> bytes:
    return (
        b"data: "
        + dumps(
            {
                "id": answer.message_id,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": answer.model,
                "system_fingerprint": _FINGERPRINT,
                "choices": choices,
                "usage": usage,
            }
        )
        + b"\n\n"
    )


def stream_head(answer: Answer) -> Iterator[bytes]:
    yield _chunk(
        answer,
        [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": "", "refusal": None},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
    )


def stream_delta(answer: Answer, text: str) -> bytes:
    return _chunk(
        answer, [{"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None}]
    )


def _calls(answer: Answer) -> list[dict[str, Any]]:
    return [
        {"id": id, "type": "function", "function": {"name": c.name, "arguments": arguments_json(c)}}
        for id, c in answer.tool_calls
    ]


def stream_tail(answer: Answer, include_usage: bool) -> Iterator[bytes]:
    for n, (id, call) in enumerate(answer.tool_calls):
        start = {
            "index": n,
            "id": id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        yield _chunk(
            answer,
            [
                {
                    "index": 0,
                    "delta": {"tool_calls": [start]},
                    "logprobs": None,
                    "finish_reason": None,
                }
            ],
        )
        raw = arguments_json(call)
        for piece in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
            more = {"index": n, "function": {"arguments": piece}}
            yield _chunk(
                answer,
                [
                    {
                        "index": 0,
                        "delta": {"tool_calls": [more]},
                        "logprobs": None,
                        "finish_reason": None,
                    }
                ],
            )
    yield _chunk(
        answer,
        [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": _FINISH[answer.stop_name]}],
    )
    if include_usage:
        yield _chunk(answer, [], _usage(answer))
    yield b"data: [DONE]\n\n"


def stream_error(request_id: str) -> bytes:
    """An error inside an HTTP 200 stream: a `data:` line carrying an error object."""
    del request_id  # the chunk carries none; the header already did
    return (
        b"data: "
        + dumps(
            {
                "error": {
                    "message": "The server had an error while processing your request. Sorry "
                    "about that!",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            }
        )
        + b"\n\n"
    )


def error(
    outcome: Outcome, model: str, request_id: str, message: str | None = None, key: str = ""
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of an error response for `outcome`."""
    del request_id  # OpenAI carries it in x-request-id only
    status, err_type, code, text = _ERRORS[outcome.kind]
    masked = f"{key[:3]}*****{key[-3:]}" if len(key) > 8 else "*****"
    headers: dict[str, str] = {}
    if outcome.kind is OutcomeKind.RATE_LIMITED:
        headers["x-ratelimit-limit-requests"] = "3"
        headers["x-ratelimit-remaining-requests"] = "0"
    if outcome.kind is not OutcomeKind.SPEND_LIMIT:
        if outcome.retry_after is not None:
            headers["retry-after"] = outcome.retry_after
        if outcome.retry_after_ms is not None:
            headers["retry-after-ms"] = outcome.retry_after_ms
    body = {
        "error": {
            "message": message or outcome.message or text.format(model=model, key=masked),
            "type": err_type,
            "param": None,
            "code": code,
        }
    }
    return outcome.status or status, headers, dumps(body)
