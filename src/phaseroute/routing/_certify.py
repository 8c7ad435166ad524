"""A certified routing threshold: Learn-then-Test with fixed-sequence testing.

Angelopoulos, Bates, Candès, Jordan & Lei (2021), "Learn then Test: Calibrating predictive
algorithms to achieve risk control". The router sends an item to the cheapest candidate whose
predicted probability of doing as well as the top tier is at least λ; lower λ sends more
items cheap. On certification items the predictor never saw, each λ of a fixed grid is
tested in turn, from the most conservative (λ above 1: every item on the top tier) down, for
the null "at λ the phase loses more than ε of the top tier's quality". Testing stops at the
first λ whose null is not rejected at level δ; the last rejected λ is certified. Fixed-
sequence testing needs no multiplicity correction, so

    P( quality loss of the phase at the certified λ > ε ) ≤ δ

over the draw of the certification items — provided they and the phase's future items are
exchangeable (drawn from one distribution) and the predictor and the grid were fixed without
looking at them.

**Quality loss** is relative to the top tier, on scores normalised to 0..1 (any recorded
scale is min–max mapped first): ``1 − E[s_routed] / E[s_top]``, where an item kept on the top
tier scores ``s_top`` and an item routed to model m scores ``s_m``. It is what a benchmark's
"quality ratio" measures (routed score ÷ top-tier score), so ε = 0.05 is a 95% floor. It is
the mean of one bounded number per item, ``X = (1 − ε)·s_top − s_routed`` in [−1, 1]: the
loss exceeds ε exactly when E[X] > 0. For recall on positives, the items are the positives.

**The p-value** for "E[X] ≥ 0" is a betting one (Waudby-Smith & Ramdas 2023, JRSS-B 86(1)):
a gambler starting with wealth 1 bets against the null on each item in a seeded order,
``K_t = Π (1 − λ_t X_i)``, with the *predictable plug-in* bet of that paper sized for the
number of items at hand, ``λ_t = min(1/2, √(2·log(1/δ) / (n·σ̂²_{t−1})))`` (σ̂² the running
variance of the items before t, prior 1/4). Under the null K is a non-negative
supermartingale, so by Ville's inequality ``p = 1 / max_t K_t`` is a valid p-value. It adapts
to the variance of X (most items lose nothing), which is what lets a few thousand items
certify a useful threshold; signed scores are used as they are, so an item on which the
cheaper answer scored better counts in its favour.

Why a bet sized for n rather than the growth-rate-greedy one (aGRAPA, ``−μ̂/σ̂²`` up to 0.9):
the greedy bet stakes most of the wealth after a few lucky items, so its p-value is decided
by the first few dozen items of the seeded order. It is valid, but when it errs it errs far —
on MMLU it certified thresholds whose loss on the certification items was 6–12% at ε = 5% —
and the certified saving varied twice as much between splits. The n-sized bet makes every
item count about equally and errs, when it does, just above ε.

**The loss of the next m calls** (`Window`). The certificate above bounds the *expected*
loss; the loss realised over a given batch of m future calls scatters around it, and with the
expected loss just under ε a batch exceeds ε now and then although the certificate is right.
With a window, the guarantee is about the batch itself,

    P( the realised relative loss over the next m calls > ε ) ≤ δ,

for m future calls drawn independently from the certification items' distribution. δ is
split: δ₁ = δ/2 for the test, δ₂ = δ/2 for the batch. By Bernstein's inequality (X − μ ≤ 2,
variance σ² ≤ E[X²] = s₂), a batch mean exceeds 0 with probability at most δ₂ once
``−μ ≥ √(2 s₂ L/m) + 4L/(3m)``, L = log(1/δ₂); and since ``√(2 s₂ L/m) ≤ κ s₂ + L/(2κm)``
for every κ > 0, it suffices that ``E[X + κX²] ≤ −c`` with ``c = L/(2κm) + 4L/(3m)`` — the
mean of one bounded number per item again, tested exactly as above (rescaled to [−1, 1]).
κ is set per threshold before the certification items are read, from the fit items' E[X²]
(κ = √(L/(2m·s₂)), where the two sides balance); a poor guess only costs tightness. If the
test's null is false at the certified λ, the batch fails with probability ≤ δ₂, and the test
errs with probability ≤ δ₁. The price is the batch's own sampling noise plus a bound looser
than a normal tail (√(2L) ≈ 2.7 standard errors at δ₂ = 0.025 against 1.96): on MMLU about
a point of loss, which is several points of saving (docs/measurement.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
GRID = tuple(round(1.0 - k / 1000, 4) for k in range(1001))  # λ = 1.000, 0.999, …, 0.000
KEEP = 2.0  # above every probability: the most conservative threshold (all on the top tier)
BET_CAP = 0.5  # a bet never risks more than half the wealth on one item (WSR's c = 1/2)


@dataclass(frozen=True)
class Certificate:
    """The certified threshold of one phase and the figures that justify it."""

    threshold: float  # route cheap when the candidate's probability ≥ threshold; KEEP: never
    max_loss: float  # ε (relative quality loss)
    delta: float  # δ
    items: int  # certification items
    loss: float  # realised relative quality loss at the threshold on the certification items
    p_value: float  # betting p-value at the threshold (1 for KEEP)
    cheap_share: float  # share of certification items routed below the top tier
    tested: int  # thresholds tested (including the first that failed)
    refused: str | None = None  # why nothing could be certified, when that is so
    window: int | None = None  # the guarantee is on the next `window` calls' realised loss

    @property
    def certified(self) -> bool:
        return self.refused is None and self.threshold < KEEP


@dataclass(frozen=True, eq=False)
class Window:
    """Certify the realised loss of the next ``calls`` calls (module docstring) instead of
    the expected loss; ``second_moment`` is E[X²] per grid threshold, guessed on other items
    than the certification ones (`window_from_fit`)."""

    calls: int
    second_moment: FloatArray


def window_from_fit(
    calls: int,
    probabilities: FloatArray,
    scores: FloatArray,
    top: FloatArray,
    *,
    max_loss: float,
) -> Window:
    """A `Window` of ``calls`` whose E[X²] guesses come from the fit items' own routing."""
    if not top.size:
        return Window(calls, np.full(len(GRID), 0.25))
    _, routed = _routed_on_grid(probabilities, scores, top)
    x = (1.0 - max_loss) * top[:, None] - routed
    moment: FloatArray = (x * x).mean(axis=0)
    return Window(calls, moment)


