// Issue 19 development cases: AWS Lambda event data, helpers across functions in TypeScript.
import type { APIGatewayProxyEvent, Context } from "aws-lambda";
import mysql from "mysql2/promise";
import knexFactory from "knex";

const knex = knexFactory({ client: "mysql2" });
const pool = mysql.createPool({ host: "db" });

// case: ts-dev19-lambda-event-query-template vulnerable
export async function handler(event: APIGatewayProxyEvent, context: Context) {
  const [rows] = await pool.query(`SELECT * FROM carts WHERE id = ${event.queryStringParameters!.cart}`);
  return { statusCode: 200, body: JSON.stringify(rows) };
}

// case: ts-dev19-lambda-event-placeholder safe
export async function handlerSafe(event: APIGatewayProxyEvent) {
  const [rows] = await pool.query("SELECT * FROM carts WHERE id = ?", [event.queryStringParameters!.cart]);
  return { statusCode: 200, body: JSON.stringify(rows) };
}

// case: ts-dev19-lambda-knex-raw-event vulnerable
export const archive = async (event: APIGatewayProxyEvent) => {
  const body = JSON.parse(event.body ?? "{}");
  await knex.raw("DELETE FROM carts WHERE owner = '" + body.owner + "'");
  return { statusCode: 204 };
};

// case: ts-dev19-helper-execute-ts vulnerable
async function exec(statement: string): Promise<unknown> {
  const [result] = await pool.execute(statement);
  return result;
}

export async function clear(event: APIGatewayProxyEvent) {
  return exec(`DELETE FROM carts WHERE session = '${event.pathParameters!.session}'`);
}

// case: ts-dev19-helper-execute-number safe
async function execFixed(statement: string): Promise<unknown> {
  const [result] = await pool.execute(statement);
  return result;
}

export async function expire(days: number) {
  return execFixed(`DELETE FROM carts WHERE age > ${Number(days)}`);
}

// case: ts-dev19-query-builder-event vulnerable
export async function search(event: APIGatewayProxyEvent) {
  const q = event.queryStringParameters?.q;
  return knex("products").whereRaw(`name LIKE '%${q}%'`);
}

// case: ts-dev19-query-builder-bound safe
export async function searchSafe(event: APIGatewayProxyEvent) {
  const q = event.queryStringParameters?.q;
  return knex("products").where("name", "like", `%${q}%`);
}
