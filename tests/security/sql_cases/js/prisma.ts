// Prisma: tagged $queryRaw / Prisma.sql are safe, the *Unsafe variants are not
import { Prisma, PrismaClient } from "@prisma/client";

const prisma = new PrismaClient();

// case: ts-prisma-queryraw-tagged safe
export async function userByEmail(email: string) {
  return prisma.$queryRaw`SELECT * FROM "User" WHERE email = ${email}`;
}

// case: ts-prisma-queryrawunsafe-template vulnerable
export async function userByEmailUnsafe(email: string) {
  return prisma.$queryRawUnsafe(`SELECT * FROM "User" WHERE email = '${email}'`);
}

// case: ts-prisma-queryrawunsafe-params safe
export async function userByEmailParams(email: string) {
  return prisma.$queryRawUnsafe('SELECT * FROM "User" WHERE email = $1', email);
}

// case: ts-prisma-executerawunsafe-concat vulnerable
export async function deactivate(ids: string) {
  return prisma.$executeRawUnsafe("UPDATE \"User\" SET active = false WHERE id IN (" + ids + ")");
}

// case: ts-prisma-executeraw-tagged safe
export async function deactivateOne(id: number) {
  return prisma.$executeRaw`UPDATE "User" SET active = false WHERE id = ${id}`;
}

// case: ts-prisma-sql-fragment safe
export async function search(term: string, limit: number) {
  const where = Prisma.sql`WHERE name ILIKE ${"%" + term + "%"}`;
  return prisma.$queryRaw(Prisma.sql`SELECT * FROM "User" ${where} LIMIT ${limit}`);
}

// case: ts-prisma-join-fragments safe
export async function byIds(ids: number[]) {
  return prisma.$queryRaw`SELECT * FROM "User" WHERE id IN (${Prisma.join(ids)})`;
}

// case: ts-prisma-raw-fragment-template vulnerable
export async function sortedUsers(column: string) {
  return prisma.$queryRaw`SELECT * FROM "User" ORDER BY ${Prisma.raw(`"${column}" DESC`)}`;
}

// case: ts-prisma-queryrawunsafe-var vulnerable
export async function report(table: string, since: string) {
  const query = `SELECT count(*) FROM ${table} WHERE "createdAt" > '${since}'`;
  return prisma.$queryRawUnsafe(query);
}

// case: ts-prisma-orm-findmany safe
export async function findUsers(name: string) {
  return prisma.user.findMany({ where: { name: { contains: name } } });
}
