/**
 * Day-2 PostgreSQL parameters and DCS settings: keeps the running cluster's dynamic configuration
 * equal to the stack config through Patroni's `PATCH /config`, and restarts members that wait for
 * a restart as `postgresql.restartPolicy` says (replicas first, then the leader).
 *
 * Every preview and up reads the live configuration back (see `liveCluster.ts`), so a value
 * changed behind the stack's back shows as a difference and the next `up` restores the declared
 * one. Each difference says what applying it does, from the server's `pg_settings.context`, and a
 * parameter PostgreSQL would refuse stops the run before anything is applied. On the first `up`
 * the configuration matches what `bootstrap.dcs` wrote and the step changes nothing.
 */
import * as pulumi from "@pulumi/pulumi";
import { ClusterPlan } from "../plan";
import { renderDynamicConfig, renderDynamicConfigFile } from "../configs/dcs";
import {
  dcsPatch,
  stablePatchText,
  comparableDeclared,
  comparableLive,
  dcsDifferences,
  describeDifferences,
  parameterProblems,
} from "../configs/dcsDiff";
import { PATRONI_CONFIG_PATH, SYSTEM_USERS } from "../configs/patroni";
import { HeldPool, poolHoldVars } from "../configs/pgbouncer";
import { renderScript } from "../configs/scripts";
import { HostAccess } from "./hostAccess";
import { DynamicConfigState } from "./DynamicConfigState";
import { observeCluster } from "./liveCluster";
import { RemoteScript } from "./RemoteScript";

/** Which parameter names patroni-stack set last, so that dropping one from the config resets it. */

export interface PatroniDynamicConfigArgs {
  plan: ClusterPlan;
  /** Connection to the host the step runs on (the bootstrap leader's). */
  access: HostAccess;
  /** Every Patroni member (and the hand-back of a removed member's primary role): the step runs once they are all done. */
  members: pulumi.Resource[];
  /** The superuser's password, to read `pg_settings` through the read-write port. */
  superuserPassword: pulumi.Output<string>;
  /** Seconds to wait for a member's REST API and for each restarted member. */
  timeout?: number;
  /** The stack's CA (TLS stacks): the live configuration is read over verified TLS. */
  caCertificate?: pulumi.Output<string>;
  /**
   * PgBouncer's read-write pools (`pgbouncer.enabled`), held with PAUSE while the leader restarts
   * so that their clients wait instead of failing: where each listens and its router's HAProxy
   * read-write port, and the auth user's password (sent on the step's stdin, as a secret).
   */
  pools?: { routers: HeldPool[]; password: pulumi.Output<string> };
}

/** The problems of declared parameters, as the error that stops a preview or an up. */
export class ParameterError extends Error {}

export class PatroniDynamicConfig extends pulumi.ComponentResource {
  readonly stdout: pulumi.Output<string>;

  constructor(name: string, args: PatroniDynamicConfigArgs, opts?: pulumi.ComponentResourceOptions) {
    super("patroni-stack:cluster:PatroniDynamicConfig", name, {}, opts);
    const { plan, pools } = args;
    const dcs = plan.patroni.dcs;
    const declaredConfig = renderDynamicConfig(dcs);
    const declared = comparableDeclared(declaredConfig);
    const observed = pulumi.unsecret(
      pulumi.all([args.superuserPassword, args.caCertificate]).apply(async ([password, ca]) => {
        const planOf = (changes: string[], patch: Record<string, unknown>) => stablePatchText({ changes, patch });
        const unread = { live: null, changes: [] as string[], plan: planOf([], dcsPatch(null, declaredConfig)) };
        if (process.env.PATRONI_STACK_LIVE === "off") return unread;
        const seen = await observeCluster({
          restUrls: plan.patroni.members.map((m) => m.restUrl),
          sql: {
            host: plan.client.host,
            port: plan.client.directReadWritePort ?? plan.client.readWritePort,
            user: SYSTEM_USERS.superuser,
            password,
          },
          ca,
        });
        if (seen.settings.length > 0) {
          const problems = parameterProblems(dcs.parameters, seen.settings);
          if (problems.length > 0) {
            throw new ParameterError(
              `patroni-stack:postgresql.parameters: PostgreSQL would refuse ${problems.length === 1 ? "this value" : "these values"}; ` +
                `fix them in Pulumi.${pulumi.getStack()}.yaml:\n  ${problems.join("\n  ")}`,
            );
          }
        }
        if (!seen.config) {
          pulumi.log.info(`live configuration not read, drift not checked: ${seen.problems.join("; ")}`, this);
          return unread;
        }
        const live = comparableLive(seen.config, declared);
        const changes = describeDifferences(dcsDifferences(live, declared), seen.settings);
        return { live, changes, plan: planOf(changes, dcsPatch(seen.config, declaredConfig)) };
      }),
    );
    const state = new DynamicConfigState(
      `${name}-state`,
      { declared, live: observed.live, changes: observed.changes, plan: observed.plan },
      { parent: this, dependsOn: args.members },
    );
    const desired = renderDynamicConfigFile(dcs);
    const step = new RemoteScript(
      `${name}-apply`,
      {
        host: plan.patroni.leader.host,
        access: args.access,
        file: "patroni-dcs.sh",
        shows: desired,
        runsAfter: state.appliedAt,
        // The changes and their patch as planned at preview and up, sent as they are (one
        // computation of the diff).
        stdin: pools
          ? pulumi.secret(
              pulumi
                .all([state.plan, pools.password])
                .apply(([text, poolPassword]) => JSON.stringify({ ...JSON.parse(text), poolPassword })),
            )
          : state.plan,
        script: renderScript("patroni-dcs", {
          MEMBERS: plan.patroni.members.map((m) => `${m.name}=${m.restUrl}`),
          CONFIG_PATH: PATRONI_CONFIG_PATH,
          RESTART_POLICY: dcs.restartPolicy,
          LOOP_WAIT: dcs.loopWait,
          TIMEOUT: args.timeout ?? 300,
          ...poolHoldVars(pools?.routers ?? [], plan.tls !== undefined),
        }),
      },
      { parent: this, dependsOn: [...args.members, state] },
    );
    this.stdout = step.command.stdout;
    this.registerOutputs({ stdout: this.stdout });
  }
}
