"""What the installed git hook runs: `python -m buildrunner.security.precommit [FILE...]`.

With no files (the native hook installed by `br security hooks install`), the lines the staged
diff adds are checked. With files (the pre-commit framework passes them, all tracked files under
`pre-commit run --all-files`), those files are scanned whole, as they are in the work tree
(pre-commit stashes unstaged changes first, so that is what will be committed).

Lean on purpose (no typer, rich or pydantic): the hook adds well under 100 ms to a commit.
Exit 0 lets the commit through, 1 blocks it, 2 reports a problem running the check.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Check the staged changes (no arguments) or the given files of the repository around the
    current directory."""
    from buildrunner.errors import BuildRunnerError
    from buildrunner.security.baseline import filter_new, load_baseline
    from buildrunner.security.formats import hook_text
    from buildrunner.security.git import repo_root
    from buildrunner.security.options import load_options

    files = [name for name in (argv or []) if name != "--"]
    try:
        root = repo_root(Path.cwd())
        options, baseline_path = load_options(root)
        if files:
            from buildrunner.security.scanner import scan_files

            report = scan_files(root, [_relative(name, root) for name in files], options=options)
        else:
            from buildrunner.security.check import check_staged

            report = check_staged(root, options)
        findings, _ = filter_new(report.findings, load_baseline(baseline_path))
    except BuildRunnerError as exc:
        sys.stderr.write(f"BuildRunner pre-commit: error: {exc}\n")
        return 2
    if findings:
        sys.stderr.write(hook_text(findings))
        return 1
    return 0


def _relative(name: str, root: Path) -> str:
    """A file named on the command line (relative to the current directory) relative to `root`."""
    path = (Path.cwd() / name).absolute()
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
