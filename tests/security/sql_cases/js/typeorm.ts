// TypeORM: DataSource.query / EntityManager.query / QueryBuilder.where
import { DataSource, Repository } from "typeorm";

interface User {
  id: number;
  name: string;
}

// case: ts-typeorm-datasource-query-template vulnerable
export async function usersNamed(ds: DataSource, name: string) {
  return ds.query(`SELECT * FROM "user" WHERE name = '${name}'`);
}

// case: ts-typeorm-datasource-query-params safe
export async function usersNamedSafe(ds: DataSource, name: string) {
  return ds.query('SELECT * FROM "user" WHERE name = $1', [name]);
}

// case: ts-typeorm-manager-query-concat vulnerable
export async function removeUser(ds: DataSource, id: string) {
  return ds.manager.query("DELETE FROM \"user\" WHERE id = " + id);
}

// case: ts-typeorm-querybuilder-where-template vulnerable
export async function findLike(repo: Repository<User>, term: string) {
  return repo
    .createQueryBuilder("user")
    .where(`user.name LIKE '%${term}%'`)
    .getMany();
}

// case: ts-typeorm-querybuilder-where-params safe
export async function findLikeSafe(repo: Repository<User>, term: string) {
  return repo
    .createQueryBuilder("user")
    .where("user.name LIKE :term", { term: `%${term}%` })
    .getMany();
}

// case: ts-typeorm-querybuilder-andwhere-concat vulnerable
export async function findInTeam(repo: Repository<User>, team: string, role: string) {
  return repo
    .createQueryBuilder("user")
    .where("user.team = :team", { team })
    .andWhere("user.role = '" + role + "'")
    .getMany();
}

// case: ts-typeorm-find-options safe
export async function findByName(repo: Repository<User>, name: string) {
  return repo.find({ where: { name } });
}

// case: ts-typeorm-queryrunner-query-template vulnerable
export async function dropIndex(ds: DataSource, index: string) {
  const runner = ds.createQueryRunner();
  await runner.query(`DROP INDEX IF EXISTS ${index}`);
  await runner.release();
}
