"""Offline training and evaluation of the learned estimator (NumPy only; never used at run time).

`benchmarks/train_complexity.py` calls `train()` to regenerate the shipped model;
`benchmarks/routing_eval.py` calls `cross_validate()` to measure it. Deterministic: folds come
from a seeded NumPy generator and the ridge solution is closed-form.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from buildrunner.routing.estimator_base import LEVELS
from buildrunner.routing.features import DENSE_NAMES, dense_features, terms
from buildrunner.routing.learned import LinearModel

ACCURACY_GOAL = 0.55
MACRO_F1_GOAL = 0.40


@dataclass(frozen=True)
class Hyper:
    alpha: float = 3.0  # ridge penalty
    dense_scale: float = 0.3  # weight of the hand-made counts beside the TF-IDF terms
    min_df: int = 2  # a term must appear in this many training texts
    class_power: float = 0.5  # sample weight = (n / (k * n_class)) ** power
    target_cap: int = 2  # regress min(level, cap): 2 merges critical into complex
    critical_cut: bool = False  # tune a third threshold (top few % of scores) for critical


def metrics(
    truth: Sequence[int], predicted: Sequence[int], k: int = len(LEVELS)
) -> tuple[float, float]:
    """(accuracy, macro-F1 over the k levels)."""
    t, p = np.asarray(truth), np.asarray(predicted)
    matrix = np.zeros((k, k))
    np.add.at(matrix, (t, p), 1)
    hits = np.diag(matrix)
    precision = hits / np.maximum(matrix.sum(0), 1)
    recall = hits / np.maximum(matrix.sum(1), 1)
    f1 = np.where(
        precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0
    )
    return float(hits.sum() / len(t)), float(f1.mean())


def objective(truth: Sequence[int], predicted: Sequence[int]) -> float:
    """How far towards both goals: the smaller of accuracy/0.55 and macro-F1/0.40."""
    accuracy, macro_f1 = metrics(truth, predicted)
    return min(accuracy / ACCURACY_GOAL, macro_f1 / MACRO_F1_GOAL)


def stratified_folds(labels: Sequence[int], k: int, seed: int) -> list[np.ndarray]:
    """Test indices of k folds, each level spread evenly, shuffled by `seed`."""
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    offset = 0
    for level in sorted(set(labels)):
        members = np.flatnonzero(np.asarray(labels) == level)
        rng.shuffle(members)
        for j, index in enumerate(members):
            folds[(j + offset) % k].append(int(index))
        offset += len(members)
    return [np.array(sorted(f)) for f in folds]


@lru_cache(maxsize=8192)
def _terms(text: str) -> Counter[str]:
    return terms(text)  # cross-validation featurises each text many times: do it once


@lru_cache(maxsize=8192)
def _dense(text: str) -> tuple[float, ...]:
    return tuple(dense_features(text))


def fit(texts: Sequence[str], labels: Sequence[int], hyper: Hyper = Hyper(),
        thresholds: tuple[float, ...] = (0.5, 1.5)) -> LinearModel:  # fmt: skip
    """Weighted ridge regression of min(level, 2) on TF-IDF terms and scaled dense counts."""
    document_frequency: Counter[str] = Counter()
    bags = [_terms(t) for t in texts]
    for bag in bags:
        document_frequency.update(bag.keys())
    vocabulary = sorted(t for t, df in document_frequency.items() if df >= hyper.min_df)
    index = {t: i for i, t in enumerate(vocabulary)}
    n = len(texts)
    idf = np.array([np.log((1 + n) / (1 + document_frequency[t])) + 1 for t in vocabulary])
    matrix = np.zeros((n, len(vocabulary)))
    for row, bag in enumerate(bags):
        for term, count in bag.items():
            if term in index:
                matrix[row, index[term]] = (1 + np.log(count)) * idf[index[term]]
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    dense = np.array([_dense(t) for t in texts])
    mean, scale = dense.mean(0), dense.std(0)
    scale[scale == 0] = 1.0
    design = np.hstack([matrix, (dense - mean) / scale * hyper.dense_scale])

    y = np.minimum(np.asarray(labels), hyper.target_cap).astype(float)
    counts = np.bincount(np.asarray(labels), minlength=len(LEVELS)).astype(float)
    weights = (n / (len(LEVELS) * counts[np.asarray(labels)])) ** hyper.class_power
    # Weighted ridge with an unpenalised intercept, solved in the dual (n << features).
    w_mean = weights / weights.sum()
    x_center, y_center = w_mean @ design, float(w_mean @ y)
    root = np.sqrt(weights)[:, None]
    xs, ys = (design - x_center) * root, (y - y_center) * root[:, 0]
    dual = np.linalg.solve(xs @ xs.T + hyper.alpha * np.eye(n), ys)
    beta = xs.T @ dual
    intercept = y_center - float(x_center @ beta)
    vocab_size = len(vocabulary)
    return LinearModel(
        vocabulary=index, idf=idf, term_weights=beta[:vocab_size], dense_mean=mean,
        dense_scale=scale, dense_weights=beta[vocab_size:] * hyper.dense_scale,
        intercept=intercept, thresholds=thresholds,
        metadata={"dense_names": list(DENSE_NAMES), "alpha": hyper.alpha, "min_df": hyper.min_df,
                  "class_power": hyper.class_power, "dense_scale": hyper.dense_scale,
                  "target_cap": hyper.target_cap, "critical_cut": hyper.critical_cut,
                  "trained_on": n},
    )  # fmt: skip


def predict_raw(model: LinearModel, texts: Sequence[str]) -> np.ndarray:
    """Raw ordinal scores, as `LinearModel.raw_score` computes them (with cached features)."""
    out = np.empty(len(texts))
    for row, text in enumerate(texts):
        tfidf: dict[int, float] = {}
        for term, count in _terms(text).items():
            index = model.vocabulary.get(term)
            if index is not None:
                tfidf[index] = (1.0 + np.log(count)) * model.idf[index]
        norm = np.sqrt(sum(v * v for v in tfidf.values())) or 1.0
        terms_part = sum(v / norm * model.term_weights[i] for i, v in tfidf.items())
        dense = (np.asarray(_dense(text)) - model.dense_mean) / model.dense_scale
        out[row] = model.intercept + terms_part + float(dense @ model.dense_weights)
    return out


CRITICAL_QUANTILES = (0.95, 0.97, 0.98, 0.99, 0.995)  # where a critical cut may sit


def tune_thresholds(raw: np.ndarray, labels: Sequence[int], steps: int = 41,
                    score: Callable[[Sequence[int], Sequence[int]], float] = objective,
                    critical: bool = False) -> tuple[float, ...]:  # fmt: skip
    """Cut points over quantiles of `raw` that maximise `score`: two, or three with `critical`.

    The critical cut is only kept when it helps; otherwise two cuts are returned.
    """
    cuts = np.quantile(raw, np.linspace(0.02, 0.98, steps))
    tops = [float(q) for q in np.quantile(raw, CRITICAL_QUANTILES)] if critical else []
    best = -1.0
    chosen: tuple[float, ...] = (float(cuts[0]), float(cuts[-1]))
    for i in range(steps):
        for j in range(i + 1, steps):
            base = (raw >= cuts[i]).astype(int) + (raw >= cuts[j])
            for top in [math.inf, *tops]:
                if top <= cuts[j]:
                    continue
                value = score(labels, base + (raw >= top))
                if value > best:
                    pair = (float(cuts[i]), float(cuts[j]))
                    best, chosen = value, pair if top == math.inf else (*pair, top)
    return chosen


def out_of_fold_raw(texts: Sequence[str], labels: Sequence[int], hyper: Hyper, k: int,
                    seed: int) -> np.ndarray:  # fmt: skip
    """Raw scores of each text from a model that did not see it (k-fold)."""
    raw = np.zeros(len(texts))
    for test in stratified_folds(labels, k, seed):
        train = np.setdiff1d(np.arange(len(texts)), test)
        model = fit([texts[i] for i in train], [labels[i] for i in train], hyper)
        raw[test] = predict_raw(model, [texts[i] for i in test])
    return raw


def train(texts: Sequence[str], labels: Sequence[int], hyper: Hyper = Hyper(), k: int = 5,
          repeats: int = 2, seed: int = 0) -> LinearModel:  # fmt: skip
    """Fit on everything; thresholds tuned on out-of-fold scores (repeated k-fold, pooled)."""
    raw = np.concatenate(
        [out_of_fold_raw(texts, labels, hyper, k, seed + r) for r in range(repeats)]
    )
    pooled_labels = list(labels) * repeats
    thresholds = tune_thresholds(raw, pooled_labels, critical=hyper.critical_cut)
    return fit(texts, labels, hyper, thresholds)


def cross_validate(texts: Sequence[str], labels: Sequence[int], hyper: Hyper = Hyper(), k: int = 5,
                   repeats: int = 3, inner_k: int = 4, seed: int = 100,
                   ) -> list[tuple[float, float]]:  # fmt: skip
    """(accuracy, macro-F1) per outer test fold; thresholds tuned inside each training part."""
    results: list[tuple[float, float]] = []
    for r in range(repeats):
        for test in stratified_folds(labels, k, seed + r):
            train_idx = np.setdiff1d(np.arange(len(texts)), test)
            train_texts = [texts[i] for i in train_idx]
            train_labels = [labels[i] for i in train_idx]
            model = train(
                train_texts, train_labels, hyper, k=inner_k, repeats=1, seed=seed + 50 + r
            )
            raw = predict_raw(model, [texts[i] for i in test])
            predicted = [model.level_index(v) for v in raw]
            results.append(metrics([labels[i] for i in test], predicted))
    return results
