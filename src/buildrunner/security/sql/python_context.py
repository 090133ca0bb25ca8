"""What one Python file's functions do with their parameters: the summaries that let the analysis
follow a query into a helper defined in the same file.

A summary says which parameters reach a sink (`def _run(cur, sql): cur.execute(sql)`), what the
function returns in terms of its parameters (`def where(c, v): return f"{c} = '{v}'"`), and, for a
private function (`_name`) that is only ever called, which parameters every call site fills with
constant data (so `_count(conn, "users")` makes `table` a constant inside `_count`).

Each parameter is represented by one marker node for the whole analysis, so a value that came
from a parameter can be recognised wherever it flows, and swapped for the argument at a call site.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from buildrunner.security.sql.sinks import Sink
from buildrunner.security.sql.taint import Value
from buildrunner.security.sql.taint import substitute as substitute_parameters

PyValue = Value[ast.expr]
CallRecord = bool | frozenset[tuple[str, int]]  # safe, unsafe, or as safe as these parameters
_CALLED_NAME = re.compile(r"\b([A-Za-z_]\w*)\s*\(")


@dataclass
class FunctionInfo:
    """One function or method of the file and what the analysis learned about it."""

    name: str
    node: ast.FunctionDef | ast.AsyncFunctionDef
    params: list[str]  # positional-or-keyword parameters, `self`/`cls` dropped for methods
    markers: list[ast.Name]  # one marker per parameter, stable across passes
    is_method: bool
    sink_params: dict[int, tuple[Sink, str]] = field(default_factory=dict)  # index -> (sink, label)
    returns: PyValue | None = None
    call_values: dict[int, list[CallRecord]] = field(default_factory=dict)  # index -> per call
    call_count: int = 0
    called: bool = False  # some call in the file reaches it
    needed: bool = False  # its summary can change a finding: analysed in the summary passes
    callees: set[str] = field(default_factory=set)  # same-file functions it calls
    escapes: bool = False  # used other than by calling it: call sites are not all known
    safe_params: frozenset[int] = frozenset()

    @property
    def private(self) -> bool:
        return self.name.startswith("_") and not self.name.startswith("__")


@dataclass
class PyContext:
    """Per-file state shared by every scope of one analysis."""

    imported: set[str]
    functions: dict[str, FunctionInfo] = field(default_factory=dict)
    ambiguous: set[str] = field(default_factory=set)
    marker_owner: dict[int, tuple[FunctionInfo, int]] = field(default_factory=dict)
    collecting: bool = False  # a summary pass: record, do not report

    def function(self, call: ast.Call) -> FunctionInfo | None:
        """The same-file function a call reaches (`helper(...)`, `self.helper(...)`), if known."""
        func = call.func
        if isinstance(func, ast.Name):
            info = self.functions.get(func.id)
            return info if info is not None and not info.is_method else None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            info = self.functions.get(func.attr)
            if info is not None and info.is_method and func.value.id in ("self", "cls"):
                return info
        return None

    def arguments(self, info: FunctionInfo, call: ast.Call) -> dict[int, ast.expr] | None:
        """Parameter index -> argument expression; None when `*args`/`**kwargs` hide the mapping."""
        if any(isinstance(arg, ast.Starred) for arg in call.args) or any(
            keyword.arg is None for keyword in call.keywords
        ):
            return None
        mapped = {index: arg for index, arg in enumerate(call.args) if index < len(info.params)}
        for keyword in call.keywords:
            if keyword.arg in info.params:
                mapped[info.params.index(keyword.arg)] = keyword.value
        return mapped


def collect_functions(tree: ast.Module, context: PyContext) -> bool:
    """Index the file's functions and methods (statements only, no walk); True when there are any."""
    names: dict[str, int] = {}
    _index(tree.body, context, names, in_class=False)
    for name, count in names.items():
        if count > 1:
            context.ambiguous.add(name)
            context.functions.pop(name, None)
    return bool(context.functions)


def find_escapes(tree: ast.Module, context: PyContext) -> None:
    """Mark functions used other than by calling them (`map(_f, xs)`, `callback=self._f`): their
    call sites are not all known, so nothing is inferred from them. One walk of the tree."""
    callees: set[int] = set()
    references: list[ast.expr] = []
    functions = context.functions
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            callees.add(id(node.func))
        elif (isinstance(node, ast.Name) and node.id in functions) or (
            isinstance(node, ast.Attribute) and node.attr in functions
        ):
            references.append(node)
    for node in references:
        if id(node) in callees:
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            functions[node.id].escapes = True
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in ("self", "cls")
        ):
            functions[node.attr].escapes = True


