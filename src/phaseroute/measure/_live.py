"""Live measurement: ask the compared models through the router, score their answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from phaseroute.measure._dataset import LabelledItem
from phaseroute.measure._scorers import ModelCaller, Score, Scorer
from phaseroute.policy._plan import RoutingPlan
from phaseroute.providers._base import CompletionRequest, CompletionResponse

if TYPE_CHECKING:  # the runtime is only needed for live calls, not for replay
    from phaseroute.runtime import Router

MEASURE_WORKFLOW = "measure"  # the ledger's workflow for measurement calls


class RouterCaller:
    """Direct calls of catalogue models through the router: retried and accounted.

    Calls are booked in the ledger under workflow ``measure`` and the purpose as phase
    (e.g. ``aml/screening``, ``aml/screening:judge``), apart from production traffic.
    """

    def __init__(self, router: Router) -> None:
        self.router = router

    def call_model(
        self, model_name: str, request: CompletionRequest, *, purpose: str
    ) -> CompletionResponse:
        routed = self.router.call_model(
            model_name, request, workflow=MEASURE_WORKFLOW, phase=purpose
        )
        return routed.response


class BatchRouterCaller(RouterCaller):
    """`RouterCaller` whose `call_many` sends a look's requests to one model as one batch
    (provider batch API, batch prices) and waits for it; what the batch cannot answer is
    called live. `poll_s` is the wait between status reads."""

    def __init__(self, router: Router, *, poll_s: float = 30.0) -> None:
        super().__init__(router)
        self.poll_s = poll_s

    def call_many(
        self, model_name: str, requests: Sequence[CompletionRequest], *, purpose: str
    ) -> list[CompletionResponse]:
        routed = self.router.call_model_batch(
            model_name, requests, workflow=MEASURE_WORKFLOW, phase=purpose, poll_s=self.poll_s
        )
        return [r.response for r in routed]


class LiveSource:
    """Scores of live answers on a phase's labelled items, computed once per model and item.

    `scored` keeps every (model, item) `Score` with its reason, for the report.
    """

    def __init__(
        self,
        items: Sequence[LabelledItem],
        scorer: Scorer,
        caller: ModelCaller,
        plan: RoutingPlan,
        *,
        purpose: str,
        max_tokens: int = 1024,
    ) -> None:
        self.items = tuple(items)
        self.scorer = scorer
        self.caller = caller
        self.plan = plan
        self.purpose = purpose
        self.max_tokens = max_tokens
        self.scored: dict[tuple[str, int], Score] = {}

    @property
    def size(self) -> int:
        return len(self.items)

    @property
    def binary(self) -> bool:
        return all(s.value in (0.0, 1.0) for s in self.scored.values())

    def request(self, model: str, item: LabelledItem) -> CompletionRequest:
        return CompletionRequest(
            model=self.plan.models[model].model_id,
            messages=item.messages,
            system=item.system,
            max_tokens=self.max_tokens,
            temperature=0.0,
            metadata={"item": item.item},
        )

    def scores(self, model: str, indices: Sequence[int]) -> list[float]:
        missing = [i for i in dict.fromkeys(indices) if (model, i) not in self.scored]
        many = getattr(self.caller, "call_many", None)
        if many is not None and len(missing) > 1:
            requests = [self.request(model, self.items[i]) for i in missing]
            answers = many(model, requests, purpose=self.purpose)
            for i, answer in zip(missing, answers, strict=True):
                self.scored[(model, i)] = self.scorer.score(self.items[i], answer.text)
        out = []
        for i in indices:
            key = (model, i)
            if key not in self.scored:
                item = self.items[i]
                answer = self.caller.call_model(
                    model, self.request(model, item), purpose=self.purpose
                )
                self.scored[key] = self.scorer.score(item, answer.text)
            out.append(self.scored[key].value)
        return out
