"""Every labeled case in sql_cases/ is judged right: each sink family and each safe form."""

from __future__ import annotations

import pytest

from buildrunner.security.sql import scan_source
from tests.security.sql_cases.labels import ROOT, Case, case_files, flagged_cases, load_cases, score

ALL_CASES = load_cases()
CASES = [
    case for case in ALL_CASES if not case.unseen
]  # development split: every case must be right
UNSEEN = [case for case in ALL_CASES if case.unseen]


@pytest.fixture(scope="module")
def flagged() -> set[str]:
    hits: dict[str, set[int]] = {}
    for path in case_files():
        relative = path.relative_to(ROOT).as_posix()
        findings, reason = scan_source(relative, path.read_text(encoding="utf-8"))
        assert reason is None, f"{relative} was skipped: {reason}"
        hits[relative] = {finding.line for finding in findings}
    return flagged_cases(CASES, hits)


def test_case_set_is_large_and_balanced() -> None:
    ids = [case.case_id for case in ALL_CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(CASES) >= 150
    for language in ("python", "javascript/typescript"):
        subset = [case for case in CASES if case.language == language]
        assert sum(case.vulnerable for case in subset) >= 30
        assert sum(not case.vulnerable for case in subset) >= 30


@pytest.mark.parametrize("case", CASES, ids=[case.case_id for case in CASES])
def test_case_is_judged_right(case: Case, flagged: set[str]) -> None:
    expected = "flagged" if case.vulnerable else "not flagged"
    assert (case.case_id in flagged) == case.vulnerable, (
        f"{case.path}:{case.start_line} {case.case_id} should be {expected}"
    )


def test_f1_meets_target_per_language(flagged: set[str]) -> None:
    for language in ("python", "javascript/typescript"):
        result = score([case for case in CASES if case.language == language], flagged)
        assert result.f1 >= 0.90, (language, result)


def test_unseen_split_is_present_and_balanced() -> None:
    """The unseen split is scored by benchmarks/sqli_quality.py, not asserted case by case."""
    for language in ("python", "javascript/typescript"):
        subset = [case for case in UNSEEN if case.language == language]
        assert sum(case.vulnerable for case in subset) >= 12
        assert sum(not case.vulnerable for case in subset) >= 8
