"""Text features of a task description, shared by training and inference of the learned estimator.

Two kinds: word and word-pair terms (TF-IDF weighted, vocabulary learned in training) and a few
hand-made counts (length, code identifiers, paths, and the word families of the heuristic).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter

from buildrunner.routing.estimator_base import COMPILED_SIGNALS

TOKEN = re.compile(r"\b\w\w+\b")
CODE = re.compile(r"`[^`]+`|\b\w+\.\w+\(|\b[a-z]+_[a-z_]+\b|\b[A-Z][a-z]+[A-Z]\w*\b|\w+\(\)")
PATH = re.compile(r"\b[\w/]+\.(?:py|js|ts|rst|txt|cfg|toml|c|h|md|json|ya?ml)\b")
ERROR = re.compile(r"\b(?:\w+Error|\w+Exception|traceback|raises?)\b", re.IGNORECASE)

DENSE_NAMES: tuple[str, ...] = (
    "log_chars", "log_words", "sentences_per_10_words", "code_per_10_words", "log_code",
    "log_paths", "log_errors", *(signal.name for signal, _ in COMPILED_SIGNALS),
)  # fmt: skip


def terms(text: str) -> Counter[str]:
    """Lower-cased words (2+ characters) and adjacent word pairs, with counts."""
    words = TOKEN.findall(text.lower())
    found: Counter[str] = Counter(words)
    found.update(f"{a} {b}" for a, b in itertools.pairwise(words))
    return found


def dense_features(text: str) -> list[float]:
    """Hand-made counts, log-scaled: one value per name in DENSE_NAMES."""
    words = max(len(text.split()), 1)
    code = len(CODE.findall(text))
    values = [
        math.log1p(len(text)),
        math.log1p(words),
        text.count(".") / words * 10,
        code / words * 10,
        math.log1p(code),
        math.log1p(len(PATH.findall(text))),
        math.log1p(len(ERROR.findall(text))),
    ]
    values += [math.log1p(len(regex.findall(text))) for _, regex in COMPILED_SIGNALS]
    return values
