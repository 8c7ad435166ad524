"""The scoring path computes exactly what the straightforward definition of the features does:
split the whole text, window it, lower-case and CRC-32 each word and pair, look each bucket up
in a dict of weights. Stored predictors were fit with that definition, so any text, including
every kind of Unicode whitespace and long prompts, must give the same words, buckets, shape
figures and scores."""

from __future__ import annotations

import math
import random
import zlib
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phaseroute.routing import SHAPE_FEATURES, CandidateModel, HashingSpec, ItemPredictor
from phaseroute.routing._features import WINDOW, buckets, read_words, shape

SPACES = "".join(c for c in map(chr, range(0x110000)) if c.isspace())
ASCII_SPACES = "".join(c for c in SPACES if c.isascii())  # \t \n \v \f \r \x1c-\x1f and space


def reference(text: str, spec: HashingSpec) -> tuple[int, list[str], set[int], tuple[float, ...]]:
    """Word count, windowed words, buckets and shape figures, the long way."""
    tokens = text.split()
    half = WINDOW // 2
    seen = tokens if len(tokens) <= WINDOW else tokens[:half] + tokens[-half:]
    encoded = [w.lower().encode("utf-8", "surrogatepass") for w in seen]
    found = [zlib.crc32(w) & spec.mask for w in encoded]
    if spec.bigrams:
        found += [zlib.crc32(a + b" " + b) & spec.mask for a, b in pairwise(encoded)]
    k = len(seen)
    per_word = 1.0 / k if k else 0.0
    figures = (
        math.log1p(len(text)),
        math.log1p(len(tokens)),
        sum(w.isdigit() for w in seen) * per_word,
        sum(not w.isalnum() for w in seen) * per_word,
        math.log1p(text.count("\n")),
    )
    return len(tokens), seen, set(found), figures


def reference_scores(predictor: ItemPredictor, text: str) -> tuple[float, ...]:
    """`ItemPredictor.score` the long way: dict lookups per bucket."""
    count, _, found, figures = reference(text, predictor.spec)
    norm = 1.0 / math.sqrt(len(found)) if found else 0.0
    out = []
    for c in predictor.candidates:
        words = sum(c.weights.get(b, 0.0) for b in found)
        shaped = sum(w * f for w, f in zip(c.shape, figures, strict=True))
        p = sigmoid(c.intercept + norm * words + shaped)
        key = (c.loss + c.weight * ((1.0 - p) - c.miss)) / ((count + 1.0) * c.scale)
        out.append(sigmoid(-key))
    return tuple(out)


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


tricky = "ΑΣΣ σς ΣΑ İ ﬁ ẞ Ǆ ǅ ß 0 7 ½ ² ٣ a1 - , . é 中文 \u200b \ufeff \x00 \x1b \x7f"
letters = st.sampled_from([*tricky.split(), "x", "Word", "42", "a.b", "¿qué?"])
spaces = st.text(st.sampled_from(SPACES), min_size=1, max_size=3)
any_word = st.text(min_size=1, max_size=6)
chunk = st.lists(st.tuples(st.one_of(letters, any_word), spaces), max_size=12).map(
    lambda parts: "".join(w + s for w, s in parts)
)
ascii_chunk = st.lists(
    st.tuples(
        st.text(st.characters(max_codepoint=127), min_size=1, max_size=6),
        st.text(st.sampled_from(ASCII_SPACES), min_size=1, max_size=3),
    ),
    max_size=12,
).map(lambda parts: "".join(w + s for w, s in parts))


