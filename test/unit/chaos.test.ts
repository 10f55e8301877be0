import { pgpassPassword, renderPgpass } from "../../configs/pgpass";
import { Sample, summarize } from "../../bench/chaos/client";
import { recordKey, renderBenchmarks, renderThroughputSection, renderTimelineSvg } from "../../bench/chaos/report";
import { parsePgbench, type ThroughputRecord } from "../../bench/pgbench";
import type { ChaosRecord } from "../../bench/chaos/run";

const write = (t: number, ok: boolean, latencyMs = 5): Sample => ({ t, kind: "write", ok, latencyMs });

describe("the load client's summary", () => {
  it("measures the longest gap between two acknowledged writes, by completion time", () => {
    const s = summarize([
      write(0, true),
      write(50, true),
      write(100, false, 2000),
      write(2100, true, 400),
      write(2550, true),
    ]);
    expect(s).toEqual({ ok: 4, failed: 1, longestGapMs: 2500 - 55, longestGapAt: 55 });
  });

  it("reports no gap when nothing or one write succeeded", () => {
    expect(summarize([write(0, false)]).longestGapMs).toBe(0);
    expect(summarize([write(0, true)]).longestGapMs).toBe(0);
  });
});

function record(profile: "fast" | "guide", gapMs: number, pooled = false, failed = 2): ChaosRecord {
  return {
    run: "r1",
    scenario: "switchover",
    title: "a planned switchover under load",
    profile,
    topology: "dev",
    pooled,
    engine: "direct",
    facts: {},
    fault: { start: 3000, end: 4000, leaderSeen: 3800 },
    writes: { ok: 100, failed, lost: 0, ghost: 0, longestGapMs: gapMs, longestGapAt: 3100 },
    reads: { ok: 100, failed: 0, longestGapMs: 60, longestGapAt: 0 },
    recoverySeconds: 6.2,
    after: { ok: true, detail: "one leader, every replica streaming", leader: "pg2", timeline: 2 },
    before: { leader: "pg1", timeline: 1 },
    breakdown: { electedAfterMs: 800, routedAfterMs: 300 },
    versions: { patroni: "3.0.2" },
    machine: "2 cores",
    recorded: "2026-11-25T00:00:00Z",
  };
}

describe("the chaos report", () => {
  it("puts both profiles of a scenario on one row", () => {
    const md = renderBenchmarks([record("fast", 1100), record("guide", 4600)], []);
    expect(md).toContain(
      "| [a planned switchover under load](#switchover) | 1.10 s | 4.60 s | 0 / 0 | 0 / 0 | ok / ok | 6.2 s / 6.2 s |",
    );
    expect(md).toContain("| switchover | fast | 0.80 s | 0.30 s | 1.10 s |");
    expect(md).toContain("![switchover](chaos/switchover.svg)");
  });

  it("keeps the pooled clients out of the main table and sets them beside the direct ones", () => {
    const held = {
      ...record("fast", 2900, true, 0),
      requestTimeoutMs: 60_000,
      facts: { held_s: "3.4", hold_pause_s: "0.5", hold_switchover_s: "1.9", hold_resume_s: "1.0" },
    };
    const md = renderBenchmarks([{ ...record("fast", 1100, false, 3), requestTimeoutMs: 2000 }, held], []);
    expect(md).toContain("| [a planned switchover under load](#switchover) | 1.10 s | — |");
    expect(md).toContain(
      "| switchover | fast | 3 / 0 | 1.10 s / 2.90 s | 0 / 0 | 2.00 s / 60.0 s | 3.4 s (0.5 + 1.9 + 1.0) | ok |",
    );
    expect(recordKey(record("fast", 1, true))).toBe("switchover/fast/pooled");
    expect(recordKey(record("fast", 1, false))).toBe("switchover/fast");
  });

  it("draws a panel per profile with the fault, the failures and the new leader", () => {
    const svg = renderTimelineSvg("t", [
      {
        record: record("fast", 1100),
        timeline: [
          [0, 3, 1],
          [3500, 2000, 0],
          [4200, 4, 1],
          [10000, 3, 1],
        ],
      },
      {
        record: record("guide", 4600),
        timeline: [
          [0, 3, 1],
          [9000, 3, 1],
        ],
      },
    ]);
    expect(svg.match(/<text[^>]*font-weight="bold">(fast|guide) profile/g)).toHaveLength(2);
    expect(svg).toContain('fill="#f5a623"');
    expect(svg).toMatch(/<path d="M[\d.]+,\d+v8" stroke="#d0021b"/);
    expect(svg).toContain("new leader seen");
  });
});

describe("reading a pgpass file", () => {
  it("finds the password renderPgpass wrote, escapes undone", () => {
    const text = renderPgpass({
      readWriteUrl: "postgresql://postgres:a%3Ab%5Cc@127.0.0.1:5000/postgres",
      readOnlyUrl: "postgresql://postgres:other@127.0.0.1:5001/postgres",
    });
    expect(pgpassPassword(text, "127.0.0.1", 5000, "postgres")).toBe("a:b\\c");
    expect(pgpassPassword(text, "127.0.0.1", 5001, "postgres")).toBe("other");
    expect(pgpassPassword(text, "127.0.0.1", 5002, "postgres")).toBeUndefined();
  });
});

describe("the throughput bench", () => {
  const out = [
    "transaction type: <builtin: select only>",
    "number of clients: 50",
    "number of transactions actually processed: 612345",
    "number of failed transactions: 0 (0.000%)",
    "latency average = 4.901 ms",
    "initial connection time = 312.518 ms",
    "tps = 10203.456789 (without initial connection time)",
  ].join("\n");

  it("reads tps, latency, transactions and failures from pgbench's summary", () => {
    expect(parsePgbench(out)).toEqual({ tps: 10203.456789, latencyMs: 4.901, transactions: 612345, failed: 0 });
    expect(() => parsePgbench("connection to server failed")).toThrow(/pgbench printed no tps/);
  });

  it("sets the pooled port beside the direct one, with the ratio", () => {
    const run = (path: "direct" | "pooled", c: boolean, tps: number) => ({
      path,
      workload: "select-only" as const,
      connectPerTransaction: c,
      tps,
      latencyMs: 5,
      transactions: 1,
      failed: 0,
    });
    const t: ThroughputRecord = {
      recorded: "2026-12-07T01:00:00Z",
      engine: "pulumi",
      machine: "2 cores",
      clients: 50,
      seconds: 60,
      scale: 10,
      poolMode: "transaction",
      poolSize: 20,
      runs: [
        { ...run("direct", false, 10000), cpuUsPerTransaction: { hosts: 120, pgbouncer: 0, haproxy: 23 } },
        { ...run("pooled", false, 9000), cpuUsPerTransaction: { hosts: 161, pgbouncer: 28, haproxy: 25 } },
        run("direct", true, 80),
        run("pooled", true, 1200),
      ],
    };
    const md = renderThroughputSection(t);
    expect(md).toContain("| `-S` | per client | 10,000 tps | 9,000 tps | 0.90× |");
    expect(md).toContain("| 5 / 5 ms | 120 / 161 µs | 28 / 25 µs | 0 / 0 |");
    expect(md).toContain(
      "| `-S` | per transaction (`-C`) | 80 tps | 1,200 tps | 15.00× | 5 / 5 ms | - / - µs | - µs |",
    );
    expect(md).toContain("| read-write (TPC-B like) | per client | - | - | - |");
  });
});
