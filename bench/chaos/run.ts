/**
 * `make chaos`: every fault scenario under each failover profile, on fresh local stacks, measured
 * with the load client. Writes bench/results/chaos.json (one record per scenario and profile),
 * the clients' timelines, and docs/benchmarks.md with a picture per scenario.
 *
 *   npx ts-node --swc bench/chaos/run.ts [--smoke] [--profiles fast,guide]
 *       [--scenarios id,id] [--hog-seconds 600] [--on bookworm]
 *
 * `--on <stack>` runs the dev scenarios on another repository stack and writes
 * bench/results/chaos-<stack>.json instead (no report).
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { Profile } from "../../settings";
import { pgpassPassword } from "../../configs/pgpass";
import { ENGINE, makeStack, removeStack, runStack, TestStack } from "../../test/e2e/stack";
import { clientFiles } from "../../cli/connection";
import { Endpoint, LoadClient, prepare, Sample, Verdict } from "./client";
import { health, members, reconnect, reinitBroken, settle, sleep, startHost } from "./cluster";
import { recordKey, writeReport } from "./report";
import { Scenario, SCENARIOS, stoppedHosts } from "./scenarios";

const ROOT = path.resolve(__dirname, "..", "..");
export const RESULTS = path.join(ROOT, "bench", "results");

export interface ChaosRecord {
  run: string;
  scenario: string;
  title: string;
  profile: Profile;
  topology: string;
  engine: string;
  /** The clients' path: PgBouncer's transaction pools in front of HAProxy, or HAProxy alone. */
  pooled: boolean;
  facts: Record<string, string>;
  /** Client clock (ms): the fault's start and end, and when a new leader was first seen. */
  fault: { start: number; end: number; leaderSeen?: number };
  writes: Verdict["writes"];
  reads: Verdict["reads"];
  /** How long the client's requests could take before they counted as failed. */
  requestTimeoutMs?: number;
  /** The distinct errors of the failed writes (at most five), for telling their causes apart. */
  errors?: string[];
  /** Time from the fault's end until the after-conditions held. */
  recoverySeconds: number;
  after: { ok: boolean; detail: string; leader?: string; timeline?: number };
  before: { leader?: string; timeline?: number };
  /** Detection + promotion (fault start → new leader seen) and routing (→ first write after it). */
  breakdown?: { electedAfterMs: number; routedAfterMs: number };
  versions: Record<string, string>;
  machine: string;
  recorded: string;
}

export interface HogRecord {
  run: string;
  profile: Profile;
  seconds: number;
  hogs: number;
  leaderChanges: number;
  timelineBefore?: number;
  timelineAfter?: number;
  writes: Verdict["writes"];
  machine: string;
  recorded: string;
}

export interface ChaosOptions {
  profiles: Profile[];
  scenarios: Scenario[];
  hogSeconds: number;
  /** Where records and timelines go (chaos.json / chaos-timelines.json, or the smoke files). */
  label: string;
  /** The repository stack the `dev` scenarios run on (default dev). */
  on?: string;
  /**
   * A stack already up, of the scenarios' single topology and the single profile, to run on
   * instead of deploying one: it is left up (the end-to-end suite runs the smoke on its own
   * cluster and destroys it afterwards).
   */
  deployed?: TestStack;
  log?: (line: string) => void;
}

export interface ChaosResult {
  records: ChaosRecord[];
  hogs: HogRecord[];
  timelines: Record<string, Sample[]>;
}

const SLOTS: Record<string, number> = { dev: 40, seed: 41 };

function machine(): string {
  return `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.cpus()[0]?.model ?? "?"}`;
}

function versions(stack: TestStack): Record<string, string> {
  const host = stack.patroniHosts[0];
  const r = spawnSync(
    "docker",
    [
      "exec",
      `${stack.prefix}-${host}`,
      "bash",
      "-c",
      "dpkg-query -W -f '${Package}=${Version}\\n' patroni etcd-server haproxy 'postgresql-[0-9]*' 2>/dev/null",
    ],
    { encoding: "utf8" },
  );
  return Object.fromEntries(
    (r.stdout ?? "")
      .trim()
      .split("\n")
      .filter((l) => /=.+/.test(l))
      .map((l) => l.split("=") as [string, string]),
  );
}

