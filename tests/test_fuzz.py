"""A short fuzz run in every `make test`: plans, settings and CLI arguments.

Fixed seed; at most CASES cases or BUDGET_S seconds, whichever ends first (case N is the same
input on every machine, a slower machine just runs fewer), and never fewer than MIN_CASES.

The long run with more cases and seeds is tests/slow/test_fuzz_long.py (`make slow`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_br
from tests.fuzzing import arguments, cases, check, env_setters, invoke, plan_text, run_campaign

SEED = 20261130
CASES = 150
BUDGET_S = 8.0
MIN_CASES = 30


@pytest.fixture
def project_with_history(project: Path) -> Path:
    """A project whose store holds one finished build (so readers have rows to read)."""
    (project / "plan.yaml").write_text("name: seed\ntasks:\n  - id: a\n    run: echo seeded\n")
    run_br("run", "plan.yaml", cwd=project).assert_success()
    return project


def test_fuzz_plans_settings_and_arguments(
    project_with_history: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env, clear_env = env_setters(monkeypatch)
    ran = run_campaign(
        project_with_history,
        SEED,
        CASES,
        set_env,
        clear_env,
        budget_s=BUDGET_S,
    )
    if ran < MIN_CASES:  # a very slow machine: finish the minimum rather than test too little
        ran += run_campaign(project_with_history, SEED + 1, MIN_CASES - ran, set_env, clear_env)
    assert ran >= MIN_CASES


def test_the_generators_are_fixed_by_the_seed() -> None:
    first = [(plan_text(rng), arguments(rng)) for _, rng in cases(SEED, 20)]
    again = [(plan_text(rng), arguments(rng)) for _, rng in cases(SEED, 20)]
    assert first == again
    assert len({text for text, _ in first}) > 10  # and they do vary


def test_the_property_catches_a_bug(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker is not vacuous: a command with a bug in it fails it."""
    from buildrunner.cli import main as cli_main

    monkeypatch.setitem(
        cli_main.COMMANDS, "boom", ("tests.test_malformed_inputs", "boom_command", "")
    )
    outcome = invoke(["boom"])
    assert outcome.code == 3
    with pytest.raises(AssertionError, match="exit 3"):
        check(outcome, "boom")
