/**
 * PgBouncer on one router: the read-write and read-only pools on the clients' ports, in front of
 * HAProxy's direct listeners on the same host. They start once HAProxy routes to a primary and
 * the auth function exists on it; the router is ready when a login through the read-write pool
 * reaches the primary. Every preview and up reads the pools' running settings (`SHOW CONFIG`):
 * one changed behind the stack's back shows in the preview, and the up sets it back with a reload.
 */
import * as pulumi from "@pulumi/pulumi";
import { RouterSpec } from "../plan";
import {
  comparableLivePool,
  comparablePoolSettings,
  PgbouncerSpec,
  poolDifferences,
  POOL_AUTH_FILE,
  POOL_AUTH_USER,
  POOL_TOOL_PATH,
  POOL_UNIT_PATH,
  poolConfigPath,
  poolUnit,
  renderPgbouncerConfig,
  renderPoolAuthFile,
  renderPoolTool,
  renderPoolUnit,
} from "../configs/pgbouncer";
import { renderScript } from "../configs/scripts";
import { DynamicConfigState } from "./DynamicConfigState";
import { HostAccess } from "./hostAccess";
import { observePool } from "./liveCluster";
import { lifecycleSteps } from "./RemoteScript";

export interface PgbouncerPoolArgs {
  router: RouterSpec;
  spec: PgbouncerSpec;
  access: HostAccess;
  /** The auth user's password (secret): PgBouncer logs in with it to look roles up. */
  authPassword: pulumi.Output<string>;
  /** What must be up before the pools start: HAProxy on this router, and the auth function. */
  startAfter: pulumi.Resource[];
  /** What must run before the pools' files change (a switch to TLS: PostgreSQL serves TLS first). */
  configureAfter?: pulumi.Resource[];
  /** The stack's CA (TLS stacks): the pools' admin consoles are read over verified TLS. */
  caCertificate?: pulumi.Input<string>;
  timeout?: number;
}

export class PgbouncerPool extends pulumi.ComponentResource {
  readonly ports: number[];

  constructor(name: string, args: PgbouncerPoolArgs, opts?: pulumi.ComponentResourceOptions) {
    super("patroni-stack:cluster:PgbouncerPool", name, {}, opts);
    const { router, spec } = args;
    const steps = lifecycleSteps(this, name, router.host, args.access);
    const pools = spec.pools.map((p) => `${p.name}:${poolConfigPath(p.name)}:${poolUnit(p.name)}`);
    const configs = spec.pools.map((p) => renderPgbouncerConfig(spec, p, router.name));
    const declared = Object.fromEntries(spec.pools.map((p) => [p.name, comparablePoolSettings(spec, p)]));
    // What the running pools hold; nothing (not an error) while they do not answer, e.g. before
    // the first up. Settings only, no secret: shown as they are in a preview's diff.
    const observed = pulumi.unsecret(
      pulumi.all([args.authPassword, args.caCertificate]).apply(async ([password, ca]) => {
        const unread = { live: null, changes: [] as string[] };
        if (process.env.PATRONI_STACK_LIVE === "off") return unread;
        try {
          const live = Object.fromEntries(
            await Promise.all(
              spec.pools.map(async (p) => {
                const running = await observePool({
                  host: router.host.address,
                  port: p.listenPort,
                  user: POOL_AUTH_USER,
                  password,
                  ca,
                });
                return [p.name, comparableLivePool(running, declared[p.name])] as const;
              }),
            ),
          );
          const changes = spec.pools.flatMap((p) =>
            poolDifferences(live[p.name], declared[p.name]).map((d) => `${p.name} pool: ${d}: reload`),
          );
          return { live, changes };
        } catch {
          return unread;
        }
      }),
    );
    const state = new DynamicConfigState(
      `${name}-state`,
      { declared, live: observed.live, changes: observed.changes, plan: "{}" },
      // After the router's HAProxy and the auth function, as the steps: an up refused at a host's
      // first step records no new declared settings here, so the up after it has none to apply.
      { parent: this, dependsOn: [...(args.access.after ?? []), ...args.startAfter] },
      "PoolConfigState",
    );
    const configure = steps(
      "configure",
      {
        file: "pgbouncer-configure.sh",
        script: renderScript("pgbouncer-configure", {
          UNIT_PATH: POOL_UNIT_PATH,
          UNIT: renderPoolUnit(),
          POOLS: pools,
          CONFIGS: configs,
          AUTH_FILE: POOL_AUTH_FILE,
          TOOL_PATH: POOL_TOOL_PATH,
          TOOL: renderPoolTool(spec),
        }),
        shows: configs.join("\n"),
        runsAfter: state.appliedAt,
        stdin: pulumi.secret(args.authPassword.apply((pw) => renderPoolAuthFile(POOL_AUTH_USER, pw))),
      },
      args.configureAfter ?? [],
    );
    const start = steps(
      "start",
      {
        file: "pgbouncer-start.sh",
        script: renderScript("pgbouncer-start", {
          POOLS: pools,
          PORTS: spec.pools.map((p) => String(p.listenPort)),
          TOOL_PATH: POOL_TOOL_PATH,
          SSLMODE: spec.tls ? "verify-full" : "prefer",
          TIMEOUT: args.timeout ?? 120,
        }),
      },
      [configure, ...args.startAfter],
    );
    steps("stop", { file: "pgbouncer-stop.sh", onDelete: renderScript("pgbouncer-stop", { POOLS: pools }) }, [start]);
    this.ports = spec.pools.map((p) => p.listenPort);
    this.registerOutputs({ ports: this.ports });
  }
}
