"""Regenerate the learned complexity model shipped in src/buildrunner/routing/data/.

    .venv/bin/python benchmarks/train_complexity.py [--data PATH] [--output PATH]

Deterministic: the same data gives the same file, byte for byte (closed-form ridge, seeded folds).
Hyper-parameters are the ones chosen by cross-validation (benchmarks/routing_eval.py, docs/ROUTING.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from buildrunner.routing.estimator_base import LEVELS  # noqa: E402
from buildrunner.routing.training import Hyper, train  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "complexity-dev.jsonl"
DEFAULT_OUTPUT = ROOT / "src" / "buildrunner" / "routing" / "data" / "complexity_model.json"
HYPER = Hyper(
    alpha=3.0, dense_scale=0.3, min_df=2, class_power=0.5, target_cap=2, critical_cut=False
)


def load(path: Path) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            texts.append(item["text"])
            labels.append(LEVELS.index(item["level"]))
    return texts, labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    texts, labels = load(args.data)
    model = train(texts, labels, HYPER)
    data = model.to_json()
    data["metadata"]["data_sha256"] = hashlib.sha256(args.data.read_bytes()).hexdigest()
    args.output.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
    size = args.output.stat().st_size
    print(f"wrote {args.output} ({size / 1024:.0f} KiB, {len(data['terms'])} terms,"
          f" thresholds {data['thresholds']})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
