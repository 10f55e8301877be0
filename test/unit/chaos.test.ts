import { pgpassPassword, renderPgpass } from "../../configs/pgpass";
import { Sample, summarize } from "../../bench/chaos/client";
import { renderBenchmarks, renderTimelineSvg } from "../../bench/chaos/report";
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

function record(profile: "fast" | "guide", gapMs: number): ChaosRecord {
  return {
    run: "r1",
    scenario: "switchover",
    title: "a planned switchover under load",
    profile,
    topology: "dev",
    pooled: true,
    engine: "direct",
    facts: {},
    fault: { start: 3000, end: 4000, leaderSeen: 3800 },
    writes: { ok: 100, failed: 2, lost: 0, ghost: 0, longestGapMs: gapMs, longestGapAt: 3100 },
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
