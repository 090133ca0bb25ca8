"""Evaluate Python expressions to `Value`s: which non-constant data ends up in a string, and how."""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Callable

from buildrunner.security.sql.python_sources import is_request_data
from buildrunner.security.sql.sinks import (
    PYTHON_PASSTHROUGH,
    PYTHON_SANITIZERS,
    PYTHON_SQL_PRODUCERS,
)
from buildrunner.security.sql.taint import (
    Scope,
    Value,
    is_constant_name,
    merge,
    opaque,
    safe,
    splice,
    tuple_of,
)

PyValue = Value[ast.expr]
PyScope = Scope[ast.expr]

# `%` conversions that only accept numbers: data spliced through them cannot carry SQL.
_PERCENT_SPEC = re.compile(r"%(?:\((\w+)\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?([a-zA-Z%])")
_NUMERIC_CONVERSIONS = frozenset("diouxXeEfFgG")
_CASE_METHODS = frozenset({"lower", "upper", "strip", "casefold"})
_NUMERIC_FORMAT_SPEC = re.compile(r"[^}]*[dbcoxXneEfFgG%]$")
# Attributes that are framework metadata, never request data.
_METADATA_ATTRIBUTES = frozenset({"db_table", "__tablename__", "__table__", "_meta", "table",
                                  "template", "function", "arg_joiner", "lookup_name"})
# str methods that keep the taint of their receiver.
_STR_METHODS = frozenset(
    {"strip", "lstrip", "rstrip", "lower", "upper", "title", "casefold", "replace", "capitalize",
     "removeprefix", "removesuffix", "ljust", "rjust", "center", "expandtabs", "encode", "decode"}
)




