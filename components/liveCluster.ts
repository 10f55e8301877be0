/**
 * Reads what the running cluster holds, from the machine that runs the program, on every preview
 * and up: the dynamic configuration (Patroni's `GET /config`, from the first member that answers)
 * and PostgreSQL's `pg_settings` (through the read-write port). Nothing is
 * written. An unreachable cluster (not deployed yet, or a network that does not let this machine
 * reach port 8008 and the read-write port) yields no observation, not an error.
 */
import * as https from "https";
import { Client } from "pg";
import { PgSetting } from "../configs/dcsDiff";

export interface ObserveTarget {
  /** Patroni REST API base URLs, tried at once; the first answer wins. */
  restUrls: string[];
  /** The read-write port and the superuser's credentials. */
  sql: { host: string; port: number; user: string; password: string };
  timeoutMs?: number;
  /** The stack's CA: the REST API and PostgreSQL are reached over TLS and verified with it. */
  ca?: string;
}

export interface Observation {
  /** The live dynamic configuration, when a member answered. */
  config?: Record<string, unknown>;
  settings: PgSetting[];
  /** Why something could not be read. */
  problems: string[];
}

/** GET a JSON document over https, verified against `ca`. */
function getJson(url: string, ca: string, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    // No keep-alive agent: the socket closes with the answer (an open one keeps a program waiting).
    const req = https.get(url, { ca, timeout: timeoutMs, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        if (res.statusCode !== 200) return reject(new Error(`${url} answered ${res.statusCode}`));
        try {
          resolve(JSON.parse(body) as Record<string, unknown>);
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

async function readConfig(urls: string[], timeoutMs: number, ca?: string): Promise<Record<string, unknown>> {
  return Promise.any(
    urls.map(async (url) => {
      if (ca) return getJson(`${url}/config`, ca, timeoutMs);
      const r = await fetch(`${url}/config`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!r.ok) throw new Error(`${url}/config answered ${r.status}`);
      return (await r.json()) as Record<string, unknown>;
    }),
  );
}

async function readSettings(sql: ObserveTarget["sql"], timeoutMs: number, ca?: string): Promise<PgSetting[]> {
  const client = new Client({
    ...sql,
    ...(ca ? { ssl: { ca } } : {}),
    database: "postgres",
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    application_name: "patroni-stack preview",
  });
  client.on("error", () => undefined);
  await client.connect();
  try {
    // Every row (a few hundred): parameters set behind the stack's back are classified too.
    const r = await client.query<PgSetting>(
      "SELECT name, context, vartype, unit, min_val, max_val, enumvals FROM pg_settings",
    );
    return r.rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface PoolTarget {
  host: string;
  port: number;
  /** An admin user of the pool (admin_users) and its password. */
  user: string;
  password: string;
  ca?: string;
  timeoutMs?: number;
}

/** A PgBouncer pool's running settings (`SHOW CONFIG` on its admin console): key → value. */
export async function observePool(target: PoolTarget): Promise<Record<string, string>> {
  const timeoutMs = target.timeoutMs ?? 3000;
  const client = new Client({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: "pgbouncer",
    ...(target.ca ? { ssl: { ca: target.ca } } : {}),
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  client.on("error", () => undefined);
  await client.connect();
  try {
    const r = await client.query<{ key: string; value: string }>("SHOW CONFIG");
    return Object.fromEntries(r.rows.map((row) => [row.key, String(row.value)]));
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function observeCluster(target: ObserveTarget): Promise<Observation> {
  const timeoutMs = target.timeoutMs ?? 3000;
  const [config, settings] = await Promise.allSettled([
    readConfig(target.restUrls, timeoutMs, target.ca),
    readSettings(target.sql, timeoutMs, target.ca),
  ]);
  const problems: string[] = [];
  if (config.status === "rejected") {
    const reasons = config.reason instanceof AggregateError ? config.reason.errors : [config.reason];
    problems.push(`no Patroni REST API answered (${reasons.map((e) => (e as Error).message).join("; ")})`);
  }
  if (settings.status === "rejected") {
    problems.push(`PostgreSQL at ${target.sql.host}:${target.sql.port}: ${(settings.reason as Error).message}`);
  }
  return {
    config: config.status === "fulfilled" ? config.value : undefined,
    settings: settings.status === "fulfilled" ? settings.value : [],
    problems,
  };
}
