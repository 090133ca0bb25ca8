// Sequelize raw queries and knex raw helpers
const { QueryTypes } = require("sequelize");

const COLUMNS = new Set(["title", "price", "stock"]);

// case: js-sequelize-query-template vulnerable
async function productsBy(sequelize, brand) {
  return sequelize.query(`SELECT * FROM products WHERE brand = '${brand}'`, {
    type: QueryTypes.SELECT,
  });
}

// case: js-sequelize-replacements safe
async function productsBySafe(sequelize, brand) {
  return sequelize.query("SELECT * FROM products WHERE brand = :brand", {
    replacements: { brand },
    type: QueryTypes.SELECT,
  });
}

// case: js-sequelize-bind safe
async function productsByBind(sequelize, brand) {
  return sequelize.query("SELECT * FROM products WHERE brand = $1", {
    bind: [brand],
    type: QueryTypes.SELECT,
  });
}

// case: js-sequelize-concat-var vulnerable
async function deleteProduct(sequelize, id) {
  const q = "DELETE FROM products WHERE id = " + id;
  await sequelize.query(q);
}

// case: js-knex-raw-template vulnerable
function stats(knex, column) {
  return knex.raw(`SELECT avg(${column}) FROM products`);
}

// case: js-knex-raw-bindings safe
function statsSafe(knex, brand) {
  return knex.raw("SELECT avg(price) FROM products WHERE brand = ?", [brand]);
}

// case: js-knex-raw-identifier-binding safe
function statsColumn(knex, column) {
  return knex.raw("SELECT avg(??) FROM products", [column]);
}

// case: js-knex-whereraw-concat vulnerable
function cheap(knex, max) {
  return knex("products").whereRaw("price < " + max);
}

// case: js-knex-whereraw-binding safe
function cheapSafe(knex, max) {
  return knex("products").whereRaw("price < ?", [max]);
}

// case: js-knex-orderbyraw-template vulnerable
function ordered(knex, req) {
  return knex("products").orderByRaw(`${req.query.sort} ${req.query.dir}`);
}

// case: js-knex-orderbyraw-allowlisted safe
function orderedSafe(knex, req) {
  const column = COLUMNS.has(req.query.sort) ? req.query.sort : "title";
  return knex("products").orderByRaw(`${column} DESC`);
}

// case: js-knex-joinraw-template vulnerable
function joined(knex, table) {
  return knex("products").joinRaw(`LEFT JOIN ${table} ON ${table}.product_id = products.id`);
}

// case: js-knex-havingraw-template vulnerable
function popular(knex, min) {
  return knex("orders").groupBy("product_id").havingRaw(`count(*) > ${min}`);
}

// case: js-knex-query-builder safe
function builder(knex, brand, max) {
  return knex("products").where({ brand }).andWhere("price", "<", max).orderBy("title");
}

// case: js-knex-where-in safe
function inList(knex, ids) {
  return knex("products").whereIn("id", ids);
}

module.exports = {
  productsBy, productsBySafe, productsByBind, deleteProduct, stats, statsSafe, statsColumn, cheap,
  cheapSafe, ordered, orderedSafe, joined, popular, builder, inList,
};
