/**
 * The direct runner's engine: runs the Pulumi program in-process and carries out each resource
 * registration for real, in the order the SDK issues them (a resource registers only after its
 * dependencies), so the program's own dependency edges decide what runs when.
 *
 * Like Pulumi it keeps state: a resource whose inputs did not change (and whose object still
 * exists) is not run again, a failed resource is retried on the next `up`, and `destroy` deletes
 * in reverse dependency order (dependents first, children before parents).
 */
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { HANDLERS } from "./handlers";
import { ResourceState, StateFile } from "./state";
import { describeChange, deserialize } from "./values";

export interface Event {
  op: "create" | "update" | "same" | "delete";
  type: string;
  name: string;
  seconds: number;
}

interface Captured {
  urn: string;
  parent: string;
  dependencies: string[];
  raw: Record<string, unknown>;
  /** Inputs whose changes are ignored once the resource exists (`ignoreChanges`). */
  ignoreChanges: string[];
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getDependenciesList(): string[];
  getIgnorechangesList(): string[];
  getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
}
interface MonitorLike {
  newUrn(parent: string, type: string, name: string): string;
  registerResource(req: RegisterRequest, cb: (err: unknown, resp: unknown) => void): unknown;
}

const digestOf = (raw: unknown) => crypto.createHash("sha256").update(JSON.stringify(raw)).digest("hex");

let cancelled = false;

/** Stop starting new resources (Ctrl-C); steps already running finish and are recorded. */
export function cancel(): void {
  cancelled = true;
}

export interface UpOptions {
  project: string;
  stack: string;
  /** `patroni-stack:key` → JSON text, as `pulumi config` holds it. */
  config: Record<string, string>;
  state: StateFile;
  /** Loads the program (e.g. `require("./index")`) and returns its exports. */
  load: () => Record<string, unknown>;
  onEvent?: (e: Event) => void;
  /** Show what would change, change nothing (like `pulumi preview`). */
  dryRun?: boolean;
}

export interface UpResult {
  events: Event[];
  outputs: Record<string, unknown>;
}

export async function up(opts: UpOptions): Promise<UpResult> {
  const { state } = opts;
  const events: Event[] = [];
  const emit = (e: Event) => {
    events.push(e);
    opts.onEvent?.(e);
  };
  const captured = new Map<string, Captured>();
  const seen = new Set<string>();
  const failures: Error[] = [];
  let inFlight = 0;
  /** Containers created in this run: everything that runs on them must run again. */
  const freshHosts = new Set<string>();

  await pulumi.runtime.setMocks(
    {
      newResource: async (args) => {
        const key = `${args.type}::${args.name}`;
        const info = captured.get(key);
        if (!info) throw new Error(`internal: no request captured for ${key}`);
        inFlight++;
        try {
          return await apply(args.type, args.name, deserialize(args.inputs), args.custom ?? false, info);
        } catch (e) {
          failures.push(e as Error);
          throw e;
        } finally {
          inFlight--;
        }
      },
      call: (args) => {
        throw new Error(`the direct runner has no function ${args.token}`);
      },
    },
    opts.project,
    opts.stack,
    false,
  );
  pulumi.runtime.setAllConfig(opts.config);

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const monitor = (require("@pulumi/pulumi/runtime/settings") as { getMonitor(): MonitorLike }).getMonitor();
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    captured.set(`${req.getType()}::${req.getName()}`, {
      urn: monitor.newUrn(req.getParent(), req.getType(), req.getName()),
      parent: req.getParent(),
      dependencies: req.getDependenciesList(),
      raw: req.getObject()?.toJavaScript() ?? {},
      ignoreChanges: req.getIgnorechangesList(),
    });
    return original(req, cb);
  };

  async function apply(type: string, name: string, inputs: Record<string, unknown>, custom: boolean, info: Captured) {
    const urn = info.urn;
    seen.add(urn);
    const previous = state.get(urn);
    const onFreshHost = info.dependencies.some((d) => freshHosts.has(d));
    if (previous && !onFreshHost) {
      // As Pulumi does: an existing resource keeps its recorded value of an ignored input.
      for (const key of info.ignoreChanges) {
        if (key in previous.inputs) {
          info.raw[key] = previous.inputs[key];
          inputs[key] = deserialize({ [key]: previous.inputs[key] })[key];
        }
      }
    }
    const digest = digestOf(info.raw);
    const record = (outputs: Record<string, unknown>) =>
      state.put({
        urn,
        type,
        name,
        parent: info.parent,
        dependencies: info.dependencies,
        custom,
        digest,
        inputs: info.raw,
        outputs,
      });
    if (!custom) {
      if (!opts.dryRun) record({});
      return { id: undefined, state: {} };
    }
    const handler = HANDLERS[type];
    if (!handler) throw new Error(`the direct runner cannot create ${type} (${name})`);
    if (cancelled) throw new Error("interrupted: run `up` again to continue");
    const started = Date.now();
    const unchanged =
      previous?.digest === digest &&
      !onFreshHost &&
      (!handler.exists || (await handler.exists(name, inputs, previous.outputs)));
    if (previous && unchanged) {
      emit({ op: "same", type, name, seconds: 0 });
      return { id: `${name}-id`, state: { ...inputs, ...previous.outputs } };
    }
    if (opts.dryRun) {
      const op = previous ? "update" : "create";
      process.stderr.write(`${op === "create" ? "+" : "~"} ${name} (${type.split(":").pop()})\n`);
      if (previous) process.stderr.write(describeChange(previous.inputs, info.raw));
      emit({ op, type, name, seconds: 0 });
      if (type === "docker:index/container:Container") freshHosts.add(urn);
      return { id: `${name}-id`, state: { ...inputs, ...(previous?.outputs ?? {}) } };
    }
    process.stderr.write(`+ ${name} (${type.split(":").pop()})\n`);
    const outputs = await handler.create(name, inputs, previous?.outputs);
    record(outputs);
    if (type === "docker:index/container:Container") freshHosts.add(urn);
    emit({ op: "create", type, name, seconds: (Date.now() - started) / 1000 });
    return { id: String(outputs.id ?? `${name}-id`), state: { ...inputs, ...outputs } };
  }

  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => rejections.push(e);
  process.on("unhandledRejection", onRejection);
  try {
    const exports = opts.load();
    await quiesce(
      () => captured.size,
      () => inFlight,
    );
    if (failures.length > 0) throw failures[0];
    // Resources the program no longer declares are deleted, dependents first.
    const gone = state.all().filter((r) => !seen.has(r.urn));
    if (opts.dryRun) {
      for (const r of deletionOrder(gone)) {
        if (!r.custom) continue;
        process.stderr.write(`- ${r.name} (${r.type.split(":").pop()})\n`);
        emit({ op: "delete", type: r.type, name: r.name, seconds: 0 });
      }
    } else {
      await deleteInOrder(gone, state, emit);
    }
    return { events, outputs: await resolveOutputs(exports) };
  } finally {
    process.off("unhandledRejection", onRejection);
  }
}

