# ruff: noqa: F821
"""Issue 19 development cases: request data and built strings that never become SQL."""

import subprocess

import redis
import requests
from django.http import JsonResponse
from flask import Flask, request

app = Flask(__name__)
cache = redis.Redis()


# case: py-dev19-look-cache-key safe
@app.route("/profile")
def profile():
    return cache.get(f"profile:{request.args['user']}") or b""


# case: py-dev19-look-http-get safe
@app.route("/proxy")
def proxy():
    return requests.get(f"https://api.example.com/search?select={request.args['q']}").text


# case: py-dev19-look-django-orm-filter safe
def django_list(request):
    items = Item.objects.filter(name=request.GET["name"]).order_by(request.GET.get("sort", "id"))
    return JsonResponse({"n": items.count()})


# case: py-dev19-look-builtin-filter safe
def non_empty(values: list) -> list:
    return list(filter(None, values))


# case: py-dev19-look-subprocess-run safe
@app.route("/ping")
def ping():
    return subprocess.run(["ping", "-c", "1", request.args["host"]], capture_output=True).stdout


# case: py-dev19-look-template-render safe
@app.route("/hello")
def hello():
    name = request.args.get("name", "")
    return app.jinja_env.from_string("Hello {{ name }}").render(name=name)


# case: py-dev19-look-returned-message safe
def describe(table: str) -> str:
    return f"Select the rows you want from {table} and press delete"


# case: py-dev19-look-returned-constant-sql safe
def listing_sql(archived: bool) -> str:
    return "SELECT * FROM " + ("archived_posts" if archived else "posts")


# case: py-dev19-look-lambda-dynamodb safe
def lambda_handler(event, context):
    table = boto3.resource("dynamodb").Table("orders")
    return table.get_item(Key={"id": event["id"]})
