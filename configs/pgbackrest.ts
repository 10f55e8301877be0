/**
 * pgBackRest: the repository host's and the members' pgbackrest.conf, the archive and restore
 * commands Patroni's dynamic configuration carries, and Patroni's replica method that restores a
 * new replica from the repository. Pure: files rendered with `ini`, from the plan's backup spec.
 *
 * The repository-host model: members archive to the repository host over SSH (as `pgbackrest`),
 * and the repository host reaches every member (as `postgres`) to back up whichever is primary, so
 * a failover needs no step and the backup chain goes on.
 */
import { stringify } from "ini";
import type { BackupSpec, Packages } from "../plan";

/** The one pgbackrest.conf each host has (pgBackRest reads it before Debian's /etc/pgbackrest.conf). */
export const PGBACKREST_CONFIG_PATH = "/etc/pgbackrest/pgbackrest.conf";
/** The Debian package's own file, replaced by a pointer to the one above. */
export const PGBACKREST_LEGACY_CONFIG_PATH = "/etc/pgbackrest.conf";
/** The repository host's user: it owns the repository and runs every backup. */
export const REPOSITORY_USER = "pgbackrest";
export const REPOSITORY_HOME = "/home/pgbackrest";
/** Members' queue of WAL waiting for the repository (archive-async). */
export const SPOOL_PATH = "/var/spool/pgbackrest";
export const LOG_PATH = "/var/log/pgbackrest";
export const PGBACKREST_BIN = "/usr/bin/pgbackrest";

export const BACKUP_PACKAGES: Packages = {
  debian: ["pgbackrest", "openssh-client"],
  rhel: ["pgbackrest", "openssh-clients"],
};

/** The kinds of backup pgBackRest takes. */
export const BACKUP_TYPES = ["full", "diff", "incr"] as const;
export type BackupType = (typeof BACKUP_TYPES)[number];

/** S3 keys, for an `s3` repository (secret: render files that hold them only inside a secret). */
export interface S3Keys {
  accessKey: string;
  secretKey: string;
}

/** PostgreSQL parameters that archive every WAL segment to the repository. */
export function archiveParameters(stanza: string, archiveTimeout: number): Record<string, string | number> {
  return {
    archive_mode: "on",
    archive_command: `${PGBACKREST_BIN} --stanza=${stanza} archive-push %p`,
    archive_timeout: archiveTimeout,
  };
}

/** Patroni's `recovery_conf`: replicas and recoveries fetch WAL they lack from the repository. */
export function recoveryConf(stanza: string): Record<string, string> {
  return { restore_command: `${PGBACKREST_BIN} --stanza=${stanza} archive-get %f "%p"` };
}

/**
 * Patroni's replica methods: restore the newest backup and replay WAL from the repository (the
 * primary only serves what came after it), falling back to pg_basebackup from the primary. A
 * restore that fails half way empties the data directory, so that pg_basebackup can start.
 */
export function replicaMethods(spec: Pick<BackupSpec, "stanza">, dataDir: string) {
  const restore =
    `install -d -m 0700 ${dataDir} && ${PGBACKREST_BIN} --stanza=${spec.stanza} --delta --type=standby restore` +
    ` || { find ${dataDir} -mindepth 1 -delete; exit 1; }`;
  return {
    create_replica_methods: ["pgbackrest", "basebackup"],
    pgbackrest: { command: `/bin/sh -c '${restore}'`, keep_data: true, no_params: true },
  };
}

function repositoryOptions(spec: Pick<BackupSpec, "repository">, keys?: S3Keys): Record<string, string> {
  const repo = spec.repository;
  if (repo.type !== "s3" || !repo.s3) return { "repo1-path": repo.path };
  return {
    "repo1-type": "s3",
    "repo1-path": repo.path,
    "repo1-s3-bucket": repo.s3.bucket,
    "repo1-s3-endpoint": repo.s3.endpoint,
    "repo1-s3-region": repo.s3.region,
    "repo1-s3-uri-style": repo.s3.uriStyle,
    "repo1-s3-verify-tls": repo.s3.verifyTls ? "y" : "n",
    "repo1-s3-key": keys?.accessKey ?? "(secret)",
    "repo1-s3-key-secret": keys?.secretKey ?? "(secret)",
  };
}

