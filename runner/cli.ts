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
 * `--event-log FILE` writes each step's start, end and failure, and the output lines of the
 * remote steps, as JSON lines in the shape of the Pulumi CLI's `--event-log`, for the display.
 *
 * State lives in .pulumi-state/direct/<stack>.json (mode 0600).
 */
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { parse } from "yaml";
import { destroy, Event, Progress, Sink, up } from "./engine";
import { StateFile } from "./state";
import { setOutputSink, terminateAll } from "./exec";
import { announce } from "../cli/connection";
import { readStackFile } from "../settings/stackFile";

const ROOT = path.resolve(__dirname, "..");

function usage(): never {
  console.error("usage: runner/cli.ts up|preview|destroy|outputs <stack> [--events FILE] [--workdir DIR]");
  process.exit(2);
}

async function main() {
  let parsed;
  try {
    parsed = parseArgs({
      options: { events: { type: "string" }, "event-log": { type: "string" }, workdir: { type: "string" } },
      allowPositionals: true,
    });
  } catch (e) {
    console.error((e as Error).message);
    usage();
  }
  const [verb, stack, ...extra] = parsed.positionals;
  if (!verb || !stack || extra.length > 0) usage();
  const workdir = path.resolve(parsed.values.workdir ?? ROOT);
  const invokedFrom = process.cwd();
  const eventsFile = parsed.values.events;
  const eventLog = parsed.values["event-log"];
  const events: Event[] = [];
  const sink: Sink = {
    event: (e) => events.push(e),
    progress: eventLog ? eventLogWriter(eventLog, stack) : undefined,
  };
  const state = new StateFile(path.join(workdir, ".pulumi-state", "direct", `${stack}.json`), stack);
  const projectFile = parse(fs.readFileSync(path.join(workdir, "Pulumi.yaml"), "utf8")) as {
    name: string;
    main?: string;
  };
  const project = projectFile.name;
  // As Pulumi does: `main` in Pulumi.yaml (relative to the project) names the program.
  const main = path.resolve(workdir, projectFile.main ?? ".");
  const program = fs.statSync(main).isDirectory() ? path.join(main, "index.ts") : main;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const load = () => require(program) as Record<string, unknown>;
  const started = Date.now();
  const interrupted = new AbortController();
  let interrupts = 0;
  process.on("SIGINT", () => {
    if (++interrupts > 1) process.exit(130);
    console.error("interrupted: stopping; run the same command again to finish (every step is safe to re-run)");
    interrupted.abort();
    terminateAll();
  });

  try {
    // Secret values (`scripts/stack.sh secret`, `pulumi config set --secret`) decrypt with the
    // passphrase in the environment, and reach the program as secrets.
    const secretKeys: string[] = [];
    const readConfig = () => readStackFile(workdir, stack, { secrets: "decrypt", secretKeys });
    if (verb === "preview") {
      const config = readConfig();
      process.chdir(workdir);
      await up({ project, stack, config, secretKeys, state, sink, signal: interrupted.signal, load, dryRun: true });
      const count = (op: Event["op"]) => events.filter((e) => e.op === op).length;
      console.log(
        `\npreview: ${count("create")} to create, ${count("update")} to update, ${count("replace")} to replace, ${count("delete")} to delete, ${count("same")} unchanged`,
      );
    } else if (verb === "up") {
      const config = readConfig();
      process.chdir(workdir);
      const result = await up({
        project,
        stack,
        config,
        secretKeys,
        state,
        sink,
        signal: interrupted.signal,
        load,
      });
      // A program without resources has saved no state: its directory may not exist yet.
      fs.mkdirSync(path.dirname(state.file), { recursive: true, mode: 0o700 });
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
      announce(workdir, stack, result.outputs, invokedFrom);
    } else if (verb === "destroy") {
      await destroy(state, sink);
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

/**
 * Steps and their output as the Pulumi CLI's event log has them (the fields a display reads):
 * returns the progress handler for the engine's sink.
 */
function eventLogWriter(file: string, stack: string): (p: Progress) => void {
  const fd = fs.openSync(file, "a", 0o600);
  let sequence = 0;
  const write = (event: object) =>
    fs.writeSync(
      fd,
      `${JSON.stringify({ sequence: sequence++, timestamp: Math.floor(Date.now() / 1000), ...event })}\n`,
    );
  const urn = (type: string, name: string) => `urn:pulumi:${stack}::patroni-stack::${type}::${name}`;
  const onProgress = (p: Progress) => {
    const metadata = { op: p.op, urn: urn(p.type, p.name), type: p.type };
    if (p.phase === "start") write({ resourcePreEvent: { metadata } });
    else if (p.phase === "end") write({ resOutputsEvent: { metadata } });
    else {
      write({ diagnosticEvent: { urn: metadata.urn, message: `${p.message ?? "failed"}\n`, severity: "error" } });
      write({ resOpFailedEvent: { metadata, status: 1, steps: 0 } });
    }
  };
  // Remote steps print as "  <resource name>: <line>".
  setOutputSink((prefix, line) => {
    process.stderr.write(`${prefix}${line}\n`);
    const name = /^\s*([^:\s]+):\s*$/.exec(prefix)?.[1];
    if (name) write({ diagnosticEvent: { urn: urn("step", name), message: `${line}\n`, severity: "info" } });
  });
  return onProgress;
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`error: ${e.message}`);
    process.exit(1);
  },
);
