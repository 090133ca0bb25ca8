// Queries assembled across statements in TypeScript services
import type { Pool } from "pg";

const ALLOWED_FIELDS = ["status", "owner", "priority"] as const;
const BASE = "SELECT id, title FROM tickets";

type Filters = Record<string, string>;

// case: ts-flow-conditions-array vulnerable
export async function filterTickets(pool: Pool, filters: Filters) {
  const conditions: string[] = [];
  for (const [key, value] of Object.entries(filters)) {
    conditions.push(`${key} = '${value}'`);
  }
  const sql = `${BASE} WHERE ${conditions.join(" AND ")}`;
  return pool.query(sql);
}

// case: ts-flow-conditions-array-params safe
export async function filterTicketsSafe(pool: Pool, filters: Filters) {
  const conditions: string[] = [];
  const values: string[] = [];
  for (const [key, value] of Object.entries(filters)) {
    if (!(ALLOWED_FIELDS as readonly string[]).includes(key)) continue;
    values.push(value);
    conditions.push(`${key} = $${values.length}`);
  }
  const sql = `${BASE} WHERE ${conditions.join(" AND ")}`;
  return pool.query(sql, values);
}

// case: ts-flow-reassign-chain vulnerable
export async function byTitle(pool: Pool, title: string) {
  const clause = "title = '" + title + "'";
  const where = " WHERE " + clause;
  const full = BASE + where;
  return pool.query(full);
}

// case: ts-flow-ternary-constants safe
export async function byState(pool: Pool, closed: boolean) {
  const state = closed ? "closed" : "open";
  return pool.query(`${BASE} WHERE state = '${state}'`);
}

// case: ts-flow-ternary-tainted vulnerable
export async function byStateCustom(pool: Pool, closed: boolean, custom: string) {
  const state = closed ? "closed" : custom;
  return pool.query(`${BASE} WHERE state = '${state}'`);
}

// case: ts-flow-destructured-body vulnerable
export async function updateTitle(pool: Pool, req: { body: { id: string; title: string } }) {
  const { id, title } = req.body;
  return pool.query(`UPDATE tickets SET title = '${title}' WHERE id = ${id}`);
}

// case: ts-flow-arrow-handler vulnerable
export const deleteTicket = async (pool: Pool, id: string) =>
  pool.query("DELETE FROM tickets WHERE id = " + id);

// case: ts-flow-update-set-keys vulnerable
export async function patch(pool: Pool, id: number, changes: Filters) {
  const sets = Object.keys(changes).map((k, i) => `${k} = $${i + 2}`).join(", ");
  return pool.query(`UPDATE tickets SET ${sets} WHERE id = $1`, [id, ...Object.values(changes)]);
}

// case: ts-flow-update-set-keys-filtered safe
export async function patchSafe(pool: Pool, id: number, changes: Filters) {
  const keys = Object.keys(changes).filter((k) => ALLOWED_FIELDS.includes(k as never));
  const sets = keys.map((k, i) => `${k} = $${i + 2}`).join(", ");
  return pool.query(`UPDATE tickets SET ${sets} WHERE id = $1`, [id, ...keys.map((k) => changes[k])]);
}

// case: ts-flow-class-method vulnerable
export class TicketService {
  constructor(private readonly pool: Pool) {}

  async byOwner(owner: string) {
    return this.pool.query(`${BASE} WHERE owner = '${owner}'`);
  }
}

// case: ts-flow-class-method-safe safe
export class TicketServiceSafe {
  constructor(private readonly pool: Pool) {}

  async byOwner(owner: string) {
    return this.pool.query(`${BASE} WHERE owner = $1`, [owner]);
  }
}

// case: ts-flow-number-typed-cast safe
export async function top(pool: Pool, n: string) {
  const limit = Math.min(Number.parseInt(n, 10), 100);
  return pool.query(`${BASE} ORDER BY priority DESC LIMIT ${limit}`);
}

// case: ts-flow-string-raw-tag vulnerable
export async function rawTag(pool: Pool, name: string) {
  return pool.query(String.raw`SELECT * FROM tickets WHERE owner = '${name}'`);
}
