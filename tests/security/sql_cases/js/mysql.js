// mysql / mysql2: connection.query / connection.execute
const mysql = require("mysql2/promise");

const ORDER_BY = { newest: "created_at DESC", oldest: "created_at ASC" };

// case: js-mysql-concat-query vulnerable
function login(connection, user, pass, cb) {
  connection.query(
    "SELECT * FROM users WHERE user = '" + user + "' AND pass = '" + pass + "'",
    cb,
  );
}

// case: js-mysql-qmark safe
function loginSafe(connection, user, pass, cb) {
  connection.query("SELECT * FROM users WHERE user = ? AND pass = ?", [user, pass], cb);
}

// case: js-mysql2-execute-template vulnerable
async function profile(conn, req) {
  const [rows] = await conn.execute(`SELECT * FROM profiles WHERE handle = '${req.body.handle}'`);
  return rows;
}

// case: js-mysql2-execute-params safe
async function profileSafe(conn, req) {
  const [rows] = await conn.execute("SELECT * FROM profiles WHERE handle = ?", [req.body.handle]);
  return rows;
}

// case: js-mysql-escape safe
function byName(connection, name, cb) {
  connection.query("SELECT * FROM users WHERE name = " + mysql.escape(name), cb);
}

// case: js-mysql-escapeid safe
function byColumn(connection, column, value, cb) {
  connection.query(`SELECT * FROM users WHERE ${mysql.escapeId(column)} = ?`, [value], cb);
}

// case: js-mysql-options-sql-template vulnerable
function byCity(connection, city, cb) {
  connection.query({ sql: `SELECT * FROM users WHERE city = '${city}'`, timeout: 4000 }, cb);
}

// case: js-mysql-options-sql-placeholder safe
function byCitySafe(connection, city, cb) {
  connection.query({ sql: "SELECT * FROM users WHERE city = ?", timeout: 4000, values: [city] }, cb);
}

// case: js-mysql-order-map safe
async function listUsers(conn, order) {
  const orderBy = ORDER_BY[order] ?? "id";
  const [rows] = await conn.query(`SELECT * FROM users ORDER BY ${orderBy}`);
  return rows;
}

// case: js-mysql-insert-values-map vulnerable
async function insertMany(conn, names) {
  const values = names.map((n) => `('${n}')`).join(", ");
  return conn.query(`INSERT INTO tags (name) VALUES ${values}`);
}

// case: js-mysql-insert-bulk-placeholder safe
async function insertManySafe(conn, names) {
  const values = names.map(() => "(?)").join(", ");
  return conn.query(`INSERT INTO tags (name) VALUES ${values}`, names);
}

// case: js-mysql-number-cast safe
async function byAge(conn, req) {
  const age = Number(req.query.age);
  return conn.query("SELECT * FROM users WHERE age > " + age);
}

module.exports = {
  login, loginSafe, profile, profileSafe, byName, byColumn, byCity, byCitySafe, listUsers,
  insertMany, insertManySafe, byAge,
};
