"""Which lines of a file name a word of interest (a sink, a same-file helper, a statement's first
words): one multi-pattern pass over the lowered text, so the analysers can skip every function and
statement that cannot matter with a binary search instead of a regex per node.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable
from typing import Any


class WordLines:
    """Line numbers (0-based) where any of a set of words occurs as a whole word, case-insensitively."""

    def __init__(self, lowered: str, line_starts: list[int], words: Iterable[str]) -> None:
        wanted = sorted({word.lower() for word in words if word})
        self.lines: list[int] = (
            sorted(set(_line_numbers(lowered, line_starts, wanted))) if wanted else []
        )

    def any_between(self, start: int, end: int) -> bool:
        """Does a matching line lie in [start, end)?"""
        index = bisect.bisect_left(self.lines, start)
        return index < len(self.lines) and self.lines[index] < end


def line_starts(lines: list[str]) -> list[int]:
    """Offsets where each line (from `splitlines(keepends=True)`) starts."""
    return [0, *itertools.accumulate(len(line) for line in lines)][:-1] or [0]


def _line_numbers(lowered: str, starts: list[int], words: list[str]) -> Iterable[int]:
    for start, end in _matches(lowered, words):
        before = lowered[start - 1] if start else " "
        after = lowered[end] if end < len(lowered) else " "
        if _word_char(before) or _word_char(after):
            continue
        yield bisect.bisect_right(starts, start) - 1


def _word_char(char: str) -> bool:
    return char.isalnum() or char in "_$"


def _matches(lowered: str, words: list[str]) -> Iterable[tuple[int, int]]:
    try:
        import ahocorasick_rs
    except ImportError:  # fallback: the same matches, from a regex
        pattern = re.compile(
            "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
        )
        return ((match.start(), match.end()) for match in pattern.finditer(lowered))
    automaton: Any = ahocorasick_rs.AhoCorasick(
        words, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest
    )
    return ((start, end) for _, start, end in automaton.find_matches_as_indexes(lowered))
