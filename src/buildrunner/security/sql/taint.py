"""The abstract string value both analysers track, and the scope chain that holds it.

A `Value` records what an expression would contribute to a query string: the constant text it is
known to contain (to tell SQL from other strings), the non-constant expressions spliced into it,
and how they were spliced (f-string, `%`, `.format()`, `+`, `join`, template literal). It is
generic over the node type so the Python (`ast`) and JS/TS (tree-sitter) analysers share it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Node = TypeVar("Node")
MAX_TAINTED = 8  # tainted expressions kept per value
MAX_TEXT = 4096  # constant text kept per value: enough to tell SQL, bounded for huge literals


@dataclass(frozen=True)
class Value(Generic[Node]):
    """What an expression contributes to a query string."""

    tainted: tuple[Node, ...] = ()  # non-constant expressions that end up in the string
    text: str = ""  # constant text known to be part of the string (tainted parts as '?')
    how: str | None = None  # how tainted data was spliced in (None: not a built string)
    is_str: bool = False  # known to be a string (a literal or a built string)
    source: bool = False  # some tainted data comes from a web request or a Lambda event
    # the values of a tuple's elements when known (`return "a = ?", (x,)`): unpacking keeps them apart
    elements: tuple[Value[Node], ...] | None = None

    @property
    def is_safe(self) -> bool:
        return not self.tainted

    @property
    def is_built(self) -> bool:
        """A string assembled here from non-constant data: what a sink must not receive."""
        return self.how is not None and bool(self.tainted)


def safe(text: str = "", *, is_str: bool = False) -> Value[Node]:
    return Value((), text, None, is_str)


def opaque(node: Node, *, source: bool = False) -> Value[Node]:
    """Data we cannot see into (a parameter, a call result): tainted, but not a built string.

    `source`: the data comes from a web request or a Lambda event (attacker-controlled).
    """
    return Value((node,), "", None, False, source)


def tuple_of(values: list[Value[Node]]) -> Value[Node]:
    """A tuple (or list display) whose elements are known one by one."""
    if not values:
        return safe()
    merged = merge(values)
    return Value(
        merged.tainted, merged.text, merged.how, merged.is_str, merged.source, tuple(values)
    )


def merge(values: list[Value[Node]]) -> Value[Node]:
    """Either of several values (branches of an `if`, elements of a list)."""
    values = list({id(value): value for value in values}.values())  # the same value once
    if len(values) == 1:
        return values[0]
    tainted = _union(value.tainted for value in values)
    how = next((value.how for value in values if value.is_built), None)
    text = " ".join(value.text for value in values if value.text)
    text = text[:MAX_TEXT]
    source = any(value.source for value in values if value.tainted)
    return Value(tainted, text, how, any(value.is_str for value in values), source)


def splice(parts: list[Value[Node]], how: str, *, text: str | None = None) -> Value[Node]:
    """A string built from `parts` with construction `how` (keeps an inner construction's name)."""
    tainted = _union(part.tainted for part in parts)
    inner = next((part.how for part in parts if part.is_built), None)
    joined = (
        text
        if text is not None
        else "".join(part.text if part.is_safe or part.text else "?" for part in parts)
    )
    source = any(part.source for part in parts if part.tainted)
    return Value(tainted, joined[:MAX_TEXT], (inner or how) if tainted else None, True, source)


def _union(groups: Iterable[tuple[Node, ...]]) -> tuple[Node, ...]:
    """Distinct tainted expressions in order, at most MAX_TAINTED (a finding shows five)."""
    seen: set[int] = set()
    result: list[Node] = []
    for group in groups:
        for item in group:
            if id(item) not in seen and len(result) < MAX_TAINTED:
                seen.add(id(item))
                result.append(item)
    return tuple(result)


@dataclass
class Scope(Generic[Node]):
    """Names bound in a function (or module), with the enclosing scope as fallback."""

    names: dict[str, Value[Node]] = field(default_factory=dict)
    parent: Scope[Node] | None = None
    context: Any = None  # the analyser's per-file state (function summaries), shared by all scopes

    def lookup(self, name: str) -> Value[Node] | None:
        scope: Scope[Node] | None = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        return None

    def child(self) -> Scope[Node]:
        return Scope({}, self, self.context)

    def copy(self) -> Scope[Node]:
        return Scope(dict(self.names), self.parent, self.context)

    def join(self, branches: list[Scope[Node]]) -> None:
        """After an `if`/`try`: a name may hold the value of any branch that bound it."""
        keys = {key for branch in branches for key in branch.names}
        for key in keys:
            options = [branch.names[key] for branch in branches if key in branch.names]
            if len(options) < len(branches) and key in self.names:
                options.append(self.names[key])
            if any(option is not options[0] for option in options):
                self.names[key] = merge(options)
            else:  # every branch left it as it was: no merge (merges grow the text)
                self.names[key] = options[0]


def is_constant_name(name: str) -> bool:
    """UPPER_CASE names are constants by convention (imported query fragments, settings)."""
    return name.isupper() and any(char.isalpha() for char in name)


def substitute(
    value: Value[Node],
    arguments: dict[int, Value[Node]],
    parameter_index: Callable[[Node], int | None],
) -> Value[Node]:
    """`value`, written in terms of a function's parameters, as seen at a call with `arguments`
    (parameter index -> the argument's value); `parameter_index` says which tainted nodes are the
    function's parameters."""
    if value.elements is not None:
        elements = tuple(substitute(item, arguments, parameter_index) for item in value.elements)
        merged = merge(list(elements))
        return Value(
            merged.tainted, merged.text, merged.how, merged.is_str, merged.source, elements
        )
    if not value.tainted:
        return value
    if len(value.tainted) == 1 and value.how is None:
        index = parameter_index(value.tainted[0])
        if index is not None:
            return arguments.get(index, safe())
    parts: list[Value[Node]] = []
    kept: list[Node] = []
    for item in value.tainted:
        index = parameter_index(item)
        if index is None:
            kept.append(item)
        else:
            parts.append(arguments.get(index, safe()))
    tainted = tuple(kept) + tuple(t for part in parts for t in part.tainted)
    if not tainted:
        return Value((), value.text, None, value.is_str)
    source = value.source or any(part.source for part in parts)
    return Value(tainted[:MAX_TAINTED], value.text, value.how, value.is_str, source)
