// node-postgres (pg): client.query / pool.query
const { Pool } = require("pg");

const pool = new Pool();
const TABLE = "accounts";
const SORTABLE = ["name", "created_at", "balance"];

// case: js-pg-template-where vulnerable
async function getAccount(req, res) {
  const { rows } = await pool.query(`SELECT * FROM accounts WHERE id = ${req.params.id}`);
  res.json(rows[0]);
}

// case: js-pg-placeholder safe
async function getAccountSafe(req, res) {
  const { rows } = await pool.query("SELECT * FROM accounts WHERE id = $1", [req.params.id]);
  res.json(rows[0]);
}

// case: js-pg-concat-var vulnerable
async function findByEmail(client, email) {
  const sql = "SELECT * FROM accounts WHERE email = '" + email + "'";
  return client.query(sql);
}

// case: js-pg-config-object-text safe
async function findByEmailSafe(client, email) {
  return client.query({ text: "SELECT * FROM accounts WHERE email = $1", values: [email] });
}

// case: js-pg-config-object-template vulnerable
async function findByName(client, name) {
  return client.query({ text: `SELECT * FROM accounts WHERE name = '${name}'`, values: [] });
}

// case: js-pg-constant-table-template safe
async function countAccounts(client) {
  const result = await client.query(`SELECT count(*) FROM ${TABLE}`);
  return result.rows[0].count;
}

// case: js-pg-in-list-placeholders safe
async function byIds(client, ids) {
  const params = ids.map((_, i) => `$${i + 1}`).join(", ");
  return client.query(`SELECT * FROM accounts WHERE id IN (${params})`, ids);
}

// case: js-pg-in-list-values-joined vulnerable
async function byIdsUnsafe(client, ids) {
  return client.query(`SELECT * FROM accounts WHERE id IN (${ids.join(",")})`);
}

// case: js-pg-sort-allowlisted safe
async function sorted(client, sort) {
  if (!SORTABLE.includes(sort)) {
    throw new Error("invalid sort");
  }
  return client.query(`SELECT * FROM accounts ORDER BY ${sort}`);
}

// case: js-pg-sort-unchecked vulnerable
async function sortedUnsafe(client, req) {
  const sort = req.query.sort || "name";
  return client.query(`SELECT * FROM accounts ORDER BY ${sort}`);
}

// case: js-pg-limit-parseint safe
async function page(client, req) {
  const limit = parseInt(req.query.limit, 10) || 20;
  return client.query(`SELECT * FROM accounts LIMIT ${limit}`);
}

// case: js-pg-let-plus-equals vulnerable
async function search(client, filters) {
  let query = "SELECT * FROM accounts WHERE 1=1";
  if (filters.owner) {
    query += ` AND owner = '${filters.owner}'`;
  }
  return client.query(query);
}

// case: js-pg-let-plus-equals-params safe
async function searchSafe(client, filters) {
  let query = "SELECT * FROM accounts WHERE 1=1";
  const values = [];
  if (filters.owner) {
    values.push(filters.owner);
    query += ` AND owner = $${values.length}`;
  }
  return client.query(query, values);
}

module.exports = {
  getAccount, getAccountSafe, findByEmail, findByEmailSafe, findByName, countAccounts, byIds,
  byIdsUnsafe, sorted, sortedUnsafe, page, search, searchSafe,
};
