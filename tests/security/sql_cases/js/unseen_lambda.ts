// UNSEEN split: written and scored before the analyser was changed for issue 19. Do not tune on it.
// AWS Lambda handlers, TypeORM, Sequelize and Prisma in TypeScript.
import { APIGatewayProxyEvent } from "aws-lambda";
import { Client } from "pg";
import { Sequelize, QueryTypes } from "sequelize";
import { DataSource } from "typeorm";
import { PrismaClient } from "@prisma/client";

const client = new Client();
const sequelize = new Sequelize("postgres://localhost/app");
const dataSource = new DataSource({ type: "postgres" });
const prisma = new PrismaClient();

// case: ts-unseen-lambda-path-param vulnerable
export const getUser = async (event: APIGatewayProxyEvent) => {
  const id = event.pathParameters?.id;
  const result = await client.query(`SELECT * FROM users WHERE id = '${id}'`);
  return { statusCode: 200, body: JSON.stringify(result.rows) };
};

// case: ts-unseen-lambda-body-concat vulnerable
export const handler = async (event: APIGatewayProxyEvent) => {
  const body = JSON.parse(event.body || "{}");
  const sql = "UPDATE accounts SET plan = '" + body.plan + "' WHERE id = " + body.id;
  await client.query(sql);
  return { statusCode: 204 };
};

// case: ts-unseen-lambda-placeholder safe
export const getUserSafe = async (event: APIGatewayProxyEvent) => {
  const result = await client.query("SELECT * FROM users WHERE id = $1", [event.pathParameters?.id]);
  return { statusCode: 200, body: JSON.stringify(result.rows) };
};

// case: ts-unseen-sequelize-query-template vulnerable
export async function findByName(name: string) {
  return sequelize.query(`SELECT * FROM "Users" WHERE name = '${name}'`, { type: QueryTypes.SELECT });
}

// case: ts-unseen-sequelize-bind safe
export async function findByNameSafe(name: string) {
  return sequelize.query('SELECT * FROM "Users" WHERE name = $name', {
    bind: { name },
    type: QueryTypes.SELECT,
  });
}

// case: ts-unseen-typeorm-manager-query vulnerable
export async function countFor(tenant: string) {
  return dataSource.manager.query(`SELECT count(*) FROM ${tenant}.orders`);
}

// case: ts-unseen-typeorm-builder-param safe
export async function byEmail(email: string) {
  return dataSource
    .getRepository("User")
    .createQueryBuilder("u")
    .where("u.email = :email", { email })
    .getOne();
}

// case: ts-unseen-typeorm-builder-template vulnerable
export async function byEmailBad(email: string) {
  return dataSource
    .getRepository("User")
    .createQueryBuilder("u")
    .where(`u.email = '${email}'`)
    .getOne();
}

// case: ts-unseen-prisma-unsafe vulnerable
export async function prismaSearch(event: APIGatewayProxyEvent) {
  const term = event.queryStringParameters?.term ?? "";
  return prisma.$queryRawUnsafe(`SELECT * FROM "Post" WHERE title LIKE '%${term}%'`);
}

// case: ts-unseen-prisma-tagged safe
export async function prismaSearchSafe(term: string) {
  return prisma.$queryRaw`SELECT * FROM "Post" WHERE title LIKE ${"%" + term + "%"}`;
}

// case: ts-unseen-helper-execute vulnerable
async function execute(statement: string) {
  return client.query(statement);
}

export async function deactivate(event: APIGatewayProxyEvent) {
  const user = event.queryStringParameters?.user;
  return execute(`UPDATE users SET active = false WHERE name = '${user}'`);
}

// case: ts-unseen-constant-table-choice safe
export async function listing(archived: boolean) {
  const table = archived ? "archived_posts" : "posts";
  return client.query(`SELECT id, title FROM ${table}`);
}

// case: ts-unseen-boolean-literal safe
export async function activeOnly(flag: boolean) {
  return client.query(`SELECT * FROM users WHERE active = ${flag ? "true" : "false"}`);
}
