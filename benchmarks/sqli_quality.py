"""Precision / recall / F1 of our SQL-injection analysers beside bandit B608, ruff S608 and semgrep.

    .venv/bin/python benchmarks/sqli_quality.py [--quick] [--no-peers] [--json]

The labeled set is tests/security/sql_cases (one case per `# case:` marker). A tool flags a case when
it reports any line inside the case. The cases are copied to a temporary directory first, because
semgrep skips paths under `tests/` by default. Peers are installed into benchmarks/.venv-<peer> on
first use; a peer that cannot be installed is reported as skipped.

The semgrep peer does NOT run semgrep's registry rules (the registry is not reachable offline): it runs
this project's re-creations of them, benchmarks/semgrep_sqli_rules.yml (`--metrics=off`), so its
figures are those of our re-creations; the real registry rules may score differently.

Subsets: `development` (the cases the analysers were written and tuned on) and `unseen` (written and
scored before the analysers were changed for issue 19, never tuned on; see labels.py).
`--quick` skips semgrep (the slowest peer to start).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

from buildrunner.security.sql import scan_source  # noqa: E402
from tests.security.sql_cases.labels import (  # noqa: E402
    ROOT,
    Case,
    Score,
    case_files,
    flagged_cases,
    load_cases,
    score,
)

Hits = dict[str, set[int]]  # relative path -> reported lines
LANGUAGES = ("python", "javascript/typescript")


def peer_bin(name: str, package: str, executable: str) -> Path | None:
    """`executable` from benchmarks/.venv-NAME, installing `package` there on first use."""
    venv = HERE / f".venv-{name}"
    binary = venv / "bin" / executable
    if binary.exists():
        return binary
    try:
        if not (venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", package],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"note: cannot install {package} ({exc}); {name} is skipped", file=sys.stderr)
        return None
    return binary if binary.exists() else None


def ours(root: Path) -> Hits:
    hits: Hits = {}
    for path in case_files(root):
        relative = path.relative_to(root).as_posix()
        findings, _ = scan_source(relative, path.read_text(encoding="utf-8"))
        hits[relative] = {finding.line for finding in findings}
    return hits


def _add(hits: Hits, root: Path, filename: str, first: int, last: int) -> None:
    relative = Path(filename).resolve().relative_to(root.resolve()).as_posix()
    hits.setdefault(relative, set()).update(range(first, last + 1))


def bandit(root: Path) -> Hits | None:
    binary = peer_bin("bandit", "bandit", "bandit")
    if binary is None:
        return None
    result = subprocess.run(
        [str(binary), "-q", "-f", "json", "-t", "B608", "-r", str(root / "python")],
        capture_output=True,
        text=True,
    )
    hits: Hits = {}
    for issue in json.loads(result.stdout or "{}").get("results", []):
        lines = issue.get("line_range") or [issue["line_number"]]
        _add(hits, root, issue["filename"], min(lines), max(lines))
    return hits


def ruff(root: Path) -> Hits | None:
    binary = peer_bin("ruff", "ruff", "ruff")
    if binary is None:
        return None
    result = subprocess.run(
        [
            str(binary),
            "check",
            "--isolated",
            "--select",
            "S608",
            "--output-format",
            "json",
            "--exit-zero",
            str(root / "python"),
        ],
        capture_output=True,
        text=True,
    )
    hits: Hits = {}
    for issue in json.loads(result.stdout or "[]"):
        _add(hits, root, issue["filename"], issue["location"]["row"], issue["end_location"]["row"])
    return hits


def semgrep(root: Path) -> Hits | None:
    binary = peer_bin("semgrep", "semgrep", "semgrep")
    if binary is None:
        return None
    result = subprocess.run(
        [
            str(binary),
            "scan",
            "--metrics=off",
            "--disable-version-check",
            "--quiet",
            "--json",
            "--config",
            str(HERE / "semgrep_sqli_rules.yml"),
            str(root),
        ],
        capture_output=True,
        text=True,
    )
    hits: Hits = {}
    for issue in json.loads(result.stdout or "{}").get("results", []):
        _add(hits, root, issue["path"], issue["start"]["line"], issue["end"]["line"])
    return hits


TOOLS: dict[str, tuple[Callable[[Path], Hits | None], tuple[str, ...]]] = {
    "buildrunner": (ours, LANGUAGES),
    "bandit B608": (bandit, ("python",)),
    "ruff S608": (ruff, ("python",)),
    "semgrep (our re-created rules)": (semgrep, LANGUAGES),
}


def evaluate(quick: bool, with_peers: bool) -> dict[str, dict[str, dict[str, float]]]:
    cases = load_cases()
    report: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="sqli-cases-") as tmp:
        root = Path(tmp)
        for directory in ("python", "js"):
            shutil.copytree(ROOT / directory, root / directory)
        for name, (run, languages) in TOOLS.items():
            if name != "buildrunner" and (not with_peers or (quick and "semgrep" in name)):
                continue
            started = time.perf_counter()
            hits = run(root)
            elapsed = time.perf_counter() - started
            if hits is None:
                continue
            flagged = flagged_cases(cases, hits)
            rows: dict[str, dict[str, float]] = {}
            for subset_name, subset in _subsets(cases, languages):
                rows[subset_name] = _row(score(subset, flagged))
            rows["_seconds"] = {"wall": round(elapsed, 2)}
            report[name] = rows
    return report


def _subsets(cases: list[Case], languages: tuple[str, ...]) -> list[tuple[str, list[Case]]]:
    subsets: list[tuple[str, list[Case]]] = []
    for split, unseen in (("development", False), ("unseen", True)):
        part = [case for case in cases if case.unseen == unseen]
        subsets += [
            (f"{split} {language}", [c for c in part if c.language == language])
            for language in languages
        ]
        subsets.append((f"{split} all (unsupported language = missed)", part))
    return subsets


def _row(result: Score) -> dict[str, float]:
    return {
        "precision": round(result.precision, 3),
        "recall": round(result.recall, 3),
        "f1": round(result.f1, 3),
        "tp": result.true_positives,
        "fp": result.false_positives,
        "fn": result.false_negatives,
        "tn": result.true_negatives,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip semgrep")
    parser.add_argument("--no-peers", action="store_true", help="only our analysers")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    report = evaluate(args.quick, not args.no_peers)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    cases = load_cases()
    print(f"labeled cases: {len(cases)} ({sum(c.vulnerable for c in cases)} vulnerable)")
    print(f"{'tool':<24} {'subset':<44} {'prec':>5} {'rec':>5} {'F1':>5}  tp  fp  fn")
    for tool, rows in report.items():
        for subset, row in rows.items():
            if subset.startswith("_"):
                continue
            print(
                f"{tool:<24} {subset:<44} {row['precision']:>5.2f} {row['recall']:>5.2f} "
                f"{row['f1']:>5.2f} {row['tp']:>3} {row['fp']:>3} {row['fn']:>3}"
            )


if __name__ == "__main__":
    main()
