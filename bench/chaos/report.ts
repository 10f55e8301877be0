/**
 * docs/benchmarks.md and one SVG per scenario, generated from bench/results/chaos.json and the
 * clients' timelines: write latency over time per profile, failures marked, the fault shaded.
 *
 *   npx ts-node --swc bench/chaos/report.ts
 */
import * as fs from "fs";
import * as path from "path";
import type { ChaosRecord, HogRecord } from "./run";
import type { BackupBenchRecord } from "../backup";
import type { ThroughputRecord, ThroughputRun } from "../pgbench";

/** `[t ms, latency ms, ok 0|1]` per write. */
type Timeline = [number, number, number][];

/** The key of a record (and of its timeline): scenario, profile, and the pooled clients' path apart. */
export function recordKey(r: Pick<ChaosRecord, "scenario" | "profile" | "pooled">): string {
  return `${r.scenario}/${r.profile}${r.pooled ? "/pooled" : ""}`;
}

const W = 860;
const PANEL = 150;
const LEFT = 60;
const RIGHT = 20;
const TOP = 28;
const MAX_MS = 3000;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const secs = (ms: number) => (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);

/** Latency on a log scale from 1 ms to 3 s (slower writes are drawn at the top). */
function yOf(latency: number, top: number): number {
  const v = Math.log10(Math.min(Math.max(latency, 1), MAX_MS)) / Math.log10(MAX_MS);
  return top + PANEL - v * PANEL;
}

export function renderTimelineSvg(title: string, panels: { record: ChaosRecord; timeline: Timeline }[]): string {
  const span = Math.max(10_000, ...panels.map((p) => p.timeline.at(-1)?.[0] ?? 0));
  const x = (t: number) => LEFT + (t / span) * (W - LEFT - RIGHT);
  const height = TOP + panels.length * (PANEL + 46) + 10;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${height}" fill="white"/>`,
    `<text x="${LEFT}" y="16" font-size="13" font-weight="bold">${esc(title)}</text>`,
  ];
  panels.forEach(({ record: r, timeline }, i) => {
    const top = TOP + i * (PANEL + 46) + 16;
    const gap = r.writes.longestGapMs;
    out.push(
      `<text x="${LEFT}" y="${top - 4}" font-weight="bold">${r.profile} profile${r.pooled ? ", through the pools" : ""}: longest write gap ${secs(gap)} s, ` +
        `${r.writes.failed} failed, ${r.writes.lost} lost, ${r.writes.ghost} ghost</text>`,
      `<rect x="${LEFT}" y="${top}" width="${W - LEFT - RIGHT}" height="${PANEL}" fill="#fafafa" stroke="#ccc"/>`,
    );
    // The fault: shaded from start to end (a line when it is instantaneous).
    const fx = x(r.fault.start);
    const fw = Math.max(2, x(r.fault.end) - fx);
    out.push(`<rect x="${fx}" y="${top}" width="${fw}" height="${PANEL}" fill="#f5a623" opacity="0.25"/>`);
    // The longest gap, as a bracket under the top edge.
    const g0 = x(r.writes.longestGapAt);
    const g1 = x(r.writes.longestGapAt + gap);
    out.push(
      `<rect x="${g0}" y="${top}" width="${Math.max(1, g1 - g0)}" height="${PANEL}" fill="#d0021b" opacity="0.08"/>`,
    );
    if (r.fault.leaderSeen !== undefined) {
      const lx = x(r.fault.leaderSeen);
      out.push(
        `<line x1="${lx}" y1="${top}" x2="${lx}" y2="${top + PANEL}" stroke="#417505" stroke-dasharray="4 3"/>`,
        `<text x="${lx + 3}" y="${top + 12}" fill="#417505">new leader seen</text>`,
      );
    }
    for (const ms of [1, 10, 100, 1000]) {
      const y = yOf(ms, top);
      out.push(
        `<line x1="${LEFT}" y1="${y}" x2="${W - RIGHT}" y2="${y}" stroke="#eee"/>`,
        `<text x="${LEFT - 4}" y="${y + 4}" text-anchor="end">${ms < 1000 ? `${ms} ms` : "1 s"}</text>`,
      );
    }
    const dots = timeline
      .filter(([, , ok]) => ok)
      .map(([t, lat]) => `M${x(t).toFixed(1)},${yOf(lat, top).toFixed(1)}h1.5`)
      .join("");
    out.push(`<path d="${dots}" stroke="#4a90e2" stroke-width="2"/>`);
    const fails = timeline
      .filter(([, , ok]) => !ok)
      .map(([t]) => `M${x(t).toFixed(1)},${top + 1}v8`)
      .join("");
    if (fails) out.push(`<path d="${fails}" stroke="#d0021b" stroke-width="1"/>`);
    const step = span > 120_000 ? 30_000 : span > 40_000 ? 10_000 : 5_000;
    for (let t = 0; t <= span; t += step) {
      out.push(`<text x="${x(t)}" y="${top + PANEL + 13}" text-anchor="middle">${t / 1000} s</text>`);
    }
  });
  const legendY = height - 8;
  out.push(
    `<text x="${LEFT}" y="${legendY}" fill="#4a90e2">● write acknowledged (latency, log scale)</text>`,
    `<text x="${LEFT + 250}" y="${legendY}" fill="#d0021b">| write failed</text>`,
    `<text x="${LEFT + 340}" y="${legendY}" fill="#c77c00">▮ fault</text>`,
    `<text x="${LEFT + 400}" y="${legendY}" fill="#d0021b" opacity="0.6">▮ longest gap</text>`,
    "</svg>",
  );
  return `${out.join("\n")}\n`;
}

