/**
 * patroni.yml for one member, in two parts the configure step joins on the host: the member's own
 * settings (they carry passwords: render them only inside a secret Output) and the `bootstrap`
 * section, which Patroni reads once, when it initializes the cluster. Later changes to the
 * dynamic configuration go through `PATCH /config` instead (see ./dcs.ts).
 */
import { stringify } from "yaml";
import { BackupSpec, ClusterPlan, PatroniMemberSpec } from "../plan";
import { renderDynamicConfig } from "./dcs";
import { replicaMethods } from "./pgbackrest";

/** What every member's patroni.yml shares (a part of the plan). */
export type PatroniClusterSpec = Pick<
  ClusterPlan["patroni"],
  "scope" | "namespace" | "etcdHosts" | "dataDir" | "members" | "extraHba"
>;

export const PATRONI_CONFIG_PATH = "/etc/patroni/patroni.yml";
/** A stable path to the PostgreSQL binaries of either OS family (the install script links it). */
export const PG_BIN_LINK = "/usr/local/lib/patroni-stack/pgbin";
export const PGPASS_PATH = "/var/lib/patroni/pgpass";
export const SOCKET_DIR = "/var/run/postgresql";

/** The roles Patroni itself manages (names as in the seed). */
export const SYSTEM_USERS = { superuser: "postgres", replication: "repl", rewind: "rewind_user" } as const;

export interface PatroniSecrets {
  superuser: string;
  replication: string;
  rewind: string;
  restApi: string;
}

export const RESTAPI_USER = "patroni";

/**
 * pg_hba lines: local peer for the OS superuser, then each member for replication and rewind.
 * Patroni also opens a replication connection to its own PostgreSQL on 127.0.0.1 to read the
 * local timeline when it weighs a failover.
 */
export function renderPgHba(cluster: Pick<PatroniClusterSpec, "members" | "extraHba">): string[] {
  const members = cluster.members.map((m) => `${m.postgres.address}/32`);
  return [
    `local all ${SYSTEM_USERS.superuser} peer`,
    "local all all scram-sha-256",
    "host all all 127.0.0.1/32 scram-sha-256",
    `host replication ${SYSTEM_USERS.replication} 127.0.0.1/32 scram-sha-256`,
    ...members.map((cidr) => `host replication ${SYSTEM_USERS.replication} ${cidr} scram-sha-256`),
    ...members.map((cidr) => `host all ${SYSTEM_USERS.superuser},${SYSTEM_USERS.rewind} ${cidr} scram-sha-256`),
    ...cluster.extraHba,
  ];
}

export function renderPatroniConfig(
  member: PatroniMemberSpec,
  cluster: PatroniClusterSpec,
  secrets: PatroniSecrets,
  backup?: Pick<BackupSpec, "stanza">,
): string {
  const rest = new URL(member.restUrl).host;
  const { address, port } = member.postgres;
  const config = {
    scope: cluster.scope,
    namespace: cluster.namespace,
    name: member.name,
    restapi: {
      listen: rest,
      connect_address: rest,
      authentication: { username: RESTAPI_USER, password: secrets.restApi },
    },
    etcd3: { hosts: cluster.etcdHosts },
    postgresql: {
      listen: `${address},127.0.0.1:${port}`,
      connect_address: `${address}:${port}`,
      data_dir: cluster.dataDir,
      bin_dir: PG_BIN_LINK,
      pgpass: PGPASS_PATH,
      authentication: {
        superuser: { username: SYSTEM_USERS.superuser, password: secrets.superuser },
        replication: { username: SYSTEM_USERS.replication, password: secrets.replication },
        rewind: { username: SYSTEM_USERS.rewind, password: secrets.rewind },
      },
      parameters: { unix_socket_directories: SOCKET_DIR },
      pg_hba: renderPgHba(cluster),
      ...(backup ? replicaMethods(backup, cluster.dataDir) : {}),
    },
    tags: member.host.tags,
  };
  return `# Patroni member ${member.name}: managed by patroni-stack, changes are overwritten\n${stringify(config)}`;
}

/** The `bootstrap` section of patroni.yml (no secret in it), appended by the configure step. */
export function renderPatroniBootstrap(cluster: Pick<ClusterPlan["patroni"], "dcs" | "initdb">): string {
  const initdb = [...cluster.initdb, { "auth-host": "scram-sha-256" }, { "auth-local": "peer" }];
  return stringify({ bootstrap: { dcs: renderDynamicConfig(cluster.dcs), initdb } });
}
