/**
 * End-to-end helpers: a throw-away copy of a repository stack (own name, subnet and ports), run
 * through `scripts/stack.sh` (what `make up/down/preview` run) under either engine, and probes of
 * the resulting cluster.
 *
 * The engine is the one `scripts/stack.sh` picks (the Pulumi CLI when the pinned toolchain is
 * installed, else the direct runner), or PATRONI_STACK_ENGINE=pulumi|direct.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { resolveSettings } from "../../settings";
import { localSuite, rawSettings, readStackFile } from "../../settings/stackFile";
import { localPrefix, planCluster } from "../../plan";
import { PATRONI_CONFIG_PATH } from "../../configs/patroni";
import { SOURCE_CLIENT_ENV } from "../../configs/tls";
import { renderSwitchoverCommand } from "../../configs/restApi";

const ROOT = path.resolve(__dirname, "..", "..");
const STACK_SH = path.join(ROOT, "scripts", "stack.sh");

export type EngineName = "pulumi" | "direct";

/** The engine the suite runs under (as scripts/stack.sh would choose it). */
export const ENGINE: EngineName = (() => {
  const forced = process.env.PATRONI_STACK_ENGINE;
  if (forced === "pulumi" || forced === "direct") return forced;
  return spawnSync(path.join(ROOT, "scripts", "toolchain.sh"), ["--check"]).status === 0 ? "pulumi" : "direct";
})();

export interface EngineEvent {
  op: "create" | "update" | "replace" | "same" | "delete";
  type: string;
  name: string;
  /** When it ended, in seconds since the run's first event (Pulumi's event log: whole seconds). */
  at?: number;
}

/**
 * A deploy from nothing in phases: when (seconds into the run) the last step of each phase ended.
 * Host names are the stack's; `leader` is the bootstrap leader's.
 */
export function deployPhases(events: EngineEvent[], leader: string): Record<string, number> {
  const phases: [string, RegExp][] = [
    ["image", /^local-image$/],
    ["containers_ssh_ready", /^local-(?!image$|network$|ssh-key-seed$)/],
    ["packages", /-packages-[^-]+-run$/],
    ["etcd_healthy", /-etcd-[^-]+-start-run$/],
    ["leader_primary", new RegExp(`-patroni-${leader}-start-run$`)],
    ["replicas_streaming", new RegExp(`-patroni-(?!${leader}-)[^-]+-start-run$`)],
    ["haproxy_routing", /-haproxy-[^-]+-start-run$/],
    ["vip_held", /-vip-[^-]+-start-run$/],
  ];
  const out: Record<string, number> = {};
  for (const [phase, re] of phases) {
    const ends = events.filter((e) => e.op !== "same" && e.at !== undefined && re.test(e.name)).map((e) => e.at ?? 0);
    if (ends.length) out[`phase_${phase}_s`] = Math.max(...ends);
  }
  return out;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  events: EngineEvent[];
  seconds: number;
}

export interface TestStack {
  name: string;
  dir: string;
  prefix: string;
  hosts: string[];
  leader: string;
  rwPort: number;
  roPort: number;
  pgPort: number;
  /** PostgreSQL's data directory (as the stack's defaults make it). */
  dataDir: string;
  /** PostgreSQL major version and the hosts' Debian suite, as the stack config asks. */
  pgVersion: number;
  suite: string;
  /** How many hosts run Patroni. */
  hostsRunningPatroni: number;
  /** Hosts running HAProxy. */
  routers: string[];
  /** Each host's address on the stack's network. */
  addresses: Record<string, string>;
  /** Each Patroni member's REST API (as the plan has it). */
  restUrls: Record<string, string>;
  /** Hosts running etcd. */
  etcdHosts: string[];
  /** Hosts running Patroni, the bootstrap leader first. */
  patroniHosts: string[];
  /** The routers' virtual IP, when the stack has one. */
  vip?: string;
  /** The backup repository's host (roles.backup), when the stack has one. */
  backupHost?: string;
  /** The clients' ports on the routers (and on the VIP): PgBouncer's pools, or HAProxy's listeners. */
  routerPorts: { readWrite: number; readOnly: number; stats: number };
  /** PgBouncer in transaction mode pools the clients' ports: a switchover holds its clients. */
  pooled: boolean;
  /** PgBouncer's pool mode and size on each router, when the stack pools. */
  pool?: { mode: string; size: number };
  /** HAProxy's direct ports beside the pools (published on loopback, and on the routers). */
  directRwPort?: number;
  directRoPort?: number;
  directRouterPorts?: { readWrite: number; readOnly: number };
  tls: boolean;
}

