/**
 * Part of `make bench`: the dev topology deployed from nothing with one replica and with three
 * (the same three etcd members and two routers), then a no-op up, then destroyed, under this machine's engine
 * (or PATRONI_STACK_ENGINE). Timings go to bench/results/e2e.json as `dev-1-replica` and
 * `dev-3-replicas`.
 *
 *   npx ts-node --swc bench/deploy.ts
 */
import { deployPhases, makeStack, recordBenchmark, removeStack, runStack } from "../test/e2e/stack";

const SHAPES: [label: string, patroni: number][] = [
  ["dev-1-replica", 2],
  ["dev-3-replicas", 4],
];

async function main(): Promise<void> {
  for (const [label, members] of SHAPES) {
    const names = Array.from({ length: Math.max(members, 3) }, (_, i) => `pg${i + 1}`);
    const stack = makeStack("dev", 45, {
      kind: "bench",
      overrides: {
        // Addresses are assigned by makeStack, in order.
        hosts: names.map((name) => ({ name, address: "0.0.0.0" })),
        roles: { etcd: names.slice(0, 3), patroni: names.slice(0, members), haproxy: names.slice(0, 2) },
      },
    });
    try {
      const up = await runStack(stack, "up");
      if (up.code !== 0) throw new Error(`${label}: up failed:\n${up.output.slice(-2000)}`);
      const noop = await runStack(stack, "up");
      if (noop.code !== 0) throw new Error(`${label}: no-op up failed:\n${noop.output.slice(-2000)}`);
      const down = await runStack(stack, "down");
      if (down.code !== 0) throw new Error(`${label}: down failed:\n${down.output.slice(-2000)}`);
      recordBenchmark(label, {
        deploy_s: up.seconds,
        noop_s: noop.seconds,
        destroy_s: down.seconds,
        ...deployPhases(up.events, stack.leader),
      });
      process.stdout.write(
        `${label}: deploy ${up.seconds.toFixed(1)} s, no-op ${noop.seconds.toFixed(1)} s, destroy ${down.seconds.toFixed(1)} s\n`,
      );
    } finally {
      removeStack(stack);
    }
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench: ${e.message}\n`);
  process.exit(1);
});
