"""Where attacker-controlled data enters Python code: web requests and AWS Lambda events.

Request data (`request.args`, `request.GET`, `request.matchdict`, ...) is recognised by shape
wherever it is read. Parameters are sources in three places: a Flask/FastAPI/Starlette route
handler's path and query parameters, and a Lambda handler's `event`. FastAPI validates annotated
parameters before the handler runs, so there (and only there) `id: int` is trusted; Flask's
`<int:id>` converters likewise.
"""

from __future__ import annotations

import ast
import re

from buildrunner.security.sql.sinks import (
    FRAMEWORK_VALIDATED_TYPES,
    REQUEST_DATA_ATTRIBUTES,
    REQUEST_OBJECT_NAMES,
    ROUTE_DECORATORS,
    TYPED_ROUTE_DECORATORS,
)

_FLASK_CONVERTER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
_SAFE_CONVERTERS = frozenset({"int", "float", "uuid"})
_NOT_DATA_PARAMETERS = frozenset(
    {
        "self",
        "cls",
        "request",
        "req",
        "db",
        "session",
        "conn",
        "connection",
        "cursor",
        "background_tasks",
        "response",
    }
)


def is_request_data(node: ast.expr) -> bool:
    """`request.args`, `request.GET["q"]`, `self.request.POST.get("q")`, `request.get_json()`."""
    chain: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            chain.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            break
    if not isinstance(node, ast.Name) or not chain:
        return False
    chain.reverse()
    if node.id == "self" and chain[0] == "request":
        chain = chain[1:]
    elif node.id not in REQUEST_OBJECT_NAMES:
        return False
    return bool(chain) and chain[0] in REQUEST_DATA_ATTRIBUTES


def source_parameters(
    function: ast.FunctionDef | ast.AsyncFunctionDef,
) -> tuple[frozenset[str], frozenset[str]]:
    """(parameters that carry attacker data, parameters the framework validated as numbers/UUIDs):
    route handler parameters, a Lambda `event`."""
    names = [arg.arg for arg in (*function.args.posonlyargs, *function.args.args)]
    if len(names) >= 2 and names[0] == "event" and names[1] in ("context", "_context", "ctx"):
        return frozenset({"event"}), frozenset()
    route = _route_decorator(function)
    if route is None:
        return frozenset(), frozenset()
    decorator_name, call = route
    typed = decorator_name in TYPED_ROUTE_DECORATORS
    safe_by_converter = _flask_safe_parameters(call)
    defaults = _defaults(function)
    sources: set[str] = set()
    validated: set[str] = set()
    for arg in (*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs):
        if arg.arg in _NOT_DATA_PARAMETERS:
            continue
        default = defaults.get(arg.arg)
        if default is not None and _is_dependency(default):
            continue
        if arg.arg in safe_by_converter or (typed and _validated_annotation(arg.annotation)):
            validated.add(arg.arg)
            continue
        sources.add(arg.arg)
    return frozenset(sources), frozenset(validated)


def _route_decorator(
    function: ast.FunctionDef | ast.AsyncFunctionDef,
) -> tuple[str, ast.Call | None] | None:
    for decorator in function.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in ROUTE_DECORATORS and isinstance(target, ast.Attribute):
            return name, call
    return None


def _flask_safe_parameters(call: ast.Call | None) -> set[str]:
    """Parameters a Flask/Werkzeug converter already made a number or a UUID (`<int:id>`)."""
    if call is None or not call.args or not isinstance(call.args[0], ast.Constant):
        return set()
    rule = call.args[0].value
    if not isinstance(rule, str):
        return set()
    return {
        name for converter, name in _FLASK_CONVERTER.findall(rule) if converter in _SAFE_CONVERTERS
    }


def _defaults(function: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, ast.expr]:
    positional = [*function.args.posonlyargs, *function.args.args]
    found = {
        arg.arg: default
        for arg, default in zip(
            positional[len(positional) - len(function.args.defaults) :],
            function.args.defaults,
            strict=True,
        )
    }
    for arg, default in zip(function.args.kwonlyargs, function.args.kw_defaults, strict=True):
        if default is not None:
            found[arg.arg] = default
    return found


def _is_dependency(default: ast.expr) -> bool:
    """`db = Depends(get_db)`: an injected object, not request data."""
    if not isinstance(default, ast.Call):
        return False
    func = default.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("Depends", "Security")


def _validated_annotation(annotation: ast.expr | None) -> bool:
    """`int`, `uuid.UUID`, `Optional[int]`, `int | None`, `Annotated[int, Query()]`."""
    if annotation is None:
        return False
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        sides = [annotation.left, annotation.right]
        return all(_is_none(side) or _validated_annotation(side) for side in sides) and not all(
            _is_none(side) for side in sides
        )
    if isinstance(annotation, ast.Subscript):
        outer = _name_of(annotation.value)
        inner = annotation.slice
        if outer in ("Optional",):
            return _validated_annotation(inner)
        if outer == "Annotated" and isinstance(inner, ast.Tuple) and inner.elts:
            return _validated_annotation(inner.elts[0])
        return False
    return _name_of(annotation) in FRAMEWORK_VALIDATED_TYPES


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _name_of(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""
