"""An offline token-count approximation, for replayed calls that have no provider usage.

No tokenizer file is loaded (tiktoken would download one at run time). Instead the text is
split with a pre-tokenizer in the style of OpenAI's cl100k_base (words with their leading
space, contractions, runs of up to three digits, punctuation runs, newlines) and each piece
counts as one token, plus one per further 4 characters for words longer than 10 letters and
one per 2 characters of a punctuation run. On English prose this lands within roughly ±15%
of cl100k_base; it is an approximation, not any model's real tokenizer.
"""

from __future__ import annotations

import re

# cl100k_base's split pattern uses \p{L} / \p{N}; [^\W\d_] is the stdlib spelling of "a letter".
_PIECES = re.compile(
    r"'(?:[sdmt]|ll|ve|re)"  # contractions
    r"| ?[^\W\d_]+"  # a word with its leading space
    r"|\d{1,3}"  # numbers, three digits at a time
    r"| ?(?:[^\s\w]|_)+[\r\n]*"  # punctuation runs
    r"|\s*[\r\n]+"  # line breaks
    r"|\s+(?!\S)|\s+",  # other whitespace
    re.IGNORECASE,
)
_LONG_WORD = 10


def approximate_tokens(text: str) -> int:
    """Approximate the number of tokens in `text` (cl100k-style pieces; see module doc)."""
    count = 0
    for piece in _PIECES.findall(text):
        core = piece.strip()
        if not core:
            count += 1
        elif core[0].isalpha():
            count += 1 + max(0, len(core) - _LONG_WORD + 3) // 4
        elif core[0].isdigit():
            count += 1
        else:
            count += (len(core) + 1) // 2
    return count


def truncate_to_tokens(text: str, limit: int) -> str:
    """The longest prefix of `text` whose approximate token count stays within `limit`."""
    count = 0
    end = 0
    for match in _PIECES.finditer(text):
        count += approximate_tokens(match.group())
        if count > limit:
            return text[:end]
        end = match.end()
    return text
