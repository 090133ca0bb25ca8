# ruff: noqa: UP031
"""Harder shapes: queries that leave the function, helpers, and chained builders."""

from typing import Any


def _where(column: str, value: str) -> str:
    return f"{column} = '{value}'"


# case: py-hard-helper-builds-where vulnerable
def lookup(cur: Any, email: str) -> list:
    cur.execute("SELECT * FROM users WHERE " + _where("email", email))
    return cur.fetchall()


# case: py-hard-query-passed-through safe
def run(cur: Any, query: str, params: tuple) -> list:
    cur.execute(query, params)
    return cur.fetchall()


# case: py-hard-kwargs-format vulnerable
def render(cur: Any, **filters: str) -> list:
    cur.execute("SELECT * FROM users WHERE name = '{name}' AND role = '{role}'".format(**filters))
    return cur.fetchall()


# case: py-hard-percent-dict vulnerable
def render_dict(cur: Any, name: str) -> list:
    cur.execute("SELECT * FROM users WHERE name = '%(name)s'" % {"name": name})
    return cur.fetchall()


# case: py-hard-percent-dict-numeric safe
def render_numeric(cur: Any, limit: int) -> list:
    cur.execute("SELECT * FROM users LIMIT %(limit)d" % {"limit": limit})
    return cur.fetchall()


# case: py-hard-walrus vulnerable
def walrus(cur: Any, name: str) -> list:
    if query := f"SELECT * FROM users WHERE name = '{name}'":
        cur.execute(query)
    return cur.fetchall()


# case: py-hard-multiline-implicit-concat vulnerable
def multiline(cur: Any, team: str) -> list:
    cur.execute(
        f"SELECT u.id, u.name FROM users u JOIN teams t ON t.id = u.team_id WHERE t.slug = '{team}'"
    )
    return cur.fetchall()


# case: py-hard-multiline-constant safe
def multiline_safe(cur: Any, team: str) -> list:
    cur.execute(
        "SELECT u.id, u.name FROM users u JOIN teams t ON t.id = u.team_id WHERE t.slug = %s",
        (team,),
    )
    return cur.fetchall()
