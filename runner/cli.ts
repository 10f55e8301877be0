/**
 * patroni-stack's direct runner: `pulumi up` / `pulumi destroy` for machines without the Pulumi
 * CLI and plugins. It runs the same program (index.ts) with the same stack file and the same
 * dependency edges, carrying out each resource through ssh and the docker CLI.
 *
 *   ts-node runner/cli.ts up <stack> [--events FILE]
 *   ts-node runner/cli.ts preview <stack>            (what `up` would change; changes nothing)
 *   ts-node runner/cli.ts destroy <stack> [--events FILE]
 *   ts-node runner/cli.ts outputs <stack>
 *
 * State lives in .pulumi-state/direct/<stack>.json (mode 0600).
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { cancel, destroy, Event, up } from "./engine";
import { StateFile } from "./state";
import { terminateAll } from "./exec";

const ROOT = path.resolve(__dirname, "..");

function usage(): never {
  console.error("usage: runner/cli.ts up|preview|destroy|outputs <stack> [--events FILE] [--workdir DIR]");
  process.exit(2);
}

function readStackConfig(dir: string, stack: string): Record<string, string> {
  const file = path.join(dir, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) throw new Error(`no stack file ${file}`);
  const doc = (parse(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (value && typeof value === "object" && "secure" in value) {
      throw new Error(`${key} is an encrypted secret: the direct runner only runs local stacks; use the Pulumi CLI`);
    }
    config[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return config;
}

function writeClientFiles(dir: string, stack: string, outputs: Record<string, unknown>): string | undefined {
  const rw = outputs.readWriteUrl as string | undefined;
  const ro = outputs.readOnlyUrl as string | undefined;
  if (!rw || !ro) return undefined;
  const lines = [rw, ro].map((u) => {
    const url = new URL(u);
    return `${url.hostname}:${url.port}:*:${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  });
  const file = path.join(dir, ".pulumi-state", `${stack}.pgpass`);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
  return file;
}

function printHowToConnect(outputs: Record<string, unknown>, pgpass: string | undefined) {
  const rw = outputs.readWriteUrl ? new URL(String(outputs.readWriteUrl)) : undefined;
  const ro = outputs.readOnlyUrl ? new URL(String(outputs.readOnlyUrl)) : undefined;
  if (!rw || !ro) return;
  const rel = pgpass ? path.relative(process.cwd(), pgpass) : "";
  console.log("\nThe cluster is up. Connect through HAProxy:");
  console.log(`  read-write: PGPASSFILE=${rel} psql -h ${rw.hostname} -p ${rw.port} -U ${rw.username} postgres`);
  console.log(`  read-only:  PGPASSFILE=${rel} psql -h ${ro.hostname} -p ${ro.port} -U ${ro.username} postgres`);
  console.log(`  stats:      ${String(outputs.statsUrl)}`);
  console.log(`  members:    ${JSON.stringify(outputs.members)}`);
}

async function main() {
  const [verb, stack, ...rest] = process.argv.slice(2);
  if (!verb || !stack) usage();
  const flag = (name: string) => {
    const i = rest.indexOf(name);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  const workdir = path.resolve(flag("--workdir") ?? ROOT);
  const eventsFile = flag("--events");
  const state = new StateFile(path.join(workdir, ".pulumi-state", "direct", `${stack}.json`), stack);
  const project = (parse(fs.readFileSync(path.join(workdir, "Pulumi.yaml"), "utf8")) as { name: string }).name;
  const events: Event[] = [];
  const onEvent = (e: Event) => events.push(e);
  const started = Date.now();
  let interrupts = 0;
  process.on("SIGINT", () => {
    if (++interrupts > 1) process.exit(130);
    console.error("interrupted: stopping; run the same command again to finish (every step is safe to re-run)");
    cancel();
    terminateAll();
  });

  try {
    if (verb === "preview") {
      const config = readStackConfig(workdir, stack);
      process.chdir(workdir);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const load = () => require(path.join(ROOT, "index.ts")) as Record<string, unknown>;
      await up({ project, stack, config, state, onEvent, load, dryRun: true });
      const count = (op: Event["op"]) => events.filter((e) => e.op === op).length;
      console.log(
        `\npreview: ${count("create")} to create, ${count("update")} to update, ${count("delete")} to delete, ${count("same")} unchanged`,
      );
    } else if (verb === "up") {
      const config = readStackConfig(workdir, stack);
      process.chdir(workdir);
      const result = await up({
        project,
        stack,
        config,
        state,
        onEvent,
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        load: () => require(path.join(ROOT, "index.ts")) as Record<string, unknown>,
      });
      fs.writeFileSync(
        path.join(path.dirname(state.file), `${stack}.outputs.json`),
        JSON.stringify(result.outputs, null, 1),
        {
          mode: 0o600,
        },
      );
      const changed = events.filter((e) => e.op !== "same").length;
      console.log(
        `\nup: ${changed} changed, ${events.length - changed} unchanged (${((Date.now() - started) / 1000).toFixed(1)} s)`,
      );
      printHowToConnect(result.outputs, writeClientFiles(workdir, stack, result.outputs));
    } else if (verb === "destroy") {
      await destroy(state, onEvent);
      console.log(`destroy: ${events.length} deleted (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } else if (verb === "outputs") {
      const file = path.join(path.dirname(state.file), `${stack}.outputs.json`);
      console.log(fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "{}");
    } else {
      usage();
    }
  } finally {
    if (eventsFile) fs.writeFileSync(eventsFile, JSON.stringify(events, null, 1));
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`error: ${e.message}`);
    process.exit(1);
  },
);
