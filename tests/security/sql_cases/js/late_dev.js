// Development cases written late: first meant as held-out, but the analyser was then changed for them.
const db = require("./db");

// case: js-late-promise-chain vulnerable
function getOrders(userId) {
  return db.query("SELECT * FROM orders WHERE user_id = " + userId).then((r) => r.rows);
}

// case: js-late-promise-chain-safe safe
function getOrdersSafe(userId) {
  return db.query("SELECT * FROM orders WHERE user_id = $1", [userId]).then((r) => r.rows);
}

// case: js-late-var-hoisted vulnerable
function legacy(name) {
  var sql;
  sql = "SELECT * FROM customers WHERE name = '" + name + "'";
  return db.query(sql);
}

// case: js-late-sequelize-literal vulnerable
function literalOrder(Model, sequelize, col) {
  return Model.findAll({ order: sequelize.literal(`${col} DESC`) });
}

// case: js-late-knex-raw-in-select vulnerable
function selectRaw(knex, expr) {
  return knex("orders").select(knex.raw(expr + " AS total"));
}

// case: js-late-knex-raw-constant safe
function selectRawConst(knex) {
  return knex("orders").select(knex.raw("sum(amount) AS total"));
}

// case: js-late-mysql-format safe
function formatted(mysql, conn, name) {
  const sql = mysql.format("SELECT * FROM users WHERE name = ?", [name]);
  return conn.query(sql);
}

// case: js-late-pg-format-literal safe
function pgFormat(format, client, table, name) {
  return client.query(format("SELECT * FROM %I WHERE name = %L", table, name));
}

module.exports = { getOrders, getOrdersSafe, legacy, literalOrder, selectRaw, selectRawConst, formatted, pgFormat };
