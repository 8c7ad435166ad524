"""A local upstream that speaks the real Anthropic Messages and OpenAI Chat Completions APIs.

Start it in a test, point an official SDK (or a phaseroute provider) at it, and program
per model what it answers: text, the model name it reports, scripted errors, random faults,
hangs, cut-off streams and errors inside HTTP 200 streams — with the real bodies and headers.

    with Upstream(seed=1) as up:
        up.program("claude-x", served_as="claude-x-20250101", script=(Outcome.rate_limited(2),))
        client = anthropic.Anthropic(base_url=up.base_url, api_key="k", max_retries=0)
"""

from phaseroute.testing.upstream._script import (
    ModelBehaviour,
    Outcome,
    OutcomeKind,
    Reply,
    ToolCall,
    ToolResult,
    Turn,
    UpstreamRequest,
    default_reply,
    http_date,
)
from phaseroute.testing.upstream._server import Upstream

__all__ = [
    "ModelBehaviour",
    "Outcome",
    "OutcomeKind",
    "Reply",
    "ToolCall",
    "ToolResult",
    "Turn",
    "Upstream",
    "UpstreamRequest",
    "default_reply",
    "http_date",
]