class Evaluator:
    """Evaluates expressions against a scope; `class_constants` are names bound in the class body."""

    def __init__(self, scope: PyScope, class_constants: frozenset[str] = frozenset()) -> None:
        self.scope = scope
        self.class_constants = class_constants

    def value(self, node: ast.expr) -> PyValue:
        handler: Callable[[ast.expr], PyValue] | None = getattr(
            self, "_" + type(node).__name__, None
        )
        return handler(node) if handler is not None else opaque(node)

    # literals and names
    def _Constant(self, node: ast.expr) -> PyValue:
        assert isinstance(node, ast.Constant)
        if isinstance(node.value, str):
            return safe(node.value, is_str=True)
        return safe()

    def _Name(self, node: ast.expr) -> PyValue:
        assert isinstance(node, ast.Name)
        bound = self.scope.lookup(node.id)
        if bound is not None:
            return bound
        if is_constant_name(node.id):
            return safe()
        return opaque(node)

    def _Attribute(self, node: ast.expr) -> PyValue:
        assert isinstance(node, ast.Attribute)
        if is_request_data(node):  # before the UPPER_CASE rule: Django's request.GET is data
            return opaque(node, source=True)
        if is_constant_name(node.attr) or node.attr in _METADATA_ATTRIBUTES:
            return safe()
        owner = node.value
        if (
            isinstance(owner, ast.Name)
            and owner.id in ("self", "cls")
            and node.attr in self.class_constants
        ):
            return safe()
        return opaque(node)

    def _Subscript(self, node: ast.expr) -> PyValue:
        assert isinstance(node, ast.Subscript)
        container = self.value(node.value)
        # An allow-list lookup (`COLUMNS[key]`) yields one of the constant entries.
        if container.is_safe:
            return container
        if container.elements is not None and isinstance(node.slice, ast.Constant):
            index = node.slice.value
            if isinstance(index, int) and -len(container.elements) <= index < len(container.elements):
                return container.elements[index]
        return opaque(node, source=container.source)

    def _Tuple(self, node: ast.expr) -> PyValue:
        assert isinstance(node, ast.Tuple | ast.List | ast.Set)
        if not node.elts:
            return safe()
        values = [self.value(element) for element in node.elts]
        return tuple_of(values) if isinstance(node, ast.Tuple) else merge(values)

    _List = _Tuple
    _Set = _Tuple

    def _Dict(self, node: ast.expr) -> PyValue:
        assert isinstance(node, ast.Dict)
        values = [self.value(item) for item in node.values]
        return merge(values) if values else safe()

    def _IfExp(self, node: ast.expr) -> PyValue:
        assert isinstance(node, ast.IfExp)
        guarded = allow_listed_name(node.test, self)
        body = safe() if guarded and _is_name(node.body, guarded) else self.value(node.body)
        return merge([body, self.value(node.orelse)])

    def _BoolOp(self, node: ast.expr) -> PyValue:
        assert isinstance(node, ast.BoolOp)
        return merge([self.value(item) for item in node.values])

    def _UnaryOp(self, node: ast.expr) -> PyValue:
        return safe()  # -x, not x, ~x: numbers and booleans

    def _Compare(self, node: ast.expr) -> PyValue:
        return safe()

    # string construction
    def _JoinedStr(self, node: ast.expr) -> PyValue:
        assert isinstance(node, ast.JoinedStr)
        parts: list[PyValue] = []
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                spec = part.format_spec
                if spec is not None and _numeric_spec(spec):
                    parts.append(safe("0"))
                else:
                    parts.append(self.value(part.value))
            else:
                parts.append(self.value(part))
        return splice(parts, "fstring")

    def _BinOp(self, node: ast.expr) -> PyValue:
        assert isinstance(node, ast.BinOp)
        left = self.value(node.left)
        if isinstance(node.op, ast.Mod) and left.is_str:
            return self._percent(left, node.right)
        right = self.value(node.right)
        if isinstance(node.op, ast.Add) and (left.is_str or right.is_str):
            return splice([left, right], "concat")
        if isinstance(node.op, ast.Mult):
            # "?, " * n, ["%s"] * len(ids): repeating a safe string stays safe
            return merge([left, right]) if left.is_str or right.is_str else safe()
        if isinstance(node.op, ast.Add | ast.Mod):
            return merge([left, right])
        return safe()  # -, /, //, **, <<, &: arithmetic yields numbers

    def _percent(self, template: PyValue, args_node: ast.expr) -> PyValue:
        specs = [(key, conv) for key, conv in _PERCENT_SPEC.findall(template.text) if conv != "%"]
        parts: list[PyValue]
        if isinstance(args_node, ast.Dict):
            by_key = {
                key.value: item for key, item in zip(args_node.keys, args_node.values, strict=True)
                if isinstance(key, ast.Constant)
            }
            used = [by_key.get(key) for key, conv in specs if conv not in _NUMERIC_CONVERSIONS]
            whole: ast.expr = args_node
            parts = [self.value(item) if item is not None else opaque(whole) for item in used]
        else:
            elements = args_node.elts if isinstance(args_node, ast.Tuple) else [args_node]
            if len(elements) == len(specs):
                parts = [self.value(item) for item, (_, conv) in zip(elements, specs, strict=True)
                         if conv not in _NUMERIC_CONVERSIONS]
            elif specs and all(conv in _NUMERIC_CONVERSIONS for _, conv in specs):
                parts = []
            else:
                parts = [self.value(args_node)]
        return splice([template, *parts], "percent", text=template.text)

    def _Call(self, node: ast.expr) -> PyValue:
        assert isinstance(node, ast.Call)
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in PYTHON_SANITIZERS or name in PYTHON_SQL_PRODUCERS:
            return safe()
        if is_request_data(func):  # request.get_json(), request.args.get("q")
            return opaque(node, source=True)
        summary = self._same_file_call(node)
        if summary is not None:
            return summary
        if isinstance(func, ast.Attribute):
            method = self._method_call(node, func)
            if method is not None:
                return method
        if isinstance(func, ast.Name) and name in PYTHON_PASSTHROUGH:
            args = [self.value(arg) for arg in node.args]
            return merge(args) if args else safe()
        if isinstance(func, ast.Name) and name == "map" and len(node.args) == 2:
            mapper = node.args[0]
            if isinstance(mapper, ast.Name) and mapper.id in PYTHON_SANITIZERS:
                return safe()
            if isinstance(mapper, ast.Name) and mapper.id in PYTHON_PASSTHROUGH:
                return self.value(node.args[1])
        # a function of attacker data (json.loads(event["body"]), unquote(...)) is attacker data
        source = any(self.value(arg).source for arg in node.args[:4]) or any(
            self.value(keyword.value).source for keyword in node.keywords[:4])
        return opaque(node, source=source)

    def _same_file_call(self, node: ast.Call) -> PyValue | None:
        """The value a same-file function returns for these arguments (its summary, applied)."""
        from buildrunner.security.sql.python_context import substitute

        context = self.scope.context
        if context is None:
            return None
        info = context.function(node)
        if info is None or info.returns is None:
            return None
        mapped = context.arguments(info, node)
        if mapped is None:
            return None
        arguments = {index: self.value(argument) for index, argument in mapped.items()}
        return substitute(info.returns, arguments, info, context)

    def _method_call(self, node: ast.Call, func: ast.Attribute) -> PyValue | None:
        receiver = self.value(func.value)
        if func.attr == "join" and receiver.is_str and node.args:
            items = self.value(node.args[0])
            return splice([receiver, items], "join", text=items.text + receiver.text)
        if func.attr == "format" and receiver.is_str:
            return self._format(receiver, node)
        if func.attr in _STR_METHODS:
            return receiver if receiver.is_str or receiver.is_safe else opaque(
                node, source=receiver.source)
        if func.attr == "get" and receiver.is_safe:
            # allow-list lookup: CONSTANT_MAP.get(key, "default")
            defaults = [self.value(arg) for arg in node.args[1:]]
            return merge([receiver, *defaults])
        if func.attr in ("keys", "values", "items", "copy") and receiver.is_safe:
            return receiver
        if receiver.source:  # request.args.get("q"), event.get("body"), data.getlist("ids")
            return opaque(node, source=True)
        return None

    def _format(self, template: PyValue, node: ast.Call) -> PyValue:
        positional = list(node.args)
        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg is not None}
        spread = [kw.value for kw in node.keywords if kw.arg is None]
        parts: list[PyValue] = []
        auto_index = 0
        try:
            fields = list(string.Formatter().parse(template.text))
        except ValueError:
            fields = []
        for _, field_name, spec, _ in fields:
            if field_name is None:
                continue
            key = re.split(r"[.\[]", field_name, maxsplit=1)[0]
            if spec and _NUMERIC_FORMAT_SPEC.match(spec):
                continue
            argument: ast.expr | None
            if key == "":
                argument = positional[auto_index] if auto_index < len(positional) else None
                auto_index += 1
            elif key.isdigit():
                argument = positional[int(key)] if int(key) < len(positional) else None
            else:
                argument = keywords.get(key)
            if argument is not None:
                parts.append(self.value(argument))
            elif spread or any(isinstance(arg, ast.Starred) for arg in positional):
                parts.extend(self.value(item) for item in spread)
                parts.extend(self.value(arg) for arg in positional if isinstance(arg, ast.Starred))
        return splice([template, *parts], "format", text=template.text)

    def _NamedExpr(self, node: ast.expr) -> PyValue:
        assert isinstance(node, ast.NamedExpr)
        return self.value(node.value)

    def _Starred(self, node: ast.expr) -> PyValue:
        assert isinstance(node, ast.Starred)
        return self.value(node.value)

    # comprehensions: the loop variable carries the taint of what it iterates over
    def _ListComp(self, node: ast.expr) -> PyValue:
        assert isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp)
        inner = Evaluator(self.scope.child(), self.class_constants)
        for generator in node.generators:
            bind_loop(generator.target, generator.iter, inner)
            for condition in generator.ifs:
                guarded = allow_listed_name(condition, inner)
                if guarded:
                    inner.scope.names[guarded] = safe()
        return inner.value(node.elt)

    _SetComp = _ListComp
    _GeneratorExp = _ListComp

    def _DictComp(self, node: ast.expr) -> PyValue:
        return opaque(node)


