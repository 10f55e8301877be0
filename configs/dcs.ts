/**
 * Patroni's dynamic (DCS) configuration as one typed model.
 *
 * The same object is written to `bootstrap.dcs` at the first start and sent to a running cluster
 * with `PATCH /config` on later changes, so both paths agree on names and values.
 */
import { Document } from "yaml";
import { DcsSpec } from "../plan";

export type ParameterValue = string | number | boolean;

export interface DynamicConfig {
  ttl: number;
  loop_wait: number;
  retry_timeout: number;
  maximum_lag_on_failover: number;
  synchronous_mode: boolean;
  failsafe_mode: boolean;
  postgresql: {
    use_pg_rewind: boolean;
    use_slots: boolean;
    parameters: Record<string, ParameterValue>;
    /** Recovery settings of replicas and of recovery (restore_command): absent when none. */
    recovery_conf?: Record<string, string>;
  };
}

function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

export function renderDynamicConfig(p: DcsSpec): DynamicConfig {
  return {
    ttl: p.ttl,
    loop_wait: p.loopWait,
    retry_timeout: p.retryTimeout,
    maximum_lag_on_failover: p.maximumLagOnFailover,
    synchronous_mode: p.synchronousMode,
    failsafe_mode: p.failsafeMode,
    postgresql: {
      use_pg_rewind: p.usePgRewind,
      use_slots: true,
      parameters: sortedRecord(p.parameters),
      ...(Object.keys(p.recoveryConf).length > 0 ? { recovery_conf: sortedRecord(p.recoveryConf) } : {}),
    },
  };
}

/**
 * The desired dynamic configuration as the YAML file the apply step reads. The header names what
 * the restart policy will do; which parameters need a restart is the server's to say (see
 * `dcsDiff.ts`).
 */
export function renderDynamicConfigFile(dcs: DcsSpec): string {
  const doc = new Document(renderDynamicConfig(dcs));
  const policy =
    dcs.restartPolicy === "rolling"
      ? "rolling: members pending a restart restart one at a time, replicas first, then the leader"
      : "manual: members pending a restart are reported, not restarted";
  doc.commentBefore = [
    " Patroni dynamic configuration (PATCH /config), managed by patroni-stack.",
    ` Restart policy ${policy}.`,
  ].join("\n");
  return doc.toString();
}
