"""The learned complexity estimator: an ordinal linear model shipped as a JSON data file.

Model: ridge regression of the level index (simple 0, moderate 1, complex 2, critical 2 or 3) on
TF-IDF word and word-pair features plus standardised hand-made counts, with three decision
thresholds on that score tuned by cross-validation (`benchmarks/train_complexity.py` regenerates `data/complexity_model.json`).
Inference is a sparse dot product in plain Python/NumPy: no network, no heavy dependency.
An explicit risk phrase (see `complexity.CRITICAL`) also makes a task critical: 12 examples of that
level in the training data are too few to learn it well.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from buildrunner.errors import RoutingError
from buildrunner.routing.estimator_base import CRITICAL, LEVELS, Estimate, top_level_dirs
from buildrunner.routing.features import dense_features, terms

MODEL_FILE = "data/complexity_model.json"
# Declared files are not in the training data; they raise the score by a documented prior.
FILE_PRIOR = 0.08  # per declared file
MAX_FILE_PRIOR = 0.4
CROSS_MODULE_PRIOR = 0.15


@dataclass(frozen=True)
class LinearModel:
    """Weights of the ordinal model (what the JSON file holds)."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    term_weights: np.ndarray
    dense_mean: np.ndarray
    dense_scale: np.ndarray
    dense_weights: np.ndarray
    intercept: float
    thresholds: tuple[float, ...]  # 2 (simple|moderate|complex) or 3 (... |critical) cut points
    metadata: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        ordered = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        return {
            "format": 1,
            "metadata": self.metadata,
            "terms": ordered,
            "idf": [round(float(v), 6) for v in self.idf],
            "term_weights": [round(float(v), 6) for v in self.term_weights],
            "dense_mean": [round(float(v), 6) for v in self.dense_mean],
            "dense_scale": [round(float(v), 6) for v in self.dense_scale],
            "dense_weights": [round(float(v), 6) for v in self.dense_weights],
            "intercept": round(self.intercept, 6),
            "thresholds": [round(t, 6) for t in self.thresholds],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinearModel:
        if data.get("format") != 1:
            raise RoutingError("unsupported complexity model format")
        return cls(
            vocabulary={term: i for i, term in enumerate(data["terms"])},
            idf=np.asarray(data["idf"], dtype=float),
            term_weights=np.asarray(data["term_weights"], dtype=float),
            dense_mean=np.asarray(data["dense_mean"], dtype=float),
            dense_scale=np.asarray(data["dense_scale"], dtype=float),
            dense_weights=np.asarray(data["dense_weights"], dtype=float),
            intercept=float(data["intercept"]),
            thresholds=tuple(float(t) for t in data["thresholds"]),
            metadata=dict(data.get("metadata", {})),
        )

    def tfidf(self, text: str) -> dict[int, float]:
        """Sparse TF-IDF row (sub-linear term frequency, L2-normalised)."""
        row: dict[int, float] = {}
        for term, count in terms(text).items():
            index = self.vocabulary.get(term)
            if index is not None:
                row[index] = (1.0 + math.log(count)) * float(self.idf[index])
        norm = math.sqrt(sum(v * v for v in row.values())) or 1.0
        return {i: v / norm for i, v in row.items()}

    def dense(self, text: str) -> np.ndarray:
        dense: np.ndarray = (np.asarray(dense_features(text)) - self.dense_mean) / self.dense_scale
        return dense

    def raw_score(self, text: str) -> tuple[float, dict[int, float]]:
        """The ordinal score (about 0 = simple ... 2 = complex) and each term's contribution."""
        contributions = {i: v * float(self.term_weights[i]) for i, v in self.tfidf(text).items()}
        dense = float(self.dense(text) @ self.dense_weights)
        return self.intercept + sum(contributions.values()) + dense, contributions

    def level_index(self, raw: float) -> int:
        return sum(1 for cut in self.thresholds if raw >= cut)


class LearnedEstimator:
    """Ordinal linear model over words and counts; see the module docstring."""

    name = "learned"

    def __init__(self, model: LinearModel) -> None:
        self.model = model
        self._terms = sorted(model.vocabulary, key=model.vocabulary.__getitem__)

    @classmethod
    def load(cls, path: Path | None = None) -> LearnedEstimator:
        """The shipped model, or one from `path`."""
        try:
            if path is None:
                text = (
                    resources.files("buildrunner.routing").joinpath(MODEL_FILE).read_text("utf-8")
                )
            else:
                text = path.read_text(encoding="utf-8")
            return cls(LinearModel.from_json(json.loads(text)))
        except (OSError, ValueError, KeyError, IndexError) as exc:
            raise RoutingError(f"cannot load the complexity model: {exc}") from None

    def estimate(self, text: str, files: Sequence[str] = ()) -> Estimate:
        raw, contributions = self.model.raw_score(text)
        prior = min(len(files) * FILE_PRIOR, MAX_FILE_PRIOR)
        if len(top_level_dirs(files)) > 1:
            prior += CROSS_MODULE_PRIOR
        raw += prior
        critical = CRITICAL.search(text)
        level = "critical" if critical else LEVELS[self.model.level_index(raw)]
        ranked = sorted(contributions.items(), key=lambda item: item[1])
        signals: dict[str, Any] = {
            "raw": round(raw, 4),
            "thresholds": [round(t, 4) for t in self.model.thresholds if math.isfinite(t)],
            "words": len(text.split()),
            "files": len(files),
            "harder": [self._terms[i] for i, v in reversed(ranked[-5:]) if v > 0],
            "easier": [self._terms[i] for i, v in ranked[:5] if v < 0],
        }
        if prior:
            signals["files_prior"] = round(prior, 3)
        if critical:
            signals["critical_phrase"] = critical.group(0).lower()
        score = round(min(max(raw / 2.5 * 100, 0.0), 100.0), 1)
        return Estimate(level, score, signals, self.name)