function cell(r: ChaosRecord | undefined): string {
  if (!r) return "—";
  return `${secs(r.writes.longestGapMs)} s`;
}

export function renderBenchmarks(all: ChaosRecord[], hogs: HogRecord[]): string {
  // The main tables are HAProxy's path; the pooled clients' records get a section of their own.
  const records = all.filter((r) => !r.pooled);
  const pooled = all.filter((r) => r.pooled);
  const ids = [...new Set(records.map((r) => r.scenario))];
  const find = (id: string, p: string) => records.find((r) => r.scenario === id && r.profile === p);
  const any = records[0];
  const lines = [
    "# Benchmarks: what a fault costs a client",
    "",
    "Generated by `make chaos` from `bench/results/chaos.json`; do not edit by hand.",
    "",
    "A load client (`bench/chaos/client.ts`, node-postgres) writes a unique id every 50 ms through",
    "HAProxy's read-write port and reads through the read-only port, reconnecting after every error.",
    "**Gap** is the longest time between two acknowledged writes. **Lost**: acknowledged, then absent",
    "after recovery. **Ghost**: reported failed, yet present. **After** is the scenario's",
    "after-condition: exactly one leader, every other member streaming on its timeline, no manual",
    "step. Profiles: `fast` (the default: ttl 20, loop_wait 2, retry_timeout 5, HAProxy checks every",
    "1 s / 250 ms) and `guide` (the field guide's ttl 30, loop_wait 10, retry_timeout 10, `inter 3s",
    "fall 3 rise 2`).",
    "",
    any
      ? `Run \`${any.run}\`, engine \`${any.engine}\`, ${any.machine}. Versions: ${[
          ...new Set(records.map((r) => r.topology)),
        ]
          .map((t) => {
            const first = records.find((r) => r.topology === t) as ChaosRecord;
            const versions = Object.entries(first.versions).map(([k, v]) => `${k} ${v}`);
            return `${t} topology: ${versions.join(", ")}`;
          })
          .join("; ")}.`
      : "No run recorded yet.",
    "",
    "| scenario | gap (fast) | gap (guide) | lost / ghost (fast) | lost / ghost (guide) | after (fast / guide) | recovered after (fast / guide) |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const id of ids) {
    const f = find(id, "fast");
    const g = find(id, "guide");
    const lg = (r?: ChaosRecord) => (r ? `${r.writes.lost} / ${r.writes.ghost}` : "—");
    const ok = (r?: ChaosRecord) => (r ? (r.after.ok ? "ok" : `**${esc(r.after.detail)}**`) : "—");
    const rec = (r?: ChaosRecord) => (r ? `${r.recoverySeconds} s` : "—");
    lines.push(
      `| [${(f ?? g)?.title ?? id}](#${id}) | ${cell(f)} | ${cell(g)} | ${lg(f)} | ${lg(g)} | ${ok(f)} / ${ok(g)} | ${rec(f)} / ${rec(g)} |`,
    );
  }
  const broken = records.filter((r) => r.breakdown);
  if (broken.length > 0) {
    lines.push(
      "",
      "## Where the time goes when a leader changes",
      "",
      "**Elected**: from the fault until a new leader is first seen in `patronictl list` (detection +",
      "promotion). **Routed**: from then until the first acknowledged write (HAProxy's checks + the",
      "client's reconnect).",
      "",
      "| scenario | profile | elected after | routed after | gap |",
      "| --- | --- | --- | --- | --- |",
      ...broken.map(
        (r) =>
          `| ${r.scenario} | ${r.profile} | ${secs(r.breakdown?.electedAfterMs ?? 0)} s | ${secs(r.breakdown?.routedAfterMs ?? 0)} s | ${secs(r.writes.longestGapMs)} s |`,
      ),
    );
  }
  if (pooled.length > 0) {
    const direct = (p: ChaosRecord) =>
      records.find((r) => r.scenario === p.scenario && r.profile === p.profile && r.run === p.run);
    const pair = (d: string | number | undefined, q: string | number) => `${d ?? "—"} / ${q}`;
    lines.push(
      "",
      "## Through PgBouncer's pools, side by side with HAProxy alone",
      "",
      "On a stack with `pgbouncer.enabled`, two load clients run through the same fault: one through",
      "PgBouncer's transaction pools on the clients' ports (a held statement waits: its request timeout",
      "is in the table), one through HAProxy's direct ports. The planned switchover is held as `ctl",
      "switchover` holds it: the pools are paused, the leader moves, and each router resumes once its",
      "HAProxy has the new primary alone UP and a connection through HAProxy's direct listener finds it",
      "out of recovery. The hold's parts: the PAUSEs, the switchover call, then until every router resumed.",
      "",
      "| scenario | profile | failed writes (direct / pooled) | gap (direct / pooled) | lost (direct / pooled) | request timeout (direct / pooled) | hold (pause + switchover + resume) | after |",
      "| --- | --- | --- | --- | --- | --- | --- | --- |",
      ...pooled.map((p) => {
        const d = direct(p);
        const timeout = (r?: ChaosRecord) => (r?.requestTimeoutMs ? `${secs(r.requestTimeoutMs)} s` : "—");
        const f = p.facts;
        const hold = f.held_s ? `${f.held_s} s (${f.hold_pause_s} + ${f.hold_switchover_s} + ${f.hold_resume_s})` : "—";
        return `| ${p.scenario} | ${p.profile} | ${pair(d?.writes.failed, p.writes.failed)} | ${pair(d && `${secs(d.writes.longestGapMs)} s`, `${secs(p.writes.longestGapMs)} s`)} | ${pair(d?.writes.lost, p.writes.lost)} | ${pair(timeout(d), timeout(p))} | ${hold} | ${p.after.ok ? "ok" : `**${esc(p.after.detail)}**`} |`;
      }),
    );
  }
  if (hogs.length > 0) {
    lines.push(
      "",
      "## No failover by itself under CPU pressure",
      "",
      "One busy loop per core on the machine running the containers, with the load client running.",
      "",
      "| profile | seconds | busy loops | leader changes | longest write gap |",
      "| --- | --- | --- | --- | --- |",
      ...hogs.map(
        (h) => `| ${h.profile} | ${h.seconds} | ${h.hogs} | ${h.leaderChanges} | ${secs(h.writes.longestGapMs)} s |`,
      ),
    );
  }
  lines.push("", "## Timelines", "");
  for (const id of ids) {
    const r = find(id, "fast") ?? find(id, "guide");
    lines.push(`### ${id}`, "", `${r?.title ?? id}.`, "", `![${id}](chaos/${id}.svg)`, "");
  }
  return `${lines.join("\n")}`;
}

