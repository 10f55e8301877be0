/**
 * Part of `make bench`: what backups cost and what a restore gives back, on the dev topology
 * (three members, the repository on bk1), for a database of about 1 GB (`pgbench -i -s 70`):
 *
 * - a full backup (time, size, size in the repository), and `pg_basebackup` of the same database
 *   in the same run, from a replica's host, as the floor to compare it with;
 * - a differential backup after 10% of pgbench_accounts' rows were rewritten;
 * - the archive lag under the chaos client's load: from a WAL switch until the repository holds
 *   the segment (with `archive_timeout`, the window of writes a lost cluster can lose: the RPO);
 * - `ctl restore --to <T>`: from the command until the cluster accepts writes again through
 *   HAProxy (RTO), and until the command is done (it ends with a full backup of the new timeline).
 *
 * Results go to bench/results/backup.json and the "Backups" section of docs/benchmarks.md.
 *
 *   npx ts-node --swc bench/backup.ts
 */
import { spawn } from "child_process";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";
import { pgSettings, queryOnce, startWriting, type Endpoint } from "./chaos/client";
import { endpoints } from "./chaos/run";
import { onDeployedStack, runAsMain, saveRecord } from "./harness";
import { ENGINE, ctlOk, makeStack, onHost, patronictlList, type TestStack } from "../test/e2e/stack";
import type { StanzaInfo } from "../configs/backupInfo";
import { formatTargetTime } from "../configs/backupInfo";

const ROOT = path.resolve(__dirname, "..");
const SCALE = 70;
const SWITCHES = 6;

