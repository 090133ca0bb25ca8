"""Evaluate JavaScript/TypeScript expressions (tree-sitter nodes) to `Value`s."""

from __future__ import annotations

from collections.abc import Callable

from tree_sitter import Node

from buildrunner.security.sql.javascript_context import is_request_data, substitute
from buildrunner.security.sql.javascript_nodes import (
    FUNCTION_TYPES,
    callee_name,
    parameter_names,
    parameter_nodes,
    pattern_names,
    pattern_nodes,
    text_of,
    unwrap,
)
from buildrunner.security.sql.sinks import JS_SANITIZERS, JS_STRING_TAGS
from buildrunner.security.sql.taint import (
    Scope,
    Value,
    is_constant_name,
    merge,
    opaque,
    safe,
    splice,
)

JsValue = Value[Node]
JsScope = Scope[Node]

_LITERALS = frozenset({"number", "true", "false", "null", "undefined", "regex"})
_NUMERIC_OPERATORS = frozenset({"-", "*", "/", "%", "**", "|", "&", "^", "<<", ">>", ">>>"})
_COMPARISONS = frozenset({"==", "===", "!=", "!==", "<", ">", "<=", ">=", "instanceof", "in"})
_STRING_METHODS = frozenset(
    {
        "toLowerCase",
        "toUpperCase",
        "trim",
        "trimStart",
        "trimEnd",
        "replace",
        "replaceAll",
        "slice",
        "substring",
        "substr",
        "padStart",
        "padEnd",
        "toString",
        "normalize",
    }
)
_COLLECTIONS = frozenset({"Set", "Map", "Array", "WeakSet", "WeakMap"})
_CASE_METHODS = frozenset({"toLowerCase", "toUpperCase", "trim"})
_NUMERIC_PROPERTIES = frozenset({"length", "size"})


