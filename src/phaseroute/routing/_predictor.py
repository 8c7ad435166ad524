"""The per-item predictor: for each cheaper model, how much would sending this prompt to it
lose, per unit of cost saved? A logistic model over hashed n-grams and shape features says
how likely the cheaper answer is to score below the top tier's; the phase's measured loss
and the prompt's length turn that into a routing priority (`ItemPredictor.score`).

Fitting uses scikit-learn; scoring is plain Python over the stored coefficients, so the
router needs neither scikit-learn nor numpy on the hot path, and the lock file holds plain
JSON (bucket → weight), never a pickle. ``sha256`` names the exact coefficients that scored
a call in the ledger and the audit trail. For scoring, the candidates' weights are also laid
out once in one array of doubles indexed by bucket, the candidates' weights for a bucket side
by side (2 MiB per candidate at 18 bits): a call reads its few hundred buckets in one C loop
per candidate, and each bucket costs one cache line for all candidates, not a dict probe each.
"""

from __future__ import annotations

import hashlib
import json
import math
import weakref
from array import array
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import itemgetter
from typing import Any

from phaseroute.routing._features import SHAPE_FEATURES, HashingSpec, buckets, read_words, shape

PREDICTOR_FORMAT = "phaseroute-item-predictor/2"
TABLE_BITS = 20  # up to 2**20 buckets (8 MiB per candidate), weights are held in an array
_PLACEHOLDER = "\x00weights of candidate "  # where `SharedWeights.digest` splices weights in


@dataclass(frozen=True)
class CandidateModel:
    """Logistic coefficients for one cheaper model: P(its score ≥ the top tier's)."""

    model: str
    intercept: float
    shape: tuple[float, ...]  # weights of the raw shape features, `SHAPE_FEATURES` order
    weights: Mapping[int, float]  # bucket → weight of its presence (L2-normalised)
    positives: float  # share of fit items on which it did as well
    scale: float = 1.0  # median |key| over the fit items (see `ItemPredictor.score`)
    loss: float = 0.0  # the phase's expected score lost per item routed here (shrunk), ĝ
    miss: float = 0.0  # mean predicted miss 1 − p over the phase's fit items, q̄
    weight: float = 0.0  # how much an item's own 1 − p moves its loss, β ∈ [0, 1]