/** Remove containers and networks an earlier, aborted run of the same topology left behind. */
function removeAbandoned(kind: string, source: string): void {
  const ours = (n: string) => n.startsWith(`${localPrefix(`${kind}-${source}`)}-`);
  for (const c of sh("docker", ["ps", "-a", "--format", "{{.Names}}"]).split("\n").filter(ours)) {
    spawnSync("docker", ["rm", "-f", c]);
  }
  for (const n of sh("docker", ["network", "ls", "--format", "{{.Name}}"]).split("\n").filter(ours)) {
    spawnSync("docker", ["network", "rm", n]);
  }
}

export interface StackOptions {
  /** First word of the stack's name (default `e2e`). */
  kind?: string;
  /** `patroni-stack:<key>` values: objects are merged over the copied file's, lists replace them. */
  overrides?: Record<string, Record<string, unknown> | unknown[]>;
  /** Another stack of that stack's project (its directory, state and passphrase). */
  project?: TestStack;
}

/** Copy Pulumi.<source>.yaml into a temp project with a unique stack name, subnet and ports. */
export function makeStack(source: string, slot: number, options: StackOptions = {}): TestStack {
  const kind = options.kind ?? "e2e";
  removeAbandoned(kind, source);
  const name = `${kind}-${source}-${process.pid}`;
  const dir = options.project?.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), `patroni-stack-${name}-`));
  if (!options.project) {
    // A project of its own whose program is this checkout's.
    const project = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), stringify({ ...project, main: path.relative(dir, ROOT) }));
  }
  const doc = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${source}.yaml`), "utf8")) as {
    config: Record<string, unknown>;
    encryptionsalt?: string;
  };
  // The checkout's own Pulumi CLI runs may have salted its stack file for the checkout's passphrase.
  delete doc.encryptionsalt;
  const cfg = doc.config;
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    const full = `patroni-stack:${key}`;
    cfg[full] = Array.isArray(value) ? value : { ...((cfg[full] ?? {}) as Record<string, unknown>), ...value };
  }
  const subnet = `10.214.${slot}`;
  const hosts = cfg["patroni-stack:hosts"] as { address: string }[];
  hosts.forEach((h, i) => (h.address = `${subnet}.${11 + i}`));
  cfg["patroni-stack:local"] = {
    ...((cfg["patroni-stack:local"] ?? {}) as Record<string, unknown>),
    subnet: `${subnet}.0/24`,
    sshPortBase: 22200 + slot * 10,
    portOffset: 20000 + slot * 100,
  };
  const haproxy = cfg["patroni-stack:haproxy"] as { vip?: { address: string } } | undefined;
  if (haproxy?.vip) haproxy.vip.address = `${subnet}.100`;
  fs.writeFileSync(path.join(dir, `Pulumi.${name}.yaml`), stringify(doc));
  // What the test expects comes from the program's own config resolution and plan (a test sets
  const config = readStackFile(dir, name);
  // the S3 keys, secrets, after the stack file is written: see setSecretConfig).
  const plan = planCluster(resolveSettings(rawSettings(config), { privateKey: false, password: false, s3Keys: true }));
  const suite = localSuite(config) ?? "bookworm";
  // The hosts' base image for this suite (quick when it exists already).
  sh(path.join(ROOT, "scripts", "base-image.sh"), [suite]);
  return {
    name,
    dir,
    prefix: localPrefix(name),
    hosts: plan.hosts.map((h) => h.name),
    leader: plan.patroni.leader.name,
    dataDir: plan.patroni.dataDir,
    rwPort: plan.client.readWritePort,
    roPort: plan.client.readOnlyPort,
    pgPort: plan.patroni.leader.postgres.port,
    pgVersion: plan.patroni.pgVersion,
    suite,
    hostsRunningPatroni: plan.patroni.members.length,
    routers: plan.routers.map((r) => r.name),
    addresses: Object.fromEntries(plan.hosts.map((h) => [h.name, h.address])),
    restUrls: Object.fromEntries(plan.patroni.members.map((m) => [m.name, m.restUrl])),
    etcdHosts: plan.etcd.members.map((m) => m.name),
    patroniHosts: plan.patroni.members.map((m) => m.name),
    vip: plan.vip?.address,
    backupHost: plan.backup?.host.name,
    routerPorts: {
      readWrite: plan.haproxy.readWritePort,
      readOnly: plan.haproxy.readOnlyPort,
      stats: plan.haproxy.statsPort,
    },
    pooled: plan.pgbouncer?.poolMode === "transaction",
    pool: plan.pgbouncer ? { mode: plan.pgbouncer.poolMode, size: plan.pgbouncer.poolSize } : undefined,
    directRwPort: plan.client.directReadWritePort,
    directRoPort: plan.client.directReadOnlyPort,
    directRouterPorts: plan.pgbouncer ? plan.routers[0].listeners : undefined,
    tls: plan.tls !== undefined,
  };
}

/** The engine's resource operations, from the runner's event file or Pulumi's event log. */
export function readEvents(file: string): EngineEvent[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, "utf8").trim();
  if (text.startsWith("[")) return JSON.parse(text) as EngineEvent[];
  interface Step {
    op: string;
    urn: string;
    type: string;
  }
  const steps: { kind: "pre" | "done"; step: Step; at: number }[] = [];
  let first: number | undefined;
  for (const line of text.split("\n").filter(Boolean)) {
    const e = JSON.parse(line) as {
      timestamp?: number;
      resourcePreEvent?: { metadata: Step };
      resOutputsEvent?: { metadata: Step };
    };
    first ??= e.timestamp;
    const at = (e.timestamp ?? 0) - (first ?? 0);
    if (e.resourcePreEvent) steps.push({ kind: "pre", step: e.resourcePreEvent.metadata, at });
    if (e.resOutputsEvent) steps.push({ kind: "done", step: e.resOutputsEvent.metadata, at });
  }
  // A run reports completions; a preview may report only what it plans.
  const kind = steps.some((s) => s.kind === "done") ? "done" : "pre";
  const events: EngineEvent[] = [];
  const replaced = new Set<string>();
  for (const { step, at } of steps.filter((s) => s.kind === kind)) {
    if (step.type.startsWith("pulumi:") || step.type.startsWith("patroni-stack:")) continue;
    const name = step.urn.slice(step.urn.lastIndexOf("::") + 2);
    const op = (
      { same: "same", create: "create", update: "update", delete: "delete" } as Record<string, EngineEvent["op"]>
    )[step.op];
    if (op) events.push({ op, type: step.type, name, at });
    else if (/replace/.test(step.op) && !replaced.has(step.urn)) {
      replaced.add(step.urn);
      events.push({ op: "replace", type: step.type, name, at });
    }
  }
  return events;
}

/** Engines this machine has: the direct runner always, the Pulumi CLI when installed. */
export function availableEngines(): EngineName[] {
  const pulumi = spawnSync(path.join(ROOT, "scripts", "toolchain.sh"), ["--check"]).status === 0;
  return pulumi ? ["direct", "pulumi"] : ["direct"];
}

/**
 * A throw-away project in a temp directory for a program of this checkout (`main`, relative to
 * the checkout) and one stack with the given config; runs with `runStack`.
 */
export function makeProject(name: string, main: string, config: Record<string, unknown>): TestStack {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `patroni-stack-${name}-`));
  const project = { name: "patroni-stack", runtime: { name: "nodejs", options: { typescript: true } } };
  fs.writeFileSync(
    path.join(dir, "Pulumi.yaml"),
    stringify({ ...project, main: path.relative(dir, path.join(ROOT, main)) }),
  );
  fs.writeFileSync(path.join(dir, `Pulumi.${name}.yaml`), stringify({ config }));
  return { name, dir, prefix: localPrefix(name) } as TestStack;
}

/**
 * A secret of the stack's config, as a user sets it (`scripts/stack.sh secret KEY STACK`, the value
 * on stdin): encrypted in the stack file in the Pulumi CLI's format, with the stack's passphrase.
 */
export function setSecretConfig(stack: TestStack, key: string, value: string): void {
  const set = spawnSync(path.join(ROOT, "scripts", "stack.sh"), ["secret", key, stack.name], {
    env: engineEnv(stack),
    input: value,
    encoding: "utf8",
  });
  if (set.status !== 0) throw new Error(`stack.sh secret ${key}: ${set.stderr}`);
}

/** The environment of a stack's runs: its own Pulumi state and passphrase, in its directory. */
function engineEnv(stack: TestStack, engine: EngineName = ENGINE): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATRONI_STACK_ENGINE: engine,
    PATRONI_STACK_DIR: stack.dir,
    PULUMI_BACKEND_URL: `file://${stack.dir}/.pulumi-state`,
    PULUMI_CONFIG_PASSPHRASE: "e2e",
    PULUMI_CONFIG_PASSPHRASE_FILE: "",
  };
}

