"""SQL-injection analysis of Python source with `ast`, one function at a time.

Statements are walked in order; each name holds the `Value` last assigned to it (branches merge),
so a query built in pieces (`sql = "SELECT ..."`, `sql += f" AND {x}"`) is followed to the call
that runs it. Module-level names bound to constants are safe everywhere in the file.
"""

from __future__ import annotations

import ast
import re

from buildrunner.security.findings import Finding
from buildrunner.security.sql.prefilter import might_hold_sql
from buildrunner.security.sql.python_checks import SINKS, SinkChecks
from buildrunner.security.sql.python_context import (
    FunctionInfo,
    PyContext,
    collect_functions,
    find_escapes,
    infer_safe_params,
    mark_needed,
    reset_pass,
)
from buildrunner.security.sql.python_sources import source_parameters
from buildrunner.security.sql.python_values import (
    Evaluator,
    PyScope,
    PyValue,
    allow_listed_name,
    bind_loop,
    bind_target,
    rejected_name,
)
from buildrunner.security.sql.sinks import PYTHON_RETURN_SINKS, Sink
from buildrunner.security.sql.taint import Scope, merge, opaque, safe, splice
from buildrunner.security.sql.word_lines import WordLines, line_starts

# Functions and statements that name none of these words are not analysed (a sink, a statement's
# first words for SQL built and run elsewhere, or a same-file helper that matters).
STATEMENT_WORDS = (
    "select",
    "insert into",
    "delete from",
    "update",
    "drop table",
    "create table",
    "alter table",
    "truncate table",
    "replace into",
)
MAX_SUMMARY_PASSES = 2


def scan_python(path: str, text: str) -> tuple[list[Finding], str | None]:
    """Findings for one Python file, or a skip reason when it does not parse."""
    if not might_hold_sql(path, text):
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


class _Analyser(SinkChecks):
    def __init__(self, path: str, text: str, tree: ast.Module) -> None:
        self.path = path
        self.lines = text.splitlines(keepends=True)
        self.tree = tree
        self.findings: list[Finding] = []
        self.context = PyContext(_imported_roots(text))
        self.seen: set[tuple[int, int]] = set()
        self.loop_depth = 0
        self.functions: list[FunctionInfo | None] = []
        self.return_sinks: list[Sink | None] = []
        self.returned: list[PyValue | None] = []
        self.in_class: list[bool] = []
        self.lowered = text.lower()
        self.starts = line_starts(self.lines)
        self.statement_lines = WordLines(self.lowered, self.starts, STATEMENT_WORDS)
        self._use_words([])

    def run(self) -> None:
        if collect_functions(self.tree, self.context):
            functions = self.context.functions
            mark_needed(
                self.context,
                {name for name, info in functions.items() if self._mentions_sink(info.node)},
                self.lines,
            )
            needed = [name for name, info in functions.items() if info.needed and info.called]
            if needed:
                if any(functions[name].private for name in needed):
                    find_escapes(self.tree, self.context)
                # summary passes: what each function does with its parameters, then the report
                self._use_words(needed)
                self.context.collecting = True
                for _ in range(MAX_SUMMARY_PASSES):
                    reset_pass(self.context)
                    self._pass()
                    if not infer_safe_params(self.context):
                        break
                self.context.collecting = False
                self._use_words(
                    [
                        name
                        for name, info in functions.items()
                        if info.sink_params or (info.returns is not None and info.returns.is_built)
                    ]
                )
        self._pass()

    def _use_words(self, function_names: list[str]) -> None:
        """Index the lines naming a sink or one of these same-file functions."""
        self.word_lines = WordLines(self.lowered, self.starts, [*SINKS, *function_names])

    def _pass(self) -> None:
        module = Scope[ast.expr](context=self.context)
        self.block(self.tree.body, module, frozenset())

    # statements
    def block(self, body: list[ast.stmt], scope: PyScope, class_constants: frozenset[str]) -> None:
        for statement in body:
            self.statement(statement, scope, class_constants)

    def statement(self, node: ast.stmt, scope: PyScope, consts: frozenset[str]) -> None:
        ev = Evaluator(scope, consts)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            info = self.context.functions.get(node.name)
            needed = info is not None and info.needed and info.node is node
            if (
                (needed and self.context.collecting)
                or self._mentions_sink(node)
                or node.name in PYTHON_RETURN_SINKS
            ):
                self._function(node, scope, consts)
            return
        if isinstance(node, ast.Return) and node.value is not None:
            self.check_calls(node.value, ev)
            if self.functions:
                self.check_return(node, ev)
            return
        if isinstance(node, ast.ClassDef):
            names = frozenset(_class_constants(node, scope))
            self.in_class.append(True)
            try:
                self.block(node.body, scope.child(), names)
            finally:
                self.in_class.pop()
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

    def _function(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: PyScope, consts: frozenset[str]
    ) -> None:
        info = self.context.functions.get(node.name)
        info = info if info is not None and info.node is node else None
        sources, validated = source_parameters(node)
        inner = scope.child()
        for arg in (
            *node.args.posonlyargs,
            *node.args.args,
            *node.args.kwonlyargs,
            node.args.vararg,
            node.args.kwarg,
        ):
            if arg is None:
                continue
            if arg.arg in validated:  # FastAPI `id: int`, Flask `<int:id>`: checked before the call
                inner.names[arg.arg] = safe()
                continue
            index = info.params.index(arg.arg) if info and arg.arg in info.params else None
            if info is not None and index is not None:
                inner.names[arg.arg] = (
                    safe()
                    if index in info.safe_params
                    else opaque(info.markers[index], source=arg.arg in sources)
                )
            else:
                inner.names[arg.arg] = opaque(ast.Name(arg.arg), source=arg.arg in sources)
        in_class = bool(self.in_class) and self.in_class[-1]
        self.in_class.append(False)
        self.functions.append(info)
        self.return_sinks.append(PYTHON_RETURN_SINKS.get(node.name) if in_class else None)
        self.returned.append(None)
        try:
            self.block(node.body, inner, consts)
        finally:
            self.in_class.pop()
            self.functions.pop()
            self.return_sinks.pop()
            returned = self.returned.pop()
        if info is not None and self.context.collecting:
            info.returns = returned

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
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            start = node.body[0].lineno - 1  # not the `def` line: it names the function itself
        return self.word_lines.any_between(start, end) or self.statement_lines.any_between(
            start, end
        )

    # sinks
    def check_calls(self, expression: ast.expr, ev: Evaluator) -> None:
        if not self._mentions_sink(expression):
            return
        for node in ast.walk(expression):
            if isinstance(node, ast.Call):
                self.check_call(node, ev)


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
