"""The predictor: learns a signal carried by the prompt, survives the lock file's JSON
exactly, and scores one call in pure Python the same as the batch path used to certify."""

from __future__ import annotations

import json

import numpy as np
import pytest
from routing_data import generate

from phaseroute.routing import (
    HashingSpec,
    ItemPredictor,
    feature_matrix,
    fit_predictor,
    fit_predictors,
    predict_many,
)
from phaseroute.routing._predictor import SharedWeights


@pytest.fixture(scope="module")
def fitted() -> tuple[ItemPredictor, list[str], np.ndarray]:
    prompts, scores = generate(900, 3, scale="fraction", seed=11)
    spec = HashingSpec()
    features = feature_matrix(prompts[:600], spec)
    predictor = fit_predictor(features, scores[:600], 2, [0, 1], ("s", "m", "l"), spec)
    return predictor, prompts[600:], scores[600:]


def test_it_learns_which_prompts_the_cheaper_models_miss(
    fitted: tuple[ItemPredictor, list[str], np.ndarray],
) -> None:
    predictor, prompts, _ = fitted
    p = np.array([predictor.probabilities(t) for t in prompts])
    tricky = np.array([t.startswith("tricky") for t in prompts])
    assert p[~tricky, 0].mean() > p[tricky, 0].mean() + 0.2


def test_the_json_round_trip_keeps_scores_and_hash(
    fitted: tuple[ItemPredictor, list[str], np.ndarray],
) -> None:
    predictor, prompts, _ = fitted
    again = ItemPredictor.from_json(json.loads(json.dumps(predictor.to_json())))
    assert again.sha256 == predictor.sha256
    assert [again.score(t) for t in prompts[:50]] == [predictor.score(t) for t in prompts[:50]]


def test_one_call_scores_as_the_batch_path_does(
    fitted: tuple[ItemPredictor, list[str], np.ndarray],
) -> None:
    predictor, prompts, _ = fitted
    batch = predict_many(predictor, feature_matrix(prompts, predictor.spec))
    single = np.array([predictor.score(t) for t in prompts])
    np.testing.assert_allclose(single, batch, rtol=1e-9, atol=1e-12)


def test_a_model_that_always_matches_gets_a_constant_predictor() -> None:
    prompts, scores = generate(100, 2, seed=12)
    scores[:, 0] = scores[:, 1]
    spec = HashingSpec()
    predictor = fit_predictor(feature_matrix(prompts, spec), scores, 1, [0], ("s", "l"), spec)
    assert predictor.candidates[0].weights == {}
    # the logistic half of the fit items: 50, all matching, one pseudo-item each way
    assert predictor.probabilities("anything at all")[0] == pytest.approx(51 / 52)
    assert predictor.candidates[0].loss == 0.0  # it loses nothing: every prompt goes first


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        ItemPredictor.from_json({"format": "pickle"})


def test_phases_share_the_logistic_models_and_rank_by_their_own_loss() -> None:
    easy_prompts, easy = generate(400, 2, seed=21)
    hard_prompts, hard = generate(400, 2, seed=22)
    easy[:, 0] = easy[:, 1]  # the cheaper model matches the top tier on every easy item
    hard[:, 0] = 0.0  # and misses every hard one
    prompts = easy_prompts + hard_prompts
    scores = np.vstack([easy, hard])
    groups = np.repeat([0, 1], 400).astype(np.int64)
    spec = HashingSpec()
    features = feature_matrix(prompts, spec)
    easy_p, hard_p = fit_predictors(
        features, scores, 1, [0], ("s", "l"), spec, groups=groups, seed=3
    )
    assert easy_p.candidates[0].weights == hard_p.candidates[0].weights
    assert easy_p.candidates[0].loss < 0.05
    assert hard_p.candidates[0].loss > 0.5
    # the same prompt ranks first in the phase that loses nothing
    assert easy_p.score(prompts[0])[0] > hard_p.score(prompts[0])[0]
    # one call scores as the batch path does, each with its phase's predictor
    batch = predict_many((easy_p, hard_p), features, groups)
    single = np.array([(easy_p, hard_p)[g].score(t) for g, t in zip(groups, prompts, strict=True)])
    np.testing.assert_allclose(single, batch, rtol=1e-9, atol=1e-12)


def test_a_predictor_without_signal_within_its_phase_moves_priorities_little() -> None:
    spec = HashingSpec()

    def item_term(prompts: list[str], scores: np.ndarray) -> float:
        """How far the predictor moves an item's expected loss: β × sd of its miss."""
        features = feature_matrix(prompts, spec)
        predictor = fit_predictor(features, scores, 1, [0], ("s", "l"), spec)
        miss = 1.0 - np.array([predictor.probabilities(t)[0] for t in prompts])
        return predictor.candidates[0].weight * float(np.std(miss))

    prompts, scores = generate(600, 2, seed=23)
    rng = np.random.default_rng(24)
    scores[:, 0] = (rng.random(600) < 0.7).astype(np.float64)  # misses unrelated to the prompt
    noise = item_term(prompts, scores)
    learnable, signal = generate(600, 2, seed=25)  # misses the prompt tells
    assert noise < 0.03
    assert item_term(learnable, signal) > 0.1


def test_a_pool_read_with_shared_weights_keeps_each_hash_and_shares_one_copy() -> None:
    prompts, scores = generate(600, 3, seed=12)
    groups = np.repeat(np.arange(3, dtype=np.int64), 200)
    spec = HashingSpec()
    fitted = fit_predictors(
        feature_matrix(prompts, spec), scores, 2, [0, 1], ("s", "m", "l"), spec, groups=groups
    )
    data = [p.to_json() for p in fitted]
    for d in data[1:]:  # as a lock file reads them: one weights mapping per candidate
        for c, first in zip(d["candidates"], data[0]["candidates"], strict=True):
            assert c["weights"] == first["weights"]
            c["weights"] = first["weights"]
    shared = SharedWeights()
    read = [ItemPredictor.from_json(d, shared) for d in data]
    assert [p.sha256 for p in read] == [p.sha256 for p in fitted]
    assert len({p.sha256 for p in read}) == 3  # the phases' own losses differ
    assert read[0].candidates[0].weights is read[2].candidates[0].weights
    # and one table of weights by bucket for scoring, not one per phase
    assert read[0]._table is read[2]._table
    assert fitted[0]._table is not read[0]._table  # equal weights, other objects: own table
    data[1]["candidates"][1]["loss"] += 0.01  # an edit outside the shared weights is seen
    assert ItemPredictor.from_json(data[1], SharedWeights()).sha256 != fitted[1].sha256
