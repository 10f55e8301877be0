/**
 * Patroni's dynamic (DCS) configuration as one typed model.
 *
 * The same object is written to `bootstrap.dcs` at the first start and sent to a running cluster
 * with `PATCH /config` on later changes, so both paths agree on names and values.
 */
import { Document, isMap, isScalar } from "yaml";
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
  };
}

/**
 * Parameters PostgreSQL reads only at server start (context `postmaster`, PostgreSQL 12–18):
 * changing one leaves the member "pending restart" until PostgreSQL restarts.
 */
export const RESTART_PARAMETERS: ReadonlySet<string> = new Set([
  "archive_mode",
  "autovacuum_freeze_max_age",
  "autovacuum_multixact_freeze_max_age",
  "autovacuum_worker_slots",
  "bonjour",
  "bonjour_name",
  "cluster_name",
  "commit_timestamp_buffers",
  "data_sync_retry",
  "dynamic_shared_memory_type",
  "event_source",
  "huge_page_size",
  "huge_pages",
  "io_max_combine_limit",
  "io_max_concurrency",
  "io_method",
  "io_workers",
  "jit_provider",
  "listen_addresses",
  "logging_collector",
  "max_connections",
  "max_files_per_process",
  "max_locks_per_transaction",
  "max_logical_replication_workers",
  "max_notify_queue_pages",
  "max_pred_locks_per_transaction",
  "max_prepared_transactions",
  "max_replication_slots",
  "max_wal_senders",
  "max_worker_processes",
  "min_dynamic_shared_memory",
  "multixact_member_buffers",
  "multixact_offset_buffers",
  "notify_buffers",
  "old_snapshot_threshold",
  "port",
  "reserved_connections",
  "serializable_buffers",
  "shared_buffers",
  "shared_memory_type",
  "shared_preload_libraries",
  "subtransaction_buffers",
  "superuser_reserved_connections",
  "track_activity_query_size",
  "track_commit_timestamp",
  "transaction_buffers",
  "unix_socket_directories",
  "unix_socket_group",
  "unix_socket_permissions",
  "wal_buffers",
  "wal_decode_buffer_size",
  "wal_level",
  "wal_log_hints",
]);

export const needsRestart = (parameter: string): boolean => RESTART_PARAMETERS.has(parameter.toLowerCase());

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
    },
  };
}

/**
 * The desired dynamic configuration as the YAML file the apply step reads. Each parameter that
 * only takes effect after a restart carries a comment saying so, and the header names what the
 * restart policy will do, so a `pulumi preview` diff of this file tells what an `up` will do.
 */
export function renderDynamicConfigFile(dcs: DcsSpec): string {
  const doc = new Document(renderDynamicConfig(dcs));
  const parameters = doc.getIn(["postgresql", "parameters"], true);
  if (isMap(parameters)) {
    for (const pair of parameters.items) {
      if (isScalar(pair.key) && isScalar(pair.value) && needsRestart(String(pair.key.value))) {
        pair.value.comment = " needs a restart";
      }
    }
  }
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
