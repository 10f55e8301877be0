/**
 * Part of `make bench`: throughput through PgBouncer's read-write pool against HAProxy's direct
 * read-write listener, side by side in one run on one dev stack (pgbouncer.enabled): `pgbench -S`
 * (select-only) and pgbench's default read-write mix (TPC-B like), each with a session per client
 * and with a new connection per transaction (`-C`), 50 clients for 60 s by default, every
 * connection TLS-verified against the stack's CA through the virtual IP.
 *
 * pgbench runs on a member that routes no clients (its CPU is shared with the containers, as an
 * application's would be). Results go to bench/results/pgbench.json and the "Throughput" section
 * of docs/benchmarks.md.
 *
 *   npx ts-node --swc bench/pgbench.ts [--clients 50] [--seconds 60] [--scale 10]
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import { parseArgs } from "util";
import { pgpassLine } from "../configs/pgpass";
import { CA_PATH } from "../configs/tls";
import { endpoints } from "./chaos/run";
import { onDeployedStack, runAsMain, saveRecord } from "./harness";
import { ENGINE, makeStack, onHost, type TestStack } from "../test/e2e/stack";

/** Where the runner host keeps the superuser's password for pgbench (mode 0600, removed after). */
const PGPASS = "/root/.pgpass-bench";

export type Workload = "select-only" | "read-write";
export type PathName = "pooled" | "direct";

export interface ThroughputRun {
  path: PathName;
  workload: Workload;
  /** A new connection per transaction (`pgbench -C`). */
  connectPerTransaction: boolean;
  tps: number;
  latencyMs: number;
  transactions: number;
  failed: number;
  /**
   * CPU time per transaction (µs) during the run: every host's container in all (`hosts`), and
   * the routers' PgBouncer and HAProxy processes; absent where the cgroup cannot be read.
   */
  cpuUsPerTransaction?: { hosts: number; pgbouncer: number; haproxy: number };
}

export interface ThroughputRecord {
  recorded: string;
  engine: string;
  machine: string;
  clients: number;
  seconds: number;
  scale: number;
  poolMode: string;
  poolSize: number;
  runs: ThroughputRun[];
}

/** pgbench's summary: tps (without the initial connection time), latency, transactions, failures. */
export function parsePgbench(out: string): Pick<ThroughputRun, "tps" | "latencyMs" | "transactions" | "failed"> {
  const num = (re: RegExp, what: string) => {
    const m = re.exec(out);
    if (!m) throw new Error(`pgbench printed no ${what}:\n${out.slice(-1500)}`);
    return Number(m[1]);
  };
  return {
    tps: num(/^tps = ([\d.]+)/m, "tps"),
    latencyMs: num(/^latency average = ([\d.]+) ms/m, "latency"),
    transactions: num(/^number of transactions actually processed: (\d+)/m, "transaction count"),
    failed: /^number of failed transactions: (\d+)/m.test(out)
      ? num(/^number of failed transactions: (\d+)/m, "failure count")
      : 0,
  };
}

/** CPU seconds so far: each host container's (its cgroup, from this machine) and two services'. */
interface CpuSample {
  hosts?: number;
  pgbouncer: number;
  haproxy: number;
}

