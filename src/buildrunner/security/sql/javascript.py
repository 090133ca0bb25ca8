"""SQL-injection analysis of JavaScript and TypeScript with tree-sitter.

The tree is walked in source order, one function scope at a time; `const`/`let`/`var` bindings,
reassignments and `+=` are followed to the call that runs the query. Tagged templates (sql`...`,
Prisma.sql`...`, prisma.$queryRaw`...`) bind their substitutions and are safe.
"""

from __future__ import annotations

import re
import threading
from functools import cache

from tree_sitter import Language, Node, Parser

from buildrunner.security.findings import Finding
from buildrunner.security.sql.javascript_checks import SINKS, JsSinkChecks
from buildrunner.security.sql.javascript_context import (
    JsContext,
    JsFunction,
    collect_functions,
    declared_name,
    either,
    event_parameters,
)
from buildrunner.security.sql.javascript_values import (
    FUNCTION_TYPES,
    JsEvaluator,
    JsScope,
    JsValue,
    allow_listed_name,
    callee_name,
    parameter_nodes,
    pattern_names,
    rejected_name,
    text_of,
)
from buildrunner.security.sql.taint import Scope, merge, opaque, safe, splice

SINK_WORDS = re.compile(
    rb"(?:" + b"|".join(re.escape(name.encode()) for name in SINKS) + rb")\b"
    rb"|(?i:query|execute|raw|sql)"
)
SUMMARY_PASSES = 2
_DECLARATIONS = frozenset({"lexical_declaration", "variable_declaration"})
_LEAVING = frozenset(
    {"throw_statement", "return_statement", "continue_statement", "break_statement"}
)
_local = threading.local()


@cache
def _language(dialect: str) -> Language:
    if dialect == "javascript":
        import tree_sitter_javascript

        return Language(tree_sitter_javascript.language())
    import tree_sitter_typescript

    if dialect == "tsx":
        return Language(tree_sitter_typescript.language_tsx())
    return Language(tree_sitter_typescript.language_typescript())


def _parser(dialect: str) -> Parser:
    """One parser per thread and dialect (tree-sitter parsers are not thread-safe)."""
    parsers: dict[str, Parser] = getattr(_local, "parsers", None) or {}
    _local.parsers = parsers
    if dialect not in parsers:
        parsers[dialect] = Parser(_language(dialect))
    return parsers[dialect]


def scan_javascript(
    path: str, text: str, dialect: str = "javascript", data: bytes | None = None
) -> tuple[list[Finding], str | None]:
    """Findings for one JS/TS file, or a skip reason when it does not parse."""
    source = data if data is not None and data.isascii() else text.encode("utf-8", "replace")
    if not SINK_WORDS.search(source):
        return [], None
    tree = _parser(dialect).parse(source)
    root = tree.root_node
    if root.has_error:
        return [], f"syntax error at line {_first_error_line(root)}"
    analyser = _Analyser(path, source)
    try:
        analyser.run(root)
    except RecursionError:
        return [], "nesting too deep to analyse"
    return analyser.findings, None


def _first_error_line(node: Node) -> int:
    while True:
        if node.type == "ERROR" or node.is_missing:
            return node.start_point.row + 1
        broken = next((child for child in node.children if child.has_error), None)
        if broken is None:
            return node.start_point.row + 1
        node = broken


