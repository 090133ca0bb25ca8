// Harder shapes: helpers, callbacks, chained string methods
const TABLES = { users: "users", teams: "teams" };

function whereEq(column, value) {
  return `${column} = '${value}'`;
}

// case: js-hard-helper-builds-where vulnerable
async function lookup(pool, email) {
  return pool.query("SELECT * FROM users WHERE " + whereEq("email", email));
}

// case: js-hard-query-passthrough safe
async function run(pool, text, values) {
  return pool.query(text, values);
}

// case: js-hard-table-map-lookup safe
async function countIn(pool, kind) {
  const table = TABLES[kind];
  if (!table) throw new Error("unknown table");
  return pool.query(`SELECT count(*) FROM ${table}`);
}

// case: js-hard-lowercased-input vulnerable
async function byTag(pool, tag) {
  const normalized = tag.trim().toLowerCase();
  return pool.query(`SELECT * FROM posts WHERE tag = '${normalized}'`);
}

// case: js-hard-callback-style vulnerable
function byAuthor(connection, req, res) {
  connection.query("SELECT * FROM posts WHERE author = '" + req.query.author + "'", (err, rows) => {
    if (err) return res.status(500).end();
    return res.json(rows);
  });
}

// case: js-hard-concat-method vulnerable
async function concatMethod(pool, name) {
  const q = "SELECT * FROM posts WHERE author = '".concat(name, "'");
  return pool.query(q);
}

module.exports = { lookup, run, countIn, byTag, byAuthor, concatMethod };
