/**
 * keepalived on one HAProxy host: it holds the routers' virtual IP while it is the VRRP master
 * and its HAProxy answers, and hands the address to another router when either fails. Started
 * after the host's HAProxy, stopped before it.
 */
import * as pulumi from "@pulumi/pulumi";
import { ClusterPlan, RouterSpec, VipSpec } from "../plan";
import { statsUrl } from "../configs/haproxy";
import {
  KEEPALIVED_CONFIG_PATH,
  poolPorts,
  renderKeepalivedConfig,
  renderVipCheck,
  VIP_CHECK_PATH,
} from "../configs/keepalived";
import { renderScript } from "../configs/scripts";
import { HostAccess } from "./hostAccess";
import { lifecycleSteps } from "./RemoteScript";

export interface RouterVipArgs {
  router: RouterSpec;
  vip: VipSpec;
  plan: ClusterPlan;
  access: HostAccess;
  timeout?: number;
  /** The host's HAProxy (the address must only come where it answers). */
  startAfter?: pulumi.Resource[];
  /** What writes the check's target first (the host's HAProxy config: its stats page may move to TLS). */
  configureAfter?: pulumi.Resource[];
}

export class RouterVip extends pulumi.ComponentResource {
  readonly address: string;

  constructor(name: string, args: RouterVipArgs, opts?: pulumi.ComponentResourceOptions) {
    super("patroni-stack:cluster:RouterVip", name, {}, opts);
    const { router, vip, plan, access } = args;
    const steps = lifecycleSteps(this, name, router.host, access);
    const install = steps("install", {
      file: "keepalived-install.sh",
      script: renderScript("keepalived-install", {
        PACKAGES_DEBIAN: vip.packages.debian,
        PACKAGES_RHEL: vip.packages.rhel,
      }),
    });
    const config = renderKeepalivedConfig(router.name, vip);
    const configure = steps(
      "configure",
      {
        file: "keepalived-configure.sh",
        script: renderScript("keepalived-configure", {
          CONFIG_PATH: KEEPALIVED_CONFIG_PATH,
          CONFIG: config,
          CHECK_PATH: VIP_CHECK_PATH,
          CHECK: renderVipCheck(plan.haproxy.statsPort, plan.tls !== undefined, poolPorts(plan)),
        }),
        shows: config,
      },
      [install, ...(args.configureAfter ?? [])],
    );
    const start = steps(
      "start",
      {
        file: "keepalived-start.sh",
        script: renderScript("keepalived-start", {
          VIP: vip.address,
          STATS_URL: statsUrl(vip.address, plan.haproxy.statsPort, plan.tls !== undefined),
          TIMEOUT: args.timeout ?? 60,
        }),
      },
      [configure, ...(args.startAfter ?? [])],
    );
    steps("stop", { file: "keepalived-stop.sh", onDelete: renderScript("keepalived-stop", {}) }, [start]);

    this.address = vip.address;
    this.registerOutputs({ address: this.address });
  }
}
