"""The long fuzz run (`make slow`): the same property as tests/test_fuzz.py over many more cases
and several seeds, plus real builds of fuzzed plans that validate."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_br
from tests.fuzzing import cases, env_setters, plan_text, run_campaign

pytestmark = pytest.mark.slow

SEEDS = [1, 2, 3, 20261130]
CASES = 1500


@pytest.mark.parametrize("seed", SEEDS)
def test_long_fuzz_campaign(project: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    (project / "plan.yaml").write_text("name: seed\ntasks:\n  - id: a\n    run: echo seeded\n")
    run_br("run", "plan.yaml", cwd=project).assert_success()

    set_env, clear_env = env_setters(monkeypatch)
    assert run_campaign(project, seed, CASES, set_env, clear_env) == CASES


def test_fuzzed_plans_that_validate_also_run(project: Path) -> None:
    """A plan `br plan validate` accepts must not fail later for a reason validation could see."""
    ran = 0
    for number, rng in cases(7, 400):
        text = plan_text(rng)
        (project / "plan.yaml").write_text(text, encoding="utf-8", errors="surrogateescape")
        if run_br("plan", "validate", "plan.yaml", cwd=project).returncode != 0:
            continue
        result = run_br("run", "plan.yaml", "--json", cwd=project, timeout=120)
        assert result.returncode in (0, 1), f"case {number}\n{text}\n{result}"
        check_text = result.stdout + result.stderr
        assert "Traceback" not in check_text and "internal error" not in check_text, result
        ran += 1
        if ran >= 25:
            break
    assert ran > 0
