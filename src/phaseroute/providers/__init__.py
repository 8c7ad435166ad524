"""Model providers behind one small protocol: Anthropic, any OpenAI-compatible endpoint, replay.

Providers know nothing about policies, phases or tiers (they never import the policy): each
is built from plain arguments and a resolved API key, turns a `CompletionRequest` into a
`CompletionResponse` or a stream, and maps its SDK's errors onto `phaseroute.errors`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from phaseroute.providers._base import (
    CompletionRequest,
    CompletionResponse,
    Message,
    Provider,
    Role,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Usage,
)
from phaseroute.providers._replay import SCORE_ONLY_TEXT, ReplayProvider
from phaseroute.providers._retry_after import parse_retry_after
from phaseroute.providers._secrets import resolve_secret
from phaseroute.providers._tokens import approximate_tokens

if TYPE_CHECKING:
    from phaseroute.providers._anthropic import AnthropicProvider
    from phaseroute.providers._openai import OpenAICompatProvider

# The SDK-backed providers load on first use: importing the official SDKs costs seconds,
# which `phaseroute explain` and the replay demo should not pay.
_LAZY = {
    "AnthropicProvider": "phaseroute.providers._anthropic",
    "OpenAICompatProvider": "phaseroute.providers._openai",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SCORE_ONLY_TEXT",
    "AnthropicProvider",
    "CompletionRequest",
    "CompletionResponse",
    "Message",
    "OpenAICompatProvider",
    "Provider",
    "ReplayProvider",
    "Role",
    "StreamEnd",
    "StreamEvent",
    "TextDelta",
    "Usage",
    "approximate_tokens",
    "parse_retry_after",
    "resolve_secret",
]