@dataclass(frozen=True)
class ItemPredictor:
    """Scores a prompt for every cheaper model, cheapest first (see the module docstring)."""

    spec: HashingSpec
    candidates: tuple[CandidateModel, ...]
    fit_items: int
    sha256: str = field(default="", compare=False)

    _table: array[float] | tuple[_SparseWeights, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", _digest(self.to_json()))
        object.__setattr__(self, "_table", _shared_table(self.candidates, self.spec.bits))

    def score(self, text: str) -> tuple[float, ...]:
        """Routing priority in (0, 1) per candidate, cheapest first: high when the expected
        loss *per unit of cost saved* is low. With q = 1 − p the predicted chance of scoring
        below the top tier and size = words + 1 (what a cheaper call saves grows with it),

            key = (ĝ + β·(q − q̄)) / size,   priority = 1 / (1 + exp(key / scale)):

        the phase's measured loss ĝ, moved by how much riskier than its phase's average the
        item looks (β: the weight that signal earned on fit items it was not trained on).
        Items expected to lose nothing or to gain come first, long ones first."""
        seen, count = read_words(text)
        size = count + 1.0
        return tuple(
            priority(c, 1.0 - p, size)
            for p, c in zip(self._probabilities(text, seen, count), self.candidates, strict=True)
        )

    def probabilities(self, text: str) -> tuple[float, ...]:
        """P(candidate scores as well as the top tier), per candidate, cheapest first."""
        return self._probabilities(text, *read_words(text))

    def _probabilities(self, text: str, seen: list[str], count: int) -> tuple[float, ...]:
        found = buckets(seen, self.spec)
        norm = 1.0 / math.sqrt(len(found)) if found else 0.0
        figures = shape(text, seen, count)
        out: list[float] = []
        for c, total in zip(self.candidates, _sums(self._columns(), found), strict=True):
            z = c.intercept + norm * total
            z += sum(map(float.__mul__, c.shape, figures))
            out.append(_sigmoid(z))
        return tuple(out)

    def _columns(self) -> Sequence[Sequence[float] | Mapping[int, float]]:
        """Per candidate, its weights indexed by bucket (0.0 where it has none)."""
        if isinstance(self._table, array):
            rows, n = memoryview(self._table), len(self.candidates)
            return [rows[k::n] for k in range(n)]
        return self._table

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: the hashing parameters and, per candidate, its non-zero coefficients."""
        data = self.to_json_without_weights()
        for c, out in zip(self.candidates, data["candidates"], strict=True):
            out["weights"] = _weights_json(c)
        return data

    def to_json_without_weights(self) -> dict[str, Any]:
        """`to_json` with a placeholder string where each candidate's weights go."""
        return {
            "format": PREDICTOR_FORMAT,
            "hashing": {"bits": self.spec.bits, "bigrams": self.spec.bigrams, "hash": "crc32"},
            "shape_features": list(SHAPE_FEATURES),
            "fit_items": self.fit_items,
            "candidates": [
                {
                    "model": c.model,
                    "intercept": c.intercept,
                    "shape": list(c.shape),
                    "positives": c.positives,
                    "scale": c.scale,
                    "loss": c.loss,
                    "miss": c.miss,
                    "weight": c.weight,
                    "weights": f"{_PLACEHOLDER}{j}",
                }
                for j, c in enumerate(self.candidates)
            ],
        }

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], shared: SharedWeights | None = None
    ) -> ItemPredictor:
        """Rebuild a predictor from `to_json` output; ValueError names what is wrong. With
        ``shared``, weights read before (by the same JSON mapping) are parsed and hashed once
        and shared: the predictors of a pool share their logistic models."""
        if data.get("format") != PREDICTOR_FORMAT:
            raise ValueError(f"predictor format {data.get('format')!r} is not {PREDICTOR_FORMAT}")
        hashing = data["hashing"]
        if hashing.get("hash") != "crc32" or list(data["shape_features"]) != list(SHAPE_FEATURES):
            raise ValueError("predictor uses features this version does not compute")
        spec = HashingSpec(bits=int(hashing["bits"]), bigrams=bool(hashing["bigrams"]))
        read = shared or SharedWeights()
        candidates = tuple(
            CandidateModel(
                model=str(c["model"]),
                intercept=float(c["intercept"]),
                shape=tuple(float(x) for x in c["shape"]),
                weights=read.weights(c["weights"]),
                positives=float(c["positives"]),
                scale=float(c["scale"]),
                loss=float(c["loss"]),
                miss=float(c["miss"]),
                weight=float(c["weight"]),
            )
            for c in data["candidates"]
        )
        for c in candidates:
            if len(c.shape) != len(SHAPE_FEATURES):
                raise ValueError(
                    f"{c.model}: {len(c.shape)} shape weights, expected {len(SHAPE_FEATURES)}"
                )
        built = cls(spec=spec, candidates=candidates, fit_items=int(data["fit_items"]), sha256="-")
        return replace(built, sha256=read.digest(built))


class SharedWeights:
    """N-gram weights parsed from JSON, and their canonical JSON text, remembered by the
    mapping they were read from, so that predictors sharing one mapping (a pool's, read from
    one lock file) share one parsed copy and serialise it once for their hashes."""

    def __init__(self) -> None:
        self._read: dict[int, tuple[Mapping[str, Any], dict[int, float], str]] = {}
        self._text: dict[int, str] = {}  # id of a parsed mapping -> its canonical JSON

    def weights(self, raw: Mapping[str, Any]) -> dict[int, float]:
        hit = self._read.get(id(raw))
        if hit is not None and hit[0] is raw:  # holding `raw` keeps its id from reuse
            return hit[1]
        parsed = {int(b): float(w) for b, w in raw.items()}
        text = _canonical({str(b): w for b, w in sorted(parsed.items())})
        self._read[id(raw)] = (raw, parsed, text)
        self._text[id(parsed)] = text
        return parsed

    def digest(self, predictor: ItemPredictor) -> str:
        """`ItemPredictor.sha256`, serialising each shared weights mapping only once: the
        JSON of the rest, with the remembered text spliced in where the weights go."""
        data = predictor.to_json_without_weights()
        text = _canonical(data)
        for j, c in enumerate(predictor.candidates):
            known = self._text.get(id(c.weights))
            weights = known if known is not None else _canonical(_weights_json(c))
            mark = json.dumps(f"{_PLACEHOLDER}{j}")
            if text.count(mark) != 1:  # a model named like the mark: hash the plain way
                return _digest(predictor.to_json())
            text = text.replace(mark, weights)
        return hashlib.sha256(text.encode()).hexdigest()


