"""Why a task missed the cache: what changed between two sets of key parts.

Changes are data (`Change`); `explain_miss` makes the one line `br run --explain` prints per miss,
`br cache why` shows them all. Command and prompt text is compared by the hash of the real text
and shown as a small line diff of the masked text, so no secret is ever printed.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from buildrunner.build.cache_key import MISSING, KeyParts

MAX_DIFF_LINES = 12


@dataclass(frozen=True)
class Change:
    """One difference between the last cached run of a task and now."""

    # new | corrupt | uncacheable | format | kind | command | prompt | route | checks | option
    # | cwd | env | outputs | inputs | input | dependency | other
    kind: str
    name: str = ""  # the input path, env variable, dependency id or option
    detail: str = ""  # changed | added | removed | created | deleted, or a short text
    diff: tuple[str, ...] = ()  # command/prompt: the changed lines ('- old', '+ new')

    def line(self) -> str:
        """One line for a human (names are shown as written: the CLI escapes them)."""
        if self.kind in ("new", "corrupt", "other", "uncacheable"):
            return self.detail
        subject = {"input": "input", "env": "env", "dependency": "dependency", "option": "option"}
        if self.kind in subject:
            return f"{subject[self.kind]} {self.name} {self.detail}"
        return f"{self.kind} {self.detail}".strip()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "detail": self.detail,
            "diff": list(self.diff),
            "line": self.line(),
        }


def compare_parts(old: KeyParts, new: KeyParts) -> list[Change]:
    """Every difference from the parts of the last cached run (`old`) to the parts now."""
    changes: list[Change] = []
    if old.format_version != new.format_version:
        changes.append(
            Change("format", detail=f"changed ({old.format_version} -> {new.format_version})")
        )
    if old.kind != new.kind:
        changes.append(Change("kind", detail=f"changed ({old.kind} -> {new.kind})"))
    if old.text_sha256 != new.text_sha256:
        changes.append(_text_change("command" if new.kind == "command" else "prompt", old, new))
    for kind, before, after in (
        ("route", old.route, new.route),
        ("checks", old.checks, _masked(new.checks)),
    ):
        if before != after:
            changes.append(Change(kind, detail=f"changed ({_list(before)} -> {_list(after)})"))
    changes += _table_changes("option", dict(old.options), dict(new.options))
    if old.cwd != new.cwd:
        changes.append(Change("cwd", detail=f"changed ({old.cwd or '.'} -> {new.cwd or '.'})"))
    changes += _table_changes("env", dict(old.env), dict(new.env))
    if old.outputs != new.outputs:
        changes.append(
            Change("outputs", detail=f"changed ({_list(old.outputs)} -> {_list(new.outputs)})")
        )
    if old.input_patterns != new.input_patterns:
        changes.append(
            Change(
                "inputs",
                detail=f"changed ({_list(old.input_patterns)} -> {_list(new.input_patterns)})",
            )
        )
    changes += _table_changes("input", dict(old.inputs), dict(new.inputs))
    changes += _table_changes("dependency", dict(old.dependencies), dict(new.dependencies))
    if not changes and old.digest() != new.digest():
        changes.append(Change("other", detail="a masked part of the task changed"))
    return changes


def explain_miss(changes: Sequence[Change]) -> str:
    """The one-line reason for a miss (`br run --explain`): the first change and how many more."""
    if not changes:
        return "unchanged"
    more = len(changes) - 1
    return changes[0].line() + (f" (+{more} more)" if more else "")


def render_changes(changes: Sequence[Change]) -> list[str]:
    """Lines for `br cache why`: one per change, the diff lines of text changes indented."""
    lines = []
    for change in changes:
        lines.append(change.line())
        lines.extend("    " + line for line in change.diff)
    return lines


def _text_change(kind: str, old: KeyParts, new: KeyParts) -> Change:
    from buildrunner.security.masking import mask_text

    before, after = old.text.splitlines(), mask_text(new.text).splitlines()
    where = [  # changed or added lines by their number now (a deletion: where it was)
        line
        for tag, _i1, _i2, j1, j2 in difflib.SequenceMatcher(None, before, after).get_opcodes()
        if tag != "equal"
        for line in range(j1 + 1, max(j2, j1 + 1) + 1)
    ]
    diff = [
        line[0] + " " + line[1:]
        for line in list(difflib.unified_diff(before, after, lineterm="", n=0))[2:]
        if not line.startswith("@@")
    ]
    if len(diff) > MAX_DIFF_LINES:
        diff = [*diff[:MAX_DIFF_LINES], f"... {len(diff) - MAX_DIFF_LINES} more lines"]
    if not where:
        return Change(kind, detail="changed (in a masked part)")
    label = "line" if len(where) == 1 else "lines"
    return Change(
        kind, detail=f"changed ({label} {', '.join(map(str, where[:5]))})", diff=tuple(diff)
    )


def _table_changes(kind: str, before: dict[str, str], after: dict[str, str]) -> list[Change]:
    changes = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None:
            detail = "added"
        elif new is None:
            detail = "removed"
        elif old == MISSING:
            detail = "created"
        elif new == MISSING:
            detail = "deleted"
        else:
            detail = "changed"
        changes.append(Change(kind, name=name, detail=detail))
    return changes


def _masked(checks: tuple[str, ...]) -> tuple[str, ...]:
    from buildrunner.security.masking import mask_text

    return tuple(mask_text(check) for check in checks)


def _list(items: Sequence[str]) -> str:
    return ", ".join(items) if items else "none"
