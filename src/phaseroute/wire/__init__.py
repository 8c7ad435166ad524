"""Protocol translation, in one place: the Anthropic Messages and OpenAI Chat Completions
wire formats to and from phaseroute's internal `CompletionRequest` / `CompletionResponse`.

Each protocol module has ``request_from_wire`` (strict: an unknown or untranslatable field
is a `RequestError` naming its JSON path and the fix), ``request_to_wire`` (the body a
provider sends; what the protocol cannot express is a `RequestError` before any call),
``response_from_wire`` (from the SDK's ``model_dump()``) and ``response_to_wire``.
"""

from __future__ import annotations

from phaseroute.wire import anthropic, openai

__all__ = ["anthropic", "openai"]
