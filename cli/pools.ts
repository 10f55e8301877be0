/**
 * PgBouncer's pools from the outside: holding every pool around a change of primary (PAUSE, the
 * change, HAProxy on the new primary, RECONNECT, RESUME) so that clients wait instead of failing,
 * and reading the pools' SHOW POOLS / SHOW STATS. Shared by ctl and the chaos harness, which
 * reach the routers their own way (`HostRun`).
 */
import { POOL_NAMES, POOL_TOOL_PATH, PoolName } from "../configs/pgbouncer";
import { READ_WRITE_LISTENER, serverStates } from "../configs/haproxy";
import { renderTable } from "../configs/table";

/** Run a shell command on a host (by name) as root; resolves with its stdout, rejects when it fails. */
export type HostRun = (host: string, command: string, timeoutS: number) => Promise<string>;

export interface PoolHold {
  routers: string[];
  /** HAProxy's stats page on a router's loopback, e.g. `https://127.0.0.1:7000/`. */
  statsUrl: string;
  pools?: readonly PoolName[];
  /** How long PAUSE may wait for running transactions to end. */
  pauseTimeoutS?: number;
  /** How long the routers may take to send read-write clients to the new primary. */
  routeTimeoutS?: number;
}

/** One admin command on a router's pool (PAUSE, RESUME, RECONNECT, SHOW ...). */
export function poolCommand(pool: PoolName, command: string, psqlOptions = "-q"): string {
  return `${POOL_TOOL_PATH} ${pool} ${psqlOptions} -c '${command}'`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether the router's HAProxy sends read-write clients to `primary` alone. */
async function routesTo(run: HostRun, router: string, statsUrl: string, primary: string): Promise<boolean> {
  try {
    const states = serverStates(await run(router, `curl -s -m 3 '${statsUrl};csv'`, 10), READ_WRITE_LISTENER);
    const up = Object.entries(states).filter(([, st]) => st.startsWith("UP"));
    return up.length === 1 && up[0][0] === primary;
  } catch {
    return false;
  }
}

/**
 * Hold the clients of every pool while `move` changes the primary: PAUSE waits for running
 * transactions to end and then holds new ones; `move` returns the member that is primary now;
 * once every router's HAProxy sends read-write clients to it alone, the pools drop their server
 * connections to the old primary (RECONNECT) and RESUME: held statements run on the new primary.
 * The pools are resumed whatever happens. Returns how long clients were held.
 */
export async function withPoolsHeld(run: HostRun, hold: PoolHold, move: () => Promise<string>): Promise<number> {
  const pools = hold.pools ?? POOL_NAMES;
  const pauseTimeout = hold.pauseTimeoutS ?? 30;
  const paused: [string, PoolName][] = [];
  const targets = hold.routers.flatMap((r) => pools.map((p) => [r, p] as [string, PoolName]));
  const started = Date.now();
  try {
    await Promise.all(
      targets.map(async ([router, pool]) => {
        try {
          await run(router, `timeout ${pauseTimeout} ${poolCommand(pool, "PAUSE")}`, pauseTimeout + 10);
        } catch (e) {
          throw new Error(
            `PAUSE of the ${pool} pool on ${router} did not finish within ${pauseTimeout} s (a transaction kept running?): nothing was switched. ${(e as Error).message}`,
          );
        } finally {
          // A PAUSE cut short by its timeout may still have taken effect: resume it too.
          paused.push([router, pool]);
        }
      }),
    );
    const primary = await move();
    const until = Date.now() + (hold.routeTimeoutS ?? 60) * 1000;
    for (const router of hold.routers) {
      while (!(await routesTo(run, router, hold.statsUrl, primary))) {
        if (Date.now() > until) throw new Error(`HAProxy on ${router} does not send read-write clients to ${primary}`);
        await sleep(100);
      }
    }
  } finally {
    await Promise.all(
      paused.map(([router, pool]) =>
        run(router, `${poolCommand(pool, "RECONNECT")}; ${poolCommand(pool, "RESUME")}`, 30).catch(() => undefined),
      ),
    );
  }
  return Date.now() - started;
}

/** A pool's SHOW output as rows of named columns (psql --csv). */
export function parseCsv(text: string): Record<string, string>[] {
  const lines = text.trim().split("\n").filter(Boolean);
  if (lines.length === 0) return [];
  const split = (l: string) => l.split(",");
  const header = split(lines[0]);
  return lines.slice(1).map((l) => Object.fromEntries(split(l).map((v, i) => [header[i], v])));
}

/** The columns `ctl pool` shows of SHOW POOLS and SHOW STATS, with their headings. */
const POOL_COLUMNS: [string, string][] = [
  ["database", "database"],
  ["user", "user"],
  ["cl_active", "clients active"],
  ["cl_waiting", "waiting"],
  ["sv_active", "servers active"],
  ["sv_idle", "idle"],
  ["maxwait", "max wait s"],
  ["pool_mode", "mode"],
];
const STATS_COLUMNS: [string, string][] = [
  ["database", "database"],
  ["total_xact_count", "transactions"],
  ["total_query_count", "queries"],
  ["avg_xact_time", "avg transaction µs"],
  ["avg_query_time", "avg query µs"],
  ["avg_wait_time", "avg wait µs"],
];

/** `ctl pool`: one router's pool, its SHOW POOLS and SHOW STATS as tables (the admin database left out). */
export function renderPoolReport(router: string, pool: PoolName, pools: string, stats: string): string {
  const pick = (rows: Record<string, string>[], cols: [string, string][]) => [
    cols.map(([, h]) => h),
    ...rows.filter((r) => r.database !== "pgbouncer").map((r) => cols.map(([c]) => r[c] ?? "")),
  ];
  const poolRows = pick(parseCsv(pools), POOL_COLUMNS);
  const statRows = pick(parseCsv(stats), STATS_COLUMNS);
  const lines = [`${router} ${pool} pool`];
  lines.push(poolRows.length > 1 ? renderTable(poolRows) : "  no client has used it yet");
  if (statRows.length > 1) lines.push(renderTable(statRows));
  return `${lines.join("\n")}\n`;
}
