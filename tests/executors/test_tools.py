"""The agent's tools called directly (the loop tests cover them through the model)."""

from __future__ import annotations

from pathlib import Path

from buildrunner.executors import tools
from buildrunner.executors.tools import ToolBox
from buildrunner.executors.workspace import Workspace


def box(root: Path, files: list[str] | None = None, commands: bool = False) -> ToolBox:
    return ToolBox(Workspace(root, files or []), allow_commands=commands)


def test_read_refuses_binary_and_truncates_large_files(tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02" * 10)
    (tmp_path / "big.txt").write_text("x" * (tools.READ_LIMIT_BYTES + 10))
    assert box(tmp_path).run("read_file", {"path": "blob.bin"}) == (
        "'blob.bin' is a binary file",
        True,
    )
    text, is_error = box(tmp_path).run("read_file", {"path": "big.txt"})
    assert not is_error and text.endswith(f"[... truncated at {tools.READ_LIMIT_BYTES} bytes]")
    assert box(tmp_path).run("read_file", {"path": "missing.txt"})[1] is True
    assert box(tmp_path).run("read_file", {"path": 3})[0] == "'path' must be a string"


def test_list_files_skips_caches_and_refuses_files(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref")
    assert box(tmp_path).run("list_files", {}) == ("src/a.py", False)
    assert box(tmp_path).run("list_files", {"path": "src/a.py"})[1] is True
    assert box(tmp_path).run("list_files", {"path": ".git"}) == ("", False)


def test_write_needs_string_content_and_unchanged_content_is_no_change(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("same")
    toolbox = box(tmp_path, ["a.txt"])
    assert toolbox.run("write_file", {"path": "a.txt", "content": 5})[1] is True
    assert toolbox.run("write_file", {"path": "a.txt", "content": "same"})[1] is False
    assert toolbox.changed_files == set()
    assert toolbox.run("edit_file", {"path": "a.txt", "old_text": "", "new_text": "x"})[1] is True
    assert toolbox.run("edit_file", {"path": "b.txt", "old_text": "a", "new_text": "x"})[1] is True
    assert toolbox.refused_writes == ["b.txt"]


def test_unknown_and_disabled_tools(tmp_path: Path) -> None:
    assert box(tmp_path).run("run_command", {"command": "true"}) == (
        "unknown or disabled tool 'run_command'",
        True,
    )
    assert box(tmp_path).run("delete_everything", {})[1] is True


def test_command_timeout_kills_the_process_group(tmp_path: Path) -> None:
    toolbox = box(tmp_path, commands=True)
    text, is_error = toolbox.run(
        "run_command", {"command": "sleep 30 & echo started; wait", "timeout_s": 0.5}
    )
    assert not is_error and text.startswith("timed out") and "started" in text
    assert toolbox.run("run_command", {"command": "  "})[1] is True
    assert toolbox.run("run_command", {"command": "exit 3"})[0].startswith("exit code 3")
