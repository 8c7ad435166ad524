"""Protocol translation cost per call: phaseroute.wire against the SDK's own parsing.

A provider reads every answer twice: the SDK parses the JSON into its model (the
baseline, paid by any SDK user), then phaseroute reads that model's ``model_dump()`` into
its own response (the cost measured here). Also the request side: the internal request
written as an SDK body. Medians of several rounds, on a text answer and on an answer with
two tool calls, in the same run.

    python bench/bench_wire.py [--calls 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from anthropic.types import Message as AnthropicMessage
from openai.types.chat import ChatCompletion

from phaseroute.providers import CompletionRequest, Message, ToolResultBlock, ToolSpec, ToolUseBlock
from phaseroute.wire import anthropic as anthropic_wire
from phaseroute.wire import openai as openai_wire

USAGE = {"input_tokens": 1200, "output_tokens": 80, "cache_read_input_tokens": 900,
         "cache_creation_input_tokens": 0}  # fmt: skip
TEXT = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
        "content": [{"type": "text", "text": "The alert meets the threshold. " * 8}],
        "stop_reason": "end_turn", "stop_sequence": None, "usage": USAGE}  # fmt: skip
TOOLS = {**TEXT, "stop_reason": "tool_use", "content": [
    {"type": "text", "text": "Checking both."},
    {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"id": "C-17"}},
    {"type": "tool_use", "id": "t2", "name": "sanctions", "input": {"name": "Ada Lovelace"}},
]}  # fmt: skip
# fmt: off
CHAT = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": None, "message": {
            "role": "assistant", "content": "Checking.", "refusal": None, "tool_calls": [
                {"id": "c1", "type": "function",
                 "function": {"name": "lookup", "arguments": '{"id":"C-17"}'}},
                {"id": "c2", "type": "function",
                 "function": {"name": "sanctions", "arguments": '{"name":"Ada"}'}},
            ]}}],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 80, "total_tokens": 1280,
                  "prompt_tokens_details": {"cached_tokens": 900}}}
# fmt: on
REQUEST = CompletionRequest(
    model="m",
    system="You screen AML alerts.",
    messages=(
        Message("user", "Screen case 17."),
        Message("assistant", (ToolUseBlock("t1", "lookup", {"id": "C-17"}),)),
        Message("user", (ToolResultBlock("t1", '{"risk": "low"}'),)),
    ),
    tools=(ToolSpec("lookup", {"type": "object", "properties": {"id": {"type": "string"}}}),),
)


def per_call_us(fn: Callable[[], Any], calls: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n, r = args.calls, args.rounds
    print(f"per call, median of {r} rounds of {n:,} calls (µs)")
    print(f"{'case':46} {'SDK parse':>10} {'wire':>8} {'ratio':>7}")
    for name, data, sdk, read in (
        ("Anthropic text answer", TEXT, AnthropicMessage, anthropic_wire.response_from_wire),
        (
            "Anthropic answer with 2 tool calls",
            TOOLS,
            AnthropicMessage,
            anthropic_wire.response_from_wire,
        ),
        ("OpenAI answer with 2 tool calls", CHAT, ChatCompletion, openai_wire.response_from_wire),
    ):
        parsed = sdk.model_validate(data)
        base = per_call_us(lambda d=data, s=sdk: s.model_validate(d), n, r)  # type: ignore[misc]
        ours = per_call_us(lambda p=parsed, f=read: f(p.model_dump()), n, r)  # type: ignore[misc]
        print(f"{name:46} {base:10.1f} {ours:8.1f} {ours / base:7.2f}")
    for name, write in (
        ("request with tool history -> Anthropic body", anthropic_wire.request_to_wire),
        ("request with tool history -> OpenAI body", openai_wire.request_to_wire),
    ):
        print(f"{name:46} {'':>10} {per_call_us(lambda w=write: w(REQUEST), n, r):8.1f}")  # type: ignore[misc]


if __name__ == "__main__":
    main()