export function writeReport(resultsDir: string, docsDir: string): void {
  const { records, hogs } = JSON.parse(fs.readFileSync(path.join(resultsDir, "chaos.json"), "utf8")) as {
    records: ChaosRecord[];
    hogs: HogRecord[];
  };
  const timelines = JSON.parse(fs.readFileSync(path.join(resultsDir, "chaos-timelines.json"), "utf8")) as Record<
    string,
    Timeline
  >;
  fs.mkdirSync(path.join(docsDir, "chaos"), { recursive: true });
  for (const id of [...new Set(records.map((r) => r.scenario))]) {
    const panels = records
      .filter((r) => r.scenario === id)
      .map((record) => ({ record, timeline: timelines[recordKey(record)] ?? [] }));
    fs.writeFileSync(path.join(docsDir, "chaos", `${id}.svg`), renderTimelineSvg(panels[0].record.title, panels));
  }
  const backupFile = path.join(resultsDir, "backup.json");
  const backup = fs.existsSync(backupFile)
    ? renderBackupSection(JSON.parse(fs.readFileSync(backupFile, "utf8")) as BackupBenchRecord)
    : "";
  const e2eFile = path.join(resultsDir, "e2e.json");
  const tls = fs.existsSync(e2eFile)
    ? renderTlsSection(JSON.parse(fs.readFileSync(e2eFile, "utf8")) as Record<string, E2eRecord>)
    : "";
  const pgbenchFile = path.join(resultsDir, "pgbench.json");
  const throughput = fs.existsSync(pgbenchFile)
    ? renderThroughputSection(JSON.parse(fs.readFileSync(pgbenchFile, "utf8")) as ThroughputRecord)
    : "";
  fs.writeFileSync(
    path.join(docsDir, "benchmarks.md"),
    `${renderBenchmarks(records, hogs)}${backup}${tls}${throughput}`,
  );
}