/**
 * `scripts/stack.sh <verb>` on the test stack, as a user runs it; `interrupt` sends a signal to
 * the whole run (the engine and what it started) after the given seconds.
 */
export function runStack(
  stack: TestStack,
  verb: "up" | "preview" | "down" | "refresh",
  interrupt?: { signal: NodeJS.Signals; afterSeconds: number },
  engine: EngineName = ENGINE,
  /** Stream everything (VERBOSE=1), as the tests read the steps' output; false: the display. */
  verbose = true,
): Promise<RunResult> {
  const eventsFile = path.join(stack.dir, `events-${verb}-${Date.now()}.json`);
  const started = Date.now();
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(STACK_SH, [verb, stack.name], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...engineEnv(stack, engine), PATRONI_STACK_EVENTS: eventsFile, VERBOSE: verbose ? "1" : "0" },
      detached: true,
    });
    let output = "";
    child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (output += c.toString()));
    const timer = interrupt
      ? setTimeout(() => {
          // As a terminal would: the signal goes to the engine, not only to the wrapper script.
          if (child.pid) process.kill(-child.pid, interrupt.signal);
        }, interrupt.afterSeconds * 1000)
      : undefined;
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      const events = readEvents(eventsFile);
      fs.rmSync(eventsFile, { force: true });
      fs.writeFileSync(path.join(stack.dir, `${verb}-${started}.log`), output);
      resolve({ code, signal, output, events, seconds: (Date.now() - started) / 1000 });
    });
  });
}

