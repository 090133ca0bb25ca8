"""The labeled SQL-injection case set: each `# case: <id> <vulnerable|safe>` marker opens a case.

A case spans from its marker to the next marker (or the end of the file); a tool "flags" a case when
it reports a finding on any line of that span. Shared by the tests and benchmarks/sqli_quality.py.

Two splits: *development* cases (the analysers were written and tuned on them; `late_dev*` files were
first meant as held-out but the analysers were then changed for them), and the *unseen* split
(`unseen_*` files, ids with `-unseen-`), written and scored before the analysers were changed for
issue 19, and never tuned on: it measures, the tests do not require it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent
_MARKER = re.compile(r"^\s*(?:#|//)\s*case:\s*(\S+)\s+(vulnerable|safe)\s*$")
LANGUAGE_DIRS = {"python": "python", "js": "javascript/typescript"}


@dataclass(frozen=True)
class Case:
    case_id: str
    vulnerable: bool
    path: str  # relative to ROOT, '/' separators
    start_line: int  # the marker line
    end_line: int  # last line of the case (inclusive)

    @property
    def language(self) -> str:
        return LANGUAGE_DIRS[self.path.split("/", 1)[0]]

    @property
    def unseen(self) -> bool:
        """In the unseen split (measured only; never used to tune the analysers)."""
        return "-unseen-" in self.case_id


def case_files(root: Path = ROOT) -> list[Path]:
    return sorted(
        path
        for directory in LANGUAGE_DIRS
        for path in (root / directory).rglob("*")
        if path.is_file()
    )


def load_cases(root: Path = ROOT) -> list[Case]:
    """Every labeled case under `root`, in file order."""
    cases: list[Case] = []
    for path in case_files(root):
        lines = path.read_text(encoding="utf-8").splitlines()
        markers = [
            (number, match)
            for number, line in enumerate(lines, start=1)
            if (match := _MARKER.match(line))
        ]
        relative = path.relative_to(root).as_posix()
        for index, (number, match) in enumerate(markers):
            end = markers[index + 1][0] - 1 if index + 1 < len(markers) else len(lines)
            cases.append(Case(match[1], match[2] == "vulnerable", relative, number, end))
    return cases


def flagged_cases(cases: list[Case], hits: dict[str, set[int]]) -> set[str]:
    """Ids of the cases with a reported line (`hits`: relative path -> lines) inside their span."""
    flagged = set()
    for case in cases:
        lines = hits.get(case.path, set())
        if any(case.start_line <= line <= case.end_line for line in lines):
            flagged.add(case.case_id)
    return flagged


@dataclass(frozen=True)
class Score:
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int

    @property
    def precision(self) -> float:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 0.0

    @property
    def recall(self) -> float:
        positives = self.true_positives + self.false_negatives
        return self.true_positives / positives if positives else 0.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def score(cases: list[Case], flagged: set[str]) -> Score:
    tp = sum(1 for case in cases if case.vulnerable and case.case_id in flagged)
    fp = sum(1 for case in cases if not case.vulnerable and case.case_id in flagged)
    fn = sum(1 for case in cases if case.vulnerable and case.case_id not in flagged)
    return Score(tp, fp, fn, len(cases) - tp - fp - fn)
