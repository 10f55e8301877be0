/**
 * Deploy figures per engine and cluster size: nothing → healthy, a no-op up, and destroy, for the
 * dev topology with 1 and with 3 replicas (2 and 4 Patroni hosts). Writes bench/results/deploy.json.
 *
 *   npx ts-node --transpile-only bench/deploy.ts [--engines direct,pulumi] [--replicas 1,3]
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { availableEngines, EngineName, makeStack, removeStack, runStack } from "../test/e2e/stack";

const RESULTS = path.join(__dirname, "results", "deploy.json");

function topology(replicas: number) {
  const names = Array.from({ length: replicas + 1 }, (_, i) => `pg${i + 1}`);
  return {
    hosts: names.map((name, i) => ({ name, address: `10.0.0.${11 + i}` })),
    roles: {
      etcd: names.length >= 3 ? names.slice(0, 3) : names.slice(0, 1),
      patroni: names,
      haproxy: names.slice(0, 2),
    },
  };
}

async function measure(engine: EngineName, replicas: number, slot: number): Promise<Record<string, number>> {
  const stack = makeStack("dev", slot, { kind: "deploy", overrides: topology(replicas) });
  try {
    const up = await runStack(stack, "up", undefined, engine);
    if (up.code !== 0) throw new Error(`up failed (${engine}, ${replicas} replicas):\n${up.output.slice(-2000)}`);
    const noop = await runStack(stack, "up", undefined, engine);
    const down = await runStack(stack, "down", undefined, engine);
    if (down.code !== 0) throw new Error(`down failed:\n${down.output.slice(-2000)}`);
    return { deploy_s: up.seconds, noop_s: noop.seconds, destroy_s: down.seconds };
  } finally {
    removeStack(stack);
  }
}

async function main(): Promise<void> {
  const arg = (n: string) => {
    const i = process.argv.indexOf(`--${n}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const engines = (arg("engines")?.split(",") as EngineName[] | undefined) ?? availableEngines();
  const sizes = (arg("replicas") ?? "1,3").split(",").map(Number);
  const data = fs.existsSync(RESULTS) ? (JSON.parse(fs.readFileSync(RESULTS, "utf8")) as Record<string, unknown>) : {};
  for (const engine of engines) {
    for (const replicas of sizes) {
      const figures = await measure(engine, replicas, 44 + replicas);
      process.stdout.write(`${engine}, ${replicas} replica(s): ${JSON.stringify(figures)}\n`);
      data[`${engine}/${replicas}-replicas`] = {
        ...figures,
        recorded: new Date().toISOString(),
        machine: `${os.cpus().length} cores`,
      };
      fs.writeFileSync(RESULTS, `${JSON.stringify(data, null, 2)}\n`);
    }
  }
}

main().catch((e: Error) => {
  process.stderr.write(`deploy bench: ${e.message}\n`);
  process.exit(1);
});
