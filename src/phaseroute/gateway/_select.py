"""Which phase a gateway request is for: the model name, the phaseroute headers, or an alias.

In order: the headers `x-phaseroute-workflow` and `x-phaseroute-phase` (both, or neither);
a model named `WORKFLOW/PHASE`; the policy's `aliases` over a client's own model names (an
exact alias first, else the first matching glob in the policy's order). Anything else is a
404 listing the names that work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from phaseroute.errors import ModelNotFound, RequestError
from phaseroute.policy import RoutingPlan

WORKFLOW_HEADER = "x-phaseroute-workflow"
PHASE_HEADER = "x-phaseroute-phase"
CASE_HEADER = "x-phaseroute-case"


@dataclass(frozen=True, slots=True)
class Target:
    """The phase a request is routed as, and how it was chosen."""

    workflow: str
    phase: str
    via: str  # "header" | "model" | "alias"

    @property
    def name(self) -> str:
        return f"{self.workflow}/{self.phase}"


class PhaseSelector:
    """Resolves requests to phases for one compiled plan (immutable; rebuilt on reload)."""

    def __init__(self, plan: RoutingPlan) -> None:
        self.phases: tuple[str, ...] = tuple(f"{d.workflow}/{d.phase}" for d in plan)
        self._known = frozenset(self.phases)
        self.aliases: tuple[tuple[str, str], ...] = tuple(plan.policy.aliases.items())
        # Exact alias names resolve with one dict lookup; only globs are matched in turn.
        self._exact = {p: t for p, t in self.aliases if not any(c in p for c in "*?[")}

    @property
    def names(self) -> tuple[str, ...]:
        """Every model name a client may send: the phases, then the aliases."""
        return (*self.phases, *(pattern for pattern, _ in self.aliases))

    def _target(self, name: str, via: str) -> Target:
        workflow, phase = name.split("/", 1)
        return Target(workflow, phase, via)

    def resolve_model(self, model: str) -> Target | None:
        """The phase a model name means, or None."""
        if model in self._known:
            return self._target(model, "model")
        exact = self._exact.get(model)
        if exact is not None:
            return self._target(exact, "alias")
        for pattern, target in self.aliases:
            if fnmatchcase(model, pattern):
                return self._target(target, "alias")
        return None

    def select(self, model: object, headers: Mapping[str, str]) -> Target:
        """The request's phase; `ModelNotFound` (404) or `RequestError` (400) otherwise."""
        workflow = headers.get(WORKFLOW_HEADER)
        phase = headers.get(PHASE_HEADER)
        if workflow is not None or phase is not None:
            if not workflow or not phase:
                raise RequestError(
                    f"send both {WORKFLOW_HEADER} and {PHASE_HEADER}, or neither "
                    "(then the model name chooses the phase)"
                )
            name = f"{workflow}/{phase}"
            if name not in self._known:
                raise ModelNotFound(self._unknown(f"headers name phase {name!r}"))
            return self._target(name, "header")
        if not isinstance(model, str) or not model:
            raise RequestError(
                "model: missing — name a phase as WORKFLOW/PHASE (one of: "
                f"{', '.join(self.names)}) or send the {WORKFLOW_HEADER}/{PHASE_HEADER} headers"
            )
        found = self.resolve_model(model)
        if found is None:
            raise ModelNotFound(self._unknown(f"model {model!r}"))
        return found

    def _unknown(self, what: str) -> str:
        return (
            f"{what} is not served by this gateway: it names no phase of the policy and "
            f"matches no alias. Use one of: {', '.join(self.names)}"
        )