/** A container's CPU seconds from its cgroup (v1 cpuacct or v2 cpu.stat), or undefined. */
function containerCpuSeconds(container: string): number | undefined {
  const id = spawnSync("docker", ["inspect", "-f", "{{.Id}}", container], { encoding: "utf8" }).stdout.trim();
  const v1 = `/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`;
  if (fs.existsSync(v1)) return Number(fs.readFileSync(v1, "utf8")) / 1e9;
  const v2 = [`/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, `/sys/fs/cgroup/docker/${id}/cpu.stat`].find(
    (f) => fs.existsSync(f),
  );
  const usec = v2 && /^usage_usec (\d+)$/m.exec(fs.readFileSync(v2, "utf8"))?.[1];
  return usec ? Number(usec) / 1e6 : undefined;
}

function cpuSample(stack: TestStack): CpuSample {
  const sample: CpuSample = { pgbouncer: 0, haproxy: 0 };
  const totals = stack.hosts.map((h) => containerCpuSeconds(`${stack.prefix}-${h}`));
  if (totals.every((t) => t !== undefined)) sample.hosts = totals.reduce((a, b) => a + b, 0);
  // utime + stime (fields 14 and 15 of /proc/PID/stat, in clock ticks) of the long-lived services.
  const script = `hz=$(getconf CLK_TCK); cat /proc/[0-9]*/stat 2>/dev/null | awk -v hz="$hz" '$2 == "(pgbouncer)" || $2 == "(haproxy)" { t[$2] += $14 + $15 } END { for (k in t) print k, t[k] / hz }'`;
  for (const router of stack.routers) {
    for (const line of onHost(stack, router, script).split("\n")) {
      const [name, seconds] = line.split(" ");
      if (name === "(pgbouncer)") sample.pgbouncer += Number(seconds);
      if (name === "(haproxy)") sample.haproxy += Number(seconds);
    }
  }
  return sample;
}

function perTransaction(
  before: CpuSample,
  after: CpuSample,
  transactions: number,
): ThroughputRun["cpuUsPerTransaction"] {
  if (before.hosts === undefined || after.hosts === undefined || transactions === 0) return undefined;
  const us = (s: number) => Math.round((s * 1e6) / transactions);
  return {
    hosts: us(after.hosts - before.hosts),
    pgbouncer: us(after.pgbouncer - before.pgbouncer),
    haproxy: us(after.haproxy - before.haproxy),
  };
}

function runner(stack: TestStack): string {
  const quiet = stack.patroniHosts.filter((h) => !stack.routers.includes(h) && h !== stack.leader);
  return quiet[0] ?? stack.patroniHosts.find((h) => h !== stack.leader) ?? stack.patroniHosts[0];
}

/** The password file on the runner host, written through stdin (never on a command line). */
function writePgpass(stack: TestStack, host: string, line: string): void {
  const r = spawnSync(
    "docker",
    ["exec", "-i", `${stack.prefix}-${host}`, "bash", "-c", `umask 077 && cat > ${PGPASS}`],
    { input: `${line}\n`, encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`writing the password file on ${host} failed: ${r.stderr}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clients: { type: "string", default: "50" },
      seconds: { type: "string", default: "60" },
      scale: { type: "string", default: "10" },
    },
  });
  const clients = Number(values.clients);
  const seconds = Number(values.seconds);
  const scale = Number(values.scale);
  const stack = makeStack("dev", 47, { kind: "bench", overrides: { pgbouncer: { enabled: true } } });
  await onDeployedStack(stack, "pgbench", async (up) => {
    if (!stack.pool || !stack.directRouterPorts) throw new Error("the bench stack has no transaction pools");
    const { rw } = endpoints(stack);
    const host = runner(stack);
    const ports: Record<PathName, number> = {
      pooled: rw.port,
      direct: stack.directRouterPorts.readWrite,
    };
    writePgpass(stack, host, pgpassLine("*", "*", "postgres", rw.password ?? ""));
    const bin = `$(ls -d /usr/lib/postgresql/*/bin | tail -1)/pgbench`;
    const env = `PGPASSFILE=${PGPASS} PGSSLMODE=${rw.ca ? "verify-full" : "disable"} PGSSLROOTCERT=${CA_PATH}`;
    const pgbench = (port: number, args: string) =>
      onHost(stack, host, `${env} ${bin} -h ${rw.host} -p ${port} -U postgres ${args} postgres 2>&1`);
    process.stdout.write(`deployed (${up.seconds.toFixed(1)} s); pgbench -i -s ${scale} through the direct port\n`);
    pgbench(ports.direct, `-i -q -s ${scale}`);
    const runs: ThroughputRun[] = [];
    for (const workload of ["select-only", "read-write"] as Workload[]) {
      for (const connectPerTransaction of [false, true]) {
        // Direct first: the pool's idle server connections then stay out of its way.
        for (const p of ["direct", "pooled"] as PathName[]) {
          const args = [
            `-n -c ${clients} -j 2 -T ${seconds}`,
            workload === "select-only" ? "-S" : "",
            connectPerTransaction ? "-C" : "",
          ].join(" ");
          const before = cpuSample(stack);
          const result = parsePgbench(pgbench(ports[p], args));
          const run: ThroughputRun = {
            path: p,
            workload,
            connectPerTransaction,
            ...result,
            cpuUsPerTransaction: perTransaction(before, cpuSample(stack), result.transactions),
          };
          runs.push(run);
          process.stdout.write(
            `${workload}${connectPerTransaction ? " -C" : ""} ${p}: ${run.tps.toFixed(0)} tps, ${run.latencyMs} ms, ${run.failed} failed, CPU per transaction ${JSON.stringify(run.cpuUsPerTransaction ?? "unknown")} µs\n`,
          );
        }
      }
    }
    const record: ThroughputRecord = {
      recorded: new Date().toISOString(),
      engine: ENGINE,
      machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
      clients,
      seconds,
      scale,
      poolMode: stack.pool?.mode ?? "none",
      poolSize: stack.pool?.size ?? 0,
      runs,
    };
    saveRecord("pgbench.json", record);
    onHost(stack, host, `rm -f ${PGPASS}`);
  });
}

runAsMain(module, main);
