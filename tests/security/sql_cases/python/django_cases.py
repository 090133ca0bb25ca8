# ruff: noqa: UP031, UP032
"""Django: Manager.raw(), QuerySet.extra(), RawSQL, connection.cursor()."""

from django.db import connection
from django.db.models import F, Model, QuerySet
from django.db.models.expressions import RawSQL


# case: py-django-raw-fstring vulnerable
def articles_by(model: type[Model], author: str) -> list:
    return list(model.objects.raw(f"SELECT * FROM blog_article WHERE author = '{author}'"))


# case: py-django-raw-params safe
def articles_by_safe(model: type[Model], author: str) -> list:
    return list(model.objects.raw("SELECT * FROM blog_article WHERE author = %s", [author]))


# case: py-django-raw-percent-var vulnerable
def articles_tagged(model: type[Model], tag: str) -> list:
    query = "SELECT * FROM blog_article WHERE tags LIKE '%%%s%%'" % tag
    return list(model.objects.raw(query))


# case: py-django-extra-where-percent vulnerable
def published_since(qs: QuerySet, since: str) -> QuerySet:
    return qs.extra(where=["published_at > '%s'" % since])


# case: py-django-extra-params safe
def published_since_safe(qs: QuerySet, since: str) -> QuerySet:
    return qs.extra(where=["published_at > %s"], params=[since])


# case: py-django-extra-select-format vulnerable
def with_score(qs: QuerySet, weight: str) -> QuerySet:
    return qs.extra(select={"score": "likes * {}".format(weight)})


# case: py-django-rawsql-fstring vulnerable
def annotate_rank(qs: QuerySet, column: str) -> QuerySet:
    return qs.annotate(rank=RawSQL(f"SELECT count(*) FROM blog_vote WHERE {column} > 0", ()))


# case: py-django-rawsql-params safe
def annotate_votes(qs: QuerySet, minimum: int) -> QuerySet:
    return qs.annotate(votes=RawSQL("SELECT count(*) FROM blog_vote WHERE score > %s", (minimum,)))


# case: py-django-cursor-concat vulnerable
def purge_user(username: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM auth_user WHERE username = '" + username + "'")


# case: py-django-cursor-params safe
def purge_user_safe(username: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM auth_user WHERE username = %s", [username])


# case: py-django-orm-f-expression safe
def bump(qs: QuerySet) -> int:
    return qs.update(views=F("views") + 1)


# case: py-django-db-table-meta safe
def table_size(model: type[Model]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {model._meta.db_table}")
        return cursor.fetchone()[0]


# case: py-django-quote-name safe
def column_max(model: type[Model], field: str) -> int:
    column = connection.ops.quote_name(field)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT max({column}) FROM {model._meta.db_table}")
        return cursor.fetchone()[0]