def _index(
    body: list[ast.stmt], context: PyContext, names: dict[str, int], *, in_class: bool
) -> None:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            _add(context, node, is_method=in_class, names=names)
        elif isinstance(node, ast.ClassDef):
            _index(node.body, context, names, in_class=True)


def _add(
    context: PyContext,
    node: ast.FunctionDef | ast.AsyncFunctionDef,
    *,
    is_method: bool,
    names: dict[str, int],
) -> None:
    names[node.name] = names.get(node.name, 0) + 1
    params = [arg.arg for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)]
    decorated_static = any(getattr(d, "id", "") == "staticmethod" for d in node.decorator_list)
    if is_method and params and not decorated_static:
        params = params[1:]
    info = FunctionInfo(node.name, node, params, [ast.Name(name) for name in params], is_method)
    context.functions[node.name] = info
    for index, marker in enumerate(info.markers):
        context.marker_owner[id(marker)] = (info, index)


def mark_needed(context: PyContext, interesting: set[str], lines: list[str]) -> None:
    """Functions whose summaries matter: those that mention a sink, what they call (their returns
    flow into queries), and the callers of private ones (their arguments decide the parameters).
    Calls are found by name in each function's text: cheap, and erring on the side of analysing."""
    callers: dict[str, set[str]] = {}
    for info in context.functions.values():
        body = info.node.body
        text = "".join(lines[body[0].lineno - 1 : info.node.end_lineno or body[-1].lineno])
        info.callees = {
            name
            for name in _CALLED_NAME.findall(text)
            if name in context.functions and name != info.name
        }
        for callee in info.callees:
            callers.setdefault(callee, set()).add(info.name)
            context.functions[callee].called = True
    pending = [name for name in interesting if name in context.functions]
    while pending:
        name = pending.pop()
        info = context.functions[name]
        if info.needed:
            continue
        info.needed = True
        pending.extend(info.callees)
        if info.private:
            pending.extend(callers.get(name, ()))


def infer_safe_params(context: PyContext) -> bool:
    """Private functions whose every call passes constant data for a parameter (directly, or through
    parameters of private callers that are themselves constant): that parameter is a constant inside
    them. True when anything changed."""
    candidates: set[tuple[str, int]] = set()
    for info in context.functions.values():
        if not info.private or info.escapes or not info.call_count:
            continue
        defaults = _defaulted(info)
        for index in range(len(info.params)):
            records = info.call_values.get(index, [])
            if (len(records) == info.call_count or index in defaults) and all(
                record is not False for record in records
            ):
                candidates.add((info.name, index))
    changed = True
    while changed:  # drop parameters that depend on a parameter that is not constant
        changed = False
        for name, index in list(candidates):
            for record in context.functions[name].call_values.get(index, []):
                if isinstance(record, frozenset) and not record <= candidates:
                    candidates.discard((name, index))
                    changed = True
                    break
    any_change = False
    for info in context.functions.values():
        safe_indexes = frozenset(index for name, index in candidates if name == info.name)
        if safe_indexes != info.safe_params:
            info.safe_params = safe_indexes
            any_change = True
    return any_change


def _defaulted(info: FunctionInfo) -> set[int]:
    """Parameters whose default (used when a call leaves them out) is a constant."""
    args = info.node.args
    positional = [*args.posonlyargs, *args.args]
    defaults = dict(
        zip(
            [a.arg for a in positional[len(positional) - len(args.defaults) :]],
            args.defaults,
            strict=True,
        )
    )
    defaults.update(
        {a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None}
    )
    return {
        info.params.index(name)
        for name, default in defaults.items()
        if name in info.params and isinstance(default, ast.Constant)
    }


def reset_pass(context: PyContext) -> None:
    """Forget what call sites passed (a new pass records them again with better knowledge)."""
    for info in context.functions.values():
        info.call_values = {}
        info.call_count = 0


def substitute(
    value: PyValue, arguments: dict[int, PyValue], info: FunctionInfo, context: PyContext
) -> PyValue:
    """`value` (in terms of `info`'s parameters) as seen at a call site with these arguments."""

    def parameter_index(node: ast.expr) -> int | None:
        owner = context.marker_owner.get(id(node))
        return owner[1] if owner is not None and owner[0] is info else None

    return substitute_parameters(value, arguments, parameter_index)