def _is_name(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _numeric_spec(spec: ast.expr) -> bool:
    text = "".join(
        str(part.value) for part in getattr(spec, "values", []) if isinstance(part, ast.Constant)
    )
    return bool(text) and bool(_NUMERIC_FORMAT_SPEC.match(text))


def allow_listed_name(test: ast.expr, evaluator: Evaluator) -> str | None:
    """`name in CONSTANTS` (or `CONSTANTS.__contains__`-like forms): the name now holds a constant."""
    return _membership_subject(test, evaluator, ast.In)


def _membership_subject(
    test: ast.expr, evaluator: Evaluator, operator: type[ast.In] | type[ast.NotIn]
) -> str | None:
    """The name checked by `name <operator> CONSTANTS`, when the collection is constant."""
    if (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], operator)
        and evaluator.value(test.comparators[0]).is_safe
    ):
        return _guarded_subject(test.left)
    return None


def _guarded_subject(node: ast.expr) -> str | None:
    """The name an allow-list check vouches for: `x`, or `x` in `x.lower()`."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _CASE_METHODS
    ):
        node = node.func.value
    return node.id if isinstance(node, ast.Name) else None


def rejected_name(test: ast.expr, evaluator: Evaluator) -> str | None:
    """`name not in CONSTANTS` / `not (name in CONSTANTS)`: the branch rejects foreign values."""
    name = _membership_subject(test, evaluator, ast.NotIn)
    if name is not None:
        return name
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return allow_listed_name(test.operand, evaluator)
    return None


def bind_loop(target: ast.expr, iterable: ast.expr, evaluator: Evaluator) -> None:
    """Bind a loop variable: `range()` and `enumerate()` indexes are numbers."""
    scope = evaluator.scope
    if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name):
        if iterable.func.id == "range":
            bind_target(target, safe(), scope)
            return
        if (
            iterable.func.id == "enumerate"
            and iterable.args
            and isinstance(target, ast.Tuple)
            and len(target.elts) == 2
        ):
            bind_target(target.elts[0], safe(), scope)
            bind_target(target.elts[1], evaluator.value(iterable.args[0]), scope)
            return
    bind_target(target, evaluator.value(iterable), scope)


def bind_target(target: ast.expr, value: PyValue, scope: PyScope, source: ast.expr | None = None
                ) -> None:
    """Bind an assignment or loop target; `enumerate(...)` indexes are numbers."""
    if isinstance(target, ast.Name):
        scope.names[target.id] = value
    elif isinstance(target, ast.Tuple | ast.List):
        elements = source.elts if isinstance(source, ast.Tuple | ast.List) else None
        for index, element in enumerate(target.elts):
            if elements is not None and len(elements) == len(target.elts):
                bind_target(element, Evaluator(scope).value(elements[index]), scope)
            elif value.elements is not None and len(value.elements) == len(target.elts):
                bind_target(element, value.elements[index], scope)
            else:
                bind_target(element, value, scope)
    elif isinstance(target, ast.Starred):
        bind_target(target.value, value, scope)
