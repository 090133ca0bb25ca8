"""Measure the complexity estimators and the cost saving of routing, on the labelled dev set.

    .venv/bin/python benchmarks/routing_eval.py [--quick] [--data PATH] [--json]

Figures printed (and copied into docs/ROUTING.md):
- majority-class baseline (always "moderate");
- heuristic: the shipped weights and thresholds on the whole dev set (they were set by looking at
  it: optimistic), and with its two thresholds re-tuned inside each training fold (honest);
- learned: repeated stratified 5-fold cross-validation; inside each training part the decision
  thresholds are tuned on an inner 4-fold split, so no test text influences its own prediction;
- the shipped learned model on the dev set it was trained on (in-sample: optimistic, for reference);
- cost: every dev task priced with the token assumptions of `routing/tokens.py` at its TRUE level
  (the work a task needs does not depend on the model), on the model its PREDICTED level routes to,
  against everything on Opus and against routing by the true level (oracle).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from buildrunner.routing.catalog import load_catalog, price_call  # noqa: E402
from buildrunner.routing.estimator_base import LEVELS  # noqa: E402
from buildrunner.routing.heuristic import HeuristicEstimator  # noqa: E402
from buildrunner.routing.learned import LearnedEstimator  # noqa: E402
from buildrunner.routing.tokens import estimate_tokens  # noqa: E402
from buildrunner.routing.training import (  # noqa: E402
    Hyper,
    metrics,
    stratified_folds,
    train,
    tune_thresholds,
)

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "complexity-dev.jsonl"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_complexity import HYPER, load  # noqa: E402


def per_class_f1(truth: list[int], predicted: list[int]) -> list[float]:
    out = []
    for level in range(len(LEVELS)):
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p == level)
        fp = sum(1 for t, p in zip(truth, predicted, strict=True) if p == level != t)
        fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t == level != p)
        out.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return out


def summarise(name: str, folds: list[tuple[float, float]]) -> dict[str, Any]:
    scores = np.array(folds)
    return {
        "name": name,
        "accuracy": round(float(scores[:, 0].mean()), 3),
        "accuracy_sd": round(float(scores[:, 0].std()), 3),
        "macro_f1": round(float(scores[:, 1].mean()), 3),
        "macro_f1_sd": round(float(scores[:, 1].std()), 3),
        "folds": len(folds),
    }


def learned_cv(
    texts: list[str], labels: list[int], hyper: Hyper, repeats: int
) -> tuple[list[tuple[float, float]], list[list[int]]]:
    """Fold scores and out-of-fold predictions (one list per repeat)."""
    folds: list[tuple[float, float]] = []
    predictions: list[list[int]] = []
    for r in range(repeats):
        predicted = [0] * len(texts)
        for test in stratified_folds(labels, 5, 100 + r):
            train_idx = np.setdiff1d(np.arange(len(texts)), test)
            model = train([texts[i] for i in train_idx], [labels[i] for i in train_idx], hyper,
                          k=4, repeats=1, seed=150 + r)  # fmt: skip
            estimator = LearnedEstimator(model)
            fold_pred = [LEVELS.index(estimator.estimate(texts[i]).level) for i in test]
            for i, p in zip(test, fold_pred, strict=True):
                predicted[i] = p
            folds.append(metrics([labels[i] for i in test], fold_pred))
        predictions.append(predicted)
    return folds, predictions


def heuristic_cv(
    raw: np.ndarray, critical: list[bool], labels: list[int], repeats: int
) -> list[tuple[float, float]]:
    """The heuristic's weights as shipped, its two thresholds tuned on each training part."""
    folds = []
    for r in range(repeats):
        for test in stratified_folds(labels, 5, 100 + r):
            train_idx = np.setdiff1d(np.arange(len(labels)), test)
            low, high = tune_thresholds(raw[train_idx], [labels[i] for i in train_idx])
            predicted = [
                3 if critical[i] else int(raw[i] >= low) + int(raw[i] >= high) for i in test
            ]
            folds.append(metrics([labels[i] for i in test], predicted))
    return folds