class JsEvaluator:
    """Evaluates expressions against a scope of names."""

    def __init__(self, scope: JsScope) -> None:
        self.scope = scope

    def value(self, node: Node) -> JsValue:
        node = unwrap(node)
        kind = node.type
        if kind in _LITERALS:
            return safe()
        handler: Callable[[Node], JsValue] | None = getattr(self, "_" + kind, None)
        return handler(node) if handler is not None else opaque(node)

    def _string(self, node: Node) -> JsValue:
        return safe(text_of(node)[1:-1], is_str=True)

    def _template_string(self, node: Node) -> JsValue:
        parts: list[JsValue] = []
        for child in node.named_children:
            if child.type == "template_substitution":
                inner = child.named_children
                parts.append(self.value(inner[0]) if inner else safe())
            else:
                parts.append(safe(text_of(child), is_str=True))
        if not parts:
            return safe("", is_str=True)
        built = splice(parts, "template")
        return built if built.tainted else safe(built.text, is_str=True)

    def _identifier(self, node: Node) -> JsValue:
        name = text_of(node)
        bound = self.scope.lookup(name)
        if bound is not None:
            return bound
        if is_constant_name(name) or name == "undefined":
            return safe()
        return opaque(node)

    def _member_expression(self, node: Node) -> JsValue:
        bound = self.scope.lookup(text_of(node))  # `req.query.sort` after an allow-list check
        if bound is not None:
            return bound
        if is_request_data(node):
            return opaque(node, source=True)
        prop = node.child_by_field_name("property")
        obj = node.child_by_field_name("object")
        name = text_of(prop) if prop is not None else ""
        if is_constant_name(name) or name in _NUMERIC_PROPERTIES:
            return safe()
        owner = self.value(obj) if obj is not None else opaque(node)
        if owner.is_safe:
            return safe()  # property of a constant object: an allow-list entry
        return opaque(node, source=owner.source)

    def _subscript_expression(self, node: Node) -> JsValue:
        obj = node.child_by_field_name("object")
        container = self.value(obj) if obj is not None else opaque(node)
        return container if container.is_safe else opaque(node, source=container.source)

    def _binary_expression(self, node: Node) -> JsValue:
        operator = node.child_by_field_name("operator")
        left_node = node.child_by_field_name("left")
        right_node = node.child_by_field_name("right")
        if operator is None or left_node is None or right_node is None:
            return opaque(node)
        op = text_of(operator)
        if op in _NUMERIC_OPERATORS or op in _COMPARISONS:
            return safe()
        left, right = self.value(left_node), self.value(right_node)
        if op == "+":
            if left.is_str or right.is_str:
                return splice([left, right], "concat")
            if unwrap(left_node).type == "number" or unwrap(right_node).type == "number":
                return safe()  # `i + 1`: arithmetic on an index
        return merge([left, right])

    def _ternary_expression(self, node: Node) -> JsValue:
        condition = node.child_by_field_name("condition")
        consequence = node.child_by_field_name("consequence")
        alternative = node.child_by_field_name("alternative")
        if consequence is None or alternative is None:
            return opaque(node)
        guarded = allow_listed_name(condition, self) if condition is not None else None
        then = safe() if guarded and text_of(consequence) == guarded else self.value(consequence)
        return merge([then, self.value(alternative)])

    def _unary_expression(self, node: Node) -> JsValue:
        return safe()  # +x, -x, !x, typeof x: numbers, booleans, type names

    _update_expression = _unary_expression

    def _shorthand_property_identifier(self, node: Node) -> JsValue:
        return self._identifier(node)

    def _array(self, node: Node) -> JsValue:
        items = [self.value(child) for child in node.named_children]
        return merge(items) if items else safe()

    def _object(self, node: Node) -> JsValue:
        values = []
        for child in node.named_children:
            if child.type == "pair":
                value = child.child_by_field_name("value")
                if value is not None:
                    values.append(self.value(value))
            else:
                values.append(self.value(child))
        return merge(values) if values else safe()

    def _arrow_function(self, node: Node) -> JsValue:
        return safe()

    _function_expression = _arrow_function
    _function = _arrow_function

    def _new_expression(self, node: Node) -> JsValue:
        constructor = node.child_by_field_name("constructor")
        arguments = node.child_by_field_name("arguments")
        if constructor is None or text_of(constructor) not in _COLLECTIONS:
            return opaque(node)
        items = [self.value(arg) for arg in (arguments.named_children if arguments else [])]
        return merge(items) if items else safe()

    def _spread_element(self, node: Node) -> JsValue:
        return self.value(node.named_children[0]) if node.named_children else opaque(node)

    def _call_expression(self, node: Node) -> JsValue:
        function = node.child_by_field_name("function")
        arguments = node.child_by_field_name("arguments")
        if function is None or arguments is None:
            return opaque(node)
        if arguments.type == "template_string":
            if text_of(function) in JS_STRING_TAGS:
                return self.value(arguments)
            return safe()  # sql`...`, Prisma.sql`...`: the tag binds the substitutions
        name = callee_name(function)
        args = [child for child in arguments.named_children if child.type != "comment"]
        if name in JS_SANITIZERS or text_of(function) in JS_SANITIZERS:
            return safe()
        if function.type == "member_expression":
            receiver_node = function.child_by_field_name("object")
            if receiver_node is not None:
                method = self._method(node, name, receiver_node, args)
                if method is not None:
                    return method
        if name == "String" and args:
            return self.value(args[0])
        helper = self._same_file_call(node, args)
        if helper is not None:
            return helper
        # a function of attacker data (JSON.parse(event.body)) is attacker data
        values = [self.value(arg) for arg in args[:4]]
        if function.type == "member_expression" and (
            receiver := function.child_by_field_name("object")
        ):
            values.append(self.value(receiver))
        return opaque(node, source=any(value.source for value in values))

    def _same_file_call(self, node: Node, args: list[Node]) -> JsValue | None:
        context = self.scope.context
        info = context.function(node) if context is not None else None
        if info is None or info.returns is None:
            return None
        arguments = {
            index: self.value(arg) for index, arg in enumerate(args) if index < len(info.params)
        }
        return substitute(info.returns, arguments, info, context)

    def _method(
        self, node: Node, name: str, receiver_node: Node, args: list[Node]
    ) -> JsValue | None:
        if text_of(receiver_node) == "Object" and name in ("keys", "values", "entries") and args:
            return self.value(args[0])
        receiver = self.value(receiver_node)
        if name == "join":
            separator = self.value(args[0]) if args else safe(",", is_str=True)
            return splice([separator, receiver], "join", text=receiver.text + separator.text)
        if name in ("map", "flatMap") and args:
            return self._callback_result(args[0], receiver)
        if name == "filter" and args:
            return safe() if _filters_by_allow_list(args[0], self) else receiver
        if name == "fill" and args:
            return self.value(args[0])
        if name in ("concat",) and receiver.is_str:
            return splice([receiver, *(self.value(arg) for arg in args)], "concat")
        if name in _STRING_METHODS or name in ("slice", "sort", "reverse", "flat"):
            return (
                receiver
                if receiver.is_safe or receiver.is_str
                else opaque(node, source=receiver.source)
            )
        return None

    def _callback_result(self, callback: Node, items: JsValue) -> JsValue:
        """`items.map((item, index) => ...)`: what the callback returns for each element."""
        callback = unwrap(callback)
        if callback.type not in FUNCTION_TYPES:
            return (
                safe() if text_of(callback) in JS_SANITIZERS else merge([items, opaque(callback)])
            )
        scope = self.scope.child()
        for position, name in enumerate(parameter_names(callback)):
            scope.names[name] = items if position == 0 else safe()
        inner = JsEvaluator(scope)
        body = callback.child_by_field_name("body")
        if body is None:
            return opaque(callback)
        if body.type != "statement_block":
            return inner.value(body)
        returns = [
            inner.value(ret.named_children[0]) for ret in _returns(body) if ret.named_children
        ]
        return merge(returns) if returns else safe()


