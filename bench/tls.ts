/**
 * Part of `make bench`: what TLS costs, on the dev topology under this machine's engine (or
 * PATRONI_STACK_ENGINE). The stack is deployed from nothing with `tls.enabled: false` and with
 * TLS on; each is switched over once under the chaos client's writes (every 50 ms through the
 * virtual IP). The stack deployed in plain text then turns TLS on in place with an `up` under the
 * same client (TLS when the server offers it); TLS on renews every certificate. Timings go to
 * bench/results/e2e.json as `dev-tls-off` and `dev-tls-on`, and to docs/benchmarks.md.
 *
 *   npx ts-node --swc bench/tls.ts
 */
import { startWriting } from "./chaos/client";
import { endpoints } from "./chaos/run";
import { mustRun, onDeployedStack, regenerateReport, runAsMain } from "./harness";
import { editConfig, makeStack, patronictlList, recordBenchmark, switchover, type TestStack } from "../test/e2e/stack";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run `change` under the chaos client's writes; the longest write gap and the failed and lost writes. */
async function underLoad(stack: TestStack, label: string, change: () => Promise<void>, preferTls = false) {
  const client = await startWriting({ ...endpoints(stack).rw, preferTls }, label);
  try {
    await sleep(2000);
    await change();
    await sleep(3000);
  } finally {
    await client.stop();
  }
  const verdict = await client.verify();
  return {
    gap_s: verdict.writes.longestGapMs / 1000,
    failed: verdict.writes.failed,
    lost: verdict.writes.lost,
  };
}

async function planned(stack: TestStack): Promise<void> {
  const members = patronictlList(stack, stack.leader);
  const from = members.find((m) => m.Role === "Leader")?.Member;
  const to = members.find((m) => m.Role !== "Leader" && m.State === "streaming")?.Member;
  if (!from || !to) throw new Error("no leader and streaming replica to switch over between");
  switchover(stack, from, to);
  for (let i = 0; i < 60; i++) {
    if (patronictlList(stack, to).find((m) => m.Member === to)?.Role === "Leader") return;
    await sleep(1000);
  }
  throw new Error(`${to} did not become the leader`);
}

async function main(): Promise<void> {
  for (const tls of [false, true]) {
    const label = tls ? "dev-tls-on" : "dev-tls-off";
    const stack = makeStack("dev", 47, { kind: "bench", overrides: { tls: { enabled: tls } } });
    const { result: values } = await onDeployedStack(stack, label, async (up) => {
      const values: Record<string, number> = { deploy_s: up.seconds };
      const sw = await underLoad(stack, `${label}-switchover`, () => planned(stack));
      Object.assign(values, {
        switchover_write_gap_s: sw.gap_s,
        switchover_failed_writes: sw.failed,
        switchover_lost_writes: sw.lost,
      });
      if (!tls) {
        let seconds = 0;
        const on = await underLoad(
          stack,
          `${label}-switch-on`,
          async () => {
            editConfig(stack, "tls", { enabled: true });
            seconds = (await mustRun(stack, "up", `${label} switch to TLS`)).seconds;
          },
          true,
        );
        Object.assign(values, {
          switch_on_s: seconds,
          switch_on_write_gap_s: on.gap_s,
          switch_on_failed_writes: on.failed,
          switch_on_lost_writes: on.lost,
        });
      }
      if (tls) {
        let seconds = 0;
        const renewal = await underLoad(stack, `${label}-renewal`, async () => {
          editConfig(stack, "tls", { enabled: true, validityDays: 400 });
          seconds = (await mustRun(stack, "up", `${label} renewal`)).seconds;
        });
        Object.assign(values, {
          renewal_s: seconds,
          renewal_write_gap_s: renewal.gap_s,
          renewal_failed_writes: renewal.failed,
          renewal_lost_writes: renewal.lost,
        });
      }
      return values;
    });
    recordBenchmark(label, values);
    process.stdout.write(`${label}: ${JSON.stringify(values)}\n`);
  }
  regenerateReport();
}

runAsMain(module, main);
