"""Scoring one shadow pair with the phase's own `quality` section.

A live call has no answer key. In order of preference the pair is scored:
1. by the recorded scores of both answers (the replay provider; normalised to 0..1);
2. by the phase's scorer against the `expected` / `label` the caller put in the call's
   metadata (or, for scorers that need none — regex, JSON schema — on each answer alone);
3. with ``shadow.reference: top_tier``, the routed answer against the top tier's answer
   (the top answer scores 1 by definition).
Otherwise the pair cannot be scored and is counted, not compared. A judge scorer grades
each answer on its own (two more top-tier calls per pair, booked as shadow spend).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from phaseroute.errors import Problem
from phaseroute.measure._dataset import LabelledItem
from phaseroute.measure._scorers import LabelMatch, ModelCaller, Scorer, build_scorer
from phaseroute.policy._schema import PhaseConfig
from phaseroute.providers._base import CompletionRequest, CompletionResponse

Normalise = Callable[[CompletionResponse], float | None]


@dataclass(frozen=True, slots=True)
class PairScore:
    routed: float
    top: float
    scored_by: str


def _unlocated(path: tuple[str, ...], message: str, fix: str) -> Problem:
    return Problem(message, path=".".join(path) or None, fix=fix)


class PairScorer:
    """Scores shadow pairs of one phase."""

    def __init__(
        self,
        phase: PhaseConfig,
        normalise: Normalise,
        *,
        judge: ModelCaller | None = None,
        judge_model: tuple[str, str] | None = None,
    ) -> None:
        assert phase.shadow is not None
        self._reference = phase.shadow.reference
        self._normalise = normalise
        self._scorer: Scorer = build_scorer(
            phase.quality,
            where=_unlocated,
            caller=judge,
            judge_model=judge_model,
            purpose="shadow judge",
        )

    def score(
        self, request: CompletionRequest, routed: CompletionResponse, top: CompletionResponse
    ) -> PairScore | None:
        r, t = self._normalise(routed), self._normalise(top)
        if r is not None and t is not None:
            return PairScore(r, t, "recorded scores")
        scorer = self._scorer
        expected = request.metadata.get("expected")
        label = request.metadata.get("label")
        item = LabelledItem("live", request.messages, None, expected, label)
        if scorer.requirement(item) is None:
            how = "answer key in the call's metadata" if expected or label else "answers alone"
            return PairScore(
                scorer.score(item, routed.text).value,
                scorer.score(item, top.text).value,
                f"{type(scorer).__name__} on the {how}",
            )
        if self._reference != "top_tier":
            return None
        if isinstance(scorer, LabelMatch):
            predicted, _ = scorer.predict(top.text)
            item = LabelledItem("live", request.messages, None, None, predicted)
        else:
            item = LabelledItem("live", request.messages, None, top.text, None)
        if scorer.requirement(item) is not None:
            return None
        return PairScore(
            scorer.score(item, routed.text).value, 1.0, "agreement with the top tier's answer"
        )
