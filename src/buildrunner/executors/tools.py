"""The agent's tools: read_file, list_files, write_file and (only when allowed) run_command.

Each tool is a JSON schema for the Messages API plus a handler confined to the task's working
directory. A handler returns text for a `tool_result`; a `ToolError` becomes a `tool_result` with
`is_error: true`, so the model sees why (for example that a write is outside its files).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# defined in buildrunner.errors with every error class; re-exported here for callers
from buildrunner.errors import ToolError as ToolError
from buildrunner.executors.workspace import IGNORED_DIRS, PathRefused, Workspace
from buildrunner.executors.write_guard import (
    OutsideWrite,
    RestorePoint,
    refusal_reason,
    undo_outside_writes,
)
from buildrunner.process import kill_process_group

READ_LIMIT_BYTES = 256_000
LIST_LIMIT = 1_000
OUTPUT_LIMIT_CHARS = 20_000
COMMAND_TIMEOUT_S = 120.0
COMMAND_TIMEOUT_MAX_S = 600.0
# Never handed to commands the model runs: they could print or send them.
SECRET_ENVIRONMENT = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "BR_ROUTING_API_KEY")


TOOL_SCHEMAS: Mapping[str, dict[str, Any]] = {
    "read_file": {
        "name": "read_file",
        "description": "Read a UTF-8 text file of the project. Paths are relative to the project.",
        "input_schema": {
            "type": "object",
            "properties": {"path": {"type": "string", "description": "file path"}},
            "required": ["path"],
        },
    },
    "list_files": {
        "name": "list_files",
        "description": "List files under a directory of the project (recursive), one per line.",
        "input_schema": {
            "type": "object",
            "properties": {"path": {"type": "string", "description": "directory, default '.'"}},
        },
    },
    "write_file": {
        "name": "write_file",
        "description": (
            "Create or overwrite a text file with the full new content. Only the task's "
            "declared files may be written; other paths are refused."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "file path"},
                "content": {"type": "string", "description": "the complete file content"},
            },
            "required": ["path", "content"],
        },
    },
    "edit_file": {
        "name": "edit_file",
        "description": (
            "Replace one exact occurrence of old_text with new_text in a file (cheaper than "
            "rewriting it). old_text must appear exactly once. Same write rules as write_file."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "old_text": {"type": "string"},
                "new_text": {"type": "string"},
            },
            "required": ["path", "old_text", "new_text"],
        },
    },
    "run_command": {
        "name": "run_command",
        "description": (
            "Run a shell command in the project directory and return its exit code and output "
            f"(default timeout {COMMAND_TIMEOUT_S:g}s)."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "command": {"type": "string"},
                "timeout_s": {"type": "number", "description": "seconds before it is killed"},
            },
            "required": ["command"],
        },
    },
}


@dataclass
class ToolBox:
    """The tools of one task, and what they did (files written, refusals)."""

    workspace: Workspace
    allow_commands: bool = False
    on_refusal: Callable[[str, str, str], None] | None = None  # (tool, path, reason)
    changed_files: set[str] = field(default_factory=set)
    refused_writes: list[str] = field(default_factory=list)
    # Files a command of the task wrote outside its files (undone; the task fails).
    outside_writes: list[OutsideWrite] = field(default_factory=list)

    def new_round(self) -> None:
        """Forget what was done so far: a follow-up round reports only its own work."""
        self.changed_files = set()
        self.refused_writes = []
        self.outside_writes = []

    def schemas(self) -> list[dict[str, Any]]:
        names = ["read_file", "list_files", "write_file", "edit_file"]
        if self.allow_commands:
            names.append("run_command")
        return [TOOL_SCHEMAS[name] for name in names]

    def run(self, name: str, tool_input: Mapping[str, Any]) -> tuple[str, bool]:
        """(result text, is_error) for one tool_use block."""
        handlers: dict[str, Callable[[Mapping[str, Any]], str]] = {
            "read_file": self._read_file,
            "list_files": self._list_files,
            "write_file": self._write_file,
            "edit_file": self._edit_file,
        }
        if self.allow_commands:
            handlers["run_command"] = self._run_command
        handler = handlers.get(name)
        if handler is None:
            return f"unknown or disabled tool '{name}'", True
        try:
            return handler(tool_input), False
        except ToolError as exc:
            return str(exc), True

    def _path(self, tool_input: Mapping[str, Any], key: str = "path", default: str = "") -> str:
        value = tool_input.get(key, default)
        if not isinstance(value, str):
            raise ToolError(f"'{key}' must be a string")
        return value

    def _read_file(self, tool_input: Mapping[str, Any]) -> str:
        requested = self._path(tool_input)
        try:
            path = self.workspace.resolve(requested)
        except PathRefused as exc:
            raise ToolError(str(exc)) from None
        if not path.is_file():
            raise ToolError(f"'{requested}' is not a file")
        with path.open("rb") as handle:
            data = handle.read(READ_LIMIT_BYTES + 1)
        if b"\x00" in data[:8192]:
            raise ToolError(f"'{requested}' is a binary file")
        text = data[:READ_LIMIT_BYTES].decode("utf-8", "replace")
        if len(data) > READ_LIMIT_BYTES:
            text += f"\n[... truncated at {READ_LIMIT_BYTES} bytes]"
        return text

    def _list_files(self, tool_input: Mapping[str, Any]) -> str:
        requested = self._path(tool_input, default=".") or "."
        try:
            start = self.workspace.resolve(requested)
        except PathRefused as exc:
            raise ToolError(str(exc)) from None
        if not start.is_dir():
            raise ToolError(f"'{requested}' is not a directory")
        if start.name in IGNORED_DIRS and start != self.workspace.root:
            return ""
        names: list[str] = []
        for path in self.workspace.walk(start):
            if len(names) == LIST_LIMIT:
                names.append(f"[... more than {LIST_LIMIT} files]")
                break
            names.append(self.workspace.relative(path))
        return "\n".join(names) if names else "(no files)"

    def _write_target(self, tool: str, requested: str) -> tuple[Path, str]:
        try:
            return self.workspace.resolve_for_write(requested)
        except PathRefused as exc:
            self.refused_writes.append(requested)
            if self.on_refusal is not None:
                self.on_refusal(tool, requested, str(exc))
            raise ToolError(f"refused: {exc}. Write only the task's files.") from None

    def _write_file(self, tool_input: Mapping[str, Any]) -> str:
        requested = self._path(tool_input)
        content = tool_input.get("content")
        if not isinstance(content, str):
            raise ToolError("'content' must be a string")
        path, relative = self._write_target("write_file", requested)
        self._store(path, relative, content.encode("utf-8"))
        return f"wrote {len(content.encode('utf-8'))} bytes to {relative}"

    def _edit_file(self, tool_input: Mapping[str, Any]) -> str:
        requested = self._path(tool_input)
        old, new = tool_input.get("old_text"), tool_input.get("new_text")
        if not isinstance(old, str) or not isinstance(new, str) or not old:
            raise ToolError("'old_text' (non-empty) and 'new_text' must be strings")
        path, relative = self._write_target("edit_file", requested)
        if not path.is_file():
            raise ToolError(f"'{requested}' does not exist; create it with write_file")
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        count = text.count(old)
        if count != 1:
            found = "not found" if count == 0 else f"found {count} times"
            raise ToolError(f"old_text {found} in {relative}; it must appear exactly once")
        self._store(path, relative, text.replace(old, new).encode("utf-8", "surrogateescape"))
        return f"edited {relative}"

    def _store(self, path: Path, relative: str, data: bytes) -> None:
        try:
            before = path.read_bytes() if path.exists() else None
        except OSError:
            before = None
        if before != data:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            self.changed_files.add(relative)

    def _run_command(self, tool_input: Mapping[str, Any]) -> str:
        command = self._path(tool_input, "command")
        if not command.strip():
            raise ToolError("empty command")
        timeout = tool_input.get("timeout_s", COMMAND_TIMEOUT_S)
        if not isinstance(timeout, int | float) or timeout <= 0:
            timeout = COMMAND_TIMEOUT_S
        timeout = min(float(timeout), COMMAND_TIMEOUT_MAX_S)
        before = RestorePoint.capture(self.workspace)
        code, output = run_shell(command, self.workspace, timeout)
        undone = self._attribute(before)
        if len(output) > OUTPUT_LIMIT_CHARS:
            output = (
                output[:OUTPUT_LIMIT_CHARS] + f"\n[... truncated at {OUTPUT_LIMIT_CHARS} chars]"
            )
        status = "timed out" if code is None else f"exit code {code}"
        if undone:
            paths = ", ".join(write.path for write in undone)
            raise ToolError(
                f"{status}\n{output}\nrefused: the command wrote outside the task's files "
                f"({paths}); those writes were undone and the task fails."
            )
        return f"{status}\n{output}"

    def _attribute(self, before: RestorePoint) -> list[OutsideWrite]:
        """Claim what the command wrote inside the task's files; undo what it wrote outside."""
        changed = before.changed()
        self.changed_files.update(path for path in changed if self.workspace.scope.allows(path))
        undone = undo_outside_writes(before, changed)
        for write in undone:
            self.outside_writes.append(write)
            if self.on_refusal is not None:
                self.on_refusal("run_command", write.path, refusal_reason(write))
        return undone


def run_shell(command: str, workspace: Workspace, timeout_s: float) -> tuple[int | None, str]:
    """Run `command` with /bin/sh in the workdir; (exit code or None on timeout, output)."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENVIRONMENT}
    process = subprocess.Popen(
        ["/bin/sh", "-c", command],
        cwd=workspace.root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_process_group(process.pid)
        output, _ = process.communicate()
        return None, output.decode("utf-8", "replace")
    return process.returncode, output.decode("utf-8", "replace")
