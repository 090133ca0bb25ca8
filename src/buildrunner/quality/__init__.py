"""Quality gates: security clean, tests passed, coverage, budget, no open critical alert."""
