"""SQL-injection analysis of Python source with `ast`, one function at a time.

Statements are walked in order; each name holds the `Value` last assigned to it (branches merge),
so a query built in pieces (`sql = "SELECT ..."`, `sql += f" AND {x}"`) is followed to the call
that runs it. Module-level names bound to constants are safe everywhere in the file.
"""

from __future__ import annotations

import ast
import re

from buildrunner.security.findings import Finding
from buildrunner.security.sql.python_values import (
    Evaluator,
    PyScope,
    PyValue,
    allow_listed_name,
    bind_loop,
    bind_target,
    rejected_name,
)
from buildrunner.security.sql.report import sql_finding
from buildrunner.security.sql.sinks import (
    PYTHON_SINKS,
    PYTHON_STRONG_WHEN_IMPORTED,
    Sink,
    index_sinks,
    looks_like_sql,
)
from buildrunner.security.sql.taint import Scope, merge, opaque, safe, splice

SINKS = index_sinks(PYTHON_SINKS)
# Cheap text test: files and functions that never name a sink are not analysed.
SINK_WORDS = re.compile(r"\b(?:" + "|".join(re.escape(name) for name in SINKS) + r")\b")
_QUERY_KEYWORDS = ("sql", "query", "statement", "operation", "stmt")
_CONSTRUCTION_NAMES = {
    "fstring": "an f-string",
    "percent": "% formatting",
    "format": "str.format()",
    "concat": "string concatenation",
    "join": "str.join()",
}


def scan_python(path: str, text: str) -> tuple[list[Finding], str | None]:
    """Findings for one Python file, or a skip reason when it does not parse."""
    if not SINK_WORDS.search(text):
        return [], None
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        return [], f"syntax error at line {exc.lineno}: {exc.msg}"
    except (ValueError, RecursionError, MemoryError) as exc:
        return [], f"cannot parse: {exc}"
    analyser = _Analyser(path, text, tree)
    try:
        analyser.run()
    except RecursionError:
        return [], "expression nesting too deep to analyse"
    return analyser.findings, None