export function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout.trim();
}

export function onHost(stack: TestStack, host: string, script: string): string {
  return sh("docker", ["exec", `${stack.prefix}-${host}`, "bash", "-c", `${SOURCE_CLIENT_ENV}\n${script}`]);
}

export interface Member {
  Member: string;
  Role: string;
  State: string;
  TL?: number;
}

/** ctl (cli/ctl.ts) on a test stack: its exit status and its output (stdout, then stderr). */
export function ctl(stack: TestStack, args: string[], input?: string): { status: number | null; out: string } {
  const r = spawnSync(
    path.join(ROOT, "node_modules", ".bin", "ts-node"),
    ["--swc", path.join(ROOT, "cli", "ctl.ts"), ...args],
    {
      env: { ...process.env, STACK: stack.name, PATRONI_STACK_DIR: stack.dir },
      encoding: "utf8",
      input: input ?? "",
    },
  );
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** ctl without blocking this process (a client of the test keeps running meanwhile). */
export function ctlAsync(stack: TestStack, args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      path.join(ROOT, "node_modules", ".bin", "ts-node"),
      ["--swc", path.join(ROOT, "cli", "ctl.ts"), ...args],
      {
        env: { ...process.env, STACK: stack.name, PATRONI_STACK_DIR: stack.dir },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (status) => resolve({ status, out }));
  });
}

