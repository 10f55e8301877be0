/**
 * Day-2 PostgreSQL parameters and DCS settings: keeps the running cluster's dynamic configuration
 * equal to the stack config through Patroni's `PATCH /config`, and restarts members that wait for
 * a restart as `postgresql.restartPolicy` says (replicas first, then the leader).
 *
 * The desired configuration is part of the uploaded script, so `pulumi preview` shows the changed
 * lines, each parameter that needs a restart marked as such. On the first `up` it matches what
 * `bootstrap.dcs` wrote and the step changes nothing.
 */
import * as pulumi from "@pulumi/pulumi";
import { ClusterPlan } from "../plan";
import { renderDynamicConfigFile } from "../configs/dcs";
import { PATRONI_CONFIG_PATH } from "../configs/patroni";
import { renderScript } from "../configs/scripts";
import { HostAccess } from "./connection";
import { RemoteScript } from "./RemoteScript";

/** Which parameter names patroni-stack set last, so that dropping one from the config resets it. */
export const MANAGED_PARAMETERS_STATE = "/var/lib/patroni-stack/dcs-parameters.json";

export interface PatroniDynamicConfigArgs {
  plan: ClusterPlan;
  /** Connection to the host the step runs on (the bootstrap leader's). */
  access: HostAccess;
  /** Every Patroni member: the step runs once they are all up. */
  members: pulumi.Resource[];
  /** Seconds to wait for a member's REST API and for each restarted member. */
  timeout?: number;
}

export class PatroniDynamicConfig extends pulumi.ComponentResource {
  readonly stdout: pulumi.Output<string>;

  constructor(name: string, args: PatroniDynamicConfigArgs, opts?: pulumi.ComponentResourceOptions) {
    super("patroni-stack:cluster:PatroniDynamicConfig", name, {}, opts);
    const { plan } = args;
    const step = new RemoteScript(
      `${name}-apply`,
      {
        host: plan.patroni.leader.host,
        access: args.access,
        file: "patroni-dcs.sh",
        shows: renderDynamicConfigFile(plan.patroni.dcs),
        script: renderScript("patroni-dcs", {
          DESIRED: renderDynamicConfigFile(plan.patroni.dcs),
          MEMBERS: plan.patroni.members.map((m) => `${m.name}=${m.restUrl}`),
          CONFIG_PATH: PATRONI_CONFIG_PATH,
          RESTART_POLICY: plan.patroni.dcs.restartPolicy,
          STATE_FILE: MANAGED_PARAMETERS_STATE,
          LOOP_WAIT: plan.patroni.dcs.loopWait,
          TIMEOUT: args.timeout ?? 300,
        }),
      },
      { parent: this, dependsOn: args.members },
    );
    this.stdout = step.command.stdout;
    this.registerOutputs({ stdout: this.stdout });
  }
}
