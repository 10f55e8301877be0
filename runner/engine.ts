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
import { replacingKeys, TypeSpec, typeSpec } from "./handlers";
import { ResourceState, StateFile } from "./state";
import { trackProgram } from "./settle";
import { describeChange, deserialize } from "./values";

export interface Event {
  op: "create" | "update" | "replace" | "same" | "delete";
  type: string;
  name: string;
  seconds: number;
  /** When it ended, in seconds since the run started. */
  at?: number;
}

/** A step as it starts, ends or fails: what a display (or an event log) follows. */
export interface Progress {
  phase: "start" | "end" | "fail";
  op: Event["op"];
  type: string;
  name: string;
  message?: string;
}

/**
 * Where a run reports, all through one object: each finished operation (`event`), each step as
 * it starts, ends or fails (`progress`, for a display or an event log), and the engine's own
 * lines (`log`, stderr by default).
 */
export interface Sink {
  event?(e: Event): void;
  progress?(p: Progress): void;
  log?(text: string): void;
}

/** The sink with its defaults filled in. */
function reporter(sink: Sink = {}) {
  return {
    event: (e: Event) => sink.event?.(e),
    progress: (p: Progress) => sink.progress?.(p),
    log: (text: string) => (sink.log ? sink.log(text) : process.stderr.write(text)),
  };
}
type Reporter = ReturnType<typeof reporter>;

interface Captured {
  urn: string;
  parent: string;
  dependencies: string[];
  raw: Record<string, unknown>;
  /** Inputs whose changes are ignored once the resource exists (`ignoreChanges`). */
  ignoreChanges: string[];
  /** The resources each input's value comes from. */
  propertyDependencies: Record<string, string[]>;
  deleteBeforeReplace: boolean;
  /** Top-level inputs whose change replaces the resource (`replaceOnChanges`; "*" for all). */
  replaceOnChanges: string[];
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getDependenciesList(): string[];
  getIgnorechangesList(): string[];
  getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
  getPropertydependenciesMap(): {
    forEach(cb: (value: { getUrnsList(): string[] }, key: string) => void): void;
  };
  getDeletebeforereplace(): boolean;
  getReplaceonchangesList(): string[];
  getProtect(): boolean;
  getRetainondelete(): boolean;
  getDeletedwith(): string;
  getProvider(): string;
  getImportid(): string;
  getCustomtimeouts(): { getCreate(): string; getUpdate(): string; getDelete(): string } | undefined;
  getReplaceWithList(): string[];
  getHidediffsList(): string[];
}

/** Resource options the runner does not implement: refused rather than silently ignored. */
function unsupportedOptions(req: RegisterRequest): string[] {
  const found: string[] = [];
  if (req.getProtect()) found.push("protect");
  if (req.getRetainondelete()) found.push("retainOnDelete");
  if (req.getDeletedwith()) found.push("deletedWith");
  if (req.getProvider()) found.push("provider");
  if (req.getImportid()) found.push("import");
  const timeouts = req.getCustomtimeouts();
  if (timeouts && (timeouts.getCreate() || timeouts.getUpdate() || timeouts.getDelete())) found.push("customTimeouts");
  if (req.getReplaceWithList().length) found.push("replaceWith");
  if (req.getHidediffsList().length) found.push("hideDiffs");
  return found;
}
interface MonitorLike {
  newUrn(parent: string, type: string, name: string): string;
  registerResource(req: RegisterRequest, cb: (err: unknown, resp: unknown) => void): unknown;
}

const digestOf = (raw: unknown) => crypto.createHash("sha256").update(JSON.stringify(raw)).digest("hex");

