// UNSEEN split: written and scored before the analyser was changed for issue 19. Do not tune on it.
// Express handlers, helpers in the same file, several drivers.
const express = require("express");
const mysql = require("mysql2");
const { Pool } = require("pg");
const knex = require("knex")({ client: "pg" });
const Database = require("better-sqlite3");

const app = express();
const pool = new Pool();
const connection = mysql.createConnection({ host: "db" });
const sqlite = new Database("app.db");
const SORTS = ["name", "created_at"];

// case: js-unseen-express-query-concat vulnerable
app.get("/products", (req, res) => {
  const category = req.query.category;
  pool.query("SELECT * FROM products WHERE category = '" + category + "'", (err, result) => {
    res.json(result.rows);
  });
});

// case: js-unseen-express-params-placeholder safe
app.get("/products/:id", async (req, res) => {
  const result = await pool.query("SELECT * FROM products WHERE id = $1", [req.params.id]);
  res.json(result.rows);
});

// case: js-unseen-express-body-template vulnerable
app.post("/comments", async (req, res) => {
  const { postId, body } = req.body;
  await pool.query(`INSERT INTO comments (post_id, body) VALUES (${postId}, '${body}')`);
  res.sendStatus(201);
});

// case: js-unseen-mysql2-execute-template vulnerable
app.get("/orders", (req, res) => {
  connection.execute(`SELECT * FROM orders WHERE status = '${req.query.status}'`, (err, rows) => {
    res.json(rows);
  });
});

// case: js-unseen-mysql2-execute-params safe
app.get("/orders2", (req, res) => {
  connection.execute("SELECT * FROM orders WHERE status = ?", [req.query.status], (err, rows) => {
    res.json(rows);
  });
});

// case: js-unseen-helper-query vulnerable
function runQuery(statement) {
  return pool.query(statement);
}

app.get("/users/by-email", async (req, res) => {
  const rows = await runQuery("SELECT * FROM users WHERE email = '" + req.query.email + "'");
  res.json(rows.rows);
});

// case: js-unseen-helper-query-constant safe
function runFixed(statement) {
  return pool.query(statement);
}

app.get("/users/count", async (req, res) => {
  const rows = await runFixed("SELECT count(*) FROM users");
  res.json(rows.rows);
});

// case: js-unseen-knex-where-raw vulnerable
app.get("/search", async (req, res) => {
  const rows = await knex("docs").whereRaw(`title ILIKE '%${req.query.q}%'`);
  res.json(rows);
});

// case: js-unseen-knex-where-binding safe
app.get("/search2", async (req, res) => {
  const rows = await knex("docs").whereRaw("title ILIKE ?", [`%${req.query.q}%`]);
  res.json(rows);
});

// case: js-unseen-sort-allowlist safe
app.get("/sorted", async (req, res) => {
  const sort = SORTS.includes(req.query.sort) ? req.query.sort : "name";
  const result = await pool.query(`SELECT * FROM users ORDER BY ${sort}`);
  res.json(result.rows);
});

// case: js-unseen-number-cast safe
app.get("/page", async (req, res) => {
  const page = Number.parseInt(req.query.page, 10) || 0;
  const result = await pool.query(`SELECT * FROM posts LIMIT 20 OFFSET ${page * 20}`);
  res.json(result.rows);
});

// case: js-unseen-better-sqlite-prepare vulnerable
app.get("/notes", (req, res) => {
  const rows = sqlite.prepare(`SELECT * FROM notes WHERE tag = '${req.query.tag}'`).all();
  res.json(rows);
});

// case: js-unseen-better-sqlite-bound safe
app.get("/notes2", (req, res) => {
  const rows = sqlite.prepare("SELECT * FROM notes WHERE tag = ?").all(req.query.tag);
  res.json(rows);
});

// case: js-unseen-built-then-passed vulnerable
function buildFilter(field, value) {
  return "SELECT * FROM audit WHERE " + field + " = '" + value + "'";
}

app.get("/audit", async (req, res) => {
  const sql = buildFilter(req.query.field, req.query.value);
  const result = await pool.query(sql);
  res.json(result.rows);
});

// case: js-unseen-mysql-escape safe
app.get("/legacy", (req, res) => {
  connection.query("SELECT * FROM t WHERE name = " + mysql.escape(req.query.name), (err, rows) => {
    res.json(rows);
  });
});

module.exports = app;