const HEADER = "# pgBackRest: managed by patroni-stack, changes are overwritten\n";

/**
 * A member's pgbackrest.conf: where its WAL goes (the repository host, or the bucket itself), the
 * async queue that keeps a dead repository from filling the disk, and its own data directory.
 * Without keys, an s3 repository's keys show as `(secret)` (for previews).
 */
export function renderMemberConfig(spec: BackupSpec, member: string, keys?: S3Keys): string {
  const m = spec.members.find((x) => x.name === member);
  if (!m) throw new Error(`'${member}' is not a member of the backup spec`);
  const repository =
    spec.repository.type === "s3"
      ? repositoryOptions(spec, keys)
      : { "repo1-host": spec.host.address, "repo1-host-user": REPOSITORY_USER };
  const global = {
    ...repository,
    "archive-async": "y",
    "archive-push-queue-max": spec.archivePushQueueMax,
    "spool-path": SPOOL_PATH,
    "compress-type": spec.compress,
    "process-max": "2",
    "log-path": LOG_PATH,
    "log-level-file": "info",
  };
  const stanza = { "pg1-path": m.dataDir, "pg1-port": String(m.port), "pg1-socket-path": "/var/run/postgresql" };
  return HEADER + stringify({ global, [spec.stanza]: stanza });
}

/**
 * The repository host's pgbackrest.conf: the repository with its retention, and every member
 * (`pgN-host`) so that pgBackRest finds the primary itself.
 */
export function renderRepositoryConfig(spec: BackupSpec, keys?: S3Keys): string {
  const global = {
    ...repositoryOptions(spec, keys),
    "repo1-retention-full": String(spec.retention.full),
    "repo1-retention-diff": String(spec.retention.diff),
    "compress-type": spec.compress,
    "start-fast": "y",
    "process-max": "2",
    "log-path": LOG_PATH,
    "log-level-console": "info",
    "log-level-file": "info",
  };
  const stanza: Record<string, string> = {};
  spec.members.forEach((m, i) => {
    const n = i + 1;
    stanza[`pg${n}-host`] = m.address;
    stanza[`pg${n}-host-user`] = "postgres";
    stanza[`pg${n}-path`] = m.dataDir;
    stanza[`pg${n}-port`] = String(m.port);
    stanza[`pg${n}-socket-path`] = "/var/run/postgresql";
  });
  return HEADER + stringify({ global, [spec.stanza]: stanza });
}

/** The systemd units of the backup schedule: one service and one timer per scheduled type. */
export function renderScheduleUnits(spec: Pick<BackupSpec, "stanza" | "schedule">): Record<string, string> {
  const units: Record<string, string> = {};
  for (const type of BACKUP_TYPES) {
    const calendar = spec.schedule[type];
    if (calendar === undefined) continue;
    const name = scheduleUnitName(spec.stanza, type);
    units[`${name}.service`] = [
      "# Managed by patroni-stack: changes are overwritten.",
      "[Unit]",
      `Description=pgBackRest ${type} backup of stanza ${spec.stanza}`,
      "After=network-online.target",
      "Wants=network-online.target",
      "",
      "[Service]",
      "Type=oneshot",
      `User=${REPOSITORY_USER}`,
      `ExecStart=${PGBACKREST_BIN} --stanza=${spec.stanza} --type=${type} backup`,
      "",
    ].join("\n");
    units[`${name}.timer`] = [
      "# Managed by patroni-stack: changes are overwritten.",
      "[Unit]",
      `Description=Scheduled pgBackRest ${type} backup of stanza ${spec.stanza}`,
      "",
      "[Timer]",
      `OnCalendar=${calendar}`,
      "Persistent=true",
      "RandomizedDelaySec=60",
      "",
      "[Install]",
      "WantedBy=timers.target",
      "",
    ].join("\n");
  }
  return units;
}

export function scheduleUnitName(stanza: string, type: BackupType): string {
  return `pgbackrest-${stanza}-${type}`;
}