export interface UpOptions {
  project: string;
  stack: string;
  /** `patroni-stack:key` → JSON text, as `pulumi config` holds it. */
  config: Record<string, string>;
  /** The config keys whose values are secret. */
  secretKeys?: string[];
  state: StateFile;
  /** Loads the program (e.g. `require("./index")`) and returns its exports. */
  load: () => Record<string, unknown>;
  sink?: Sink;
  /** Aborted (Ctrl-C): no new resource starts; steps already running finish and are recorded. */
  signal?: AbortSignal;
  /** Show what would change, change nothing (like `pulumi preview`). */
  dryRun?: boolean;
}

export interface UpResult {
  events: Event[];
  outputs: Record<string, unknown>;
}

/**
 * Record what the SDK sends for each registration (dependencies, options, the raw inputs) before
 * the mock monitor answers it; refuse, before anything runs, an option the runner does not honour.
 */
function captureRegistrations(onFailure: (e: Error) => void): Map<string, Captured> {
  const captured = new Map<string, Captured>();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const monitor = (require("@pulumi/pulumi/runtime/settings") as { getMonitor(): MonitorLike }).getMonitor();
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    const refused = req.getCustom() ? unsupportedOptions(req) : [];
    if (refused.length) {
      const e = new Error(`the direct runner does not implement the option ${refused.join(", ")} (${req.getName()})`);
      onFailure(e);
      throw e;
    }
    const propertyDependencies: Record<string, string[]> = {};
    req.getPropertydependenciesMap().forEach((v, k) => (propertyDependencies[k] = v.getUrnsList()));
    captured.set(`${req.getType()}::${req.getName()}`, {
      urn: monitor.newUrn(req.getParent(), req.getType(), req.getName()),
      parent: req.getParent(),
      dependencies: req.getDependenciesList(),
      raw: req.getObject()?.toJavaScript() ?? {},
      ignoreChanges: req.getIgnorechangesList(),
      propertyDependencies,
      deleteBeforeReplace: req.getDeletebeforereplace(),
      replaceOnChanges: req.getReplaceonchangesList().map((p) => p.split(/[.[]/)[0]),
    });
    return original(req, cb);
  };

  return captured;
}

/**
 * As Pulumi does before a delete-first replacement: the recorded resources whose inputs come from
 * the replaced one and that its new outputs would replace (their `triggers`, `replaceOnChanges`),
 * transitively; they are deleted first and the program's registrations create them again.
 */
function dependentsReplacedWith(state: StateFile, urn: string): ResourceState[] {
  const victims = new Set<string>([urn]);
  for (let grew = true; grew;) {
    grew = false;
    for (const r of state.all()) {
      const spec = typeSpec(r.type);
      if (victims.has(r.urn) || !r.custom || !spec) continue;
      const keys = Object.entries(r.propertyDependencies ?? {})
        .filter(([, urns]) => urns.some((u) => victims.has(u)))
        .map(([k]) => k);
      if (replacingInputs(spec, r.replaceOnChanges ?? [], keys).length) {
        victims.add(r.urn);
        grew = true;
      }
    }
  }
  victims.delete(urn);
  return state.all().filter((r) => victims.has(r.urn));
}

