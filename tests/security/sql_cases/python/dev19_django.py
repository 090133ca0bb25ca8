# ruff: noqa: UP031, UP032, F821
"""Issue 19 development cases: Django views with request data, custom expressions' as_sql."""

from django.db import connection
from django.db.models import Aggregate, Func, Transform
from django.db.models.expressions import RawSQL
from django.shortcuts import render

ALLOWED_FIELDS = ("title", "created")


# case: py-dev19-django-view-raw-format vulnerable
def book_search(request):
    title = request.GET["title"]
    books = Book.objects.raw("SELECT * FROM shelf_book WHERE title = '{}'".format(title))
    return render(request, "books.html", {"books": books})


# case: py-dev19-django-view-raw-params safe
def book_search_safe(request):
    title = request.GET["title"]
    books = Book.objects.raw("SELECT * FROM shelf_book WHERE title = %s", [title])
    return render(request, "books.html", {"books": books})


# case: py-dev19-django-class-view-cursor vulnerable
class ReportView:
    def get(self, request):
        year = self.request.GET.get("year")
        with connection.cursor() as cursor:
            cursor.execute("SELECT sum(total) FROM sales WHERE year = " + year)
            return cursor.fetchone()


# case: py-dev19-django-class-view-int safe
class ReportViewSafe:
    def get(self, request):
        year = int(self.request.GET.get("year"))
        with connection.cursor() as cursor:
            cursor.execute("SELECT sum(total) FROM sales WHERE year = %d" % year)
            return cursor.fetchone()


# case: py-dev19-django-extra-where-request vulnerable
def recent(request):
    days = request.POST.get("days")
    return Book.objects.extra(where=[f"published > now() - interval '{days} days'"])


# case: py-dev19-django-rawsql-request vulnerable
def annotated(request):
    column = request.GET["column"]
    return Book.objects.annotate(val=RawSQL("SELECT max(%s) FROM shelf_review" % column, []))


# case: py-dev19-django-rawsql-allowlist safe
def annotated_safe(request):
    column = request.GET["column"]
    if column not in ALLOWED_FIELDS:
        raise ValueError(column)
    return Book.objects.annotate(val=RawSQL("SELECT max(%s) FROM shelf_review" % column, []))


# case: py-dev19-django-cursor-direct-request vulnerable
def console(request):
    with connection.cursor() as cursor:
        cursor.execute(request.POST["statement"])
        return cursor.fetchall()


# case: py-dev19-django-func-as-sql-format vulnerable
class Round(Func):
    def __init__(self, expression, digits):
        super().__init__(expression)
        self.digits = digits

    def as_sql(self, compiler, connection):
        sql, params = compiler.compile(self.source_expressions[0])
        return "ROUND(%s, %s)" % (sql, self.digits), params


# case: py-dev19-django-func-as-sql-compiled safe
class Coalesce2(Func):
    def as_sql(self, compiler, connection, **extra_context):
        lhs, lhs_params = compiler.compile(self.source_expressions[0])
        rhs, rhs_params = compiler.compile(self.source_expressions[1])
        return "COALESCE(%s, %s)" % (lhs, rhs), lhs_params + rhs_params


# case: py-dev19-django-aggregate-as-sql-fstring vulnerable
class Percentile(Aggregate):
    def __init__(self, expression, fraction):
        super().__init__(expression)
        self.fraction = fraction

    def as_postgresql(self, compiler, connection):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"percentile_cont({self.fraction}) WITHIN GROUP (ORDER BY {sql})", params


# case: py-dev19-django-transform-template safe
class Unaccent(Transform):
    lookup_name = "unaccent"
    function = "UNACCENT"

    def as_sql(self, compiler, connection):
        return super().as_sql(compiler, connection, template="%(function)s(%(expressions)s)")