/**
 * Where clients connect: the routers' virtual IP when the stack has one, else the first router's
 * ports on 127.0.0.1; with the superuser's password from the stack's pgpass file. `direct`: HAProxy's
 * direct listeners beside PgBouncer's pools (a pooled stack only).
 */
export function endpoints(stack: TestStack, path: "clients" | "direct" = "clients"): { rw: Endpoint; ro: Endpoint } {
  const files = clientFiles(stack.dir, stack.name);
  const pgpass = fs.readFileSync(files.pgpass, "utf8");
  const ca = fs.existsSync(files.ca) ? fs.readFileSync(files.ca, "utf8") : undefined;
  const host = stack.vip ?? "127.0.0.1";
  const at = (port: number): Endpoint => ({
    host,
    port,
    user: "postgres",
    database: "postgres",
    password: pgpassPassword(pgpass, host, port, "postgres"),
    ca,
  });
  if (path === "direct") {
    const ports = stack.vip
      ? stack.directRouterPorts
      : stack.directRwPort !== undefined && stack.directRoPort !== undefined
        ? { readWrite: stack.directRwPort, readOnly: stack.directRoPort }
        : undefined;
    if (!ports) throw new Error(`${stack.name} has no direct ports: pgbouncer.enabled is false`);
    return { rw: at(ports.readWrite), ro: at(ports.readOnly) };
  }
  return stack.vip
    ? { rw: at(stack.routerPorts.readWrite), ro: at(stack.routerPorts.readOnly) }
    : { rw: at(stack.rwPort), ro: at(stack.roPort) };
}

/**
 * How long a request may take before it counts as failed: 2 s straight to HAProxy; through
 * transaction pools, 60 s, because a planned switchover holds statements (PAUSE) instead of
 * failing them, for as long as the switchover takes and the new primary needs to take writes
 * (17 to 41 s measured under the chaos client on 2 busy cores), and an application behind a pool
 * waits for them.
 */
export function requestTimeoutMs(stack: TestStack, path: "clients" | "direct" = "clients"): number {
  return stack.pooled && path === "clients" ? 60_000 : 2000;
}

/**
 * One scenario under load; returns a record and a timeline per client path. On a pooled stack two
 * clients run side by side, one through PgBouncer's pools and one through HAProxy's direct ports,
 * through the same fault.
 */