async function quiesce(count: () => number, busy: () => number): Promise<void> {
  let last = -1;
  let quiet = 0;
  while (quiet < 10) {
    await new Promise((r) => setTimeout(r, 50));
    const n = count();
    quiet = n === last && busy() === 0 ? quiet + 1 : 0;
    last = n;
  }
}

async function resolveOutputs(exports: Record<string, unknown>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(exports)) {
    if (v === undefined) continue;
    out[k] = await new Promise((resolve) => pulumi.output(v).apply((x) => resolve(x)));
  }
  return out;
}

/** Delete order: a resource goes before everything it depends on and before its parent. */
export function deletionOrder(resources: ResourceState[]): ResourceState[] {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const blockers = new Map<string, Set<string>>(); // urn → urns that must be deleted first
  for (const r of resources) blockers.set(r.urn, new Set());
  for (const r of resources) {
    for (const d of r.dependencies) if (byUrn.has(d)) blockers.get(d)?.add(r.urn);
    if (byUrn.has(r.parent)) blockers.get(r.parent)?.add(r.urn);
  }
  const order: ResourceState[] = [];
  const done = new Set<string>();
  while (order.length < resources.length) {
    const ready = resources.filter(
      (r) => !done.has(r.urn) && [...(blockers.get(r.urn) ?? [])].every((b) => done.has(b)),
    );
    if (ready.length === 0) throw new Error("dependency cycle in the state");
    for (const r of ready) {
      order.push(r);
      done.add(r.urn);
    }
  }
  return order;
}

async function deleteInOrder(resources: ResourceState[], state: StateFile, emit: (e: Event) => void) {
  for (const r of deletionOrder(resources)) {
    const handler = HANDLERS[r.type];
    const started = Date.now();
    if (r.custom && handler?.delete) {
      process.stderr.write(`- ${r.name} (${r.type.split(":").pop()})\n`);
      await handler.delete(r.name, deserialize(r.inputs), r.outputs);
    }
    state.remove(r.urn);
    if (r.custom) emit({ op: "delete", type: r.type, name: r.name, seconds: (Date.now() - started) / 1000 });
  }
}

export async function destroy(state: StateFile, onEvent?: (e: Event) => void): Promise<Event[]> {
  const events: Event[] = [];
  await deleteInOrder(state.all(), state, (e) => {
    events.push(e);
    onEvent?.(e);
  });
  return events;
}
