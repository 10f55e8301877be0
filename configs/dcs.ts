/**
 * Patroni's dynamic (DCS) configuration as one typed model.
 *
 * The same object is written to `bootstrap.dcs` at the first start and can be sent to a running
 * cluster with `PATCH /config`, so both paths agree on names and values.
 */
import { BASE_PARAMETERS, ResolvedSettings } from "../config";

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
  };
}

function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

export function renderDynamicConfig(settings: ResolvedSettings): DynamicConfig {
  const p = settings.patroni;
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
      parameters: sortedRecord({ ...BASE_PARAMETERS, ...settings.postgresql.parameters }),
    },
  };
}