def items_needed(max_loss: float, delta: float, top_mean: float) -> int:
    """Fewest certification items that could certify anything even if every cheaper answer
    matched the top tier's: each item then moves the wealth by at most ``1 + BET_CAP·ε·s̄_top``."""
    gain = BET_CAP * max_loss * max(top_mean, 1e-9)
    return math.ceil(math.log(1.0 / delta) / math.log1p(gain))


def route(probabilities: FloatArray, threshold: float) -> IntArray:
    """Per item, the cheapest candidate (column) with probability ≥ threshold, else -1."""
    good = probabilities >= threshold
    first: IntArray = np.where(good.any(axis=1), good.argmax(axis=1), -1).astype(np.int64)
    return first


def routed_scores(choice: IntArray, scores: FloatArray, top: FloatArray) -> FloatArray:
    """Per item, the score of the chosen candidate, or the top tier's when kept there."""
    rows = np.arange(choice.size)
    picked: FloatArray = np.where(choice >= 0, scores[rows, np.maximum(choice, 0)], top)
    return picked


def _choices_on_grid(probabilities: FloatArray) -> IntArray:
    """`route` at every grid threshold at once: items × grid, -1 for the top tier."""
    grid = np.asarray(GRID)
    # candidate c qualifies from the first grid index whose threshold is ≤ its probability
    first = np.searchsorted(-grid, -probabilities, side="left")  # items × candidates
    steps = np.arange(grid.size)[None, :]
    chosen: IntArray = np.full((probabilities.shape[0], grid.size), -1, dtype=np.int64)
    for c in reversed(range(probabilities.shape[1])):  # cheaper candidates overwrite dearer
        chosen[steps >= first[:, [c]]] = c
    return chosen


def _routed_on_grid(
    probabilities: FloatArray, scores: FloatArray, top: FloatArray
) -> tuple[IntArray, FloatArray]:
    """Items × grid: the choice (`_choices_on_grid`) and the score it gets at every threshold."""
    choices = _choices_on_grid(probabilities)
    rows = np.arange(top.size)[:, None]
    routed: FloatArray = np.where(choices >= 0, scores[rows, np.maximum(choices, 0)], top[:, None])
    return choices, routed


