/**
 * Part of `make bench`: the dev topology deployed from nothing with one replica and with three
 * (the same three etcd members and two routers), then a no-op up, then destroyed, under this machine's engine
 * (or PATRONI_STACK_ENGINE). Timings go to bench/results/e2e.json as `dev-1-replica` and
 * `dev-3-replicas`.
 *
 *   npx ts-node --swc bench/deploy.ts
 */
import { mustRun, onDeployedStack, runAsMain } from "./harness";
import { deployPhases, makeStack, recordBenchmark } from "../test/e2e/stack";

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
    const {
      result: noop,
      up,
      down,
    } = await onDeployedStack(stack, label, () => mustRun(stack, "up", `${label} no-op`));
    recordBenchmark(label, {
      deploy_s: up.seconds,
      noop_s: noop.seconds,
      destroy_s: down.seconds,
      ...deployPhases(up.events, stack.leader),
    });
    process.stdout.write(
      `${label}: deploy ${up.seconds.toFixed(1)} s, no-op ${noop.seconds.toFixed(1)} s, destroy ${down.seconds.toFixed(1)} s\n`,
    );
  }
}

runAsMain(module, main);
