"""Write scope from declared files, and confinement to the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from buildrunner.executors.workspace import FileScope, PathRefused, Workspace


@pytest.mark.parametrize(
    ("files", "path", "allowed"),
    [
        (["app/auth.py"], "app/auth.py", True),
        (["./app/auth.py"], "app/auth.py", True),
        (["app/auth.py"], "app/auth.pyc", False),
        (["app/auth.py"], "app/other.py", False),
        (["app/"], "app/deep/x.py", True),
        (["app/"], "application.py", False),
        (["app"], "app/x.py", False),  # no trailing slash: a file, as the file locks read it
        (["tests/*.py"], "tests/test_a.py", True),
        (["tests/*.py"], "tests/sub/test_a.py", False),
        (["tests/**/*.py"], "tests/test_a.py", True),
        (["tests/**/*.py"], "tests/sub/deep/test_a.py", True),
        (["tests/**/*.py"], "src/test_a.py", False),
        (["src/mod?.ts"], "src/mod1.ts", True),
        (["src/mod[0-9].ts"], "src/modx.ts", False),
        (["**"], "anything/at/all.txt", True),
        ([], "a.py", False),
    ],
)
def test_file_scope(files: list[str], path: str, allowed: bool) -> None:
    assert FileScope.from_files(files).allows(path) is allowed


def test_resolve_for_write(tmp_path: Path) -> None:
    space = Workspace(tmp_path, ["app/"])
    real, relative = space.resolve_for_write("app/new.py")
    assert real == tmp_path.resolve() / "app" / "new.py" and relative == "app/new.py"
    real, relative = space.resolve_for_write(str(tmp_path / "app" / "abs.py"))
    assert relative == "app/abs.py"
    for bad in ["other.py", "../app/x.py", "app/../other.py", "", "/etc/passwd"]:
        with pytest.raises(PathRefused):
            space.resolve_for_write(bad)


def test_directory_is_not_writable(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    with pytest.raises(PathRefused, match="directory"):
        Workspace(tmp_path, ["**"]).resolve_for_write("app")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["..", ".", "a", "b", "", "link"]), min_size=1, max_size=6))
def test_resolved_paths_never_leave_the_root(parts: list[str]) -> None:
    root = Path(__file__).parent  # any existing directory works: nothing is written
    space = Workspace(root, ["**"])
    requested = "/".join(parts)
    try:
        real = space.resolve(requested)
    except PathRefused:
        return
    assert real == space.root or space.root in real.parents
