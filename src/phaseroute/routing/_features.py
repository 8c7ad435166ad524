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

Scoring a call reads a long prompt without splitting all of it (`read_words`): an ASCII
prompt's words are counted in two C passes over its bytes, and only the window is split off.
The results are those of `words` and `window`, exactly (the tests compare them on arbitrary
Unicode text).

Hashing keeps the lock file free of prompt words: it stores bucket numbers, not vocabulary.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from itertools import chain, repeat
from operator import and_

SHAPE_FEATURES = (
    "log_chars",  # log(1 + characters)
    "log_words",  # log(1 + words)
    "number_share",  # words that are numbers, per word
    "symbol_share",  # words that are not purely letters/digits, per word
    "log_lines",  # log(1 + newlines)
)
WINDOW = 256  # words hashed per text at most (see `window`)
# A lone surrogate (JSON allows "\ud800") is hashed as its three UTF-8-style bytes, never an error;
# text without one encodes exactly as strict UTF-8.
_LONE = "surrogatepass"

# An ASCII byte → b" " if `str.split` splits on it (\t \n \v \f \r, \x1c-\x1f, space), else b"x".
_MARKS = bytes(0x20 if chr(i).isspace() else 0x78 for i in range(128)) + b"x" * 128
# crc32(b" ", _SPACE_SEED) == 0, so crc32(b" " + word, _SPACE_SEED) == crc32(word).
_SPACE_SEED = 0x0F6A7006


@dataclass(frozen=True)
class HashingSpec:
    """How text becomes bucket counts: the parameters a lock file records."""

    bits: int = 18
    bigrams: bool = True

    @property
    def mask(self) -> int:
        return (1 << self.bits) - 1


def words(text: str) -> list[str]:
    """The words the features are built from (split on whitespace; `buckets` lower-cases
    the windowed ones, so a long prompt is not lower-cased whole)."""
    return text.split()


def window(tokens: list[str]) -> list[str]:
    """The words hashed: all of them up to `WINDOW`, else the first and last `WINDOW` / 2 —
    where a prompt states its task and its question — so a long prompt costs a bounded time."""
    if len(tokens) <= WINDOW:
        return tokens
    half = WINDOW // 2
    return tokens[:half] + tokens[-half:]


def read_words(text: str) -> tuple[list[str], int]:
    """``window(words(text))`` and ``len(words(text))``, without building every word of a
    long ASCII text: whitespace is marked by one translation of its bytes, the starts of words
    are counted, and only the window's head and tail are split off. Other text is split whole
    (its non-ASCII whitespace would need a slower pass than the split)."""
    if text.isascii():
        marks = text.encode("ascii").translate(_MARKS)
        count = marks.count(b" x") + marks.startswith(b"x")
        if count > WINDOW:
            half = WINDOW // 2
            return text.split(maxsplit=half)[:half] + text.rsplit(maxsplit=half)[-half:], count
    tokens = text.split()
    return window(tokens), len(tokens)


def word_count(text: str) -> int:
    """``len(words(text))``."""
    return read_words(text)[1]


def buckets(seen: list[str], spec: HashingSpec) -> set[int]:
    """The buckets of every windowed word (``seen``, see `window`) and, when enabled,
    adjacent-word pair. The window is lower-cased and encoded in one piece, each word prefixed
    by a space: a word's CRC-32 starts from `_SPACE_SEED`, and a pair's, ``crc32(a + b" " + b)``,
    continues from the first word's. C-level loops only, no Python frame per word."""
    if not seen:
        return set()
    # Lower-casing never makes or removes whitespace, and whitespace ends a word for the one
    # context-dependent rule (final sigma), so the joined text lowers as its words do.
    pieces = (" " + "\n ".join(seen)).lower().encode("utf-8", _LONE).split(b"\n")
    unigram = list(map(zlib.crc32, pieces, repeat(_SPACE_SEED)))
    hashes = chain(unigram, map(zlib.crc32, pieces[1:], unigram)) if spec.bigrams else unigram
    return set(map(and_, hashes, repeat(spec.mask)))


def shape(text: str, seen: list[str], count: int) -> tuple[float, ...]:
    """The shape features, in `SHAPE_FEATURES` order: lengths of the whole text (``count``
    words), shares of number and symbol words over the windowed words ``seen`` (a bounded time
    per call)."""
    k = len(seen)
    per_word = 1.0 / k if k else 0.0
    alnum = sum(map(str.isalnum, seen))
    return (
        math.log1p(len(text)),
        math.log1p(count),
        sum(map(str.isdigit, seen)) * per_word,
        (k - alnum) * per_word,
        math.log1p(text.count("\n")),
    )


def featurize(text: str, spec: HashingSpec) -> tuple[dict[int, float], tuple[float, ...]]:
    """Normalised bucket presence and shape features of one text (for fitting)."""
    seen, count = read_words(text)
    present = buckets(seen, spec)
    value = 1.0 / math.sqrt(len(present)) if present else 0.0
    return dict.fromkeys(sorted(present), value), shape(text, seen, count)
