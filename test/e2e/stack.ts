/**
 * End-to-end helpers: a throw-away copy of a repository stack (own name, subnet and ports), run
 * through the direct runner in a child process, and probes of the resulting cluster.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";

const ROOT = path.resolve(__dirname, "..", "..");
const RUNNER = path.join(ROOT, "runner", "cli.ts");
const TS_NODE = path.join(ROOT, "node_modules", ".bin", "ts-node");

export interface EngineEvent {
  op: "create" | "update" | "same" | "delete";
  type: string;
  name: string;
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
}

/** Remove containers and networks an earlier, aborted run of the same topology left behind. */
function removeAbandoned(source: string): void {
  const ours = (n: string) => n.startsWith(`patroni-stack-e2e-${source}-`);
  for (const c of sh("docker", ["ps", "-a", "--format", "{{.Names}}"]).split("\n").filter(ours)) {
    spawnSync("docker", ["rm", "-f", c]);
  }
  for (const n of sh("docker", ["network", "ls", "--format", "{{.Name}}"]).split("\n").filter(ours)) {
    spawnSync("docker", ["network", "rm", n]);
  }
}

/** Copy Pulumi.<source>.yaml into a temp project with a unique stack name, subnet and ports. */
export function makeStack(source: string, slot: number): TestStack {
  removeAbandoned(source);
  const name = `e2e-${source}-${process.pid}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `patroni-stack-${name}-`));
  fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
  const doc = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${source}.yaml`), "utf8")) as {
    config: Record<string, unknown>;
  };
  const cfg = doc.config;
  const subnet = `10.214.${slot}`;
  const hosts = cfg["patroni-stack:hosts"] as unknown as { name: string; address: string }[];
  hosts.forEach((h, i) => (h.address = `${subnet}.${11 + i}`));
  cfg["patroni-stack:local"] = {
    ...((cfg["patroni-stack:local"] ?? {}) as Record<string, unknown>),
    subnet: `${subnet}.0/24`,
    sshPortBase: 22200 + slot * 10,
    portOffset: 20000 + slot * 100,
  };
  fs.writeFileSync(path.join(dir, `Pulumi.${name}.yaml`), stringify(doc));
  const haproxy = (cfg["patroni-stack:haproxy"] ?? {}) as { readWritePort?: number; readOnlyPort?: number };
  const pg = (cfg["patroni-stack:postgresql"] ?? {}) as { port?: number; version?: number };
  const local = cfg["patroni-stack:local"] as { suite?: string };
  // The hosts' base image for this suite (quick when it exists already).
  sh(path.join(ROOT, "scripts", "base-image.sh"), [local.suite ?? "bookworm"]);
  const roles = cfg["patroni-stack:roles"] as unknown as { patroni: string[]; haproxy: string[] };
  return {
    name,
    dir,
    prefix: `patroni-stack-${name}`,
    hosts: hosts.map((h) => h.name),
    leader: roles.patroni[0],
    dataDir: `/data/pg${pg.version ?? 15}`,
    rwPort: (haproxy.readWritePort ?? 5000) + 20000 + slot * 100,
    roPort: (haproxy.readOnlyPort ?? 5001) + 20000 + slot * 100,
    pgPort: pg.port ?? 5432,
    pgVersion: pg.version ?? 15,
    suite: local.suite ?? "bookworm",
    hostsRunningPatroni: roles.patroni.length,
    routers: roles.haproxy,
  };
}

/** Start the runner; `interrupt` sends a signal after the given seconds. */
export function runner(
  stack: TestStack,
  verb: "up" | "preview" | "destroy",
  interrupt?: { signal: NodeJS.Signals; afterSeconds: number },
): Promise<RunResult> {
  const eventsFile = path.join(stack.dir, `events-${verb}-${Date.now()}.json`);
  const started = Date.now();
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(
      TS_NODE,
      ["--transpile-only", RUNNER, verb, stack.name, "--workdir", stack.dir, "--events", eventsFile],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (output += c.toString()));
    const timer = interrupt ? setTimeout(() => child.kill(interrupt.signal), interrupt.afterSeconds * 1000) : undefined;
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      const events = fs.existsSync(eventsFile)
        ? (JSON.parse(fs.readFileSync(eventsFile, "utf8")) as EngineEvent[])
        : [];
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
  return sh("docker", ["exec", `${stack.prefix}-${host}`, "bash", "-c", script]);
}

