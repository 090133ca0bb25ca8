// Issue 19 development cases: Express/Koa request data, helpers in the same file, any query/execute/raw method.
const express = require("express");
const sqlite3 = require("sqlite3");
const pgp = require("pg-promise")();

const app = express();
const db = new sqlite3.Database("shop.db");
const pg = pgp("postgres://localhost/shop");
const COLUMNS = new Set(["price", "name"]);

// case: js-dev19-sqlite-all-concat vulnerable
app.get("/items", (req, res) => {
  db.all("SELECT * FROM items WHERE owner = '" + req.query.owner + "'", (err, rows) => res.json(rows));
});

// case: js-dev19-sqlite-all-params safe
app.get("/items2", (req, res) => {
  db.all("SELECT * FROM items WHERE owner = ?", [req.query.owner], (err, rows) => res.json(rows));
});

// case: js-dev19-run-query-helper vulnerable
function runQuery(text) {
  return pg.query(text);
}

app.get("/orders", async (req, res) => {
  res.json(await runQuery(`SELECT * FROM orders WHERE ref = '${req.params.ref}'`));
});

// case: js-dev19-run-query-helper-constant safe
function runFixedQuery(text) {
  return pg.query(text);
}

app.get("/orders/count", async (req, res) => {
  res.json(await runFixedQuery("SELECT count(*) FROM orders"));
});

// case: js-dev19-arrow-helper-execute vulnerable
const execSql = (conn, statement) => conn.execute(statement);

app.post("/tags", async (req, res) => {
  await execSql(req.app.locals.conn, "INSERT INTO tags (name) VALUES ('" + req.body.name + "')");
  res.sendStatus(201);
});

// case: js-dev19-builder-returned-executed vulnerable
function whereClause(field, value) {
  return `WHERE ${field} = '${value}'`;
}

app.get("/find", async (req, res) => {
  res.json(await pg.query("SELECT * FROM products " + whereClause(req.query.f, req.query.v)));
});

// case: js-dev19-builder-constant-args safe
function orderClause(column) {
  return `ORDER BY ${column}`;
}

app.get("/sorted", async (req, res) => {
  res.json(await pg.query("SELECT * FROM products " + orderClause("price")));
});

// case: js-dev19-raw-method-custom vulnerable
app.get("/report", async (req, res) => {
  res.json(await req.app.locals.repo.rawQuery(`SELECT * FROM ${req.query.table}`));
});

// case: js-dev19-set-allowlist safe
app.get("/by", async (req, res) => {
  const column = req.query.column;
  if (!COLUMNS.has(column)) {
    return res.sendStatus(400);
  }
  res.json(await pg.query(`SELECT * FROM products ORDER BY ${column}`));
});

// case: js-dev19-koa-ctx-query vulnerable
async function koaHandler(ctx) {
  const rows = await pg.any("SELECT * FROM users WHERE email = '" + ctx.query.email + "'");
  ctx.body = rows;
}

// case: js-dev19-pg-promise-named safe
async function koaHandlerSafe(ctx) {
  ctx.body = await pg.any("SELECT * FROM users WHERE email = ${email}", { email: ctx.query.email });
}

// case: js-dev19-log-message safe
app.get("/log", (req, res) => {
  console.log("SELECT requested from " + req.query.user);
  res.sendStatus(200);
});

module.exports = { app, koaHandler, koaHandlerSafe };
