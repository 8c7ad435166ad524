"""Model providers behind one small protocol: Anthropic, any OpenAI-compatible endpoint, replay.

Providers know nothing about policies, phases or tiers (they never import the policy): each
is built from plain arguments and a resolved API key, turns a `CompletionRequest` into a
`CompletionResponse` or a stream, and maps its SDK's errors onto `phaseroute.errors`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from phaseroute.providers._base import (
    STOP_REASONS,
    Base64Source,
    CacheControl,
    CompletionRequest,
    CompletionResponse,
    ContentBlock,
    DocumentBlock,
    ImageBlock,
    Message,
    NativeBody,
    PlainTextSource,
    Provider,
    RedactedThinkingBlock,
    Role,
    StopReason,
    StreamEnd,
    StreamEvent,
    TextBlock,
    TextDelta,
    ThinkingBlock,
    ThinkingConfig,
    ThinkingDelta,
    ToolCallDelta,
    ToolChoice,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    UrlSource,
    Usage,
    WireProtocol,
)
from phaseroute.providers._batch import BatchAPI, BatchItem, BatchItemResult, BatchStatus
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
    "STOP_REASONS",
    "AnthropicProvider",
    "Base64Source",
    "BatchAPI",
    "BatchItem",
    "BatchItemResult",
    "BatchStatus",
    "CacheControl",
    "CompletionRequest",
    "CompletionResponse",
    "ContentBlock",
    "DocumentBlock",
    "ImageBlock",
    "Message",
    "NativeBody",
    "OpenAICompatProvider",
    "PlainTextSource",
    "Provider",
    "RedactedThinkingBlock",
    "ReplayProvider",
    "Role",
    "StopReason",
    "StreamEnd",
    "StreamEvent",
    "TextBlock",
    "TextDelta",
    "ThinkingBlock",
    "ThinkingConfig",
    "ThinkingDelta",
    "ToolCallDelta",
    "ToolChoice",
    "ToolResultBlock",
    "ToolSpec",
    "ToolUseBlock",
    "UrlSource",
    "Usage",
    "WireProtocol",
    "approximate_tokens",
    "parse_retry_after",
    "resolve_secret",
]