def long_text(piece: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A head, a middle repeated up to 600 times, a tail: many words from little data, with
    distinct words where the window's halves begin and end."""
    return st.builds(
        lambda lead, head, middle, times, tail: lead + head + middle * times + tail,
        st.text(st.sampled_from(SPACES), max_size=2),
        piece,
        piece,
        st.integers(0, 600),
        piece,
    )


texts = st.one_of(
    st.text(),
    st.text(st.sampled_from(SPACES + "aΣ1.\n"), max_size=40),
    st.text(st.characters(categories=["Cs", "Zs", "Ll", "Lu"]), max_size=20),
    long_text(chunk),
    long_text(ascii_chunk),
    long_text(st.text(max_size=30)),
)
PROPERTY = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY
@given(texts, st.sampled_from([HashingSpec(), HashingSpec(bits=6), HashingSpec(bigrams=False)]))
def test_the_features_are_those_of_the_definition(text: str, spec: HashingSpec) -> None:
    def fast(text: str) -> tuple[int, list[str], set[int], tuple[float, ...]]:
        seen, count = read_words(text)
        return count, seen, buckets(seen, spec), shape(text, seen, count)

    assert fast(text) == reference(text, spec)


def predictor(bits: int, weights: int, seed: int) -> ItemPredictor:
    rng = random.Random(seed)
    candidates = tuple(
        CandidateModel(
            model=f"cheap-{k}",
            intercept=rng.gauss(0, 1),
            shape=tuple(rng.gauss(0, 0.5) for _ in SHAPE_FEATURES),
            weights={rng.randrange(1 << bits): rng.gauss(0, 1) for _ in range(weights)},
            positives=0.7,
            scale=rng.choice([1e-3, 0.05, 1.0]),
            loss=rng.uniform(-0.05, 0.2),
            miss=rng.uniform(0, 1),
            weight=rng.uniform(0, 1),
        )
        for k in range(3)
    )
    return ItemPredictor(spec=HashingSpec(bits=bits), candidates=candidates, fit_items=100)


PREDICTORS = (
    predictor(18, 20_000, seed=1),  # the usual size: a weight in one bucket of 13
    predictor(8, 200, seed=2),  # most buckets carry a weight
    predictor(21, 5_000, seed=3),  # past TABLE_BITS: weights stay in dicts
)


@PROPERTY
@given(texts, st.sampled_from(PREDICTORS))
def test_a_call_scores_as_the_definition_does(text: str, predictor: ItemPredictor) -> None:
    assert predictor.score(text) == reference_scores(predictor, text)


def test_lower_casing_neither_makes_nor_removes_whitespace() -> None:
    """What lower-casing the window in one piece relies on."""
    for c in map(chr, range(0x110000)):
        lowered = c.lower()
        assert (lowered == c) if c.isspace() else not any(x.isspace() for x in lowered), c


@pytest.mark.parametrize("space", list(SPACES))
def test_whitespace_ends_a_word_for_the_final_sigma(space: str) -> None:
    text = f"ΑΣ{space}Σ{space}ΣΑ{space}Σ̈Σ{space}ΑΣ̈"
    seen, count = read_words(text)
    assert (count, seen, buckets(seen, HashingSpec())) == reference(text, HashingSpec())[:3]


def test_the_stored_form_and_its_hash_are_unchanged() -> None:
    """The lock file's JSON and hash of a fixed predictor, as written before the scoring path
    laid the weights out for speed (format phaseroute-item-predictor/2)."""
    candidate = CandidateModel(
        model="small",
        intercept=0.25,
        shape=(0.1, -0.2, 0.3, -0.4, 0.5),
        weights={3: 0.5, 70000: -1.25},
        positives=0.7,
        scale=0.01,
        loss=0.02,
        miss=0.3,
        weight=0.4,
    )
    fixed = ItemPredictor(spec=HashingSpec(), candidates=(candidate,), fit_items=10)
    assert fixed.sha256 == "edb9b6d1ba5cedec815c82d33b08827e75cddab35b73eb928132c575c2f3c0cd"
    assert fixed.score("Which clause applies to this wire transfer?") == (0.25804489898823607,)


@pytest.mark.parametrize("bucket", [-1, 1 << 18])
def test_a_weight_outside_the_hashing_range_is_refused(bucket: int) -> None:
    data = PREDICTORS[0].to_json()
    data["candidates"][1]["weights"][str(bucket)] = 0.5
    with pytest.raises(ValueError, match=r"cheap-1: a weight's bucket is outside 0\.\.262143"):
        ItemPredictor.from_json(data)


def test_a_lone_surrogate_is_scored_not_raised() -> None:
    """JSON may carry "\\ud800"; a prompt holding one is scored like any other text."""
    spec = HashingSpec(bits=8)
    predictor = ItemPredictor(
        spec=spec,
        candidates=(
            CandidateModel("cheap", 0.1, (0.0,) * len(SHAPE_FEATURES), {1: 0.5}, positives=0.5),
        ),
        fit_items=10,
    )
    scores = predictor.score("what is \ud800 two plus two")
    assert len(scores) == 1
    assert 0.0 < scores[0] < 1.0