async function measure(
  stack: TestStack,
  s: Scenario,
  profile: Profile,
  run: string,
  log: (l: string) => void,
): Promise<{ record: ChaosRecord; samples: Sample[] }[]> {
  const pre = await settle(stack, 180);
  if (!pre.ok) throw new Error(`${s.id}: unhealthy before the fault: ${pre.detail}`);
  if (s.prepare) await s.prepare(stack);
  const before = await settle(stack, 120);
  const paths = stack.pooled ? (["clients", "direct"] as const) : (["clients"] as const);
  const clients = paths.map((p) => {
    const { rw, ro } = endpoints(stack, p);
    return {
      pooled: stack.pooled && p === "clients",
      client: new LoadClient({
        rw,
        ro,
        intervalMs: 50,
        maxSeconds: 420,
        maxRequests: 8400,
        requestTimeoutMs: requestTimeoutMs(stack, p),
        run: `${run}-${profile}-${s.id}${p === "direct" && stack.pooled ? "-direct" : ""}`,
      }),
    };
  });
  // The fault is marked on the first client's clock; the others started within a millisecond of it.
  const clock = clients[0].client;
  const fault: ChaosRecord["fault"] = { start: 0, end: 0 };
  for (const c of clients) c.client.start();
  await sleep(3);
  let facts: Record<string, string> = {};
  try {
    facts = await s.run(stack, {
      faultStart: () => (fault.start = clock.now()),
      faultEnd: () => (fault.end = clock.now()),
      leaderChanged: () => (fault.leaderSeen ??= clock.now()),
    });
  } finally {
    // Whatever happened, no host stays down.
    for (const h of await stoppedHosts(stack)) await startHost(stack, h);
  }
  await sleep(s.observe);
  let after = await settle(stack, 240);
  if (!after.ok) {
    // Not recovered by itself: rebuild what is broken so the next scenario starts healthy.
    const rebuilt = await reinitBroken(stack);
    const detail = `${after.detail}${rebuilt.length ? `; rebuilt by reinit: ${rebuilt.join(", ")}` : ""}`;
    after = { ...(await settle(stack, 240)), ok: false, detail };
  }
  await sleep(2);
  const measured: { pooled: boolean; samples: Sample[]; verdict: Verdict }[] = [];
  for (const c of clients) {
    const samples = await c.client.stop();
    measured.push({ pooled: c.pooled, samples, verdict: await c.client.verify() });
  }
  if (s.restore) await s.restore(stack);
  const shared = {
    run,
    scenario: s.id,
    title: s.title,
    profile,
    topology: s.topology === "dev" ? (stack.name.split("-")[1] ?? s.topology) : s.topology,
    engine: ENGINE,
    facts,
    fault,
    recoverySeconds: Math.round(((after.seconds * 1000 + s.observe * 1000) / 1000) * 10) / 10,
    after: { ok: after.ok, detail: after.detail, leader: after.leader, timeline: after.timeline },
    before: { leader: before.leader, timeline: before.timeline },
    versions: versions(stack),
    machine: machine(),
    recorded: new Date().toISOString(),
  };
  return measured.map(({ pooled, samples, verdict }) => {
    let breakdown: ChaosRecord["breakdown"];
    if (fault.leaderSeen !== undefined) {
      const seen = fault.leaderSeen;
      const firstAfter = samples.find((x) => x.kind === "write" && x.ok && x.t >= seen);
      breakdown = {
        electedAfterMs: seen - fault.start,
        routedAfterMs: (firstAfter ? firstAfter.t + firstAfter.latencyMs : seen) - seen,
      };
    }
    log(
      `  ${s.id} [${profile}${stack.pooled ? (pooled ? ", pooled" : ", direct") : ""}]: ` +
        `longest write gap ${(verdict.writes.longestGapMs / 1000).toFixed(2)} s, failed ${verdict.writes.failed}, ` +
        `lost ${verdict.writes.lost}, ghost ${verdict.writes.ghost}, after: ${after.ok ? "ok" : after.detail}`,
    );
    const errors = [
      ...new Set(samples.filter((x) => x.kind === "write" && !x.ok && x.error).map((x) => x.error as string)),
    ].slice(0, 5);
    const record: ChaosRecord = {
      ...shared,
      pooled,
      requestTimeoutMs: requestTimeoutMs(stack, pooled ? "clients" : "direct"),
      writes: verdict.writes,
      reads: verdict.reads,
      breakdown,
      ...(errors.length > 0 ? { errors } : {}),
    };
    return { record, samples };
  });
}

function failed(
  s: Scenario,
  profile: Profile,
  topology: string,
  pooled: boolean,
  run: string,
  error: string,
): ChaosRecord {
  const none = { ok: 0, failed: 0, longestGapMs: 0, longestGapAt: 0 };
  return {
    run,
    scenario: s.id,
    title: s.title,
    profile,
    topology,
    engine: ENGINE,
    pooled,
    facts: { error },
    fault: { start: 0, end: 0 },
    writes: { ...none, lost: 0, ghost: 0 },
    reads: none,
    recoverySeconds: 0,
    after: { ok: false, detail: `scenario failed: ${error.split("\n")[0]}` },
    before: {},
    versions: {},
    machine: machine(),
    recorded: new Date().toISOString(),
  };
}

/** After a scenario that failed half way: every host running and connected, its change undone. */
async function repair(stack: TestStack, s: Scenario): Promise<void> {
  for (const h of await stoppedHosts(stack)) await startHost(stack, h);
  for (const h of stack.hosts) await reconnect(stack, h);
  if (s.restore) await s.restore(stack).catch(() => undefined);
  if (!(await settle(stack, 120)).ok) await reinitBroken(stack);
  await settle(stack, 240);
}

