"""Text features that need no download: hashed word uni/bigrams plus a few shape figures.

The same pure-Python code computes the features when a predictor is fit and when the router
scores a call, so the two can never disagree. Words are the lower-cased whitespace-separated
pieces of the text (punctuation stays attached: a regex tokenizer cost five times as much
per call). Only a bounded window of words is hashed (`window`): the first and last
``WINDOW / 2`` of a long prompt. Every windowed word and every pair of adjacent words is
hashed with CRC-32 (stable across processes and platforms, unlike ``hash``) into one of
``2**bits`` buckets. A text's features are the set of buckets it touches, each with weight
1/√k for k distinct buckets (binary, L2-normalised), so a prompt's length moves the score
only through the explicit shape features.

Hashing keeps the lock file free of prompt words: it stores bucket numbers, not vocabulary.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from itertools import repeat

SHAPE_FEATURES = (
    "log_chars",  # log(1 + characters)
    "log_words",  # log(1 + words)
    "number_share",  # words that are numbers, per word
    "symbol_share",  # words that are not purely letters/digits, per word
    "log_lines",  # log(1 + newlines)
)
_SPACE = b" "
WINDOW = 256  # words hashed per text at most (see `window`)


@dataclass(frozen=True)
class HashingSpec:
    """How text becomes bucket counts: the parameters a lock file records."""

    bits: int = 18
    bigrams: bool = True

    @property
    def mask(self) -> int:
        return (1 << self.bits) - 1


def words(text: str) -> list[str]:
    """The words the features are built from (split on whitespace; `bucket_stream` lower-cases
    the windowed ones, so a long prompt is not lower-cased whole)."""
    return text.split()


def window(tokens: list[str]) -> list[str]:
    """The words hashed: all of them up to `WINDOW`, else the first and last `WINDOW` / 2 —
    where a prompt states its task and its question — so a long prompt costs a bounded time."""
    if len(tokens) <= WINDOW:
        return tokens
    half = WINDOW // 2
    return tokens[:half] + tokens[-half:]


def bucket_stream(tokens: list[str], spec: HashingSpec) -> list[int]:
    """Bucket numbers of every windowed word and (when enabled) adjacent-word pair; C-level
    loops only, no Python frame per word."""
    encoded = list(map(str.encode, map(str.lower, window(tokens))))
    unigram = list(map(zlib.crc32, encoded))
    mask_and = spec.mask.__and__
    out = list(map(mask_and, unigram))
    if spec.bigrams and len(encoded) > 1:
        # crc32(a + b" " + b) continued from crc32(a): no joined string is built
        spaced = map(zlib.crc32, repeat(_SPACE), unigram[:-1])
        out += map(mask_and, map(zlib.crc32, encoded[1:], spaced))
    return out


def shape(text: str, tokens: list[str]) -> tuple[float, ...]:
    """The shape features, in `SHAPE_FEATURES` order: lengths of the whole text, shares of
    number and symbol words over the windowed words (a bounded time per call)."""
    seen = window(tokens)
    k = len(seen)
    per_word = 1.0 / k if k else 0.0
    alnum = sum(map(str.isalnum, seen))
    return (
        math.log1p(len(text)),
        math.log1p(len(tokens)),
        sum(map(str.isdigit, seen)) * per_word,
        (k - alnum) * per_word,
        math.log1p(text.count("\n")),
    )


def featurize(text: str, spec: HashingSpec) -> tuple[dict[int, float], tuple[float, ...]]:
    """Normalised bucket presence and shape features of one text (for fitting)."""
    tokens = words(text)
    present = set(bucket_stream(tokens, spec))
    value = 1.0 / math.sqrt(len(present)) if present else 0.0
    return dict.fromkeys(sorted(present), value), shape(text, tokens)
