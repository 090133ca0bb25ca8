# ruff: noqa: UP031, UP032, F821
"""Issue 19 development cases: SQLAlchemy query methods given strings, literal_column, execute."""

from flask import Flask, request
from sqlalchemy import column, desc, literal_column, text
from sqlalchemy.orm import Session

app = Flask(__name__)
ORDERINGS = {"new": "created_at DESC", "old": "created_at ASC"}


# case: py-dev19-sa-filter-percent vulnerable
def by_city(session: Session, city: str) -> list:
    return session.query(Shop).filter("city = '%s'" % city).all()


# case: py-dev19-sa-filter-expression safe
def by_city_safe(session: Session, city: str) -> list:
    return session.query(Shop).filter(Shop.city == city).all()


# case: py-dev19-sa-order-by-request vulnerable
@app.route("/shops")
def shops():
    session = Session()
    return str(session.query(Shop).order_by(request.args["sort"]).all())


# case: py-dev19-sa-order-by-mapped safe
@app.route("/shops2")
def shops_safe():
    session = Session()
    ordering = ORDERINGS.get(request.args.get("sort", "new"), "created_at DESC")
    return str(session.query(Shop).order_by(text(ordering)).all())


# case: py-dev19-sa-group-by-format vulnerable
def grouped(session: Session, field: str) -> list:
    return session.query(Shop).group_by("shop_{}".format(field)).all()


# case: py-dev19-sa-group-by-column safe
def grouped_safe(session: Session) -> list:
    return session.query(Shop.city).group_by(column("city")).all()


# case: py-dev19-sa-having-concat vulnerable
def popular(session: Session, minimum: str) -> list:
    return session.query(Shop.city).group_by(Shop.city).having("count(*) >= " + minimum).all()


# case: py-dev19-sa-distinct-fstring vulnerable
def distinct_on(session: Session, field: str) -> list:
    return session.query(Shop).distinct(f"{field}").all()


# case: py-dev19-sa-literal-column-concat vulnerable
def labelled(session: Session, label: str) -> list:
    return session.query(literal_column("'" + label + "'").label("tag")).all()


# case: py-dev19-sa-literal-column-constant safe
def labelled_safe(session: Session) -> list:
    return session.query(literal_column("'shop'").label("tag")).all()


# case: py-dev19-sa-desc-column safe
def newest(session: Session) -> list:
    return session.query(Shop).order_by(desc(Shop.created_at)).all()


# case: py-dev19-sa-engine-execute-format vulnerable
def drop_partition(engine, name: str) -> None:
    with engine.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS events_{}".format(name))