export async function up(opts: UpOptions): Promise<UpResult> {
  const { state } = opts;
  const report = reporter(opts.sink);
  const { progress } = report;
  const events: Event[] = [];
  const runStarted = Date.now();
  const emit = (e: Event) => {
    const timed = { ...e, at: (Date.now() - runStarted) / 1000 };
    events.push(timed);
    report.event(timed);
  };
  const seen = new Set<string>();
  const failures: Error[] = [];
  /** Resolves at the program's first failure (a resource's or a rejected apply's). */
  let fail: () => void = () => undefined;
  const failed = new Promise<void>((resolve) => (fail = resolve));
  let inFlight = 0;
  /** Resources replaced in this run, and those of their dependents that are replaced with them. */
  const replaced = new Set<string>();

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
          progress({ phase: "fail", op: "update", type: args.type, name: args.name, message: (e as Error).message });
          failures.push(e as Error);
          fail();
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
  pulumi.runtime.setAllConfig(opts.config, opts.secretKeys);

  const captured = captureRegistrations((e) => {
    failures.push(e);
    fail();
  });

  const say = (line: string) => report.log(`${line}\n`);
  const short = (type: string) => type.split(":").pop();

  /**
   * As Pulumi does before a delete-first replacement: the dependents whose inputs come from the
   * replaced resource and that its new outputs would replace (here: their `triggers`) are deleted
   * first, dependents before what they depend on; the program's registrations create them again.
   */
  async function replaceDependentsFirst(urn: string) {
    const dependents = dependentsReplacedWith(state, urn);
    for (const r of dependents) replaced.add(r.urn);
    if (!opts.dryRun) await deleteInOrder(dependents, state, emit, report, "replace");
  }

  async function apply(type: string, name: string, inputs: Record<string, unknown>, custom: boolean, info: Captured) {
    const urn = info.urn;
    seen.add(urn);
    const previous = state.get(urn);
    if (previous) {
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
        propertyDependencies: info.propertyDependencies,
        replaceOnChanges: info.replaceOnChanges,
        custom,
        digest,
        inputs: info.raw,
        outputs,
      });
    if (!custom) {
      if (!opts.dryRun) record({});
      return { id: undefined, state: {} };
    }
    const spec = typeSpec(type);
    if (!spec) throw new Error(`the direct runner cannot create ${type} (${name})`);
    const known = spec.inputs;
    const unknown = known === "*" ? [] : Object.keys(info.raw).filter((k) => !known.includes(k));
    if (unknown.length) {
      throw new Error(`the direct runner does not implement the input ${unknown.join(", ")} of ${type} (${name})`);
    }
    if (opts.signal?.aborted) throw new Error("interrupted: run `up` again to continue");
    const { handler } = spec;
    const started = Date.now();
    // A resource deleted behind the engine's back is created anew, as after a refresh.
    const gone = previous && handler.exists ? !(await handler.exists(name, inputs, previous.outputs)) : false;
    if (gone && opts.dryRun) await replaceDependentsFirst(urn);
    const old = previous && !gone && !replaced.has(urn) ? previous : undefined;
    const idOf = (outputs?: Record<string, unknown>) => String(outputs?.id ?? `${name}-id`);
    const stale = old && handler.stale ? await handler.stale(inputs, old.outputs) : false;
    const unchanged = old
      ? old.digest === digest || (handler.changed !== undefined && !(await handler.changed(inputs, old.outputs)))
      : false;
    const replaceKeys = old ? replacingInputs(spec, info.replaceOnChanges, changedKeys(old.inputs, info.raw)) : [];
    const deleteFirst = info.deleteBeforeReplace || spec.deleteBeforeReplace === true;
    const { op, order } = planOperation({
      existing: old !== undefined,
      replacedEarlier: replaced.has(urn),
      unchanged,
      stale,
      replaceKeys,
      deleteBeforeReplace: deleteFirst,
    });
    if (op === "same" && old) {
      emit({ op: "same", type, name, seconds: 0 });
      progress({ phase: "end", op: "same", type, name });
      return { id: idOf(old.outputs), state: { ...inputs, ...old.outputs } };
    }
    if (op === "replace" && old) {
      replaced.add(urn);
      if (order === "delete-first") await replaceDependentsFirst(urn);
    }
    const mark = { create: "+", update: "~", replace: "+-", same: "=", delete: "-" }[op];
    say(`${mark} ${name} (${short(type)})${replaceKeys.length ? ` [replace: ${replaceKeys.join(", ")}]` : ""}`);
    if (!opts.dryRun) progress({ phase: "start", op, type, name });
    if (opts.dryRun) {
      if (old) report.log(describeChange(old.inputs, info.raw));
      emit({ op, type, name, seconds: 0 });
      return { id: idOf(old?.outputs), state: { ...inputs, ...(old?.outputs ?? {}) } };
    }
    let outputs: Record<string, unknown>;
    if (op === "update" && old) {
      outputs = await (handler.update ?? handler.create)(name, inputs, old.outputs);
    } else if (op === "replace" && old && order === "create-first") {
      outputs = await handler.create(name, inputs);
      await deleteOne(old, report);
    } else {
      if (op === "replace" && old) await deleteOne(old, report);
      outputs = await handler.create(name, inputs, gone ? undefined : previous?.outputs);
    }
    record(outputs);
    emit({ op, type, name, seconds: (Date.now() - started) / 1000 });
    progress({ phase: "end", op, type, name });
    return { id: idOf(outputs), state: { ...inputs, ...outputs } };
  }

  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => {
    rejections.push(e);
    fail();
  };
  process.on("unhandledRejection", onRejection);
  const program = trackProgram();
  try {
    const exports = program.run(opts.load);
    // Finished when the SDK counts no registration outstanding and the program no open handle,
    // or as soon as the program fails (what waits on the failure never registers).
    const outcome = await program.settled(
      () => captured.size,
      failed,
      () => inFlight,
    );
    if (failures.length > 0) throw failures[0];
    // An error in the program (e.g. thrown inside an `apply`) leaves the resources that wait on it
    // unregistered: nothing may be deleted for it, the run fails as Pulumi's does.
    if (rejections.length > 0) throw rejections[0];
    if (inFlight > 0) throw new Error(`internal: ${inFlight} resource operations still running`);
    if (outcome === "stuck") throw new Error("the program left registrations that can never complete");
    // Resources the program no longer declares are deleted, dependents first.
    const gone = state.all().filter((r) => !seen.has(r.urn) && !replaced.has(r.urn));
    if (opts.dryRun) {
      for (const r of deletionOrder(gone)) {
        if (!r.custom) continue;
        say(`- ${r.name} (${short(r.type)})`);
        emit({ op: "delete", type: r.type, name: r.name, seconds: 0 });
      }
    } else {
      await deleteInOrder(gone, state, emit, report);
    }
    return { events, outputs: await resolveOutputs(exports) };
  } finally {
    program.dispose();
    process.off("unhandledRejection", onRejection);
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
  return deletionWaves(resources).flat();
}

