// Held-out cases: written after the analyser was tuned, scored once before any further change
import express from "express";
import { Pool } from "pg";

const pool = new Pool();
const router = express.Router();
const DIRECTIONS = ["asc", "desc"];

// case: ts-ho-express-route vulnerable
router.get("/users/:id", async (req, res) => {
  const result = await pool.query("SELECT * FROM users WHERE id = " + req.params.id);
  res.json(result.rows);
});

// case: ts-ho-express-route-safe safe
router.get("/users-safe/:id", async (req, res) => {
  const result = await pool.query("SELECT * FROM users WHERE id = $1", [req.params.id]);
  res.json(result.rows);
});

// case: ts-ho-direction-includes safe
export async function ordered(dir: string) {
  const direction = DIRECTIONS.includes(dir.toLowerCase()) ? dir : "asc";
  return pool.query(`SELECT * FROM users ORDER BY created_at ${direction}`);
}

// case: ts-ho-json-column vulnerable
export async function byJson(key: string) {
  return pool.query(`SELECT data->>'${key}' AS v FROM docs`);
}

// case: ts-ho-let-reassign-branch vulnerable
export async function byKind(kind: string, custom: string) {
  let table = "events";
  if (kind === "custom") {
    table = custom;
  }
  return pool.query(`SELECT * FROM ${table}`);
}

// case: ts-ho-let-reassign-constants safe
export async function byKindSafe(kind: string) {
  let table = "events";
  if (kind === "archived") {
    table = "events_archive";
  }
  return pool.query(`SELECT * FROM ${table}`);
}

// case: ts-ho-client-connect vulnerable
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

// case: ts-ho-client-connect-safe safe
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

// case: ts-ho-array-join-numbers safe
export async function byIds(ids: string[]) {
  const clean = ids.map(Number).filter(Number.isInteger);
  return pool.query(`SELECT * FROM users WHERE id IN (${clean.join(",")})`);
}

// case: ts-ho-function-expression vulnerable
export const remove = async function (name: string) {
  return pool.query("DELETE FROM tags WHERE name = '" + name + "'");
};

// case: ts-ho-interval vulnerable
export async function recent(days: string) {
  return pool.query(`SELECT * FROM events WHERE ts > now() - interval '${days} days'`);
}

// case: ts-ho-escape-literal safe
export async function escaped(name: string) {
  const client = await pool.connect();
  const q = `SELECT * FROM users WHERE name = ${client.escapeLiteral(name)}`;
  return client.query(q);
}
