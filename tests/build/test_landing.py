"""Landing merged work in the user's tree: only merged work, never over their edits, kill-safe."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from buildrunner.build.isolation import Isolation
from buildrunner.build.landing import read_journal
from tests.build.conftest import census, git, total_bytes


def merged_task(iso: Isolation, task_id: str, files: dict[str, str | None]) -> None:
    """A task that writes (or deletes, for None) `files` in its worktree, committed and merged."""
    workspace = iso.workspace(task_id, iso.integration())
    for path, content in files.items():
        target = workspace / path
        if content is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
    assert iso.commit_task(task_id) is not None
    assert iso.merge(task_id).merged


def test_landing_writes_only_merged_work(repo: Path, iso: Isolation) -> None:
    iso.snapshot()
    merged_task(iso, "docs", {"docs/guide.md": "# guide\n", "README.md": None})
    conflicting = iso.workspace("rival")
    (conflicting / "docs").mkdir()
    (conflicting / "docs" / "guide.md").write_text("# another guide\n")
    iso.commit_task("rival")
    assert iso.merge("rival").status == "conflict"
    (repo / "notes.log").write_text("ignored, the user's\n")

    result = iso.land()

    assert result.written == ["README.md", "docs/guide.md"] and result.kept == []
    assert (repo / "docs" / "guide.md").read_text() == "# guide\n"  # not the conflicting one
    assert not (repo / "README.md").exists()
    assert (repo / "notes.log").read_text() == "ignored, the user's\n"
    assert git(repo, "log", "--format=%s", "-1").strip() == "initial"  # nothing committed for them
    assert {t.task_id: t.state for t in iso.tasks()} == {"docs": "landed", "rival": "conflict"}
    assert iso.land().integration is None  # landing again has nothing left to do


def test_user_edits_during_the_build_survive_and_are_reported(repo: Path, iso: Isolation) -> None:
    (repo / "draft.txt").write_text("draft v1\n")  # untracked, in the snapshot
    iso.snapshot()
    merged_task(
        iso,
        "rewrite",
        {
            "app/models.py": "MODELS = 'task'\n",
            "app/views.py": "VIEWS = 'task'\n",
            "draft.txt": "draft by the task\n",
            "new.txt": "created by the task\n",
        },
    )
    # meanwhile the user edits one file the task changed, deletes another, creates one it creates
    (repo / "app" / "models.py").write_text("MODELS = 'user'\n")
    (repo / "draft.txt").unlink()
    (repo / "new.txt").write_text("the user's own new.txt\n")
    (repo / "app" / "untouched_by_task.py").write_text("USER = 1\n")

    result = iso.land()

    assert result.written == ["app/views.py"]
    assert {item["path"]: item["reason"] for item in result.kept} == {
        "app/models.py": "you changed it during the build",
        "draft.txt": "you deleted it during the build",
        "new.txt": "you created it during the build",
    }
    assert (repo / "app" / "models.py").read_text() == "MODELS = 'user'\n"
    assert not (repo / "draft.txt").exists()
    assert (repo / "new.txt").read_text() == "the user's own new.txt\n"
    assert (repo / "app" / "untouched_by_task.py").read_text() == "USER = 1\n"
    assert (repo / "app" / "views.py").read_text() == "VIEWS = 'task'\n"
    record = iso.state.tasks["rewrite"]
    assert record.state == "kept" and record.kept == ["app/models.py", "draft.txt", "new.txt"]
    # the task's version of the kept files is still on its branch
    assert git(repo, "show", f"{record.branch}:app/models.py") == "MODELS = 'task'\n"


def test_an_edit_the_user_made_identically_counts_as_landed(repo: Path, iso: Isolation) -> None:
    iso.snapshot()
    merged_task(iso, "same", {"README.md": "# same\n"})
    (repo / "README.md").write_text("# same\n")
    result = iso.land()
    assert result.already == ["README.md"] and result.written == [] and result.kept == []


def test_landing_never_writes_through_a_symlinked_folder(
    repo: Path, iso: Isolation, tmp_path: Path
) -> None:
    iso.snapshot()
    merged_task(iso, "out", {"out/result.txt": "result\n"})
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "out").symlink_to(outside)
    result = iso.land()
    assert [item["path"] for item in result.kept] == ["out/result.txt"]
    assert list(outside.iterdir()) == []


VICTIM = """
import sys, time
from pathlib import Path
from buildrunner.build.isolation import Isolation

