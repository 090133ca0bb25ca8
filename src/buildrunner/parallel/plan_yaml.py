"""Plan YAML to Python data, safely: no duplicate keys, bounded nesting and size, line numbers.

PyYAML's own loaders keep the last of two `tasks:` keys (silently dropping the first list),
recurse once per nesting level (a document nested 1,000 levels deep is a RecursionError) and
expand aliases without a limit. Here the event stream of the C parser (or the pure-Python one when
libyaml is missing) is composed iteratively into plain dicts, lists and scalars, refusing each of
those with the line it happened on. Scalars are resolved and built exactly as `yaml.safe_load`
does, so `yes`, `0x10`, `.inf` and `2024-01-01` mean what they always meant.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml import events
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

MAX_DEPTH = 64  # a plan needs ~5 levels; this leaves room for anchors and odd layouts
MAX_NODES = 1_000_000  # values after alias expansion: a "billion laughs" document stops here

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_IMPLICIT: dict[str | None, list[tuple[str, Any]]] = Resolver.yaml_implicit_resolvers
_NONE: list[tuple[str, Any]] = []
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_COLLECTION_TAGS = {
    events.SequenceStartEvent: "tag:yaml.org,2002:seq",
    events.MappingStartEvent: "tag:yaml.org,2002:map",
}


class PlanYAMLError(Exception):
    """YAML the plan loader refuses; `line` is 1-based (0 when unknown)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class LineIndex:
    """Line numbers (1-based) of the keys and items of the loaded data, for error messages."""

    root_line: int = 1
    children: dict[int, dict[Any, int]] = field(default_factory=dict)  # id(container) -> lines

    def line_of(self, data: Any, loc: Iterable[Any]) -> int:
        """The line of the value at `loc` (a path of keys and indexes) in `data`, or nearest."""
        line, node = self.root_line, data
        for part in loc:
            lines = self.children.get(id(node))
            if lines is None or part not in lines:
                break
            line = lines[part]
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                break
        return line


@dataclass
class _Frame:
    container: dict[Any, Any] | list[Any]
    anchor: str | None
    lines: dict[Any, int]
    weight: int = 1
    key: Any = None
    key_line: int = 0
    has_key: bool = False
    key_lines: dict[Any, int] = field(default_factory=dict)
    merges: list[dict[Any, Any]] = field(default_factory=list)


def load_yaml(text: str) -> tuple[Any, LineIndex]:
    """The single document in `text` as Python data, with the line of every key and item.

    Raises PlanYAMLError for what the loader refuses and yaml.YAMLError for invalid YAML.
    """
    loader = _Loader(text)
    try:
        with gc_paused():  # generational GC over many new containers made big plans slow
            return _Composer().compose(_events(loader))
    finally:
        loader.dispose()


