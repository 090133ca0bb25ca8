"""Merge-back onto the integration tree: in the caller's order, conflicts caught in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildrunner.build.git import IsolationError
from buildrunner.build.isolation import Isolation
from tests.build.conftest import census, git

MODELS = "def load():\n    return 'load'\n\n\ndef save():\n    return 'save'\n"


def edit(workspace: Path, path: str, old: str, new: str) -> None:
    target = workspace / path
    target.write_text(target.read_text().replace(old, new))


def two_tasks(iso: Isolation, edits: dict[str, tuple[str, str, str]]) -> list[Path]:
    """Snapshot, then one task per entry making its edit (path, old, new) and committing it."""
    iso.snapshot()
    workspaces = []
    for task_id, (path, old, new) in edits.items():
        workspaces.append(iso.workspace(task_id))
        edit(workspaces[-1], path, old, new)
    for task_id in edits:
        assert iso.commit_task(task_id) is not None
    return workspaces


def test_two_tasks_editing_different_files_of_one_module_both_merge(
    repo: Path, iso: Isolation
) -> None:
    two_tasks(
        iso,
        {
            "models": ("app/models.py", "'load'", "'load v2'"),
            "views": ("app/views.py", "'show'", "'show v2'"),
        },
    )
    results = iso.merge_all(["models", "views"])
    assert [(r.status, r.detail) for r in results] == [
        ("merged", "fast-forward"),
        ("merged", "merge"),
    ]
    tip = iso.integration()
    assert "'load v2'" in git(repo, "show", f"{tip}:app/models.py")
    assert "'show v2'" in git(repo, "show", f"{tip}:app/views.py")
    assert (repo / "app" / "models.py").read_text() == MODELS  # nothing landed yet


def test_edits_to_different_functions_of_one_file_merge(repo: Path, iso: Isolation) -> None:
    two_tasks(
        iso,
        {
            "load": ("app/models.py", "'load'", "'loaded'"),
            "save": ("app/models.py", "'save'", "'saved'"),
        },
    )
    assert [r.status for r in iso.merge_all(["load", "save"])] == ["merged", "merged"]
    merged = git(repo, "show", f"{iso.integration()}:app/models.py")
    assert "'loaded'" in merged and "'saved'" in merged


def test_two_tasks_editing_the_same_lines_conflict_and_nothing_is_lost(
    repo: Path, iso: Isolation
) -> None:
    _, second = two_tasks(
        iso,
        {
            "first": ("app/models.py", "'load'", "'first'"),
            "second": ("app/models.py", "'load'", "'second'"),
        },
    )
    (second / "app" / "extra.py").write_text("EXTRA = 1\n")
    change = iso.commit_task("second")
    assert change is not None
    assert {f.path: f.status for f in change.files} == {"app/models.py": "M", "app/extra.py": "A"}
    files_before = census(repo)
    tip_before = iso.merge("first").integration

    result = iso.merge("second")

    assert result.status == "conflict" and not result.merged
    assert result.conflicts == ["app/models.py"]
    assert result.integration == tip_before == iso.integration()  # the integration did not move
    [hunk] = result.hunks
    assert (hunk.path, hunk.kind) == ("app/models.py", "content")
    assert "'first'" in hunk.ours and "'second'" in hunk.theirs and "'load'" in (hunk.base or "")
    assert hunk.line == 2
    assert census(repo) == files_before  # the user's tree saw nothing
    # the branch keeps the whole change, extra file included
    assert git(repo, "show", f"{result.branch}:app/models.py").count("'second'") == 1
    assert git(repo, "show", f"{result.branch}:app/extra.py") == "EXTRA = 1\n"
    assert [h.path for h in iso.conflict_hunks("second")] == ["app/models.py"]
    assert iso.state.tasks["second"].state == "conflict"


def test_modify_and_delete_conflicts_name_their_kind(repo: Path, iso: Isolation) -> None:
    iso.snapshot()
    editor, remover = iso.workspace("editor"), iso.workspace("remover")
    edit(editor, "app/views.py", "'show'", "'shown'")
    (remover / "app" / "views.py").unlink()
    iso.commit_task("editor")
    iso.commit_task("remover")
    iso.merge("editor")
    result = iso.merge("remover")
    assert result.status == "conflict"
    assert [(h.path, h.kind) for h in result.hunks] == [("app/views.py", "modify/delete")]
    assert "deleted" in result.hunks[0].message


def test_a_dependent_task_starts_from_the_tip_that_holds_its_dependency(
    repo: Path, iso: Isolation
) -> None:
    iso.snapshot()
    edit(iso.workspace("schema"), "app/models.py", "'save'", "'saved'")
    iso.commit_task("schema")
    iso.merge("schema")
    dependent = iso.workspace("api", iso.integration())
    assert "'saved'" in (dependent / "app" / "models.py").read_text()
    (dependent / "app" / "api.py").write_text("from app.models import save\n")
    iso.commit_task("api")
    assert iso.merge("api").detail == "fast-forward"


def test_merging_again_after_a_crash_does_not_merge_twice(repo: Path, iso: Isolation) -> None:
    iso.snapshot()
    edit(iso.workspace("a"), "README.md", "demo", "demo a")
    edit(iso.workspace("b"), "app/views.py", "'show'", "'b'")
    iso.commit_task("a")
    iso.commit_task("b")
    iso.merge("a")
    iso.merge("b")
    tip = iso.integration()
    # the owner was killed after moving the ref but before writing its journal
    iso.state.tasks["b"].state = "committed"
    restarted = Isolation(repo, repo / ".buildrunner", "s1")
    restarted.state.tasks["b"].state = "committed"
    assert restarted.merge("b").status == "already-merged"
    assert restarted.integration() == tip


def test_a_task_that_changed_nothing_has_nothing_to_merge(repo: Path, iso: Isolation) -> None:
    iso.snapshot()
    iso.workspace("noop")
    assert iso.commit_task("noop") is None
    assert iso.merge("noop").status == "unchanged"
    with pytest.raises(IsolationError, match="no workspace"):
        iso.merge("never-made")


def test_the_same_change_from_two_tasks_merges_once(repo: Path, iso: Isolation) -> None:
    iso.snapshot()
    for task_id in ("one", "two"):
        edit(iso.workspace(task_id), "README.md", "demo", "demo, fixed")
        iso.commit_task(task_id)
    first, second = iso.merge("one"), iso.merge("two")
    assert (first.status, second.status) == ("merged", "already-merged")
    assert second.integration == first.integration == iso.integration()
    assert Isolation(repo, repo / ".buildrunner", "s1").state.tasks["two"].state == "merged"
