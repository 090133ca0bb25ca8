// Development cases written late: first meant as held-out, but the analyser was then changed for them.
import express from "express";
import { Pool } from "pg";

const pool = new Pool();
const router = express.Router();
const DIRECTIONS = ["asc", "desc"];

// case: ts-late-express-route vulnerable
router.get("/users/:id", async (req, res) => {
  const result = await pool.query("SELECT * FROM users WHERE id = " + req.params.id);
  res.json(result.rows);
});

// case: ts-late-express-route-safe safe
router.get("/users-safe/:id", async (req, res) => {
  const result = await pool.query("SELECT * FROM users WHERE id = $1", [req.params.id]);
  res.json(result.rows);
});

// case: ts-late-direction-includes safe
export async function ordered(dir: string) {
  const direction = DIRECTIONS.includes(dir.toLowerCase()) ? dir : "asc";
  return pool.query(`SELECT * FROM users ORDER BY created_at ${direction}`);
}

// case: ts-late-json-column vulnerable
export async function byJson(key: string) {
  return pool.query(`SELECT data->>'${key}' AS v FROM docs`);
}

// case: ts-late-let-reassign-branch vulnerable
export async function byKind(kind: string, custom: string) {
  let table = "events";
  if (kind === "custom") {
    table = custom;
  }
  return pool.query(`SELECT * FROM ${table}`);
}

// case: ts-late-let-reassign-constants safe
export async function byKindSafe(kind: string) {
  let table = "events";
  if (kind === "archived") {
    table = "events_archive";
  }
  return pool.query(`SELECT * FROM ${table}`);
}

// case: ts-late-client-connect vulnerable
export async function tx(user: string) {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query(`INSERT INTO audit (who) VALUES ('${user}')`);
    await client.query("COMMIT");
  } finally {
    client.release();
  }
}

// case: ts-late-client-connect-safe safe
export async function txSafe(user: string) {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("INSERT INTO audit (who) VALUES ($1)", [user]);
    await client.query("COMMIT");
  } finally {
    client.release();
  }
}

// case: ts-late-array-join-numbers safe
export async function byIds(ids: string[]) {
  const clean = ids.map(Number).filter(Number.isInteger);
  return pool.query(`SELECT * FROM users WHERE id IN (${clean.join(",")})`);
}

// case: ts-late-function-expression vulnerable
export const remove = async function (name: string) {
  return pool.query("DELETE FROM tags WHERE name = '" + name + "'");
};

// case: ts-late-interval vulnerable
export async function recent(days: string) {
  return pool.query(`SELECT * FROM events WHERE ts > now() - interval '${days} days'`);
}

// case: ts-late-escape-literal safe
export async function escaped(name: string) {
  const client = await pool.connect();
  const q = `SELECT * FROM users WHERE name = ${client.escapeLiteral(name)}`;
  return client.query(q);
}