/** CPU hogs on the machine for `seconds` under load: a fast profile must not fail over by itself. */
async function hog(stack: TestStack, profile: Profile, seconds: number, run: string): Promise<HogRecord> {
  const before = await health(stack);
  const { rw, ro } = endpoints(stack);
  const client = new LoadClient({
    rw,
    ro,
    intervalMs: 50,
    maxSeconds: seconds + 30,
    maxRequests: Math.ceil((seconds + 30) * 20),
    requestTimeoutMs: requestTimeoutMs(stack),
    run: `${run}-${profile}-hog`,
  });
  client.start();
  const n = os.cpus().length;
  const hogs = Array.from({ length: n }, () =>
    spawn("timeout", [String(seconds), "sh", "-c", "while :; do :; done"], { stdio: "ignore" }),
  );
  let changes = 0;
  let last = before.leader;
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    await sleep(5);
    const l = (await members(stack))?.find((m) => m.Role === "Leader")?.Member;
    if (l && last && l !== last) changes++;
    if (l) last = l;
  }
  await Promise.all(hogs.map((h) => new Promise((r) => (h.exitCode !== null ? r(0) : h.on("exit", r)))));
  await client.stop();
  const verdict = await client.verify();
  const after = await settle(stack, 120);
  return {
    run,
    profile,
    seconds,
    hogs: n,
    leaderChanges: changes + ((after.timeline ?? 0) > (before.timeline ?? 0) && changes === 0 ? 1 : 0),
    timelineBefore: before.timeline,
    timelineAfter: after.timeline,
    writes: verdict.writes,
    machine: machine(),
    recorded: new Date().toISOString(),
  };
}

