/**
 * The short chaos run `make test` does on the dev cluster of the end-to-end suite, so that the
 * harness cannot rot: the leader's PostgreSQL killed, the leader's host lost, a planned switchover,
 * the clients' router lost (the virtual IP moves) and its read-write PgBouncer killed, under load
 * on the fast profile, with one client through the stack's pools and one through HAProxy's direct
 * ports. Each must end with one leader and every replica streaming, without manual steps, and lose
 * no acknowledged write; in the switchover (held by PAUSE) the pooled client keeps reaching the
 * virtual IP and fails fewer statements than the direct one. The timings go to
 * bench/results/chaos-smoke.json, not into assertions.
 */
import { runChaos } from "../../bench/chaos/run";
import { SCENARIOS } from "../../bench/chaos/scenarios";
import { TestStack } from "./stack";

/** Run the smoke scenarios on `deployed` (a dev stack on the fast profile, left up) and check them. */
export async function expectChaosSmoke(deployed: TestStack): Promise<void> {
  const smoke = SCENARIOS.filter((s) => s.smoke);
  const lines: string[] = [];
  const { records } = await runChaos({
    profiles: ["fast"],
    scenarios: smoke,
    hogSeconds: 0,
    label: "chaos-smoke",
    deployed,
    log: (l) => lines.push(l),
  });
  process.stdout.write(`${lines.join("\n")}\n`);
  // The dev stack pools its clients: each scenario measured on both paths.
  const ids = smoke.map((s) => s.id);
  expect(records.filter((r) => r.pooled).map((r) => r.scenario)).toEqual(ids);
  expect(records.filter((r) => !r.pooled).map((r) => r.scenario)).toEqual(ids);
  for (const r of records) {
    expect({ scenario: r.scenario, after: r.after.ok ? "ok" : r.after.detail, lost: r.writes.lost }).toEqual({
      scenario: r.scenario,
      after: "ok",
      lost: 0,
    });
    // Every write loop ran, and the client saw the fault end.
    expect(r.writes.ok).toBeGreaterThan(100);
    expect(r.reads.ok).toBeGreaterThan(100);
  }
  // The pools hold their clients through a planned switchover on both routers: not one write
  // through the pooled port fails (each waits, then runs on the new primary), while the client
  // straight to HAProxy sees errors. The errors, if any, are printed.
  const held = records.find((r) => r.scenario === "switchover" && r.pooled);
  const unheld = records.find((r) => r.scenario === "switchover" && !r.pooled);
  process.stdout.write(
    `held switchover through the pools: ${held?.writes.failed} failed writes, ${held?.reads.failed} failed reads, longest write gap ${held?.writes.longestGapMs} ms, hold ${JSON.stringify(held?.facts ?? {})}${held?.errors ? ` (${held.errors.join("; ")})` : ""}\n`,
  );
  expect(held?.errors ?? []).toEqual([]);
  expect(held?.writes.failed).toBe(0);
  expect(unheld?.writes.failed).toBeGreaterThan(0);
  // A switchover and a lost leader move the leadership to a new timeline.
  const changed = records.filter((r) => ["switchover", "leader-host-lost"].includes(r.scenario));
  expect(changed).toHaveLength(4);
  for (const r of changed) {
    expect(r.after.leader).not.toBe(r.before.leader);
    expect(r.after.timeline).toBeGreaterThan(r.before.timeline ?? 0);
  }
}