repo, data, progress = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])

def slowly(path):
    with open(progress, "a") as out:  # one line per file written, so the test can count
        out.write(path + chr(10))
    time.sleep(0.02)

Isolation(repo, data, "s1").land(on_write=slowly)
"""


def expected_after_landing(
    before: dict[str, bytes], snapshot: dict[str, bytes], merged: dict[str, bytes]
) -> dict[str, bytes]:
    """The user's files after a correct landing, computed independently of the landing code."""
    result = dict(before)
    for path in set(snapshot) | set(merged):
        if before.get(path) != snapshot.get(path) or merged.get(path) == snapshot.get(path):
            continue  # the user changed it (kept), or the merge did not change it
        if path in merged:
            result[path] = merged[path]
        else:
            result.pop(path, None)
    return result


def tree_files(repo: Path, commit: str) -> dict[str, bytes]:
    names = git(repo, "ls-tree", "-r", "--name-only", "-z", commit).split("\0")
    return {
        name: subprocess.run(
            ["git", "show", f"{commit}:{name}"], cwd=repo, check=True, capture_output=True
        ).stdout
        for name in names
        if name
    }


def test_a_kill_9_mid_landing_then_resume_loses_nothing(repo: Path, iso: Isolation) -> None:
    iso.snapshot()
    task_files: dict[str, str | None] = {
        f"gen/file{i:03d}.txt": f"generated {i}\n" * 20 for i in range(150)
    }
    task_files |= {"app/models.py": "MODELS = 'task'\n", "README.md": None}
    merged_task(iso, "generate", task_files)
    (repo / "app" / "models.py").write_text("MODELS = 'user, during the build'\n")
    (repo / "scratch.log").write_text("the user's ignored file\n")
    before = census(repo)
    snapshot, merged = (
        tree_files(repo, iso.state.snapshot or ""),
        tree_files(repo, iso.integration()),
    )
    expected = expected_after_landing(before, snapshot, merged)
    assert len(expected) == len(before) + 150 - 1  # 150 new files, README deleted

    progress = repo.parent / "progress"
    victim = subprocess.Popen(
        [sys.executable, "-c", VICTIM, str(repo), str(repo / ".buildrunner"), str(progress)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and victim.poll() is None:
        if progress.exists() and progress.read_text().count("\n") >= 40:
            break
        time.sleep(0.01)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    assert victim.returncode == -signal.SIGKILL
    halfway = census(repo)
    landed_so_far = [path for path in halfway if path.startswith("gen/")]
    assert 39 <= len(landed_so_far) < 150  # really killed in the middle
    assert read_journal(iso.dir) is not None

    result = Isolation(repo, repo / ".buildrunner", "s1").resume()

    assert result is not None and result.resumed
    after = census(repo)
    assert after == expected
    assert (len(after), total_bytes(after)) == (len(expected), total_bytes(expected))
    assert [item["path"] for item in result.kept] == ["app/models.py"]
    assert len(result.written) == 151  # the 150 new files and the README deletion, once each
    assert read_journal(iso.dir) is None
    assert not list(repo.rglob("*.br-landing"))  # no temporary file left behind


def test_an_interrupted_landing_can_be_rolled_back(repo: Path, iso: Isolation) -> None:
    iso.snapshot()
    merged_task(iso, "t", {"README.md": "# changed\n", "added.txt": "added\n"})
    before = census(repo)
    written: list[str] = []

    class Killed(Exception):
        pass

    def die_after_first(path: str) -> None:
        written.append(path)
        raise Killed

    with pytest.raises(Killed):
        iso.land(on_write=die_after_first)
    assert written and census(repo) != before
    result = Isolation(repo, repo / ".buildrunner", "s1").rollback()
    assert result is not None and result.rolled_back
    assert census(repo) == before
    assert read_journal(iso.dir) is None