/** ctl that must succeed: its output. */
export function ctlOk(stack: TestStack, ...args: string[]): string {
  const r = ctl(stack, args);
  if (r.status !== 0) throw new Error(`ctl ${args.join(" ")}: exit ${r.status}\n${r.out}`);
  return r.out;
}

export function patronictlList(stack: TestStack, host: string): Member[] {
  return JSON.parse(onHost(stack, host, `patronictl -c ${PATRONI_CONFIG_PATH} list -f json`)) as Member[];
}

/** psql through HAProxy on 127.0.0.1 with the superuser's password from the stack's pgpass file. */
export function psql(stack: TestStack, port: number, sql: string, host = "127.0.0.1"): string {
  return sh("psql", ["-X", "-At", "-h", host, "-p", String(port), "-U", "postgres", "-d", "postgres", "-c", sql], {
    PGPASSFILE: path.join(stack.dir, ".pulumi-state", `${stack.name}.pgpass`),
    PGCONNECT_TIMEOUT: "5",
  });
}

/** Containers and networks of the stack that still exist. */
export function leftovers(stack: TestStack): string[] {
  const containers = sh("docker", ["ps", "-a", "--format", "{{.Names}}"]).split("\n");
  const networks = sh("docker", ["network", "ls", "--format", "{{.Name}}"]).split("\n");
  return [...containers, ...networks].filter((n) => n.startsWith(stack.prefix));
}

/** Remove whatever an aborted test left (containers, network, temp dir). */
export function removeStack(stack: TestStack, options: { keepProject?: boolean } = {}): void {
  for (const c of sh("docker", ["ps", "-a", "--format", "{{.Names}}"]).split("\n")) {
    if (c.startsWith(`${stack.prefix}-`)) spawnSync("docker", ["rm", "-f", c]);
  }
  spawnSync("docker", ["network", "rm", stack.prefix]);
  if (!options.keepProject) fs.rmSync(stack.dir, { recursive: true, force: true });
}

/** How many resources the engine's state of the stack holds (0 once destroyed). */
export function stateResources(stack: TestStack): number {
  if (ENGINE === "direct") {
    const file = path.join(stack.dir, ".pulumi-state", "direct", `${stack.name}.json`);
    if (!fs.existsSync(file)) return 0;
    return (JSON.parse(fs.readFileSync(file, "utf8")) as { resources: unknown[] }).resources.length;
  }
  // No backend yet: nothing of this stack has run.
  if (!fs.existsSync(path.join(stack.dir, ".pulumi-state"))) return 0;
  const exportState = () =>
    spawnSync("pulumi", ["stack", "export", "--stack", stack.name], {
      cwd: stack.dir,
      env: { ...engineEnv(stack), PATH: `${toolchainBin()}:${process.env.PATH}` },
      encoding: "utf8",
      // A deployed cluster's state is several megabytes.
      maxBuffer: 256 * 1024 * 1024,
    });
  let r = exportState();
  for (let i = 0; i < 3 && r.status !== 0 && !/no stack named/i.test(r.stderr); i++) {
    spawnSync("sleep", ["2"]);
    r = exportState();
  }
  if (r.status !== 0) {
    if (/no stack named/i.test(r.stderr)) return 0;
    throw new Error(`pulumi stack export --stack ${stack.name} failed: ${r.error?.message ?? r.stderr.trim()}`);
  }
  const resources = (JSON.parse(r.stdout) as { deployment?: { resources?: { type: string }[] } }).deployment?.resources;
  return (resources ?? []).filter((x) => !x.type.startsWith("pulumi:")).length;
}

