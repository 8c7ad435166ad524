"""The ``opusplan`` pattern as a small agent loop: the planning phase writes a numbered
plan, the execution phase carries out its steps one by one — calling tools when it is
given some. Every model call is an ordinary routed call, so each goes to the tier its phase
is routed to, with retries, escalation, accounting and (where the phase says so) audit.

The loop for one step: ask the execution phase (with the tools); while the answer asks for
tools, run each one (an exception becomes an error result the model sees), append the
answer and the results to the step's conversation and ask again; the answer that asks for
no tool is the step's result. An escalated turn is re-run on a higher tier with the same
conversation, tool calls and results included.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from phaseroute.errors import ValidationFailed
from phaseroute.providers._base import Message, ToolResultBlock, ToolSpec, ToolUseBlock
from phaseroute.runtime._result import RoutedResponse

if TYPE_CHECKING:
    from phaseroute.runtime._router import Router

PLAN_SYSTEM = (
    "Write a plan for the task as a numbered list, one step per line "
    '("1. ...", "2. ..."). Each step must be concrete enough to carry out on its own. '
    "Write only the plan."
)
EXECUTE_SYSTEM = (
    "You carry out one step of a plan. Answer with the result of that step only; "
    "earlier steps' results are given for context."
)
_STEP = re.compile(r"^\s*(?:step\s+)?(\d{1,3})\s*[.):\-]\s+(.+?)\s*$", re.IGNORECASE)


def parse_steps(plan_text: str) -> tuple[str, ...]:
    """The numbered steps of a plan (``1. ...``, ``2) ...``, ``Step 3: ...``), in order;
    unnumbered lines continue the step above them."""
    steps: list[str] = []
    for line in plan_text.splitlines():
        found = _STEP.match(line)
        if found:
            steps.append(found.group(2))
        elif steps and line.strip():
            steps[-1] = f"{steps[-1]} {line.strip()}"
    return tuple(steps)


ToolFunction = Callable[[Mapping[str, Any]], "str | Awaitable[str]"]


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool the execution phase may call: its spec (name, description, JSON-schema input)
    and the function that runs it on the model's arguments and returns text."""

    spec: ToolSpec
    run: ToolFunction


@dataclass(frozen=True, slots=True)
class ToolRun:
    """One tool call the loop carried out."""

    step: int  # 0-based step of the plan
    call: ToolUseBlock
    output: str
    is_error: bool


@dataclass(frozen=True, slots=True)
class PlanExecution:
    """A plan and the results of carrying out its steps."""

    plan: RoutedResponse
    steps: tuple[str, ...]
    results: tuple[RoutedResponse, ...]  # the final answer of each step, in order
    turns: tuple[tuple[RoutedResponse, ...], ...] = ()  # every call of each step
    tool_runs: tuple[ToolRun, ...] = ()

    @property
    def calls(self) -> tuple[RoutedResponse, ...]:
        """Every routed call made: the plan first, then each step's turns."""
        if not self.turns:
            return (self.plan, *self.results)
        return (self.plan, *(c for step in self.turns for c in step))

    @property
    def total_cost(self) -> Decimal | None:
        costs = [c.total_cost for c in self.calls]
        if any(c is None for c in costs):
            return None
        return sum((c for c in costs if c is not None), Decimal(0))


def _step_prompt(task: str, plan: str, steps: tuple[str, ...], i: int, done: list[str]) -> str:
    earlier = "\n\n".join(f"Result of step {n + 1}:\n{text}" for n, text in enumerate(done))
    parts = [f"Task:\n{task}", f"Plan:\n{plan}"]
    if earlier:
        parts.append(earlier)
    parts.append(f"Carry out step {i + 1} of {len(steps)}: {steps[i]}")
    return "\n\n".join(parts)


def _checked_steps(plan: RoutedResponse, max_steps: int) -> tuple[str, ...]:
    steps = parse_steps(plan.text)
    if not steps:
        raise ValidationFailed(
            f"{plan.decision.workflow}/{plan.decision.phase}: the plan from {plan.model!r} has "
            f"no numbered steps: {plan.text[:200]!r}"
        )
    if len(steps) > max_steps:
        raise ValidationFailed(
            f"{plan.decision.workflow}/{plan.decision.phase}: the plan has {len(steps)} steps, "
            f"more than max_steps={max_steps}"
        )
    return steps


class _Loop:
    """State of one plan/execute run (internal)."""

    def __init__(self, tools: Sequence[Tool], max_tool_turns: int) -> None:
        names = [t.spec.name for t in tools]
        if len(set(names)) != len(names):
            raise ValueError(f"tools: duplicate names in {names}")
        self.tools = {t.spec.name: t for t in tools}
        self.specs = tuple(t.spec for t in tools)
        self.max_tool_turns = max_tool_turns
        self.turns: list[tuple[RoutedResponse, ...]] = []
        self.runs: list[ToolRun] = []

    def unknown(self, call: ToolUseBlock) -> str | None:
        if call.name in self.tools:
            return None
        return f"no tool named {call.name!r} (tools: {', '.join(self.tools) or 'none'})"

    def record(self, step: int, call: ToolUseBlock, output: str, is_error: bool) -> ToolResultBlock:
        self.runs.append(ToolRun(step, call, output, is_error))
        return ToolResultBlock(call.id, output, is_error)

    def too_long(self, answer: RoutedResponse, turns: int) -> None:
        if turns >= self.max_tool_turns:
            raise ValidationFailed(
                f"{answer.decision.workflow}/{answer.decision.phase}: the step still asked for "
                f"tools after {turns} tool turns (max_tool_turns={self.max_tool_turns})"
            )