class _Analyser:
    def __init__(self, path: str, text: str, tree: ast.Module) -> None:
        self.path = path
        self.lines = text.splitlines(keepends=True)
        self.tree = tree
        self.findings: list[Finding] = []
        self.imported = _imported_roots(text)
        self.seen: set[tuple[int, int]] = set()
        self.loop_depth = 0

    def run(self) -> None:
        module = Scope[ast.expr]()
        self.block(self.tree.body, module, frozenset())

    # statements
    def block(self, body: list[ast.stmt], scope: PyScope, class_constants: frozenset[str]) -> None:
        for statement in body:
            self.statement(statement, scope, class_constants)

    def statement(self, node: ast.stmt, scope: PyScope, consts: frozenset[str]) -> None:
        ev = Evaluator(scope, consts)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if self._mentions_sink(node):
                inner = scope.child()
                for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs,
                            node.args.vararg, node.args.kwarg):
                    if arg is not None:
                        inner.names[arg.arg] = opaque(ast.Name(arg.arg))
                self.block(node.body, inner, consts)
            return
        if isinstance(node, ast.ClassDef):
            names = frozenset(_class_constants(node, scope))
            self.block(node.body, scope.child(), names)
            return
        if isinstance(node, ast.If | ast.While) and ":=" in self.lines[node.lineno - 1]:
            _bind_walrus(node.test, scope, ev)
        if isinstance(node, ast.If):
            self.check_calls(node.test, ev)
            self._if(node, scope, consts, ev)
            return
        if isinstance(node, ast.For | ast.AsyncFor):
            self.check_calls(node.iter, ev)
            loop = scope.copy()
            bind_loop(node.target, node.iter, Evaluator(loop, consts))
            self._loop_body(node.body, loop, consts)
            self.block(node.orelse, loop, consts)
            scope.join([loop, scope.copy()])
            return
        if isinstance(node, ast.While):
            self.check_calls(node.test, ev)
            loop = scope.copy()
            self._loop_body(node.body, loop, consts)
            self.block(node.orelse, loop, consts)
            scope.join([loop, scope.copy()])
            return
        if isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                self.check_calls(item.context_expr, ev)
                if item.optional_vars is not None:
                    bind_target(item.optional_vars, opaque(item.context_expr), scope)
            self.block(node.body, scope, consts)
            return
        if isinstance(node, ast.Try | ast.TryStar):
            self.block(node.body, scope, consts)
            branches = []
            for handler in node.handlers:
                branch = scope.copy()
                self.block(handler.body, branch, consts)
                branches.append(branch)
            self.block(node.orelse, scope, consts)
            if branches:
                scope.join([*branches, scope.copy()])
            self.block(node.finalbody, scope, consts)
            return
        if isinstance(node, ast.Match):
            self.check_calls(node.subject, ev)
            arms = []
            for case in node.cases:
                arm = scope.copy()
                self.block(case.body, arm, consts)
                arms.append(arm)
            scope.join([*arms, scope.copy()])
            return
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.check_calls(child, ev)
        self._bind(node, scope, ev)

    def _loop_body(self, body: list[ast.stmt], loop: PyScope, consts: frozenset[str]) -> None:
        """Twice for the outermost loops (values carried round), once when nested: bounded work."""
        self.loop_depth += 1
        try:
            self.block(body, loop, consts)
            if self.loop_depth <= 2:
                self.block(body, loop, consts)
        finally:
            self.loop_depth -= 1

    def _if(self, node: ast.If, scope: PyScope, consts: frozenset[str], ev: Evaluator) -> None:
        then, other = scope.copy(), scope.copy()
        allowed = allow_listed_name(node.test, ev)
        if allowed:
            then.names[allowed] = safe()
        rejected = rejected_name(node.test, ev)
        if rejected:
            other.names[rejected] = safe()
        self.block(node.body, then, consts)
        self.block(node.orelse, other, consts)
        if _always_leaves(node.body):
            scope.names.update(other.names)
        elif node.orelse and _always_leaves(node.orelse):
            scope.names.update(then.names)
        else:
            scope.join([then, other])

    def _bind(self, node: ast.stmt, scope: PyScope, ev: Evaluator) -> None:
        if isinstance(node, ast.Assign):
            value = ev.value(node.value)
            for target in node.targets:
                bind_target(target, value, scope, node.value)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            bind_target(node.target, ev.value(node.value), scope, node.value)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            current = ev.value(node.target)
            added = ev.value(node.value)
            if isinstance(node.op, ast.Add) and (current.is_str or added.is_str):
                scope.names[node.target.id] = splice([current, added], "concat")
            elif isinstance(node.op, ast.Add):  # list += [...]
                scope.names[node.target.id] = merge([current, added])
        elif isinstance(node, ast.Assert):
            allowed = allow_listed_name(node.test, ev)
            if allowed:
                scope.names[allowed] = safe()
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            self._container_update(node.value, scope, ev)

    def _container_update(self, call: ast.Call, scope: PyScope, ev: Evaluator) -> None:
        """`parts.append(x)`, `parts.extend(xs)`: the list now may hold x."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            return
        if func.attr not in ("append", "extend", "insert", "add", "update", "appendleft"):
            return
        name = func.value.id
        current = scope.lookup(name)
        if current is None:
            return
        added = [ev.value(arg) for arg in call.args[-1:]]
        scope.names[name] = merge([current, *added])

    def _mentions_sink(self, node: ast.stmt | ast.expr) -> bool:
        start, end = node.lineno - 1, node.end_lineno or node.lineno
        return bool(SINK_WORDS.search("".join(self.lines[start:end])))

    # sinks
    def check_calls(self, expression: ast.expr, ev: Evaluator) -> None:
        if not self._mentions_sink(expression):
            return
        for node in ast.walk(expression):
            if isinstance(node, ast.Call):
                self._check_call(node, ev)

    def _check_call(self, call: ast.Call, ev: Evaluator) -> None:
        func = call.func
        if isinstance(func, ast.Attribute):
            name, style = func.attr, "method"
        elif isinstance(func, ast.Name):
            name, style = func.id, "function"
        else:
            return
        sink = SINKS.get(name)
        if sink is None or sink.call_style not in (style, "any"):
            return
        for argument in _query_arguments(call, sink):
            value = ev.value(argument)
            if value.is_built and (self._strong(sink) or looks_like_sql(value.text)):
                self._report(call, sink, value, _label(func))
                return

    def _strong(self, sink: Sink) -> bool:
        if sink.strength == "strong":
            return True
        modules = PYTHON_STRONG_WHEN_IMPORTED.get(sink.name, ())
        return any(module in self.imported for module in modules)

    def _report(self, call: ast.Call, sink: Sink, value: PyValue, label: str) -> None:
        key = (call.lineno, call.col_offset)
        if key in self.seen:
            return
        self.seen.add(key)
        how = value.how or "concat"
        self.findings.append(sql_finding(
            path=self.path, language="python", line=call.lineno, column=call.col_offset + 1,
            end_line=call.end_lineno or call.lineno, how=how, construction=_CONSTRUCTION_NAMES[how],
            expressions=[_source(item) for item in value.tainted], label=label, sink=sink,
            advice="pass values as query parameters",
        ))


def _query_arguments(call: ast.Call, sink: Sink) -> list[ast.expr]:
    arguments: list[ast.expr] = []
    if len(call.args) > sink.arg_index and not isinstance(call.args[sink.arg_index], ast.Starred):
        arguments.append(call.args[sink.arg_index])
    for keyword in call.keywords:
        if keyword.arg in _QUERY_KEYWORDS or keyword.arg in sink.keywords:
            arguments.append(keyword.value)
    return arguments


def _bind_walrus(test: ast.expr, scope: PyScope, ev: Evaluator) -> None:
    for node in ast.walk(test):
        if isinstance(node, ast.NamedExpr):
            scope.names[node.target.id] = ev.value(node.value)


def _always_leaves(body: list[ast.stmt]) -> bool:
    """The block ends in raise/return/continue/break, so code after the `if` never sees it."""
    return bool(body) and isinstance(body[-1], ast.Raise | ast.Return | ast.Continue | ast.Break)


def _class_constants(node: ast.ClassDef, scope: PyScope) -> list[str]:
    ev = Evaluator(scope)
    names: list[str] = []
    for statement in node.body:
        if isinstance(statement, ast.Assign) and ev.value(statement.value).is_safe:
            names.extend(t.id for t in statement.targets if isinstance(t, ast.Name))
        elif (
            isinstance(statement, ast.AnnAssign)
            and statement.value is not None
            and isinstance(statement.target, ast.Name)
            and ev.value(statement.value).is_safe
        ):
            names.append(statement.target.id)
    return names


_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(\w+)|import[ \t]+(\w+))", re.MULTILINE)


def _imported_roots(text: str) -> set[str]:
    """Top-level package names the file imports (a text scan: cheaper than walking the tree)."""
    return {match[0] or match[1] for match in _IMPORT.findall(text)}


def _label(func: ast.expr) -> str:
    text = _source(func)
    return text if len(text) <= 60 else "..." + text[-57:]


def _source(node: ast.expr) -> str:
    try:
        return " ".join(ast.unparse(node).split())
    except Exception:  # unparse of synthetic nodes; never fail a scan over a label
        return type(node).__name__