/** The stack's outputs, secrets shown (the runner's outputs file, or `pulumi stack output`). */
export function stackOutputs(stack: TestStack): Record<string, unknown> {
  if (ENGINE === "direct") {
    const file = path.join(stack.dir, ".pulumi-state", "direct", `${stack.name}.outputs.json`);
    return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  }
  const r = spawnSync("pulumi", ["stack", "output", "--stack", stack.name, "--show-secrets", "--json"], {
    cwd: stack.dir,
    env: { ...engineEnv(stack), PATH: `${toolchainBin()}:${process.env.PATH}` },
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`pulumi stack output --stack ${stack.name} failed: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

function toolchainBin(): string {
  return sh(path.join(ROOT, "scripts", "toolchain.sh"), []);
}

/** Merge one topology's timings, under the engine that ran them, into bench/results/e2e.json. */
export function recordBenchmark(topology: string, values: Record<string, number>): void {
  const file = path.join(ROOT, "bench", "results", "e2e.json");
  const data = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>) : {};
  const engines = ((data[topology] as Record<string, unknown> | undefined)?.engines ?? {}) as Record<string, unknown>;
  // A run of some tests only (jest -t) updates what it measured and keeps the rest.
  const before = (engines[ENGINE] ?? {}) as Record<string, unknown>;
  engines[ENGINE] = { ...before, ...values, recorded: new Date().toISOString(), machine: `${os.cpus().length} cores` };
  data[topology] = { engines };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
}

/** A planned switchover through Patroni's REST API (basic auth read from patroni.yml on the host). */
export function switchover(stack: TestStack, from: string, to: string): void {
  onHost(stack, from, renderSwitchoverCommand(stack.restUrls[from], from, to));
}

/** Change one `patroni-stack:<key>` object of the test stack's file (a day-2 edit). */
/** One key of the test stack's config, as its file holds it now. */
export function readConfig(stack: TestStack, key: string): Record<string, unknown> {
  const file = path.join(stack.dir, `Pulumi.${stack.name}.yaml`);
  const doc = parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
  return (doc.config[`patroni-stack:${key}`] as Record<string, unknown> | undefined) ?? {};
}

/** Replace a stack config key's whole value (e.g. a list). */
export function setConfig(stack: TestStack, key: string, value: unknown): void {
  const file = path.join(stack.dir, `Pulumi.${stack.name}.yaml`);
  const doc = parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
  doc.config[`patroni-stack:${key}`] = value;
  fs.writeFileSync(file, stringify(doc));
}

export function editConfig(stack: TestStack, key: string, change: Record<string, unknown>): void {
  const file = path.join(stack.dir, `Pulumi.${stack.name}.yaml`);
  const doc = parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
  const full = `patroni-stack:${key}`;
  doc.config[full] = { ...((doc.config[full] as Record<string, unknown> | undefined) ?? {}), ...change };
  fs.writeFileSync(file, stringify(doc));
}

/**
 * The overrides of a small second stack: one host that runs every role but the backup, one
 * repository host, one router (so no virtual IP).
 */
export function oneMemberWithBackup(member: string, backupHost: string) {
  return {
    hosts: [
      { name: member, address: "0.0.0.0" },
      { name: backupHost, address: "0.0.0.0" },
    ],
    roles: { etcd: [member], patroni: [member], haproxy: [member], backup: [backupHost] },
    haproxy: { vip: undefined },
  };
}

/**
 * Rows 1..100 in `table`, a backup, rows 101..150, then the target time (returned), then rows
 * 151..200: a restore to the target holds exactly 1..150.
 */
export async function marksAroundTarget(stack: TestStack, table: string): Promise<string> {
  psql(stack, stack.rwPort, `drop table if exists ${table}; create table ${table}(id int primary key)`);
  psql(stack, stack.rwPort, `insert into ${table} select generate_series(1, 100)`);
  ctlOk(stack, "backup");
  psql(stack, stack.rwPort, `insert into ${table} select generate_series(101, 150)`);
  await new Promise((res) => setTimeout(res, 1100));
  const target = psql(
    stack,
    stack.rwPort,
    "select to_char(clock_timestamp() at time zone 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
  );
  await new Promise((res) => setTimeout(res, 1100));
  psql(stack, stack.rwPort, `insert into ${table} select generate_series(151, 200)`);
  return target;
}