export interface Member {
  Member: string;
  Role: string;
  State: string;
  TL?: number;
}

export function patronictlList(stack: TestStack, host: string): Member[] {
  return JSON.parse(onHost(stack, host, "patronictl -c /etc/patroni/patroni.yml list -f json")) as Member[];
}

/** psql through HAProxy on 127.0.0.1 with the superuser's password from the stack's pgpass file. */
export function psql(stack: TestStack, port: number, sql: string): string {
  return sh(
    "psql",
    ["-X", "-At", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-c", sql],
    {
      PGPASSFILE: path.join(stack.dir, ".pulumi-state", `${stack.name}.pgpass`),
      PGCONNECT_TIMEOUT: "5",
    },
  );
}

/** Containers and networks of the stack that still exist. */
export function leftovers(stack: TestStack): string[] {
  const containers = sh("docker", ["ps", "-a", "--format", "{{.Names}}"]).split("\n");
  const networks = sh("docker", ["network", "ls", "--format", "{{.Name}}"]).split("\n");
  return [...containers, ...networks].filter((n) => n.startsWith(stack.prefix));
}

/** Remove whatever an aborted test left (containers, network, temp dir). */
export function removeStack(stack: TestStack): void {
  for (const c of sh("docker", ["ps", "-a", "--format", "{{.Names}}"]).split("\n")) {
    if (c.startsWith(stack.prefix)) spawnSync("docker", ["rm", "-f", c]);
  }
  spawnSync("docker", ["network", "rm", stack.prefix]);
  fs.rmSync(stack.dir, { recursive: true, force: true });
}

export function stateResources(stack: TestStack): number {
  const file = path.join(stack.dir, ".pulumi-state", "direct", `${stack.name}.json`);
  if (!fs.existsSync(file)) return 0;
  return (JSON.parse(fs.readFileSync(file, "utf8")) as { resources: unknown[] }).resources.length;
}

/** Merge one topology's timings into bench/results/e2e.json (a record, not a threshold). */
export function recordBenchmark(topology: string, values: Record<string, number>): void {
  const file = path.join(ROOT, "bench", "results", "e2e.json");
  const data = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>) : {};
  data[topology] = {
    ...values,
    engine: "direct runner",
    recorded: new Date().toISOString(),
    machine: `${os.cpus().length} cores`,
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
}

/** A planned switchover through Patroni's REST API (basic auth read from patroni.yml on the host). */
export function switchover(stack: TestStack, from: string, to: string): void {
  onHost(
    stack,
    from,
    `auth=$(python3 -c 'import yaml; a=yaml.safe_load(open("/etc/patroni/patroni.yml"))["restapi"]["authentication"]; print(a["username"]+":"+a["password"])')
     printf 'user = "%s"\\n' "$auth" | curl -sf -m 60 -X POST --config - -d '{"leader":"${from}","candidate":"${to}"}' "http://$(hostname -i | awk '{print $1}'):8008/switchover"`,
  );
}

/** Change one `patroni-stack:<key>` object of the test stack's file (a day-2 edit). */
/** One key of the test stack's config, as its file holds it now. */
export function readConfig(stack: TestStack, key: string): Record<string, unknown> {
  const file = path.join(stack.dir, `Pulumi.${stack.name}.yaml`);
  const doc = parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
  return (doc.config[`patroni-stack:${key}`] as Record<string, unknown> | undefined) ?? {};
}

export function editConfig(stack: TestStack, key: string, change: Record<string, unknown>): void {
  const file = path.join(stack.dir, `Pulumi.${stack.name}.yaml`);
  const doc = parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
  const full = `patroni-stack:${key}`;
  doc.config[full] = { ...((doc.config[full] as Record<string, unknown> | undefined) ?? {}), ...change };
  fs.writeFileSync(file, stringify(doc));
}