def _run_tool(loop: _Loop, step: int, call: ToolUseBlock) -> ToolResultBlock:
    problem = loop.unknown(call)
    if problem is not None:
        return loop.record(step, call, problem, True)
    try:
        output = loop.tools[call.name].run(call.input)
        if inspect.isawaitable(output):
            raise TypeError("an async tool function needs aplan_and_execute")
    except Exception as e:  # the model sees the failure and may try another way
        return loop.record(step, call, f"{type(e).__name__}: {e}", True)
    return loop.record(step, call, str(output), False)


async def _arun_tool(loop: _Loop, step: int, call: ToolUseBlock) -> ToolResultBlock:
    problem = loop.unknown(call)
    if problem is not None:
        return loop.record(step, call, problem, True)
    try:
        output = loop.tools[call.name].run(call.input)
        if inspect.isawaitable(output):
            output = await output
    except Exception as e:
        return loop.record(step, call, f"{type(e).__name__}: {e}", True)
    return loop.record(step, call, str(output), False)


def plan_and_execute(
    router: Router,
    workflow: str,
    task: str,
    *,
    planning_phase: str,
    execution_phase: str,
    tools: Sequence[Tool] = (),
    max_steps: int = 20,
    max_tool_turns: int = 8,
    max_tokens: int = 1024,
    case_id: str | None = None,
) -> PlanExecution:
    """Plan `task` in `planning_phase`, then run each step in `execution_phase`, calling
    `tools` as the model asks (at most `max_tool_turns` tool turns per step)."""
    router.decide(workflow, execution_phase)  # fail on a bad phase before paying for a plan
    loop = _Loop(tools, max_tool_turns)
    plan = router.complete(
        workflow,
        planning_phase,
        [{"role": "user", "content": task}],
        system=PLAN_SYSTEM,
        max_tokens=max_tokens,
        case_id=case_id,
    )
    steps = _checked_steps(plan, max_steps)
    results: list[RoutedResponse] = []
    for i in range(len(steps)):
        prompt = _step_prompt(task, plan.text, steps, i, [r.text for r in results])
        conversation: list[Message] = [Message("user", prompt)]
        step_calls: list[RoutedResponse] = []
        while True:
            answer = router.complete(
                workflow,
                execution_phase,
                conversation,
                system=EXECUTE_SYSTEM,
                max_tokens=max_tokens,
                case_id=case_id,
                tools=loop.specs,
            )
            step_calls.append(answer)
            if not answer.tool_calls or answer.stop_reason != "tool_use":
                break
            loop.too_long(answer, len(step_calls))
            done = tuple(_run_tool(loop, i, c) for c in answer.tool_calls)
            conversation += [answer.message(), Message("user", done)]
        loop.turns.append(tuple(step_calls))
        results.append(answer)
    return PlanExecution(plan, steps, tuple(results), tuple(loop.turns), tuple(loop.runs))


async def aplan_and_execute(
    router: Router,
    workflow: str,
    task: str,
    *,
    planning_phase: str,
    execution_phase: str,
    tools: Sequence[Tool] = (),
    max_steps: int = 20,
    max_tool_turns: int = 8,
    max_tokens: int = 1024,
    case_id: str | None = None,
) -> PlanExecution:
    """The async twin of `plan_and_execute` (steps still run in order: each sees the last;
    a tool's function may be async)."""
    router.decide(workflow, execution_phase)
    loop = _Loop(tools, max_tool_turns)
    plan = await router.acomplete(
        workflow,
        planning_phase,
        [{"role": "user", "content": task}],
        system=PLAN_SYSTEM,
        max_tokens=max_tokens,
        case_id=case_id,
    )
    steps = _checked_steps(plan, max_steps)
    results: list[RoutedResponse] = []
    for i in range(len(steps)):
        prompt = _step_prompt(task, plan.text, steps, i, [r.text for r in results])
        conversation: list[Message] = [Message("user", prompt)]
        step_calls: list[RoutedResponse] = []
        while True:
            answer = await router.acomplete(
                workflow,
                execution_phase,
                conversation,
                system=EXECUTE_SYSTEM,
                max_tokens=max_tokens,
                case_id=case_id,
                tools=loop.specs,
            )
            step_calls.append(answer)
            if not answer.tool_calls or answer.stop_reason != "tool_use":
                break
            loop.too_long(answer, len(step_calls))
            done = tuple([await _arun_tool(loop, i, c) for c in answer.tool_calls])
            conversation += [answer.message(), Message("user", done)]
        loop.turns.append(tuple(step_calls))
        results.append(answer)
    return PlanExecution(plan, steps, tuple(results), tuple(loop.turns), tuple(loop.runs))
