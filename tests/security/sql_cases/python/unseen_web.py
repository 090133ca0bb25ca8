# ruff: noqa: UP031, UP032, F821
"""UNSEEN split: written and scored before the analyser was changed for issue 19. Do not tune on it.

Web frameworks' request data (Flask, Django, FastAPI, Pyramid, AWS Lambda) reaching SQL.
"""

import pymysql
from django.db import connection
from django.db.models import Func
from django.http import JsonResponse
from fastapi import FastAPI
from flask import Flask, request
from pyramid.view import view_config
from sqlalchemy import text

app = Flask(__name__)
api = FastAPI()
SORTABLE = {"name", "created", "email"}


# case: py-unseen-flask-form-percent vulnerable
@app.route("/login", methods=["POST"])
def login():
    user = request.form["username"]
    cur = connection.cursor()
    cur.execute("SELECT id FROM users WHERE username = '%s'" % user)
    return str(cur.fetchone())


# case: py-unseen-flask-args-get-format vulnerable
@app.route("/search")
def search():
    term = request.args.get("q", "")
    cur = connection.cursor()
    cur.execute("SELECT * FROM items WHERE title LIKE '%{}%'".format(term))
    return str(cur.fetchall())


# case: py-unseen-flask-args-params safe
@app.route("/search2")
def search_safe():
    term = request.args.get("q", "")
    cur = connection.cursor()
    cur.execute("SELECT * FROM items WHERE title LIKE %s", ("%" + term + "%",))
    return str(cur.fetchall())


# case: py-unseen-flask-json-body vulnerable
@app.route("/api/orders", methods=["POST"])
def create_order():
    payload = request.get_json()
    sql = f"INSERT INTO orders (sku, qty) VALUES ('{payload['sku']}', {payload['qty']})"
    connection.cursor().execute(sql)
    return "ok"


# case: py-unseen-flask-sort-allowlist safe
@app.route("/users")
def list_users():
    sort = request.args.get("sort", "name")
    if sort not in SORTABLE:
        sort = "name"
    cur = connection.cursor()
    cur.execute(f"SELECT * FROM users ORDER BY {sort}")
    return str(cur.fetchall())


# case: py-unseen-flask-int-cast safe
@app.route("/page")
def page():
    limit = int(request.args.get("limit", 20))
    cur = connection.cursor()
    cur.execute(f"SELECT * FROM posts LIMIT {limit}")
    return str(cur.fetchall())


# case: py-unseen-django-get-raw vulnerable
def django_profile(request):
    name = request.GET.get("name")
    people = Person.objects.raw("SELECT * FROM app_person WHERE last_name = '%s'" % name)
    return JsonResponse({"n": len(list(people))})


# case: py-unseen-django-post-cursor vulnerable
def django_delete(request):
    item = request.POST["item_id"]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM cart_item WHERE id = " + item)
    return JsonResponse({})


# case: py-unseen-django-raw-params safe
def django_profile_safe(request):
    name = request.GET.get("name")
    people = Person.objects.raw("SELECT * FROM app_person WHERE last_name = %s", [name])
    return JsonResponse({"n": len(list(people))})


# case: py-unseen-django-extra-select vulnerable
def django_extra(request):
    field = request.GET["field"]
    qs = Person.objects.extra(select={"val": "select %s from app_stats" % field})
    return JsonResponse({"n": qs.count()})


# case: py-unseen-django-func-as-sql vulnerable
class Lower(Func):
    def as_sql(self, compiler, connection, column="name"):
        return "LOWER(%s)" % self.extra["column"], []


# case: py-unseen-django-func-template safe
class Upper(Func):
    function = "UPPER"
    template = "%(function)s(%(expressions)s)"


# case: py-unseen-fastapi-query-text vulnerable
@api.get("/items")
def read_items(session, category: str):
    stmt = text(f"SELECT * FROM items WHERE category = '{category}'")
    return session.execute(stmt).all()


# case: py-unseen-fastapi-bindparam safe
@api.get("/items2")
def read_items_safe(session, category: str):
    stmt = text("SELECT * FROM items WHERE category = :category")
    return session.execute(stmt, {"category": category}).all()


# case: py-unseen-pyramid-params-filter vulnerable
@view_config(route_name="search", renderer="json")
def pyramid_search(request):
    name = request.params["name"]
    return request.dbsession.query(User).filter("name = '%s'" % name).all()


# case: py-unseen-pyramid-matchdict-order vulnerable
@view_config(route_name="sorted", renderer="json")
def pyramid_sorted(request):
    column = request.matchdict["column"]
    return request.dbsession.query(User).order_by(column).all()


# case: py-unseen-pyramid-json-body-execute vulnerable
@view_config(route_name="bulk", renderer="json")
def pyramid_bulk(request):
    body = request.json_body
    request.dbsession.execute("UPDATE users SET role = '" + body["role"] + "'")
    return {}


# case: py-unseen-pyramid-orm-filter safe
@view_config(route_name="search2", renderer="json")
def pyramid_search_safe(request):
    name = request.params["name"]
    return request.dbsession.query(User).filter(User.name == name).all()


# case: py-unseen-lambda-pymysql-percent vulnerable
def lambda_handler(event, context):
    conn = pymysql.connect(host="db", user="app", database="shop")
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM products WHERE id = '%s'" % event["pathParameters"]["id"])
        return cur.fetchall()


# case: py-unseen-lambda-query-string-format vulnerable
def handler(event, context):
    conn = pymysql.connect(host="db")
    user = event["queryStringParameters"]["user"]
    query = "SELECT * FROM audit WHERE actor = '{}'".format(user)
    cur = conn.cursor()
    cur.execute(query)
    return {"statusCode": 200}


# case: py-unseen-lambda-params safe
def handler_safe(event, context):
    conn = pymysql.connect(host="db")
    cur = conn.cursor()
    cur.execute("SELECT * FROM audit WHERE actor = %s", (event["user"],))
    return {"statusCode": 200}
