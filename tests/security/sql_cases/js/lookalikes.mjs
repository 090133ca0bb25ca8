// Calls and strings that look like SQL injection but are not
import { sql } from "slonik";
import postgres from "postgres";

const db = postgres();

// case: js-look-slonik-sql-tag safe
export async function slonikUser(pool, id) {
  return pool.query(sql`SELECT * FROM users WHERE id = ${id}`);
}

// case: js-look-postgresjs-tag safe
export async function postgresUser(id) {
  return db`SELECT * FROM users WHERE id = ${id}`;
}

// case: js-look-dom-query safe
export function findButton(root, id) {
  return root.querySelector(`#${id} button`);
}

// case: js-look-url-query safe
export function buildUrl(api, term) {
  return api.query(`https://search.example.com/?q=${term}&select=all`);
}

// case: js-look-graphql-query safe
export async function loadUser(client, id) {
  return client.query({ query: `query { user(id: "${id}") { name } }` });
}

// case: js-look-log-template safe
export function logSelect(logger, user) {
  logger.info(`SELECT issued by ${user}`);
}

// case: js-look-sql-string-returned safe
export function describe(table) {
  return `SELECT * FROM ${table}`;
}

// case: js-look-command-execute safe
export async function runCommand(runner, name) {
  return runner.execute(`deploy --target ${name}`);
}

// case: js-look-mongo-where safe
export function mongoFind(collection, name) {
  return collection.find({ name }).where("age").gt(18);
}

// case: js-look-constant-concat safe
export async function constant(pool) {
  return pool.query("SELECT id " + "FROM users " + "WHERE active = true");
}

// case: js-look-template-no-substitution safe
export async function noSubs(pool) {
  return pool.query(`SELECT id FROM users WHERE active = true`);
}
