/**
 * Reads what the running cluster holds, from the machine that runs the program, on every preview
 * and up: the dynamic configuration (Patroni's `GET /config`, from the first member that answers)
 * and PostgreSQL's `pg_settings` (through the read-write port). Nothing is
 * written. An unreachable cluster (not deployed yet, or a network that does not let this machine
 * reach port 8008 and the read-write port) yields no observation, not an error.
 */
import { Client } from "pg";
import { PgSetting } from "../configs/dcsDiff";

export interface ObserveTarget {
  /** Patroni REST API base URLs, tried at once; the first answer wins. */
  restUrls: string[];
  /** The read-write port and the superuser's credentials. */
  sql: { host: string; port: number; user: string; password: string };
  timeoutMs?: number;
}

export interface Observation {
  /** The live dynamic configuration, when a member answered. */
  config?: Record<string, unknown>;
  settings: PgSetting[];
  /** Why something could not be read. */
  problems: string[];
}

async function readConfig(urls: string[], timeoutMs: number): Promise<Record<string, unknown>> {
  return Promise.any(
    urls.map(async (url) => {
      const r = await fetch(`${url}/config`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!r.ok) throw new Error(`${url}/config answered ${r.status}`);
      return (await r.json()) as Record<string, unknown>;
    }),
  );
}

async function readSettings(sql: ObserveTarget["sql"], timeoutMs: number): Promise<PgSetting[]> {
  const client = new Client({
    ...sql,
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

export async function observeCluster(target: ObserveTarget): Promise<Observation> {
  const timeoutMs = target.timeoutMs ?? 3000;
  const [config, settings] = await Promise.allSettled([
    readConfig(target.restUrls, timeoutMs),
    readSettings(target.sql, timeoutMs),
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
