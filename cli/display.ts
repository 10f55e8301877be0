/**
 * The display of `make up`, `make down` and `make refresh`: runs the engine with all of its output
 * going to a per-run log file, follows the engine's event log (the Pulumi CLI's `--event-log`, or
 * the direct runner's, which has the same shape), and prints one line per resource as it starts
 * and as it ends (with its duration), a running count, the last lines of a step that fails, and a
 * summary with the log's path. `VERBOSE=1` (scripts/stack.sh -v) bypasses it.
 *
 *   ts-node cli/display.ts --verb up --events FILE --log FILE -- COMMAND [ARGS...]
 */
import { spawn } from "child_process";
import * as fs from "fs";
import { parseArgs } from "util";

/** One line of an engine event log: the fields the display reads. */
export interface EngineEvent {
  resourcePreEvent?: { metadata: StepMetadata };
  resOutputsEvent?: { metadata: StepMetadata };
  resOpFailedEvent?: { metadata: StepMetadata };
  diagnosticEvent?: { urn?: string; message: string; severity: string };
}

interface StepMetadata {
  op: string;
  urn: string;
  type: string;
}

const PAST: Record<string, string> = {
  create: "created",
  update: "updated",
  replace: "replaced",
  "create-replacement": "replaced",
  delete: "deleted",
  "delete-replaced": "deleted (replaced)",
  refresh: "read",
  read: "read",
};
const MARK: Record<string, string> = {
  create: "+",
  update: "~",
  replace: "+-",
  "create-replacement": "+-",
  delete: "-",
};

/** The resource name at the end of a URN. */
export const nameOf = (urn: string): string => urn.slice(urn.lastIndexOf("::") + 2);
/** `command:remote:Command` → `Command`. */
export const shortType = (type: string): string => type.slice(type.lastIndexOf(":") + 1);

/** Resources the display leaves out: the stack and the project's own components. */
const shown = (m: StepMetadata) => !m.type.startsWith("pulumi:") && !m.type.startsWith("patroni-stack:");

/**
 * Turns events into display lines. `now` is in milliseconds; a step's duration runs from the
 * event that started it to the one that ended it.
 */
export class Display {
  private started = new Map<string, number>();
  private tails = new Map<string, string[]>();
  private counts = new Map<string, number>();
  private done = 0;
  readonly failed: string[] = [];

  constructor(private readonly tailLines = 15) {}

  event(e: EngineEvent, now: number): string[] {
    if (e.diagnosticEvent) {
      const { urn, message } = e.diagnosticEvent;
      // The program's own errors come on the stack resource (Pulumi) or on none (the runner).
      const key = urn && !urn.includes("::pulumi:pulumi:Stack::") ? nameOf(urn) : "";
      const tail = this.tails.get(key) ?? [];
      tail.push(...message.replace(/\n$/, "").split("\n"));
      this.tails.set(key, tail.slice(-this.tailLines));
      return [];
    }
    const pre = e.resourcePreEvent?.metadata;
    if (pre && shown(pre)) {
      if (pre.op === "same") return [];
      this.started.set(pre.urn, now);
      return [`${this.prefix()} ${MARK[pre.op] ?? "*"} ${nameOf(pre.urn)} (${shortType(pre.type)}) ${pre.op}…`];
    }
    const out = e.resOutputsEvent?.metadata;
    if (out && shown(out)) {
      this.done++;
      this.counts.set(out.op, (this.counts.get(out.op) ?? 0) + 1);
      if (out.op === "same") return [];
      const seconds = this.seconds(out.urn, now);
      return [`${this.prefix()} ✓ ${nameOf(out.urn)} (${shortType(out.type)}) ${PAST[out.op] ?? out.op}${seconds}`];
    }
    const failed = e.resOpFailedEvent?.metadata;
    if (failed && shown(failed)) {
      const name = nameOf(failed.urn);
      this.failed.push(name);
      const tail = this.tails.get(name) ?? [];
      return [
        `${this.prefix()} ✗ ${name} (${shortType(failed.type)}) ${failed.op} failed${this.seconds(failed.urn, now)}`,
        ...tail.map((l) => `      │ ${l}`),
      ];
    }
    return [];
  }

  /** Errors not tied to a resource (the program's own), for the end of a failed run. */
  generalErrors(): string[] {
    return this.tails.get("") ?? [];
  }

  summary(verb: string, seconds: number): string {
    const parts = [...this.counts.entries()].filter(([op]) => op !== "same").map(([op, n]) => `${n} ${PAST[op] ?? op}`);
    const same = this.counts.get("same") ?? 0;
    return `${verb}: ${[...parts, `${same} unchanged`].join(", ")} in ${seconds.toFixed(1)} s`;
  }

  private prefix(): string {
    return `[${String(this.done).padStart(3)} done]`;
  }

  private seconds(urn: string, now: number): string {
    const start = this.started.get(urn);
    return start === undefined ? "" : ` in ${((now - start) / 1000).toFixed(1)} s`;
  }
}

/** The complete lines appended to a file since the last call. */
function follower(file: string): () => string[] {
  let offset = 0;
  let partial = "";
  return () => {
    if (!fs.existsSync(file)) return [];
    const size = fs.statSync(file).size;
    if (size <= offset) return [];
    const fd = fs.openSync(file, "r");
    const buf = Buffer.alloc(size - offset);
    fs.readSync(fd, buf, 0, buf.length, offset);
    fs.closeSync(fd);
    offset = size;
    const lines = (partial + buf.toString("utf8")).split("\n");
    partial = lines.pop() ?? "";
    return lines.filter((l) => l.trim());
  };
}

function lastLines(file: string, n: number): string[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-n);
}

async function main(): Promise<number> {
  const usage = "usage: cli/display.ts --verb VERB --events FILE --log FILE -- COMMAND [ARGS...]";
  let parsed;
  try {
    parsed = parseArgs({
      options: { verb: { type: "string", default: "run" }, events: { type: "string" }, log: { type: "string" } },
      allowPositionals: true,
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n${usage}`);
    return 2;
  }
  const { verb, events, log } = parsed.values;
  const command = parsed.positionals;
  if (!events || !log || command.length === 0) {
    console.error(usage);
    return 2;
  }
  const out = fs.openSync(log, "a", 0o600);
  const started = Date.now();
  console.log(`${verb}: full output in ${log}`);
  const child = spawn(command[0], command.slice(1), { stdio: ["ignore", out, out] });
  const display = new Display();
  const read = follower(events);
  const drain = () => {
    for (const line of read()) {
      let e: EngineEvent;
      try {
        e = JSON.parse(line) as EngineEvent;
      } catch {
        continue;
      }
      for (const l of display.event(e, Date.now())) console.log(l);
    }
  };
  // Ctrl-C reaches the engine from the terminal (same process group): keep following it to the end.
  process.on("SIGINT", () => undefined);
  process.on("SIGTERM", () => child.kill("SIGTERM"));
  const timer = setInterval(drain, 200);
  const code = await new Promise<number>((resolve) => child.on("close", (c, s) => resolve(c ?? (s ? 130 : 1))));
  clearInterval(timer);
  drain();
  console.log(display.summary(verb, (Date.now() - started) / 1000));
  if (code !== 0) {
    const general = display.generalErrors();
    const tail = general.length > 0 || display.failed.length > 0 ? general : lastLines(log, 25);
    for (const l of tail) console.log(`  │ ${l}`);
    console.log(`${verb} failed (exit ${code}); the full output is in ${log}`);
  }
  return code;
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
