/**
 * HAProxy on one host: a read-write port that follows Patroni's `/primary`, a read-only port
 * balanced over `/replica`, and a stats page. The config is checked with `haproxy -c` before it
 * replaces the running one; the router is ready when exactly one read-write backend is UP.
 */
import * as pulumi from "@pulumi/pulumi";
import { ClusterPlan, RouterSpec } from "../plan";
import {
  HAPROXY_ADMIN_SOCKET,
  HAPROXY_CONFIG_PATH,
  HAPROXY_STATE_FILE,
  READ_ONLY_LISTENER,
  READ_WRITE_LISTENER,
  renderHaproxyConfig,
  statsUrl,
} from "../configs/haproxy";
import { renderScript } from "../configs/scripts";
import { HostAccess } from "./hostAccess";
import { lifecycleSteps, RemoteScript } from "./RemoteScript";
import { poolPorts, renderVipCheck, VIP_CHECK_PATH } from "../configs/keepalived";

export interface HaproxyRouterArgs {
  router: RouterSpec;
  plan: ClusterPlan;
  access: HostAccess;
  timeout?: number;
  /** What must run before the config changes (the hand-over of a removed member's primary role). */
  configureAfter?: pulumi.Resource[];
  /** What must be up before HAProxy starts (every Patroni member). */
  startAfter?: pulumi.Resource[];
}

/** Every server of every listener, as the admin socket names them (`listener/server`). */
export function haproxyServers(router: RouterSpec): string[] {
  return [READ_WRITE_LISTENER, READ_ONLY_LISTENER].flatMap((l) => router.backends.map((b) => `${l}/${b.name}`));
}

export class HaproxyRouter extends pulumi.ComponentResource {
  readonly address: string;
  readonly readWritePort: number;
  readonly readOnlyPort: number;
  readonly statsPort: number;
  /** The step that writes haproxy.cfg and reloads HAProxy. */
  readonly configured: RemoteScript;

  constructor(name: string, args: HaproxyRouterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("patroni-stack:cluster:HaproxyRouter", name, {}, opts);
    const { router, plan, access } = args;
    const h = plan.haproxy;
    const host = router.host;
    const steps = lifecycleSteps(this, name, host, access);
    const install = steps("install", {
      file: "haproxy-install.sh",
      script: renderScript("haproxy-install", { PACKAGES_DEBIAN: h.packages.debian, PACKAGES_RHEL: h.packages.rhel }),
    });
    const config = renderHaproxyConfig(router, plan.haproxy, plan.tls !== undefined);
    const configure = steps(
      "configure",
      {
        file: "haproxy-configure.sh",
        script: renderScript("haproxy-configure", {
          CONFIG_PATH: HAPROXY_CONFIG_PATH,
          CONFIG: config,
          STATE_FILE: HAPROXY_STATE_FILE,
          ADMIN_SOCKET: HAPROXY_ADMIN_SOCKET,
          VIP_CHECK_PATH,
          // The router's virtual IP check while it switches to TLS: the stats page in either scheme.
          VIP_CHECK: plan.vip
            ? renderVipCheck(plan.haproxy.statsPort, plan.tls !== undefined, poolPorts(plan), { eitherScheme: true })
            : "",
          SERVERS: haproxyServers(router),
        }),
        shows: config,
      },
      [install, ...(args.configureAfter ?? [])],
    );
    const start = steps(
      "start",
      {
        file: "haproxy-start.sh",
        script: renderScript("haproxy-start", {
          STATS_URL: statsUrl("127.0.0.1", h.statsPort, plan.tls !== undefined).replace(/\/$/, ""),
          LISTENER: READ_WRITE_LISTENER,
          TIMEOUT: args.timeout ?? 120,
        }),
      },
      [configure, ...(args.startAfter ?? [])],
    );
    steps("stop", { file: "haproxy-stop.sh", onDelete: renderScript("haproxy-stop", {}) }, [start]);

    this.configured = configure;
    this.address = host.address;
    this.readWritePort = h.readWritePort;
    this.readOnlyPort = h.readOnlyPort;
    this.statsPort = h.statsPort;
    this.registerOutputs({ address: this.address });
  }
}
