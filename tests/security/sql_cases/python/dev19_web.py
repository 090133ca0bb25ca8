# ruff: noqa: UP032, F821
"""Issue 19 development cases: Flask, FastAPI, Pyramid and AWS Lambda request data as sources."""

import sqlite3
import uuid

import psycopg2
from fastapi import APIRouter, Depends
from flask import Blueprint, request
from pyramid.view import view_config

bp = Blueprint("notes", __name__)
router = APIRouter()


# case: py-dev19-flask-route-param vulnerable
@bp.route("/notes/<slug>")
def note(slug):
    db = sqlite3.connect("notes.db")
    return str(db.execute(f"SELECT body FROM notes WHERE slug = '{slug}'").fetchone())


# case: py-dev19-flask-route-int-converter safe
@bp.route("/notes/<int:note_id>")
def note_by_id(note_id):
    db = sqlite3.connect("notes.db")
    return str(db.execute(f"SELECT body FROM notes WHERE id = {note_id}").fetchone())


# case: py-dev19-flask-values-direct vulnerable
@bp.route("/admin/sql", methods=["POST"])
def run_sql():
    db = sqlite3.connect("notes.db")
    return str(db.execute(request.values["q"]).fetchall())


# case: py-dev19-flask-cookie-concat vulnerable
@bp.route("/prefs")
def prefs():
    theme = request.cookies.get("theme")
    db = sqlite3.connect("notes.db")
    db.execute("UPDATE prefs SET theme = '" + theme + "'")
    return "ok"


# case: py-dev19-fastapi-str-param vulnerable
@router.get("/users/{username}")
def read_user(username: str, db=Depends(get_db)):
    return db.execute(f"SELECT * FROM users WHERE username = '{username}'").fetchall()


# case: py-dev19-fastapi-int-param safe
@router.get("/users/{user_id}/posts")
def read_posts(user_id: int, db=Depends(get_db)):
    return db.execute(f"SELECT * FROM posts WHERE user_id = {user_id}").fetchall()


# case: py-dev19-fastapi-uuid-param safe
@router.delete("/sessions/{session_id}")
def end_session(session_id: uuid.UUID, db=Depends(get_db)):
    db.execute(f"DELETE FROM sessions WHERE id = '{session_id}'")


# case: py-dev19-pyramid-matchdict-format vulnerable
@view_config(route_name="page", renderer="json")
def page(request):
    slug = request.matchdict["slug"]
    return request.dbsession.execute("SELECT * FROM pages WHERE slug = '{}'".format(slug)).all()


# case: py-dev19-pyramid-params-group-by vulnerable
@view_config(route_name="stats", renderer="json")
def stats(request):
    return request.dbsession.query(Page).group_by(request.params.get("by")).all()


# case: py-dev19-pyramid-json-body-params safe
@view_config(route_name="create", renderer="json")
def create(request):
    data = request.json_body
    request.dbsession.execute(
        text("INSERT INTO pages (slug) VALUES (:slug)"), {"slug": data["slug"]}
    )
    return {}


# case: py-dev19-lambda-event-fstring vulnerable
def lambda_handler(event, context):
    conn = psycopg2.connect("dbname=app")
    cur = conn.cursor()
    cur.execute(f"SELECT * FROM orders WHERE id = {event['id']}")
    return cur.fetchall()


# case: py-dev19-lambda-event-body-concat vulnerable
def orders_handler(event, context):
    conn = psycopg2.connect("dbname=app")
    status = event["body"]["status"]
    sql = "UPDATE orders SET status = '" + status + "'"
    conn.cursor().execute(sql)


# case: py-dev19-lambda-event-params safe
def status_handler(event, context):
    conn = psycopg2.connect("dbname=app")
    conn.cursor().execute("UPDATE orders SET status = %s", (event["status"],))