def _batch_null(x: FloatArray, window: Window, delta: float) -> tuple[FloatArray, float]:
    """The window's test (module docstring): per item and threshold, ``(X + κX² + c) / R``
    in [−1, 1], whose mean is ≤ 0 exactly when ``E[X + κX²] ≤ −c``; and the test's level δ₁."""
    level = delta / 2.0
    m = max(window.calls, 1)
    big_l = math.log(1.0 / (delta - level))
    kappa = np.sqrt(big_l / (2.0 * m * np.maximum(window.second_moment, 1e-6)))
    c = big_l / (2.0 * kappa * m) + 4.0 * big_l / (3.0 * m)
    # X ∈ [−1, 1]: X + κX² ≥ −max(1 − κ, 1/(4κ)) > −1 and ≤ 1 + κ, so dividing by 1 + κ + c
    # keeps every value in [−1, 1]
    y = (x + kappa * x * x + c) / (1.0 + kappa + c)
    return y, level


def plug_in_threshold(
    probabilities: FloatArray, scores: FloatArray, top: FloatArray, *, max_loss: float
) -> float:
    """The lowest grid threshold whose *observed* loss on these items is at most ε — how a
    router is calibrated without a guarantee (a share of top-tier calls that looked enough)."""
    if top.size == 0 or float(top.mean()) <= 0:
        return KEEP
    _, routed = _routed_on_grid(probabilities, scores, top)
    loss = 1.0 - routed.mean(axis=0) / float(top.mean())
    ok = np.flatnonzero(loss <= max_loss)
    return GRID[int(ok[-1])] if ok.size else KEEP


def betting_p_values(x: FloatArray, delta: float) -> FloatArray:
    """Per column of ``x`` (items × hypotheses, values in [−1, 1], rows in betting order),
    the p-value of "E[X] ≥ 0" from the running wealth of bets sized for the number of rows
    and the level ``delta`` (module docstring)."""
    n = x.shape[0]
    if n == 0:
        return np.ones(x.shape[1])
    t = np.arange(n, dtype=np.float64)[:, None]
    zeros = np.zeros((1, x.shape[1]))
    mean = np.vstack([zeros, np.cumsum(x, axis=0)[:-1]]) / (t + 1.0)  # items before t, prior 0
    spread = np.cumsum((x - mean) ** 2, axis=0)
    variance = (0.25 + np.vstack([zeros, spread[:-1]])) / (t + 1.0)  # prior 1/4
    bet = np.minimum(np.sqrt(2.0 * math.log(1.0 / delta) / (n * variance)), BET_CAP)
    log_wealth = np.cumsum(np.log1p(-bet * x), axis=0)
    peak = np.maximum(log_wealth.max(axis=0), 0.0)
    p: FloatArray = np.exp(-peak)
    return p


def certify(
    probabilities: FloatArray,
    scores: FloatArray,
    top: FloatArray,
    *,
    max_loss: float,
    delta: float,
    seed: int = 0,
    window: Window | None = None,
) -> Certificate:
    """Certify a threshold (module docstring): for the expected loss, or with ``window`` for
    the realised loss of the next ``window.calls`` calls.

    ``probabilities``: items × candidates, from a predictor fit on other items;
    ``scores``: items × candidates and ``top``: items, on 0..1.
    """
    n = top.size
    calls = window.calls if window is not None else None
    top_mean = float(top.mean()) if n else 0.0
    needed = items_needed(max_loss, delta, top_mean)
    if n < needed or top_mean <= 0:
        why = (
            "the top tier scored 0 on every certification item: nothing to compare"
            if n and top_mean <= 0
            else f"{n} certification items cannot certify a loss of at most {max_loss:g} at "
            f"δ = {delta:g}: even a perfect sample needs {needed} ({needed - n} more)"
        )
        return Certificate(KEEP, max_loss, delta, n, 0.0, 1.0, 0.0, 0, refused=why, window=calls)
    order = np.random.default_rng([seed, 0xCE27]).permutation(n)
    probabilities, scores, top = probabilities[order], scores[order], top[order]
    choices, routed = _routed_on_grid(probabilities, scores, top)
    x = (1.0 - max_loss) * top[:, None] - routed
    level = delta
    if window is not None:
        x, level = _batch_null(x, window, delta)
    p = betting_p_values(x, level)
    failed = np.flatnonzero(p > level)
    last = int(failed[0]) if failed.size else len(GRID)
    if last == 0:
        return Certificate(KEEP, max_loss, delta, n, 0.0, 1.0, 0.0, 1, window=calls)
    j = last - 1
    loss = 1.0 - float(routed[:, j].mean()) / top_mean
    return Certificate(
        threshold=GRID[j],
        max_loss=max_loss,
        delta=delta,
        items=n,
        loss=loss,
        p_value=float(p[j]),
        cheap_share=float(np.mean(choices[:, j] >= 0)),
        tested=min(last + 1, len(GRID)),
        window=calls,
    )
