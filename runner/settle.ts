/**
 * When a Pulumi program has finished registering resources, without a timer that could fire early.
 *
 * Two counts must both reach zero:
 * - the SDK's own: every registration holds `rpcKeepAlive` from the moment the resource is
 *   constructed until the engine (here: the mock monitor) has answered it, which is what
 *   `waitForRPCs` waits for;
 * - the program's pending work that the SDK cannot see: timers, sockets, child processes and
 *   other handles opened from the program's code (an `apply` that waits on an endpoint, or one
 *   that constructs a resource later). They are tracked with async_hooks, restricted to the async
 *   context the program was loaded in, so the runner's own work never counts. This is the part of
 *   Node's event loop that keeps `pulumi up`'s language host waiting for a program.
 */
import { AsyncLocalStorage, createHook } from "async_hooks";

interface SdkSettings {
  waitForRPCs(): Promise<void>;
}

export interface ProgramTracker {
  /** Run `fn` (loading the program) inside the tracked context. */
  run<T>(fn: () => T): T;
  /**
   * Resolves once no registration and no handle of the program is outstanding, `busy` (the
   * engine's own resource operations still running) is 0, and `activity` (e.g. the number of
   * registrations seen) has stayed the same over two turns of the event loop.
   */
  settled(
    activity?: () => number,
    stop?: Promise<unknown>,
    busy?: () => number,
  ): Promise<"settled" | "stopped" | "stuck">;
  /** Handles of the program still open (for tests and diagnostics). */
  pending(): number;
  dispose(): void;
}

/**
 * The async resources that are libuv handles and requests (what keeps Node's event loop, and so
 * a program under `pulumi up`, running), whose `destroy` comes when they close or fire. Promises
 * and JavaScript-level resources are left out: they keep nothing alive by themselves (the SDK
 * counts its own registrations), and some are only destroyed when garbage-collected. TLSWRAP is
 * one of those: a TLS connection's encryption layer, destroyed only when it is collected, while
 * the TCPWRAP under it is the handle that closes with the connection.
 */
const HANDLE_TYPES = new Set([
  "Timeout",
  "Immediate",
  "TCPWRAP",
  "TCPCONNECTWRAP",
  "GETADDRINFOREQWRAP",
  "GETNAMEINFOREQWRAP",
  "QUERYWRAP",
  "PIPEWRAP",
  "PIPECONNECTWRAP",
  "PROCESSWRAP",
  "FSREQCALLBACK",
  "FSREQPROMISE",
  "SHUTDOWNWRAP",
  "WRITEWRAP",
  "UDPWRAP",
  "UDPSENDWRAP",
  "SIGNALWRAP",
  "ZLIB",
  "STATWATCHER",
  "FSEVENTWRAP",
]);

export function trackProgram(): ProgramTracker {
  const context = new AsyncLocalStorage<symbol>();
  const mark = Symbol("pulumi-program");
  const open = new Map<number, object>();
  const hook = createHook({
    init(id, type, _trigger, resource) {
      if (HANDLE_TYPES.has(type) && context.getStore() === mark) open.set(id, resource);
    },
    destroy(id) {
      open.delete(id);
    },
  });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require("@pulumi/pulumi/runtime/settings") as SdkSettings;
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  // As Node's event loop counts them: an unref'd handle (e.g. the timer of AbortSignal.timeout)
  // keeps nothing waiting.
  const alive = () =>
    [...open.values()].filter((r) => {
      const hasRef = (r as { hasRef?: () => boolean }).hasRef;
      return typeof hasRef !== "function" || hasRef.call(r);
    }).length;
  return {
    run(fn) {
      hook.enable();
      return context.run(mark, fn);
    },
    async settled(activity = () => 0, stop = new Promise<never>(() => undefined), busy = () => 0) {
      // `stop`: the program failed, and the registrations that wait on the failure never finish.
      // "stuck": Node's event loop ran empty while registrations were still outstanding, so
      // nothing can finish them (a signal only a process of its own gets).
      let onEmpty: () => void = () => undefined;
      const emptied = new Promise<"stuck">((resolve) => (onEmpty = () => resolve("stuck")));
      process.on("beforeExit", onEmpty);
      const stopped = stop.then(() => "stopped" as const);
      try {
        // Two quiet turns in a row: a handle that closes can only start more work in its callback,
        // which runs (and registers what it registers) before the next turn is reached.
        let last = -1;
        for (let quiet = 0; quiet < 2;) {
          const waited = await Promise.race([sdk.waitForRPCs().then(() => "done" as const), stopped, emptied]);
          if (waited !== "done") return waited;
          await turn();
          const now = activity();
          // An operation of the engine's still running: its outputs may start more of the program.
          const waiting = alive() + busy();
          if (waiting === 0 && now === last) {
            quiet++;
          } else if (waiting === 0) {
            quiet = 0;
            last = now;
          } else {
            last = now;
            quiet = 0;
            await new Promise<void>((resolve) => setTimeout(resolve, 10));
          }
        }
        return "settled" as const;
      } finally {
        process.off("beforeExit", onEmpty);
      }
    },
    pending: alive,
    dispose() {
      hook.disable();
    },
  };
}