def _returns(body: Node) -> list[Node]:
    found: list[Node] = []
    stack = list(body.named_children)
    while stack:
        node = stack.pop()
        if node.type == "return_statement":
            found.append(node)
        elif node.type not in FUNCTION_TYPES:
            stack.extend(node.named_children)
    return found


def allow_listed_name(condition: Node, evaluator: JsEvaluator) -> str | None:
    """`ALLOWED.includes(x)`, `ALLOWED.has(x)`, `x in COLUMNS`: x is one of the constants."""
    condition = unwrap(condition)
    if condition.type == "call_expression":
        function = condition.child_by_field_name("function")
        arguments = condition.child_by_field_name("arguments")
        if (
            function is not None
            and function.type == "member_expression"
            and callee_name(function) in ("includes", "has", "hasOwnProperty", "indexOf")
            and arguments is not None
            and arguments.named_child_count == 1
            and _guarded_subject(arguments.named_children[0]) is not None
        ):
            owner = function.child_by_field_name("object")
            if owner is not None and evaluator.value(owner).is_safe:
                return _guarded_subject(arguments.named_children[0])
    if condition.type == "binary_expression":
        operator = condition.child_by_field_name("operator")
        left = condition.child_by_field_name("left")
        right = condition.child_by_field_name("right")
        if (
            operator is not None
            and text_of(operator) == "in"
            and left is not None
            and left.type == "identifier"
            and right is not None
            and evaluator.value(right).is_safe
        ):
            return text_of(left)
    return None


def _guarded_subject(argument: Node) -> str | None:
    """The name an allow-list check vouches for: `x`, `req.query.x`, `x.toLowerCase()`."""
    argument = unwrap(argument)
    if argument.type == "call_expression":
        function = argument.child_by_field_name("function")
        if function is not None and callee_name(function) in _CASE_METHODS:
            owner = function.child_by_field_name("object")
            argument = unwrap(owner) if owner is not None else argument
    if argument.type in ("identifier", "member_expression"):
        return text_of(argument)
    return None


def rejected_name(condition: Node, evaluator: JsEvaluator) -> str | None:
    """`!ALLOWED.includes(x)`: the branch handles values outside the allow-list."""
    condition = unwrap(condition)
    if condition.type == "unary_expression" and condition.named_child_count:
        operator = condition.child_by_field_name("operator")
        if operator is not None and text_of(operator) == "!":
            return allow_listed_name(condition.named_children[-1], evaluator)
    return None


def _filters_by_allow_list(callback: Node, evaluator: JsEvaluator) -> bool:
    callback = unwrap(callback)
    if callback.type not in FUNCTION_TYPES:
        return False
    body = callback.child_by_field_name("body")
    names = parameter_names(callback)
    if body is None or not names or body.type == "statement_block":
        return False
    return allow_listed_name(body, evaluator) == names[0]


__all__ = [
    "FUNCTION_TYPES",
    "JsEvaluator",
    "JsScope",
    "JsValue",
    "allow_listed_name",
    "callee_name",
    "parameter_names",
    "parameter_nodes",
    "pattern_names",
    "pattern_nodes",
    "rejected_name",
    "text_of",
    "unwrap",
]