def cost_saving(texts: list[str], labels: list[int], predicted: list[int]) -> dict[str, Any]:
    catalog = load_catalog()
    opus = catalog.get("opus")
    routed = opus_total = oracle = Decimal(0)
    under = 0
    for text, truth, guess in zip(texts, labels, predicted, strict=True):
        tokens = estimate_tokens(text, LEVELS[truth])
        model = catalog.resolve(catalog.levels[LEVELS[guess]])
        oracle_model = catalog.resolve(catalog.levels[LEVELS[truth]])
        routed += price_call(model, tokens.input_tokens, tokens.output_tokens)
        opus_total += price_call(opus, tokens.input_tokens, tokens.output_tokens)
        oracle += price_call(oracle_model, tokens.input_tokens, tokens.output_tokens)
        under += truth >= 2 and model.tier == catalog.tiers[0]
    return {
        "tasks": len(texts),
        "all_opus_usd": str(opus_total.quantize(Decimal("0.01"))),
        "routed_usd": str(routed.quantize(Decimal("0.01"))),
        "oracle_usd": str(oracle.quantize(Decimal("0.01"))),
        "saving_vs_opus": round(float(1 - routed / opus_total), 3),
        "oracle_saving_vs_opus": round(float(1 - oracle / opus_total), 3),
        "complex_or_critical_sent_to_fast_tier": int(under),
        "complex_or_critical_tasks": sum(1 for t in labels if t >= 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="one CV repeat instead of three")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else 3
    texts, labels = load(args.data)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []

    majority = Counter(labels).most_common(1)[0][0]
    rows.append(
        summarise(
            f"majority class ({LEVELS[majority]})", [metrics(labels, [majority] * len(labels))]
        )
    )

    heuristic = HeuristicEstimator()
    t0 = time.perf_counter()
    estimates = [heuristic.estimate(t) for t in texts]
    heuristic_ms = (time.perf_counter() - t0) / len(texts) * 1000
    shipped = [LEVELS.index(e.level) for e in estimates]
    rows.append(
        summarise(
            "heuristic, shipped thresholds (set on dev: optimistic)", [metrics(labels, shipped)]
        )
    )
    raw = np.array([e.score for e in estimates])
    critical = [e.level == "critical" and "critical_phrase" in e.signals for e in estimates]
    rows.append(
        summarise(
            f"heuristic, thresholds tuned in-fold ({repeats}x5-fold CV)",
            heuristic_cv(raw, critical, labels, repeats),
        )
    )

    folds, oof = learned_cv(texts, labels, HYPER, repeats)
    rows.append(summarise(f"learned ({repeats}x5-fold CV, nested threshold tuning)", folds))

    shipped_model = LearnedEstimator.load()
    t0 = time.perf_counter()
    in_sample = [LEVELS.index(shipped_model.estimate(t).level) for t in texts]
    learned_ms = (time.perf_counter() - t0) / len(texts) * 1000
    rows.append(
        summarise(
            "learned, shipped model on its own training data (optimistic)",
            [metrics(labels, in_sample)],
        )
    )

    report = {
        "data": str(args.data),
        "tasks": len(texts),
        "distribution": {LEVELS[k]: v for k, v in sorted(Counter(labels).items())},
        "goals": {"accuracy": 0.55, "macro_f1": 0.40},
        "estimators": rows,
        "learned_cv_per_class_f1": dict(
            zip(LEVELS, (round(f, 3) for f in per_class_f1(labels, oof[0])), strict=True)
        ),
        "learned_cv_predicted_distribution": {
            LEVELS[k]: v for k, v in sorted(Counter(oof[0]).items())
        },
        "ms_per_task": {"heuristic": round(heuristic_ms, 3), "learned": round(learned_ms, 3)},
        "cost_learned_cv": cost_saving(texts, labels, oof[0]),
        "cost_heuristic": cost_saving(texts, labels, shipped),
        "seconds": round(time.perf_counter() - started, 1),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"complexity estimators on {args.data.name}: {len(texts)} tasks {report['distribution']}")
    print("goal on held-out data: accuracy >= 0.55 and macro-F1 >= 0.40\n")
    print(f"{'estimator':<66} {'accuracy':>15} {'macro-F1':>15}")
    for row in rows:
        spread = row["folds"] > 1
        acc = f"{row['accuracy']:.3f}" + (f" ±{row['accuracy_sd']:.3f}" if spread else "")
        f1 = f"{row['macro_f1']:.3f}" + (f" ±{row['macro_f1_sd']:.3f}" if spread else "")
        print(f"{row['name']:<66} {acc:>15} {f1:>15}")
    print(
        "(issue's reference on held-out data: TF-IDF + logistic regression, accuracy 0.46, macro-F1 0.31)"
    )
    print(f"\nlearned CV per-class F1: {report['learned_cv_per_class_f1']}")
    print(f"learned CV predicted distribution: {report['learned_cv_predicted_distribution']}")
    print(f"time per task: heuristic {heuristic_ms:.3f} ms, learned {learned_ms:.3f} ms")
    for name in ("cost_learned_cv", "cost_heuristic"):
        c = report[name]
        print(
            f"\ncost ({name.removeprefix('cost_')}): all on Opus ${c['all_opus_usd']}, routed ${c['routed_usd']}"
            f" (saving {c['saving_vs_opus']:.0%}), oracle routing ${c['oracle_usd']}"
            f" (saving {c['oracle_saving_vs_opus']:.0%}); complex/critical tasks sent to the fast tier:"
            f" {c['complex_or_critical_sent_to_fast_tier']} of {c['complex_or_critical_tasks']}"
        )
    print(f"\n({report['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
