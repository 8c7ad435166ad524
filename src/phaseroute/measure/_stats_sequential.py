"""Sequential non-inferiority: feed paired items in batches, stop as soon as the answer is clear.

The bounds come from an anytime-valid betting confidence sequence (`_stats_betting.py`), so
asking "decided yet?" after every batch, and stopping whenever the answer is yes, keeps the
error of a wrong non-inferiority claim at ``alpha`` with no correction for the looks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from phaseroute.errors import Problem, RequestError
from phaseroute.measure._stats_betting import BettingConfidenceSequence, BoolArray, FloatArray
from phaseroute.measure._stats_intervals import sign_test
from phaseroute.measure._stats_verdict import (
    SUSPICIOUS_ALPHA,
    SUSPICIOUS_GAP,
    Decision,
    GapEstimate,
    NonInferiority,
    check_settings,
    conclude,
    paired_differences,
)

FUTILITY_FROM = 0.2  # never stop for futility before a fifth of max_items
FUTILITY_SHIFT = 0.5  # optimism of the futility projection, in current half-widths
IntArray = NDArray[np.int64]
METHOD = "betting confidence sequence (anytime-valid, Waudby-Smith & Ramdas 2023)"


class SequentialComparison:
    """Anytime-valid paired non-inferiority test of one candidate against the reference.

    ``decided`` turns true (and stays true) at the first item, once ``min_items`` are in,
    where the bounds put the gap clearly below or above the margin and — when the candidate
    leads — the suspicious-phase question is settled too. Given ``max_items`` (the dataset
    size) it also turns true, with an *inconclusive* verdict, once even all ``max_items``
    would likely leave the answer open (futility). ``finished`` adds reaching ``max_items``.
    """

    def __init__(
        self,
        *,
        margin: float,
        alpha: float = 0.05,
        min_items: int = 20,
        max_items: int | None = None,
        suspicious_alpha: float = SUSPICIOUS_ALPHA,
        suspicious_gap: float = SUSPICIOUS_GAP,
    ) -> None:
        check_settings(margin, alpha)
        if min_items < 1 or (max_items is not None and max_items < min_items):
            raise RequestError(
                [
                    Problem(
                        f"min_items {min_items} / max_items {max_items} are inconsistent",
                        fix="use 1 <= min_items <= max_items",
                    )
                ]
            )
        self.margin = margin
        self.alpha = alpha
        self.min_items = min_items
        self.max_items = max_items
        self._suspicious_alpha = suspicious_alpha
        self._suspicious_gap = suspicious_gap
        self._cs = BettingConfidenceSequence(
            alpha=alpha, pinned=(margin, -margin, -suspicious_gap, suspicious_gap)
        )
        self._reference: list[FloatArray] = []
        self._candidate: list[FloatArray] = []
        self._n = 0
        self._ref_sum = 0.0
        self._cand_sum = 0.0
        self._ref_better = 0
        self._cand_better = 0
        self._decision: Decision | None = None
        self._decided_at: int | None = None

    # ------------------------------------------------------------------ feeding

    def add(self, reference: float, candidate: float) -> None:
        """Add one paired item."""
        self.extend([reference], [candidate])

    def extend(self, reference: Sequence[float], candidate: Sequence[float]) -> None:
        """Add a batch of paired items (in the order they were drawn)."""
        ref, cand = paired_differences(reference, candidate)
        if ref.size == 0:
            return
        diffs = ref - cand
        self._cs.extend(diffs)
        self._reference.append(ref)
        self._candidate.append(cand)
        start = self._n
        if self._decision is None:
            self._find_decision(ref, cand, diffs, start)
        self._n += ref.size
        self._ref_sum += float(ref.sum())
        self._cand_sum += float(cand.sum())
        self._ref_better += int(np.count_nonzero(diffs > 0))
        self._cand_better += int(np.count_nonzero(diffs < 0))

    def _find_decision(
        self, ref: FloatArray, cand: FloatArray, diffs: FloatArray, start: int
    ) -> None:
        """Find the first item of this batch at which the decision became clear, if any."""
        counts = start + np.arange(1, diffs.size + 1)
        ref_better = self._ref_better + np.cumsum(diffs > 0)
        cand_better = self._cand_better + np.cumsum(diffs < 0)
        gaps = (self._ref_sum + np.cumsum(ref) - self._cand_sum - np.cumsum(cand)) / counts
        lowers, uppers = self._cs.bounds_history()
        clear = (lowers >= self.margin) | (uppers <= self.margin)
        if self.max_items is not None:
            clear |= self._futile(counts, gaps, lowers, uppers)
        clear &= counts >= self.min_items
        for offset in np.flatnonzero(clear):
            lower, upper = float(lowers[offset]), float(uppers[offset])
            decision: Decision = "inconclusive"
            if lower >= self.margin:
                decision = "inferior"
            elif upper <= self.margin:
                decision = "non_inferior"
            if decision == "non_inferior" and lower <= -self._suspicious_gap:
                # the candidate may lead by a suspicious amount: settle that before stopping
                flagged = -gaps[offset] >= self._suspicious_gap and (
                    sign_test(int(ref_better[offset]), int(cand_better[offset]))
                    < self._suspicious_alpha
                )
                if not flagged:
                    continue
            self._decision = decision
            self._decided_at = int(counts[offset])
            return

    def _futile(
        self, counts: IntArray, gaps: FloatArray, lowers: FloatArray, uppers: FloatArray
    ) -> BoolArray:
        """Per item: would even ``max_items`` items likely leave the answer open?

        Non-binding futility: projects the current half-widths to ``max_items`` (they shrink
        like ``1/sqrt(n)``) around a gap moved half a half-width towards each possible
        decision. Stopping for futility only ever keeps the top tier, so it cannot raise the
        risk of routing cheap.
        """
        assert self.max_items is not None
        shrink = np.sqrt(counts / self.max_items)
        up, down = uppers - gaps, gaps - lowers
        can_be_inferior = gaps + FUTILITY_SHIFT * up - down * shrink >= self.margin
        can_be_non_inferior = gaps - FUTILITY_SHIFT * down + up * shrink <= self.margin
        eligible = (counts >= FUTILITY_FROM * self.max_items) & (counts < self.max_items)
        futile: BoolArray = eligible & ~(can_be_inferior | can_be_non_inferior)
        return futile

    # ------------------------------------------------------------------ reading

    @property
    def n(self) -> int:
        """Items added so far."""
        return self._n

    @property
    def decided(self) -> bool:
        """True once the answer is settled (possibly "inconclusive"): stop feeding items."""
        return self._decision is not None

    @property
    def decided_at(self) -> int | None:
        """The number of items at which the decision became clear (None while undecided)."""
        return self._decided_at

    @property
    def finished(self) -> bool:
        """True when decided or when ``max_items`` items have been added."""
        return self.decided or (self.max_items is not None and self._n >= self.max_items)

    def result(self) -> NonInferiority:
        """The verdict on every item added so far (the decision is the one first reached)."""
        if self._n == 0:
            raise RequestError(
                [Problem("no items added yet", fix="call add() or extend() before result()")]
            )
        diffs = np.concatenate(self._reference) - np.concatenate(self._candidate)
        estimate = GapEstimate(
            n=self._n,
            reference_mean=self._ref_sum / self._n,
            candidate_mean=self._cand_sum / self._n,
            gap=float(diffs.mean()),
            lower=self._cs.lower(),
            upper=self._cs.upper(),
            method=METHOD,
            level=1.0 - 2.0 * self.alpha,
        )
        decision = self._decision
        note = ""
        if decision == "inconclusive":
            note = (
                f"; stopped after {self._decided_at} items as even {self.max_items} would "
                f"likely not settle it"
            )
        elif decision is not None:
            note = f"; clear after {self._decided_at} items"
        elif self._n < self.min_items:
            decision = "inconclusive"
            note = f"; fewer than the {self.min_items} items required before deciding"
        return conclude(
            estimate,
            margin=self.margin,
            alpha=self.alpha,
            p_value=self._cs.p_value_at_least(self.margin),
            differences=diffs,
            decision=decision,
            stopped_early=self._decision is not None
            and (self.max_items is None or self._n < self.max_items),
            suspicious_alpha=self._suspicious_alpha,
            suspicious_gap=self._suspicious_gap,
            note=note,
        )
