/**
 * The cluster's dynamic configuration as the engine sees it: a dynamic resource whose inputs are
 * the declared configuration and the live one the program read from the cluster. It changes when
 * they differ (a declared change, or drift made behind the stack's back), so `preview` shows the
 * live and the declared value of every key that differs and what applying it does, and `up`
 * hands a new `appliedAt` to the step that patches the cluster. After an `up` the state records
 * the live configuration as repaired, so an unchanged cluster plans nothing.
 *
 * The provider is serialized into the state by Pulumi (and run by the direct runner the same
 * way), so its methods use nothing but their arguments.
 */
import * as pulumi from "@pulumi/pulumi";
import { ComparableConfig } from "../configs/dcsDiff";

export interface DynamicConfigStateInputs<T extends object = ComparableConfig> {
  declared: pulumi.Input<T>;
  /** What the cluster holds now; null when it could not be read (then only declared changes count). */
  live: pulumi.Input<T | null>;
  /** One line per difference with its effect (restart or reload, from `pg_settings.context`). */
  changes: pulumi.Input<string[]>;
  /**
   * What the apply step sends: `{"changes": [...], "patch": {...}}` as stable JSON text, the
   * PATCH /config computed from the same differences as `changes`.
   */
  plan: pulumi.Input<string>;
}

export const DYNAMIC_CONFIG_PROVIDER: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    const drifted = news.live !== null && news.live !== undefined && !same(news.live, news.declared);
    return { changes: drifted || !same(olds.declared, news.declared), replaces: [], deleteBeforeReplace: false };
  },
  async create(inputs: Record<string, unknown>) {
    const appliedAt = new Date().toISOString();
    // Unread, the cluster is being created from the declared configuration (bootstrap.dcs): there
    // is nothing to patch.
    const plan = inputs.live === null || inputs.live === undefined ? '{"changes":[],"patch":{}}' : inputs.plan;
    return { id: "dynamic-config", outs: { ...inputs, live: inputs.declared, changes: [], plan, appliedAt } };
  },
  async update(_id: string, _olds: Record<string, unknown>, news: Record<string, unknown>) {
    const appliedAt = new Date().toISOString();
    return { outs: { ...news, live: news.declared, changes: [], appliedAt } };
  },
};

export class DynamicConfigState extends pulumi.dynamic.Resource {
  /** When the declared configuration was last handed to the cluster (changes on every apply). */
  declare readonly appliedAt: pulumi.Output<string>;
  /** What the last apply sends (unchanged while nothing differs, so the step does not run). */
  declare readonly plan: pulumi.Output<string>;

  /**
   * `kind` names the resource type (`dcs:<kind>`): the same rule serves other live settings, e.g.
   * PgBouncer's running configuration (`PoolConfigState`).
   */
  constructor(
    name: string,
    args: DynamicConfigStateInputs<object>,
    opts?: pulumi.CustomResourceOptions,
    kind = "DynamicConfigState",
  ) {
    super(DYNAMIC_CONFIG_PROVIDER, name, { ...args, appliedAt: undefined }, opts, "dcs", kind);
  }
}
