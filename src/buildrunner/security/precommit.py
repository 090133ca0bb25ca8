"""What the installed git hook runs: `python -m buildrunner.security.precommit`.

Lean on purpose (no typer, rich or pydantic): the hook adds well under 100 ms to a commit.
Exit 0 lets the commit through, 1 blocks it, 2 reports a problem running the check.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Check the staged changes of the repository around the current directory."""
    from buildrunner.errors import BuildRunnerError
    from buildrunner.security.baseline import filter_new, load_baseline
    from buildrunner.security.check import check_staged
    from buildrunner.security.formats import hook_text
    from buildrunner.security.git import repo_root
    from buildrunner.security.options import load_options

    try:
        root = repo_root(Path.cwd())
        options, baseline_path = load_options(root)
        report = check_staged(root, options)
        findings, _ = filter_new(report.findings, load_baseline(baseline_path))
    except BuildRunnerError as exc:
        sys.stderr.write(f"BuildRunner pre-commit: error: {exc}\n")
        return 2
    if findings:
        sys.stderr.write(hook_text(findings))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
