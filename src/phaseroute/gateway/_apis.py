"""The two client protocols the gateway speaks, as far as the gateway itself needs them.

Translation between a protocol and phaseroute's request/response types lives in
`phaseroute.wire` (one place); this module only decides what the gateway does per protocol:
which headers to forward, whether a body asks for a stream, how a routed answer goes back
(the upstream's own bytes when it spoke the same protocol, else translated), how stream
events and errors are spelled, and how `/v1/models` looks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from phaseroute.errors import RequestError
from phaseroute.gateway._error_bodies import ClientProtocol, ErrorReply
from phaseroute.providers._base import CompletionRequest, NativeBody
from phaseroute.runtime import RoutedResponse
from phaseroute.wire import anthropic as wire_anthropic
from phaseroute.wire import openai as wire_openai
from phaseroute.wire._sse import AnthropicSse, OpenAISse

# Request headers a same-protocol upstream gets from the client, unchanged. Nothing else is
# forwarded: no Host, X-Forwarded-*, authorization or key can change where a call goes.
FORWARDED_HEADERS: dict[ClientProtocol, tuple[str, ...]] = {
    "anthropic": ("anthropic-beta", "anthropic-version"),
    "openai": (),
}

# The epoch the model listing reports (phases have no release date).
_LISTED_AT = "2025-01-01T00:00:00Z"


def dumps(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class ClientApi:
    """One client protocol."""

    protocol: ClientProtocol

    def request(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> CompletionRequest:
        """The request to route, carrying the client's own body and forwarded headers.

        It is translated by `phaseroute.wire` strictly where it can be (so a model of the
        other protocol gets everything or refuses); a body that only a same-protocol model
        can take (unknown fields, new block types) is marked `untranslatable` and still
        passes through to such models unchanged.
        """
        forwarded = {h: headers[h] for h in FORWARDED_HEADERS[self.protocol] if h in headers}
        read = (
            wire_anthropic.request_from_wire
            if self.protocol == "anthropic"
            else wire_openai.request_from_wire
        )
        why: str | None = None
        try:
            translated = read(body)
        except RequestError as strict_error:
            why = str(strict_error)
            try:
                translated = read(body, strict=False)
            except RequestError:
                translated = CompletionRequest(model="", messages=(), max_tokens=_limit(body))
        native = NativeBody(self.protocol, body, forwarded, untranslatable=why)
        return replace(translated, model="", native=native)

    def wants_stream(self, body: Mapping[str, Any]) -> bool:
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise RequestError(f"stream: expected true or false, got {stream!r}")
        return stream

    def response_body(self, routed: RoutedResponse) -> bytes:
        """The answer for the client: the upstream's own bytes when it spoke this protocol
        (a provider passes through only then), else translated by `phaseroute.wire`."""
        response = routed.response
        if response.native is not None:
            return response.native
        if self.protocol == "anthropic":
            return dumps(wire_anthropic.response_to_wire(response))
        return dumps(wire_openai.response_to_wire(response))

    def encoder(self, model: str, body: Mapping[str, Any]) -> AnthropicSse | OpenAISse:
        """The SSE writer for an answer that comes translated (or whole) to this client."""
        if self.protocol == "anthropic":
            return AnthropicSse(model)
        options = body.get("stream_options")
        include = isinstance(options, Mapping) and bool(options.get("include_usage"))
        return OpenAISse(model, include_usage=include)

    def error_event(self, reply: ErrorReply) -> bytes:
        """An error inside an SSE stream: the client's SDK raises it, never a clean end."""
        body = reply.body(self.protocol)
        if self.protocol == "anthropic":
            return b"event: error\ndata: " + body + b"\n\n"
        return b"data: " + body + b"\n\n"

    def models_body(self, names: Sequence[str], describe: Mapping[str, str]) -> bytes:
        """`GET /v1/models` in this protocol's shape; every phase and alias is a model."""
        if self.protocol == "anthropic":
            data = [
                {
                    "type": "model",
                    "id": name,
                    "display_name": describe.get(name, name),
                    "created_at": _LISTED_AT,
                }
                for name in names
            ]
            return dumps(
                {
                    "data": data,
                    "has_more": False,
                    "first_id": names[0] if names else None,
                    "last_id": names[-1] if names else None,
                }
            )
        return dumps(
            {
                "object": "list",
                "data": [
                    {"id": name, "object": "model", "created": 0, "owned_by": "phaseroute"}
                    for name in names
                ],
            }
        )


def _limit(body: Mapping[str, Any]) -> int:
    value = body.get("max_tokens", body.get("max_completion_tokens"))
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1024


ANTHROPIC = ClientApi("anthropic")
OPENAI = ClientApi("openai")


def listing_protocol(headers: Mapping[str, str]) -> ClientApi:
    """`/v1/models` is shared: Anthropic clients announce themselves with their headers."""
    if "anthropic-version" in headers or "x-api-key" in headers:
        return ANTHROPIC
    return OPENAI