/** Run the scenarios of each topology under each profile, each on a fresh stack. */
export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const log = o.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const run = new Date().toISOString().replace(/[-:]/g, "").slice(0, 15);
  const result: ChaosResult = { records: [], hogs: [], timelines: {} };
  const topologies = [...new Set(o.scenarios.map((s) => s.topology))];
  if (o.deployed && (topologies.length !== 1 || o.profiles.length !== 1)) {
    throw new Error(`a deployed stack serves one topology and one profile, not ${topologies} / ${o.profiles}`);
  }
  for (const profile of o.profiles) {
    for (const topology of topologies) {
      // The dev scenarios can run on another three-member stack (e.g. bookworm) with --on.
      const source = topology === "dev" ? (o.on ?? "dev") : topology;
      const stack =
        o.deployed ?? makeStack(source, SLOTS[topology], { kind: "chaos", overrides: { cluster: { profile } } });
      try {
        if (o.deployed) {
          log(`${topology} [${profile}]: on ${stack.name}, already up`);
        } else {
          log(`${topology} [${profile}]: deploying ${stack.name} with ${ENGINE}`);
          const up = await runStack(stack, "up");
          if (up.code !== 0) throw new Error(`up failed:\n${up.output.slice(-3000)}`);
        }
        await prepare(endpoints(stack).rw);
        for (const s of o.scenarios.filter((x) => x.topology === topology)) {
          if (s.pooledOnly && !stack.pooled) {
            log(`  ${s.id} [${profile}]: skipped: ${stack.name} has no PgBouncer pools (pgbouncer.enabled)`);
            continue;
          }
          try {
            for (const { record, samples } of await measure(stack, s, profile, run, log)) {
              result.records.push(record);
              result.timelines[recordKey(record)] = samples.filter((x) => x.kind === "write");
            }
          } catch (e) {
            // Recorded as a failed after-condition; the next scenario starts from a repaired cluster.
            log(`  ${s.id} [${profile}]: FAILED: ${(e as Error).message}`);
            result.records.push(failed(s, profile, topology, stack.pooled, run, (e as Error).message));
            await repair(stack, s);
          }
        }
        if (o.hogSeconds > 0 && topology === "dev" && profile === "fast") {
          log(`  ${o.hogSeconds} s of CPU hogs [${profile}]`);
          const h = await hog(stack, profile, o.hogSeconds, run);
          log(`  leader changes under the hogs: ${h.leaderChanges}`);
          result.hogs.push(h);
        }
      } finally {
        if (!o.deployed) {
          const down = await runStack(stack, "down");
          if (down.code !== 0) log(`down failed (removing the containers):\n${down.output.slice(-2000)}`);
          removeStack(stack);
        }
      }
    }
  }
  fs.mkdirSync(RESULTS, { recursive: true });
  // A partial run (some scenarios or profiles) replaces only what it measured.
  const file = path.join(RESULTS, `${o.label}.json`);
  const timelinesFile = path.join(RESULTS, `${o.label}-timelines.json`);
  const old = fs.existsSync(file)
    ? (JSON.parse(fs.readFileSync(file, "utf8")) as { records: ChaosRecord[]; hogs: HogRecord[] })
    : { records: [], hogs: [] };
  const measured = new Set(result.records.map(recordKey));
  const records = [...old.records.filter((r) => !measured.has(recordKey(r))), ...result.records];
  const order = (r: ChaosRecord) => SCENARIOS.findIndex((s) => s.id === r.scenario);
  records.sort(
    (a, b) =>
      order(a) - order(b) ||
      a.profile.localeCompare(b.profile) ||
      Number(Boolean(a.pooled)) - Number(Boolean(b.pooled)),
  );
  const hogs = result.hogs.length > 0 ? result.hogs : old.hogs;
  fs.writeFileSync(file, `${JSON.stringify({ records, hogs }, null, 2)}\n`);
  const oldTimelines = fs.existsSync(timelinesFile)
    ? (JSON.parse(fs.readFileSync(timelinesFile, "utf8")) as Record<string, [number, number, number][]>)
    : {};
  const fresh = Object.fromEntries(
    Object.entries(result.timelines).map(([k, v]) => [k, v.map((x) => [x.t, x.latencyMs, x.ok ? 1 : 0])]),
  ) as Record<string, [number, number, number][]>;
  fs.writeFileSync(timelinesFile, compactTimelines({ ...oldTimelines, ...fresh }));
  return result;
}

/** One line per scenario: `[t, latency, ok]` triples, small enough to keep in the repository. */
function compactTimelines(t: Record<string, [number, number, number][]>): string {
  const lines = Object.entries(t).map(([k, samples]) => `  ${JSON.stringify(k)}: ${JSON.stringify(samples)}`);
  return `{\n${lines.join(",\n")}\n}\n`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      smoke: { type: "boolean", default: false },
      scenarios: { type: "string" },
      profiles: { type: "string" },
      "hog-seconds": { type: "string" },
      on: { type: "string" },
    },
  });
  const smoke = values.smoke;
  const wanted = values.scenarios?.split(",");
  const unknown = (wanted ?? []).filter((w) => !SCENARIOS.some((s) => s.id === w));
  if (unknown.length > 0) {
    throw new Error(`unknown scenario(s) ${unknown.join(", ")}; known: ${SCENARIOS.map((s) => s.id).join(", ")}`);
  }
  const scenarios = SCENARIOS.filter((s) => (wanted ? wanted.includes(s.id) : !smoke || s.smoke));
  const profiles = (values.profiles ?? (smoke ? "fast" : "fast,guide")).split(",") as Profile[];
  const hogSeconds = Number(values["hog-seconds"] ?? (smoke ? 0 : 600));
  const on = values.on;
  const label = smoke ? "chaos-smoke" : on && on !== "dev" ? `chaos-${on}` : "chaos";
  await runChaos({ profiles, scenarios, hogSeconds, label, on });
  if (label === "chaos") writeReport(RESULTS, path.join(ROOT, "docs"));
}

if (require.main === module) {
  main().catch((e: Error) => {
    process.stderr.write(`chaos: ${e.message}\n`);
    process.exit(1);
  });
}