class _Analyser(JsSinkChecks):
    def __init__(self, path: str, source: bytes) -> None:
        self.path = path
        self.source = source
        self.findings: list[Finding] = []
        self.context = JsContext()
        self.functions: list[JsFunction | None] = []
        self.returned: list[JsValue | None] = []
        self.seen: set[tuple[int, int]] = set()
        self.words = SINK_WORDS

    def run(self, root: Node) -> None:
        if collect_functions(root, self.context):
            names = b"|".join(re.escape(name.encode()) for name in self.context.functions)
            self.words = re.compile(SINK_WORDS.pattern + rb"|\b(?:" + names + rb")\b")
            self.context.collecting = True
            for _ in range(SUMMARY_PASSES):  # what each helper does with its parameters
                self._pass(root)
            self.context.collecting = False
        self._pass(root)

    def _pass(self, root: Node) -> None:
        module = Scope[Node](context=self.context)
        self._hoist_constants(root, module)
        self.block(root.named_children, module)

    def _hoist_constants(self, root: Node, scope: JsScope) -> None:
        """Top-level `const X = "..."` is safe in functions declared before it too."""
        evaluator = JsEvaluator(scope)
        for statement in root.named_children:
            if statement.type == "export_statement":
                statement = statement.child_by_field_name("declaration") or statement
            if statement.type != "lexical_declaration":
                continue
            for declarator in statement.named_children:
                name = declarator.child_by_field_name("name")
                value = declarator.child_by_field_name("value")
                if name is None or value is None or name.type != "identifier":
                    continue
                result = evaluator.value(value)
                if result.is_safe:
                    scope.names[text_of(name)] = result

    # statements
    def block(self, statements: list[Node], scope: JsScope) -> None:
        for statement in statements:
            self.visit(statement, scope, nested=False)

    def visit(self, node: Node, scope: JsScope, nested: bool) -> None:
        kind = node.type
        mentions_sink = self.words.search(self.source, node.start_byte, node.end_byte) is not None
        if kind in FUNCTION_TYPES:
            info = self.context.by_key.get((node.start_byte, node.end_byte))
            if mentions_sink or info is not None:
                self._function(node, scope, info)
            return
        if kind == "return_statement":
            for child in node.named_children:
                if mentions_sink:
                    self.visit(child, scope, nested)
                self._returns(child, scope)
            return
        if kind in _DECLARATIONS:
            for declarator in node.named_children:
                value = declarator.child_by_field_name("value")
                if value is not None and mentions_sink:
                    self.visit(value, scope, nested)
                self._declare(declarator, scope)
            return
        if kind == "export_statement":
            for child in node.named_children:
                self.visit(child, scope, nested)
            return
        if kind == "if_statement":
            self._if(node, scope)
            return
        if kind in (
            "for_statement",
            "for_in_statement",
            "while_statement",
            "do_statement",
            "try_statement",
            "switch_statement",
            "catch_clause",
            "finally_clause",
            "switch_case",
            "switch_default",
            "else_clause",
        ):
            if kind == "for_in_statement":
                self._bind_loop(node, scope)
            for child in node.named_children:
                self.visit(child, scope, nested=True)
            return
        if kind in (
            "statement_block",
            "expression_statement",
            "parenthesized_expression",
            "sequence_expression",
        ):
            for child in node.named_children:
                self.visit(child, scope, nested)
            return
        if kind == "assignment_expression":
            self._assign(node, scope, nested, mentions_sink)
            return
        if kind == "augmented_assignment_expression":
            self._augment(node, scope, mentions_sink)
            return
        if not mentions_sink:
            if kind == "call_expression":
                self._container_update(node, scope)
            return
        if kind == "call_expression":
            self.check_call(node, scope)
            self._container_update(node, scope)
        for child in node.named_children:
            self.visit(child, scope, nested)

    def _function(self, node: Node, scope: JsScope, info: JsFunction | None) -> None:
        inner = scope.child()
        events = event_parameters(node, declared_name(node))
        for parameter in parameter_nodes(node):
            name = text_of(parameter)
            inner.names[name] = opaque(parameter, source=name in events)
        body = node.child_by_field_name("body")
        if body is None:
            return
        self.functions.append(info)
        self.returned.append(None)
        try:
            if body.type == "statement_block":
                self.block(body.named_children, inner)
            else:
                self.visit(body, inner, nested=False)
                self._returns(body, inner)
        finally:
            self.functions.pop()
            returned = self.returned.pop()
        if info is not None and self.context.collecting:
            info.returns = returned

    def _returns(self, value: Node, scope: JsScope) -> None:
        if self.returned and self.context.collecting:
            self.returned[-1] = either(self.returned[-1], JsEvaluator(scope).value(value))

    def _declare(self, declarator: Node, scope: JsScope) -> None:
        name = declarator.child_by_field_name("name")
        value = declarator.child_by_field_name("value")
        if name is None:
            return
        result = JsEvaluator(scope).value(value) if value is not None else safe()
        if name.type == "identifier":
            scope.names[text_of(name)] = result
            return
        for bound in pattern_names(name):  # const { a, b } = req.body
            scope.names[bound] = (
                result if result.is_safe else opaque(value or name, source=result.source)
            )

    def _assign(self, node: Node, scope: JsScope, nested: bool, mentions_sink: bool) -> None:
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if right is None:
            return
        if mentions_sink:
            self.visit(right, scope, nested)
        if left is None or left.type != "identifier":
            return
        result = JsEvaluator(scope).value(right)
        name = text_of(left)
        previous = scope.lookup(name)
        # an assignment inside a branch or loop may not run: keep the earlier value too
        scope.names[name] = merge([previous, result]) if nested and previous else result

    def _augment(self, node: Node, scope: JsScope, mentions_sink: bool) -> None:
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        operator = node.child_by_field_name("operator")
        if right is None:
            return
        if mentions_sink:
            self.visit(right, scope, nested=True)
        if left is None or left.type != "identifier" or operator is None:
            return
        if text_of(operator) != "+=":
            return
        evaluator = JsEvaluator(scope)
        current, added = evaluator.value(left), evaluator.value(right)
        scope.names[text_of(left)] = (
            splice([current, added], "concat")
            if current.is_str or added.is_str
            else merge([current, added])
        )

    def _container_update(self, call: Node, scope: JsScope) -> None:
        """`parts.push(x)`: the array now may hold x."""
        function = call.child_by_field_name("function")
        arguments = call.child_by_field_name("arguments")
        if function is None or arguments is None or function.type != "member_expression":
            return
        if callee_name(function) not in ("push", "unshift", "add", "splice"):
            return
        owner = function.child_by_field_name("object")
        if owner is None or owner.type != "identifier":
            return
        current = scope.lookup(text_of(owner))
        if current is None:
            return
        evaluator = JsEvaluator(scope)
        added = [evaluator.value(arg) for arg in arguments.named_children if arg.type != "comment"]
        scope.names[text_of(owner)] = merge([current, *added])

    def _bind_loop(self, node: Node, scope: JsScope) -> None:
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if left is None or right is None:
            return
        value = JsEvaluator(scope).value(right)
        for name in pattern_names(left) or [text_of(left)]:
            scope.names[name] = value

    def _if(self, node: Node, scope: JsScope) -> None:
        condition = node.child_by_field_name("condition")
        consequence = node.child_by_field_name("consequence")
        alternative = node.child_by_field_name("alternative")
        evaluator = JsEvaluator(scope)
        if condition is not None:
            self.visit(condition, scope, nested=True)
        allowed = allow_listed_name(condition, evaluator) if condition is not None else None
        rejected = rejected_name(condition, evaluator) if condition is not None else None
        if consequence is not None:
            saved = scope.names.get(allowed) if allowed else None
            if allowed:
                scope.names[allowed] = safe()
            self.visit(consequence, scope, nested=True)
            if allowed:
                if saved is None:
                    scope.names.pop(allowed, None)
                else:
                    scope.names[allowed] = saved
        if alternative is not None:
            self.visit(alternative, scope, nested=True)
        if rejected and consequence is not None and _always_leaves(consequence):
            scope.names[rejected] = safe()


def _always_leaves(node: Node) -> bool:
    if node.type in _LEAVING:
        return True
    if node.type == "statement_block" and node.named_children:
        return node.named_children[-1].type in _LEAVING
    return False