export interface BackupBenchRecord {
  recorded: string;
  engine: string;
  machine: string;
  scale: number;
  database_bytes: number;
  full: { seconds: number; bytes: number; repository_bytes: number };
  diff: { seconds: number; bytes: number; repository_bytes: number; changed_rows_percent: number };
  basebackup_floor: { seconds: number };
  archive: { archive_timeout_s: number; switches: number; lag_median_s: number; lag_max_s: number };
  restore: { to_writable_s: number; command_s: number; rows_before_target: number; rows_found: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (since: number) => Math.round((Date.now() - since) / 100) / 10;

function leaderOf(stack: TestStack): string {
  for (const host of stack.patroniHosts) {
    try {
      const leader = patronictlList(stack, host).find((m) => m.Role === "Leader");
      if (leader) return leader.Member;
    } catch {
      // That host is not answering: ask the next.
    }
  }
  throw new Error("no leader");
}

/** SQL as postgres on a member's local socket. */
function sqlOn(stack: TestStack, host: string, sql: string): string {
  const psql = `runuser -u postgres -- psql -X -At -v ON_ERROR_STOP=1 -p ${stack.pgPort} -d postgres`;
  return onHost(stack, host, `${psql} <<'SQL'\n${sql}\nSQL`);
}

function repositoryInfo(stack: TestStack): StanzaInfo {
  if (!stack.backupHost) throw new Error(`stack ${stack.name} has no repository host (roles.backup)`);
  const out = onHost(stack, stack.backupHost, "runuser -u pgbackrest -- pgbackrest --output=json info");
  return (JSON.parse(out) as StanzaInfo[])[0];
}

function newestBackup(stack: TestStack) {
  const backups = repositoryInfo(stack).backup;
  const b = backups[backups.length - 1];
  return { bytes: b.info.size, repository_bytes: b.info.repository.delta, label: b.label };
}

/** One write through HAProxy on a fresh connection: whether it was acknowledged. */
async function writeOnce(e: Endpoint): Promise<boolean> {
  const c = new Client({ ...pgSettings(e), connectionTimeoutMillis: 1000, query_timeout: 1000 });
  c.on("error", () => undefined);
  try {
    await c.connect();
    await c.query("INSERT INTO bench_rto (at) VALUES (now())");
    return true;
  } catch {
    return false;
  } finally {
    void c.end().catch(() => undefined);
  }
}

/** The archive lag of `SWITCHES` forced WAL switches under the chaos client's writes. */
async function archiveLag(stack: TestStack, rw: Endpoint): Promise<number[]> {
  const client = await startWriting(rw, "backup-bench");
  const lags: number[] = [];
  try {
    for (let i = 0; i < SWITCHES; i++) {
      await sleep(5000);
      const leader = leaderOf(stack);
      const segment = sqlOn(stack, leader, "SELECT pg_walfile_name(pg_switch_wal())");
      const started = Date.now();
      for (;;) {
        const last = sqlOn(stack, leader, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver");
        if (last.slice(8) >= segment.slice(8)) break;
        if (Date.now() - started > 120_000) throw new Error(`${segment} not archived after 120 s`);
        await sleep(100);
      }
      lags.push((Date.now() - started) / 1000);
    }
  } finally {
    await client.stop();
  }
  const verdict = await client.verify();
  if (verdict.writes.lost > 0) throw new Error(`${verdict.writes.lost} acknowledged writes lost`);
  return lags;
}

/** `ctl restore --to target --yes`, with a write through HAProxy every 250 ms meanwhile. */
async function timedRestore(stack: TestStack, rw: Endpoint, target: string) {
  const started = Date.now();
  const child = spawn(
    path.join(ROOT, "node_modules", ".bin", "ts-node"),
    ["--swc", path.join(ROOT, "cli", "ctl.ts"), "restore", "--to", target, "--yes"],
    { env: { ...process.env, STACK: stack.name, PATRONI_STACK_DIR: stack.dir }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const done = new Promise<number | null>((resolve) => child.on("close", resolve));
  let finished = false;
  void done.then(() => (finished = true));
  // Writable again: the first acknowledged write after the cluster stopped taking them.
  let down = false;
  let writableAt: number | undefined;
  const deadline = started + 900_000;
  while (writableAt === undefined && Date.now() < deadline) {
    const ok = await writeOnce(rw);
    if (!ok) down = true;
    else if (down) writableAt = Date.now();
    else if (finished) throw new Error("the restore ended and writes never stopped");
    await sleep(250);
  }
  const code = await done;
  if (code !== 0) throw new Error(`ctl restore failed (${code}):\n${output.slice(-2000)}`);
  if (writableAt === undefined) throw new Error("no write was acknowledged after the restore");
  return { to_writable_s: (writableAt - started) / 1000, command_s: seconds(started) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const stack = makeStack("dev", 46, { kind: "bench" });
  await onDeployedStack(stack, "backup", async (up) => {
    const { rw } = endpoints(stack);
    let leader = leaderOf(stack);
    process.stdout.write(`deployed (${up.seconds.toFixed(1)} s); pgbench -i -s ${SCALE} on ${leader}\n`);
    onHost(
      stack,
      leader,
      `runuser -u postgres -- pgbench -i -q -s ${SCALE} -p ${stack.pgPort} postgres >/dev/null 2>&1`,
    );
    const databaseBytes = Number(sqlOn(stack, leader, "SELECT pg_database_size('postgres')"));

    let t = Date.now();
    ctlOk(stack, "backup", "--type", "full");
    const full = { seconds: seconds(t), ...newestBackup(stack) };
    process.stdout.write(`full backup: ${full.seconds} s, ${full.bytes} bytes (${full.repository_bytes} in repo)\n`);

    // The floor: pg_basebackup of the same database from a replica's host, over the same network.
    const replica = stack.patroniHosts.find((h) => h !== leader) ?? leader;
    const leaderAddress = stack.addresses[leader];
    t = Date.now();
    onHost(
      stack,
      replica,
      [
        "set -euo pipefail",
        "rm -rf /tmp/basebackup-floor",
        "export PGPASSWORD=$(python3 -c \"import yaml; print(yaml.safe_load(open('/etc/patroni/patroni.yml'))['postgresql']['authentication']['replication']['password'])\")",
        `pg_basebackup -h ${leaderAddress} -p ${stack.pgPort} -U repl -D /tmp/basebackup-floor -X stream -c fast`,
        "rm -rf /tmp/basebackup-floor",
      ].join("\n"),
    );
    const floor = { seconds: seconds(t) };
    process.stdout.write(`pg_basebackup floor: ${floor.seconds} s\n`);

    const rows = SCALE * 100_000;
    sqlOn(stack, leader, `UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= ${rows / 10}`);
    t = Date.now();
    ctlOk(stack, "backup", "--type", "diff");
    const diff = { seconds: seconds(t), ...newestBackup(stack), changed_rows_percent: 10 };
    process.stdout.write(`diff backup: ${diff.seconds} s, ${diff.bytes} bytes (${diff.repository_bytes} in repo)\n`);

    const lags = await archiveLag(stack, rw);
    const archiveTimeout = Number(
      sqlOn(stack, leaderOf(stack), "SELECT setting FROM pg_settings WHERE name = 'archive_timeout'"),
    );
    process.stdout.write(`archive lag over ${lags.length} switches: ${lags.map((l) => l.toFixed(2)).join(", ")} s\n`);

    // Restore: marks before T, more after it, then the restore to T.
    await queryOnce(rw, "CREATE TABLE IF NOT EXISTS bench_rto (at timestamptz NOT NULL)");
    await queryOnce(rw, "CREATE TABLE bench_marks (n int PRIMARY KEY)");
    await queryOnce(rw, "INSERT INTO bench_marks SELECT generate_series(1, 500)");
    await sleep(1500);
    const target = formatTargetTime(new Date());
    await sleep(1500);
    await queryOnce(rw, "INSERT INTO bench_marks SELECT generate_series(501, 1000)");
    leader = leaderOf(stack);
    // The marks' WAL is in the repository before the restore starts.
    sqlOn(stack, leader, "SELECT pg_switch_wal()");
    await sleep(3000);
    const restore = await timedRestore(stack, rw, target);
    const found = Number((await queryOnce<{ n: string }>(rw, "SELECT count(*) AS n FROM bench_marks"))[0].n);
    process.stdout.write(`restore: writable after ${restore.to_writable_s} s, done after ${restore.command_s} s\n`);
    if (found !== 500) throw new Error(`the restore to ${target} holds ${found} marks, not 500`);

    const record: BackupBenchRecord = {
      recorded: new Date().toISOString(),
      engine: ENGINE,
      machine: `${os.cpus().length} cores`,
      scale: SCALE,
      database_bytes: databaseBytes,
      full: { seconds: full.seconds, bytes: full.bytes, repository_bytes: full.repository_bytes },
      diff: {
        seconds: diff.seconds,
        bytes: diff.bytes,
        repository_bytes: diff.repository_bytes,
        changed_rows_percent: diff.changed_rows_percent,
      },
      basebackup_floor: floor,
      archive: {
        archive_timeout_s: archiveTimeout,
        switches: lags.length,
        lag_median_s: Math.round(median(lags) * 100) / 100,
        lag_max_s: Math.round(Math.max(...lags) * 100) / 100,
      },
      restore: { ...restore, rows_before_target: 500, rows_found: found },
    };
    saveRecord("backup.json", record);
  });
}

runAsMain(module, main);