class _SparseWeights(dict[int, float]):
    """A candidate's weights beyond `TABLE_BITS`: 0.0 for a bucket without one."""

    def __missing__(self, bucket: int) -> float:
        return 0.0


def _weight_table(
    candidates: Sequence[CandidateModel], bits: int
) -> array[float] | tuple[_SparseWeights, ...]:
    """The candidates' weights by bucket: one array, entry ``bucket × len(candidates) + k``
    for candidate k (0.0 where it has none); past `TABLE_BITS`, one dict per candidate.
    ValueError names a candidate with a bucket outside the hashing range."""
    size = 1 << bits
    for c in candidates:
        if c.weights and not 0 <= min(c.weights) <= max(c.weights) < size:
            raise ValueError(f"{c.model}: a weight's bucket is outside 0..{size - 1} ({bits} bits)")
    if bits > TABLE_BITS:
        return tuple(_SparseWeights(c.weights) for c in candidates)
    n = len(candidates)
    table = array("d", bytes(8 * n * size))
    for k, c in enumerate(candidates):
        for b, w in c.weights.items():
            table[b * n + k] = w
    return table


# Tables in use, by the identity of the weight mappings they were laid out from: the phases
# of a pool share their logistic models (one parsed mapping per model, `SharedWeights`), so
# they share one table too — 57 MMLU subjects hold 2 MiB, not 114. An entry lives as long as
# a predictor holds its table, and every such predictor holds those very mappings, so an id
# in a live key cannot have been reused.
_TABLES: weakref.WeakValueDictionary[tuple[int, ...], array[float]] = weakref.WeakValueDictionary()


def _shared_table(
    candidates: Sequence[CandidateModel], bits: int
) -> array[float] | tuple[_SparseWeights, ...]:
    """`_weight_table`, laid out once for candidates whose weights are the same objects."""
    key = (bits, *(id(c.weights) for c in candidates))
    table = _TABLES.get(key)
    if table is None:
        built = _weight_table(candidates, bits)
        if not isinstance(built, array):
            return built
        _TABLES[key] = table = built
    return table


def _sums(
    tables: Sequence[Sequence[float] | Mapping[int, float]], found: Collection[int]
) -> list[float]:
    """Per table, the sum of its weights for the buckets ``found``, added in their iteration
    order (as ``sum(map(weights.get, found, repeat(0.0)))`` adds them)."""
    if len(found) < 2:  # itemgetter of one key returns the value, not a tuple
        return [sum(t[b] for b in found) for t in tables]
    pick = itemgetter(*found)
    return [sum(pick(t)) for t in tables]


def priority(c: CandidateModel, miss: float, size: float) -> float:
    """`ItemPredictor.score` for one candidate, from the item's predicted miss and size."""
    return _sigmoid(-(c.loss + c.weight * (miss - c.miss)) / (size * c.scale))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _canonical(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _digest(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical(data).encode()).hexdigest()


def _weights_json(c: CandidateModel) -> dict[str, float]:
    return {str(b): w for b, w in sorted(c.weights.items())}


def round_trip(predictor: ItemPredictor) -> ItemPredictor:
    """The predictor as a lock file will hold it (coefficients through JSON)."""
    return ItemPredictor.from_json(json.loads(json.dumps(predictor.to_json())))


def candidate_names(predictor: ItemPredictor) -> Sequence[str]:
    return tuple(c.model for c in predictor.candidates)