/** For each resource, those that must be deleted before it: its dependents and its children. */
function deletionBlockers(resources: ResourceState[]): Map<string, Set<string>> {
  const urns = new Set(resources.map((r) => r.urn));
  const blockers = new Map<string, Set<string>>();
  for (const r of resources) blockers.set(r.urn, new Set());
  for (const r of resources) {
    for (const d of r.dependencies) if (urns.has(d)) blockers.get(d)?.add(r.urn);
    if (urns.has(r.parent)) blockers.get(r.parent)?.add(r.urn);
  }
  return blockers;
}

/**
 * The same order in waves: each wave holds the resources whose dependents and children are all in
 * earlier waves, so the members of one wave can be deleted together.
 */
export function deletionWaves(resources: ResourceState[]): ResourceState[][] {
  const blockers = deletionBlockers(resources);
  const waves: ResourceState[][] = [];
  const done = new Set<string>();
  while (done.size < resources.length) {
    const ready = resources.filter(
      (r) => !done.has(r.urn) && [...(blockers.get(r.urn) ?? [])].every((b) => done.has(b)),
    );
    if (ready.length === 0) throw new Error("dependency cycle in the state");
    for (const r of ready) done.add(r.urn);
    waves.push(ready);
  }
  return waves;
}

/** Run a resource's delete (with the inputs it was created with). */
async function deleteOne(r: ResourceState, report: Reporter): Promise<void> {
  const handler = typeSpec(r.type)?.handler;
  if (r.custom && handler?.delete) {
    report.log(`- ${r.name} (${r.type.split(":").pop()})\n`);
    await handler.delete(r.name, deserialize(r.inputs), r.outputs);
  }
}