def _events(loader: Any) -> Iterator[yaml.Event]:
    while True:
        event = loader.get_event()
        if event is None or isinstance(event, events.StreamEndEvent):
            return
        yield event


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building a large tree of new objects (nothing cyclic is made)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Composer:
    """Builds Python values from YAML events without recursion."""

    def __init__(self) -> None:
        self.resolver = Resolver()
        self.constructor = SafeConstructor()
        self.anchors: dict[str, tuple[Any, int]] = {}  # anchor -> (value, weight)
        self.index = LineIndex()
        self.stack: list[_Frame] = []
        self.documents = 0
        self.total = 0

    def compose(self, stream: Iterable[Any]) -> tuple[Any, LineIndex]:
        """Python data from YAML events (typed Any: dispatch is on the exact event class)."""
        root: Any = None
        scalar, alias = events.ScalarEvent, events.AliasEvent
        opening = (events.SequenceStartEvent, events.MappingStartEvent)
        closing = (events.SequenceEndEvent, events.MappingEndEvent)
        for event in stream:
            kind = type(event)
            line = event.start_mark.line + 1 if event.start_mark is not None else 0
            if kind is scalar:
                value = self._scalar(event, line)
                self._add(value, 1, line, event.anchor, count=True)
                if not self.stack:
                    root = value
            elif kind in closing:
                frame = self.stack.pop()
                value = self._close(frame)
                start = frame.lines.pop(_START, 0)
                self.index.children[id(value)] = frame.lines
                if not self.stack:
                    root = value
                    continue
                self._add(value, frame.weight, start, frame.anchor, count=False)
            elif kind in opening:
                self._open(event, line)
            elif kind is alias:
                if event.anchor not in self.anchors:
                    raise PlanYAMLError(line, f"alias '*{event.anchor}' names no anchor")
                value, weight = self.anchors[event.anchor]
                self._add(value, weight, line, None, count=True)
                if not self.stack:
                    root = value
            elif kind is events.DocumentStartEvent:
                self.documents += 1
                if self.documents > 1:
                    raise PlanYAMLError(
                        line, "a plan file holds one YAML document (found a second '---')"
                    )
        return root, self.index

    # -- building ------------------------------------------------------------------------
    def _open(self, event: events.CollectionStartEvent, line: int) -> None:
        tag = event.tag
        if tag not in (None, "!", _COLLECTION_TAGS[type(event)]):
            raise PlanYAMLError(line, f"unsupported YAML tag '{tag}'")
        if len(self.stack) >= MAX_DEPTH:
            raise PlanYAMLError(line, f"nested deeper than {MAX_DEPTH} levels")
        container: dict[Any, Any] | list[Any] = (
            {} if isinstance(event, events.MappingStartEvent) else []
        )
        frame = _Frame(container, event.anchor, {})
        frame.lines[_START] = line
        if not self.stack:
            self.index.root_line = line
        self.stack.append(frame)

    def _add(self, value: Any, weight: int, line: int, anchor: str | None, *, count: bool) -> None:
        if count:  # scalars and aliases; a closing collection's items were counted already
            self.total += weight
        if self.total > MAX_NODES:
            raise PlanYAMLError(
                line, f"more than {MAX_NODES:,} values once aliases are expanded (a YAML bomb?)"
            )
        if anchor is not None:
            self.anchors[anchor] = (value, weight)
        if not self.stack:
            return
        frame = self.stack[-1]
        frame.weight += weight
        if isinstance(frame.container, list):
            frame.lines[len(frame.container)] = line
            frame.container.append(value)
            return
        if not frame.has_key:
            if isinstance(value, list | dict):
                raise PlanYAMLError(
                    line, "a mapping key must be a plain value, not a list or mapping"
                )
            if value in frame.key_lines:
                first = frame.key_lines[value]
                raise PlanYAMLError(line, f"duplicate key '{value}' (first on line {first})")
            if not isinstance(value, _MergeKey):
                frame.key_lines[value] = line
            frame.key, frame.key_line, frame.has_key = value, line, True
            return
        key, frame.has_key = frame.key, False
        if isinstance(key, _MergeKey):
            merged = value if isinstance(value, list) else [value]
            if not all(isinstance(item, dict) for item in merged):
                raise PlanYAMLError(line, "'<<' merges a mapping or a list of mappings")
            frame.merges.extend(merged)
            return
        # a nested collection's line is where it starts; a scalar's is its key's line
        frame.lines[key] = line if isinstance(value, list | dict) else frame.key_line
        frame.container[key] = value

    @staticmethod
    def _close(frame: _Frame) -> Any:
        if isinstance(frame.container, dict) and frame.merges:
            merged: dict[Any, Any] = {}
            for mapping in reversed(frame.merges):  # the first listed mapping wins, as in PyYAML
                merged.update(mapping)
            merged.update(frame.container)
            frame.container.clear()
            frame.container.update(merged)
        return frame.container

    def _scalar(self, event: events.ScalarEvent, line: int) -> Any:
        tag, value = event.tag, event.value
        if tag is None and event.implicit[0]:  # a plain scalar: the usual case, resolved inline
            candidates = _IMPLICIT.get(value[:1], _NONE) + _IMPLICIT.get(None, _NONE)
            tag = next((tag for tag, regexp in candidates if regexp.match(value)), _STR)
        elif tag is None or tag == "!":
            tag = self.resolver.resolve(ScalarNode, value, event.implicit)  # type: ignore[no-untyped-call]  # PyYAML is untyped
        if "\x00" in value:
            raise PlanYAMLError(line, "text holds a NUL byte (no command, path or variable can)")
        if tag == _STR:
            return value
        if tag == _MERGE:
            return _MergeKey()
        node = ScalarNode(tag, value, None, None, style=event.style)
        try:
            return self.constructor.construct_object(node)
        except yaml.constructor.ConstructorError:
            raise PlanYAMLError(line, f"unsupported YAML tag '{tag}'") from None
        except (ValueError, TypeError, OverflowError) as exc:  # e.g. a timestamp on 2024-02-31
            raise PlanYAMLError(line, f"invalid {tag.rsplit(':', 1)[-1]} value: {exc}") from None
        finally:
            self.constructor.constructed_objects.clear()


class _StartKey:
    """Marks where a collection's own start line is kept in its lines table."""

    def __repr__(self) -> str:
        return "<start>"


class _MergeKey:
    """A `<<` merge key: never stored, its mappings are merged when the mapping closes."""

    def __hash__(self) -> int:
        return id(self)


_START = _StartKey()
