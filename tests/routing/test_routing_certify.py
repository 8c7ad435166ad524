"""The certified threshold: its guarantee holds over repeated draws, on any score scale and
with more than two models; too few items are refused with how many more are needed."""

from __future__ import annotations

import numpy as np
import pytest

from phaseroute.routing import (
    GRID,
    KEEP,
    betting_p_values,
    certify,
    items_needed,
    route,
    window_from_fit,
)


def _population(
    n: int, models: int, scale: str, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probabilities that rank items well but not perfectly, and scores on 0..1."""
    rng = np.random.default_rng(seed)
    hard = rng.random(n) < 0.4
    noise = rng.normal(0, 0.15, size=(n, models - 1))
    probs = np.clip(np.where(hard, 0.35, 0.75)[:, None] + noise, 0, 1)
    scores = np.zeros((n, models))
    for m in range(models):
        p = np.full(n, 0.85) if m == models - 1 else np.where(hard, 0.3 + 0.1 * m, 0.84)
        if scale == "binary":
            scores[:, m] = rng.random(n) < p
        elif scale == "fraction":
            scores[:, m] = np.round(np.clip(rng.normal(p, 0.2), 0, 1), 1)
        else:  # 1..10 judge scores, min-max normalised
            scores[:, m] = (np.clip(np.round(1 + 9 * rng.normal(p, 0.15)), 1, 10) - 1) / 9
    return probs, scores[:, :-1], scores[:, -1]


def _true_loss(probs: np.ndarray, cheap: np.ndarray, top: np.ndarray, threshold: float) -> float:
    choice = route(probs, threshold)
    rows = np.arange(choice.size)
    routed = np.where(choice >= 0, cheap[rows, np.maximum(choice, 0)], top)
    return 1.0 - float(routed.mean()) / float(top.mean())


@pytest.mark.parametrize(("scale", "models"), [("binary", 2), ("fraction", 3), ("judge", 4)])
def test_the_loss_exceeds_epsilon_at_most_delta_of_the_time(scale: str, models: int) -> None:
    eps, delta, draws, n = 0.05, 0.1, 120, 300
    probs, cheap, top = _population(60_000, models, scale, seed=1)
    exceeded = certified = 0
    rng = np.random.default_rng(2)
    for d in range(draws):
        rows = rng.choice(top.size, size=n, replace=False)
        cert = certify(probs[rows], cheap[rows], top[rows], max_loss=eps, delta=delta, seed=d)
        if cert.certified:
            certified += 1
            exceeded += _true_loss(probs, cheap, top, cert.threshold) > eps
    assert certified > draws // 2  # it does route cheap, so the check has teeth
    # binomial slack: P(Bin(120, 0.1) > 20) < 1%
    assert exceeded <= 20


def test_a_useless_cheaper_model_gets_at_most_epsilons_worth_of_items() -> None:
    probs, cheap, top = _population(400, 2, "binary", seed=3)
    cheap = np.zeros_like(cheap)
    cert = certify(probs, cheap, top, max_loss=0.05, delta=0.05)
    # every item routed loses its whole score: at most about ε of them may go
    assert cert.loss <= 0.05
    assert cert.cheap_share <= 0.05
    ones = certify(np.ones_like(probs), cheap, top, max_loss=0.05, delta=0.05)
    assert not ones.certified  # all items tie at the top priority: all or nothing
    assert ones.threshold == KEEP
    assert ones.cheap_share == 0.0


def test_a_cheaper_model_as_good_as_the_top_is_certified_for_most_items() -> None:
    probs, _, top = _population(2000, 2, "binary", seed=4)
    cert = certify(probs, top[:, None].copy(), top, max_loss=0.05, delta=0.05)
    assert cert.certified
    assert cert.cheap_share > 0.9
    assert cert.loss == pytest.approx(0.0)


def test_too_few_items_are_refused_with_how_many_more_are_needed() -> None:
    probs, cheap, top = _population(30, 2, "binary", seed=5)
    cert = certify(probs, cheap, top, max_loss=0.05, delta=0.05)
    assert cert.refused is not None
    assert not cert.certified
    need = items_needed(0.05, 0.05, float(top.mean()))
    assert f"needs {need} ({need - 30} more)" in cert.refused


def test_items_needed_grows_as_epsilon_shrinks() -> None:
    assert items_needed(0.01, 0.05, 0.8) > items_needed(0.05, 0.05, 0.8) > 50


def test_the_betting_p_value_is_valid_under_the_null_and_small_far_from_it() -> None:
    rng = np.random.default_rng(6)
    null = rng.choice([-1.0, 1.0], size=(400, 2000))  # mean 0: the boundary of the null
    assert float(np.mean(betting_p_values(null, 0.05) <= 0.05)) <= 0.06
    far = rng.choice([-1.0, 1.0], p=[0.7, 0.3], size=(400, 50))
    assert float(np.max(betting_p_values(far, 0.05))) < 1e-3


def test_the_grid_runs_from_the_most_conservative_threshold_down() -> None:
    assert GRID[0] == 1.0
    assert GRID[-1] == 0.0
    assert list(GRID) == sorted(GRID, reverse=True)


def test_a_window_bounds_the_loss_realised_over_the_next_m_calls() -> None:
    """With a window, the realised loss of a fresh batch of m calls exceeds ε at most δ of
    the time; the expected-loss certificate, tight against ε, lets more batches through."""
    eps, delta, draws, n, m = 0.05, 0.1, 60, 1000, 400
    probs, cheap, top = _population(200_000, 2, "binary", seed=7)
    rng = np.random.default_rng(8)
    over = {"window": 0, "expected": 0}
    certified = 0
    for d in range(draws):
        rows = rng.choice(top.size, size=n + m + 300, replace=False)
        fit, cert_rows, batch = rows[:300], rows[300 : 300 + n], rows[300 + n :]
        window = window_from_fit(m, probs[fit], cheap[fit], top[fit], max_loss=eps)
        args = (probs[cert_rows], cheap[cert_rows], top[cert_rows])
        windowed = certify(*args, max_loss=eps, delta=delta, seed=d, window=window)
        expected = certify(*args, max_loss=eps, delta=delta, seed=d)
        assert windowed.window == m
        assert expected.window is None
        certified += windowed.certified
        b = (probs[batch], cheap[batch], top[batch])
        over["window"] += _true_loss(*b, windowed.threshold) > eps
        over["expected"] += _true_loss(*b, expected.threshold) > eps
    assert certified > draws // 2  # it does route cheap, so the check has teeth
    # binomial slack: P(Bin(60, 0.1) > 12) < 1%
    assert over["window"] <= 12
    assert over["expected"] > over["window"]