async function deleteInOrder(
  resources: ResourceState[],
  state: StateFile,
  emit: (e: Event) => void,
  report: Reporter,
  op: "delete" | "replace" = "delete",
) {
  const { progress } = report;
  const deleteAndRecord = async (r: ResourceState) => {
    const started = Date.now();
    const shown = r.custom && op === "delete";
    if (shown) progress({ phase: "start", op: "delete", type: r.type, name: r.name });
    try {
      await deleteOne(r, report);
    } catch (e) {
      progress({ phase: "fail", op: "delete", type: r.type, name: r.name, message: (e as Error).message });
      throw e;
    }
    state.remove(r.urn);
    if (shown) progress({ phase: "end", op: "delete", type: r.type, name: r.name });
    // A replacement's delete half is reported with its create half.
    if (r.custom && op === "delete") {
      emit({ op: "delete", type: r.type, name: r.name, seconds: (Date.now() - started) / 1000 });
    }
  };
  // As Pulumi does: each delete starts as soon as everything that must go before it is gone, so
  // whatever the order allows runs in parallel. A failure keeps what waits on it (and nothing
  // else) from running; the run fails once the rest has finished.
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const blockers = deletionBlockers(resources);
  deletionWaves(resources); // refuses a cycle before anything is deleted
  const running = new Map<string, Promise<void>>();
  const start = (r: ResourceState): Promise<void> => {
    let p = running.get(r.urn);
    if (!p) {
      const before = [...(blockers.get(r.urn) ?? [])].map((u) => start(byUrn.get(u) as ResourceState));
      p = Promise.all(before).then(() => deleteAndRecord(r));
      running.set(r.urn, p);
    }
    return p;
  };
  const results = await Promise.allSettled(resources.map(start));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/** What the engine knows of one registered resource when it decides what to do with it. */
export interface OperationFacts {
  /** It is recorded, still exists, and was not deleted earlier in this run. */
  existing: boolean;
  /** Deleted earlier in this run, as a dependent of a delete-first replacement. */
  replacedEarlier: boolean;
  /** Its inputs did not change (same digest, or its provider's own diff sees no change). */
  unchanged: boolean;
  /** Something besides its inputs changed (an image's build context). */
  stale: boolean;
  /** The changed inputs that replace it rather than update it. */
  replaceKeys: string[];
  /** A replacement deletes the old one first. */
  deleteBeforeReplace: boolean;
}

/** The engine's decision for one resource, as Pulumi's rules give it: pure, no side effect. */
export function planOperation(f: OperationFacts): { op: Event["op"]; order?: "create-first" | "delete-first" } {
  if (!f.existing) return f.replacedEarlier ? { op: "replace", order: "delete-first" } : { op: "create" };
  if (f.unchanged && !f.stale) return { op: "same" };
  if (f.replaceKeys.length > 0)
    return { op: "replace", order: f.deleteBeforeReplace ? "delete-first" : "create-first" };
  return { op: "update" };
}

/** The changed inputs that replace a resource: its provider's rules, and its `replaceOnChanges`. */
function replacingInputs(spec: TypeSpec, replaceOnChanges: string[], changed: string[]): string[] {
  const byOption = (k: string) => replaceOnChanges.includes(k) || replaceOnChanges.includes("*");
  return changed.filter((k) => replacingKeys(spec, [k]).length > 0 || byOption(k));
}

/** Top-level inputs whose recorded value differs. */
export function changedKeys(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}

export async function destroy(state: StateFile, sink?: Sink): Promise<Event[]> {
  const report = reporter(sink);
  const events: Event[] = [];
  const started = Date.now();
  const emit = (e: Event) => {
    const timed = { ...e, at: (Date.now() - started) / 1000 };
    events.push(timed);
    report.event(timed);
  };
  await deleteInOrder(state.all(), state, emit, report);
  return events;
}