/** One topology's record in bench/results/e2e.json: its timings per engine. */
interface E2eRecord {
  engines: Record<string, Record<string, number | string>>;
}

/**
 * The "TLS" section, from bench/results/e2e.json: `dev-tls-off` and `dev-tls-on` (bench/tls.ts)
 * and the e2e suite's renewal of the dev stack. Empty until bench/tls.ts has run.
 */
export function renderTlsSection(e2e: Record<string, E2eRecord>): string {
  const off = e2e["dev-tls-off"]?.engines ?? {};
  const on = e2e["dev-tls-on"]?.engines ?? {};
  const engines = Object.keys(on).filter((e) => off[e]);
  if (engines.length === 0) return "";
  const n = (v: number | string | undefined, unit = " s") => (typeof v === "number" ? `${v.toFixed(2)}${unit}` : "-");
  const rows = engines.flatMap((e) => [
    `| ${e} | off | ${n(off[e].deploy_s)} | ${n(off[e].switchover_write_gap_s)} | ${off[e].switchover_failed_writes ?? "-"} | ${off[e].switchover_lost_writes ?? "-"} | - | ${off[e].switch_on_s === undefined ? "-" : `${n(off[e].switch_on_s)}, gap ${n(off[e].switch_on_write_gap_s)}, ${off[e].switch_on_failed_writes ?? "-"} failed, ${off[e].switch_on_lost_writes ?? "-"} lost`} |`,
    `| ${e} | on | ${n(on[e].deploy_s)} | ${n(on[e].switchover_write_gap_s)} | ${on[e].switchover_failed_writes ?? "-"} | ${on[e].switchover_lost_writes ?? "-"} | ${n(on[e].renewal_s)}, gap ${n(on[e].renewal_write_gap_s)}, ${on[e].renewal_failed_writes ?? "-"} failed, ${on[e].renewal_lost_writes ?? "-"} lost | - |`,
  ]);
  const recorded = String(on[engines[0]].recorded ?? "").slice(0, 19);
  return [
    "",
    "## TLS",
    "",
    "Generated by `bench/tls.ts` (part of `make bench`) into `bench/results/e2e.json` (`dev-tls-off`, `dev-tls-on`):",
    `run ${recorded}Z, ${on[engines[0]].machine}. The dev topology deployed from nothing with \`tls.enabled: false\` and with`,
    "TLS on, a planned switchover under the chaos client's writes (every 50 ms through the virtual IP), and,",
    "with TLS on, every certificate renewed by an `up` under the same client; the plain-text stack then turns",
    "TLS on in place with an `up` under the same client (TLS as soon as the server offers it). The two stacks run back to back",
    "in one process, so they share the machine's conditions; each switchover is measured once (see the",
    "switchover scenario above for its spread).",
    "",
    "| engine | TLS | deploy | switchover: longest write gap | failed writes | lost writes | renewal (up, write gap) | TLS turned on in place (up, write gap) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}

/** The "Throughput" section, from bench/results/pgbench.json (`npx ts-node --swc bench/pgbench.ts`). */
export function renderThroughputSection(t: ThroughputRecord): string {
  const find = (p: ThroughputRun["path"], w: ThroughputRun["workload"], c: boolean) =>
    t.runs.find((r) => r.path === p && r.workload === w && r.connectPerTransaction === c);
  const tps = (r?: ThroughputRun) => (r ? `${Math.round(r.tps).toLocaleString("en-US")} tps` : "-");
  const rows: string[] = [];
  for (const w of ["select-only", "read-write"] as const) {
    for (const c of [false, true]) {
      const direct = find("direct", w, c);
      const pooled = find("pooled", w, c);
      const ratio = direct && pooled ? `${(pooled.tps / direct.tps).toFixed(2)}×` : "-";
      const failed = `${direct?.failed ?? "-"} / ${pooled?.failed ?? "-"}`;
      const lat = `${direct?.latencyMs ?? "-"} / ${pooled?.latencyMs ?? "-"} ms`;
      const cpu = (r?: ThroughputRun) =>
        r?.cpuUsPerTransaction ? r.cpuUsPerTransaction.hosts.toLocaleString("en-US") : "-";
      const services = pooled?.cpuUsPerTransaction
        ? `${pooled.cpuUsPerTransaction.pgbouncer.toLocaleString("en-US")} / ${pooled.cpuUsPerTransaction.haproxy.toLocaleString("en-US")}`
        : "-";
      rows.push(
        `| ${w === "select-only" ? "`-S`" : "read-write (TPC-B like)"} | ${c ? "per transaction (`-C`)" : "per client"} | ${tps(direct)} | ${tps(pooled)} | ${ratio} | ${lat} | ${cpu(direct)} / ${cpu(pooled)} µs | ${services} µs | ${failed} |`,
      );
    }
  }
  return [
    "",
    "## Throughput: PgBouncer's pool against HAProxy alone",
    "",
    "Generated by `bench/pgbench.ts` (part of `make bench`) into `bench/results/pgbench.json`: run",
    `${t.recorded.slice(0, 19)}Z, engine \`${t.engine}\`, ${t.machine}. The dev topology with \`pgbouncer.enabled\` (${t.poolMode}`,
    `pools of ${t.poolSize} server connections), \`pgbench -i -s ${t.scale}\`, then ${t.clients} clients for ${t.seconds} s per run, all through`,
    "the virtual IP and TLS-verified: **direct** is HAProxy's direct read-write listener (`haproxy.directReadWritePort`),",
    "**pooled** is PgBouncer's read-write pool on the clients' port. pgbench runs on the member that routes no",
    "clients, on the same two cores as every container. **CPU** is the CPU time per transaction of every host's",
    "container together (their cgroups), and of the routers' PgBouncer and HAProxy processes in the pooled run.",
    "",
    "| workload | connection | direct | pooled | pooled / direct | latency (direct / pooled) | CPU (direct / pooled) | PgBouncer / HAProxy CPU (pooled) | failed (direct / pooled) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MiB`;

/** The "Backups" section, from bench/results/backup.json (`npx ts-node --swc bench/backup.ts`). */
export function renderBackupSection(b: BackupBenchRecord): string {
  return [
    "",
    "## Backups (pgBackRest)",
    "",
    `Generated by \`bench/backup.ts\` (part of \`make bench\`) into \`bench/results/backup.json\`: run`,
    `${b.recorded.slice(0, 19)}Z, engine \`${b.engine}\`, ${b.machine}. The dev topology (three members, the`,
    `repository on bk1, zstd, two processes), a database of ${mib(b.database_bytes)} (\`pgbench -i -s ${b.scale}\`).`,
    "",
    "| what | time | size | in the repository |",
    "| --- | --- | --- | --- |",
    `| full backup (\`ctl backup --type full\`) | ${b.full.seconds} s | ${mib(b.full.bytes)} | ${mib(b.full.repository_bytes)} |`,
    `| \`pg_basebackup\` of the same database, from a replica's host (the floor) | ${b.basebackup_floor.seconds} s | ${mib(b.database_bytes)} | - |`,
    `| differential after ${b.diff.changed_rows_percent}% of pgbench_accounts rewritten | ${b.diff.seconds} s | ${mib(b.diff.bytes)} | ${mib(b.diff.repository_bytes)} |`,
    "",
    `pgbench's rows compress about ${Math.round(b.full.bytes / b.full.repository_bytes)}× with zstd. pgBackRest copies a changed file whole, and`,
    "pgbench_accounts is one segment file: the differential holds nearly all of it (pgBackRest's block-level",
    "incremental, `repo1-block`, is not turned on).",
    "",
    `**RPO**: a segment is archived at the latest \`archive_timeout\` (${b.archive.archive_timeout_s} s) after its first write,`,
    `then reaches the repository ${b.archive.lag_median_s} s (median, ${b.archive.lag_max_s} s at most) after the switch, measured over`,
    `${b.archive.switches} switches under the chaos client's writes. A cluster lost with its members loses at most`,
    `about ${Math.ceil(b.archive.archive_timeout_s + b.archive.lag_max_s)} s of writes; a cluster whose primary survives loses none.`,
    "",
    `**RTO**: \`ctl restore --to <T> --yes\` took the cluster back to T (${b.restore.rows_found} of ${b.restore.rows_before_target} marks written`,
    `before T, none after) and HAProxy took writes again ${b.restore.to_writable_s.toFixed(1)} s after the command started; the command ended`,
    `after ${b.restore.command_s} s, with the replicas rebuilt and a full backup of the new timeline taken.`,
    "",
  ].join("\n");
}

if (require.main === module) {
  const root = path.resolve(__dirname, "..", "..");
  writeReport(path.join(root, "bench", "results"), path.join(root, "docs"));
}
