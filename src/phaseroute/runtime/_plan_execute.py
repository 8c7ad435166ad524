"""The ``opusplan`` pattern as a helper: the planning phase writes a numbered plan, the
execution phase carries out its steps one by one. Both are ordinary routed calls, so each
goes to the tier its phase is routed to, with retries, accounting and audit as usual."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from phaseroute.errors import ValidationFailed
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


@dataclass(frozen=True, slots=True)
class PlanExecution:
    """A plan and the results of carrying out its steps."""

    plan: RoutedResponse
    steps: tuple[str, ...]
    results: tuple[RoutedResponse, ...]  # one per step, in order

    @property
    def calls(self) -> tuple[RoutedResponse, ...]:
        """Every routed call made: the plan first."""
        return (self.plan, *self.results)

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


def plan_and_execute(
    router: Router,
    workflow: str,
    task: str,
    *,
    planning_phase: str,
    execution_phase: str,
    max_steps: int = 20,
    max_tokens: int = 1024,
    case_id: str | None = None,
) -> PlanExecution:
    """Plan `task` in `planning_phase`, then run each step in `execution_phase`."""
    router.decide(workflow, execution_phase)  # fail on a bad phase before paying for a plan
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
        results.append(
            router.complete(
                workflow,
                execution_phase,
                [{"role": "user", "content": prompt}],
                system=EXECUTE_SYSTEM,
                max_tokens=max_tokens,
                case_id=case_id,
            )
        )
    return PlanExecution(plan, steps, tuple(results))


async def aplan_and_execute(
    router: Router,
    workflow: str,
    task: str,
    *,
    planning_phase: str,
    execution_phase: str,
    max_steps: int = 20,
    max_tokens: int = 1024,
    case_id: str | None = None,
) -> PlanExecution:
    """The async twin of `plan_and_execute` (steps still run in order: each sees the last)."""
    router.decide(workflow, execution_phase)
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
        results.append(
            await router.acomplete(
                workflow,
                execution_phase,
                [{"role": "user", "content": prompt}],
                system=EXECUTE_SYSTEM,
                max_tokens=max_tokens,
                case_id=case_id,
            )
        )
    return PlanExecution(plan, steps, tuple(results))
