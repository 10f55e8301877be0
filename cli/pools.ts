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

/** Admin commands on a router's pool (PAUSE, RESUME, RECONNECT, SHOW ...), in one session. */
export function poolCommand(pool: PoolName, command: string | string[], psqlOptions = "-q"): string {
  const commands = typeof command === "string" ? [command] : command;
  return `${POOL_TOOL_PATH} ${pool} ${psqlOptions} ${commands.map((c) => `-c '${c}'`).join(" ")}`;
}

/** The pools whose server connections reach the primary, and so must see it take writes. */
const WRITE_POOLS: readonly PoolName[] = ["rw"];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether the router's HAProxy has `primary` alone UP in its read-write backend. */
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
 * One command for a router: RECONNECT and RESUME on each of `pools`, prints `resumed`. With
 * `guardS`, it first waits (at most that long, on the router itself) until a connection made the
 * way a read-write pool makes its server connections (through HAProxy's direct listener) reaches a
 * server out of recovery, and resumes nothing if none does. Patroni's REST API (and so HAProxy's
 * check) calls a member primary as soon as it has asked PostgreSQL to promote, before PostgreSQL
 * takes writes: statements resumed then would fail as read-only.
 */
export function resumeCommand(pools: readonly PoolName[], guardS?: number): string {
  // The pools resume side by side (each is a PgBouncer of its own).
  const resume = `${pools.map((p) => `{ ${poolCommand(p, ["RECONNECT", "RESUME"])} || true; } &`).join(" ")} wait; echo resumed`;
  const writable = pools.filter((p) => WRITE_POOLS.includes(p));
  if (guardS === undefined || writable.length === 0) return resume;
  const probes = writable.map(
    (p) => `[ "$(POOL_SERVER=1 ${poolCommand(p, "SELECT pg_is_in_recovery()", "-qAt")} 2>/dev/null)" = f ]`,
  );
  return `deadline=$((SECONDS + ${guardS})); until ${probes.join(" && ")}; do [ "$SECONDS" -lt "$deadline" ] || exit 0; sleep 0.2; done; ${resume}`;
}

/** Wait for every promise to settle, then reject with the first failure, if any. */
async function settleAll(all: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(all)).find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/** How long each part of a hold took (ms): the PAUSEs, the move, the resumes after it; and in all. */
export interface HoldTimes {
  pauseMs: number;
  moveMs: number;
  resumeMs: number;
  heldMs: number;
}

/** A hold's parts in seconds, one decimal (as ctl prints them and the chaos records keep them). */
export function holdSeconds(t: HoldTimes): { held: string; pause: string; move: string; resume: string } {
  const s = (ms: number) => (ms / 1000).toFixed(1);
  return { held: s(t.heldMs), pause: s(t.pauseMs), move: s(t.moveMs), resume: s(t.resumeMs) };
}

/**
 * Hold the clients of every pool while `move` changes the primary: PAUSE waits for running
 * transactions to end and then holds new ones; `move` returns the member that is primary now.
 * Each router resumes as soon as its HAProxy sends read-write clients to that primary alone and
 * the primary takes writes: the pools drop their server connections to the old primary
 * (RECONNECT) and RESUME, and held statements run on the new primary. When the new primary is
 * known beforehand (`candidate`), the routers watch for it while `move` runs, so clients go on as
 * soon as it takes writes, not when `move` returns. The pools are resumed whatever happens.
 */
export async function withPoolsHeld(
  run: HostRun,
  hold: PoolHold,
  move: () => Promise<string>,
  candidate?: string,
): Promise<HoldTimes> {
  const pools = hold.pools ?? POOL_NAMES;
  const pauseTimeout = hold.pauseTimeoutS ?? 30;
  const paused = new Map<string, PoolName[]>();
  const started = Date.now();
  const times: HoldTimes = { pauseMs: 0, moveMs: 0, resumeMs: 0, heldMs: 0 };
  let done = false;
  try {
    // One command per router: its pools pause one after the other. Every PAUSE ends (or fails)
    // before anything is resumed, and a PAUSE cut short by its timeout may still have taken
    // effect: it is resumed too.
    await settleAll(
      hold.routers.map(async (router) => {
        paused.set(router, [...pools]);
        const pause = pools.map((p) => `timeout ${pauseTimeout} ${poolCommand(p, "PAUSE")}`).join(" && ");
        try {
          await run(router, pause, pools.length * pauseTimeout + 10);
        } catch (e) {
          throw new Error(
            `PAUSE of the pools on ${router} did not finish within ${pauseTimeout} s (a transaction kept running?): nothing was switched. ${(e as Error).message}`,
          );
        }
      }),
    );
    times.pauseMs = Date.now() - started;
    const until = Date.now() + (hold.routeTimeoutS ?? 60) * 1000;
    const release = (primary: string) =>
      settleAll(
        hold.routers.map(async (router) => {
          // The last resume attempt's failure, for the error when the routers never get there.
          let lastError = "";
          const late = () =>
            new Error(
              `HAProxy on ${router} does not send read-write clients to ${primary}, or it takes no writes` +
                (lastError ? ` (last resume attempt: ${lastError})` : ""),
            );
          while (!(await routesTo(run, router, hold.statsUrl, primary))) {
            if (done || Date.now() > until) throw late();
            await sleep(100);
          }
          const resume = resumeCommand(paused.get(router) ?? [], 10);
          const attempt = () =>
            run(router, resume, 60).catch((e: unknown) => {
              lastError = (e as Error).message.slice(0, 300);
              return "";
            });
          while (!(await attempt()).includes("resumed")) {
            if (done || Date.now() > until) throw late();
            await sleep(100);
          }
          paused.delete(router);
        }),
      );
    const moving = move().then(
      (primary) => {
        times.moveMs = Date.now() - started - times.pauseMs;
        return primary;
      },
      (e: unknown) => {
        done = true; // nothing to watch for any more
        throw e;
      },
    );
    const resumed = async (primary: string) => {
      await release(primary);
      times.heldMs = Date.now() - started;
    };
    await (candidate ? settleAll([moving, resumed(candidate)]) : moving.then(resumed));
  } finally {
    done = true;
    await Promise.all([...paused].map(([router, held]) => run(router, resumeCommand(held), 60).catch(() => undefined)));
    times.heldMs ||= Date.now() - started;
  }
  times.resumeMs = Math.max(0, times.heldMs - times.pauseMs - times.moveMs);
  return times;
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
