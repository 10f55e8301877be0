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
import { CA_PATH, tlsFiles } from "./tls";

/** What every member's patroni.yml shares (a part of the plan). */
export type PatroniClusterSpec = Pick<
  ClusterPlan["patroni"],
  "scope" | "namespace" | "etcdHosts" | "dataDir" | "members" | "extraHba" | "tls"
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
export function renderPgHba(cluster: Pick<PatroniClusterSpec, "members" | "extraHba" | "tls">): string[] {
  const members = cluster.members.map((m) => `${m.postgres.address}/32`);
  // Between members, TLS is required whenever it is on; loopback may stay plain.
  const remote = cluster.tls ? "hostssl" : "host";
  return [
    `local all ${SYSTEM_USERS.superuser} peer`,
    "local all all scram-sha-256",
    "host all all 127.0.0.1/32 scram-sha-256",
    `host replication ${SYSTEM_USERS.replication} 127.0.0.1/32 scram-sha-256`,
    ...members.map((cidr) => `${remote} replication ${SYSTEM_USERS.replication} ${cidr} scram-sha-256`),
    ...members.map((cidr) => `${remote} all ${SYSTEM_USERS.superuser},${SYSTEM_USERS.rewind} ${cidr} scram-sha-256`),
    ...cluster.extraHba,
  ];
}

/** PostgreSQL's TLS settings (per member, not in the DCS: they name this host's files). */
export function postgresTlsParameters(): Record<string, string> {
  const files = tlsFiles("postgres");
  return {
    ssl: "on",
    ssl_cert_file: files.certificate,
    ssl_key_file: files.key,
    ssl_ca_file: CA_PATH,
    ssl_min_protocol_version: "TLSv1.2",
  };
}

/** libpq's options for Patroni's own connections (replication, rewind, its superuser checks). */
const VERIFY_FULL = { sslmode: "verify-full", sslrootcert: CA_PATH };

export function renderPatroniConfig(
  member: PatroniMemberSpec,
  cluster: PatroniClusterSpec,
  secrets: PatroniSecrets,
  backup?: Pick<BackupSpec, "stanza">,
): string {
  const rest = new URL(member.restUrl).host;
  const { address, port } = member.postgres;
  const tls = cluster.tls;
  const files = tlsFiles("postgres");
  const verify = tls ? VERIFY_FULL : {};
  const config = {
    scope: cluster.scope,
    namespace: cluster.namespace,
    name: member.name,
    restapi: {
      listen: rest,
      connect_address: rest,
      authentication: { username: RESTAPI_USER, password: secrets.restApi },
      ...(tls
        ? { certfile: files.certificate, keyfile: files.key, cafile: CA_PATH, verify_client: tls.verifyClient }
        : {}),
    },
    ...(tls ? { ctl: { cacert: CA_PATH, certfile: files.certificate, keyfile: files.key } } : {}),
    etcd3: {
      hosts: cluster.etcdHosts,
      ...(tls ? { protocol: "https", cacert: CA_PATH, cert: files.certificate, key: files.key } : {}),
    },
    postgresql: {
      listen: `${address},127.0.0.1:${port}`,
      connect_address: `${address}:${port}`,
      data_dir: cluster.dataDir,
      bin_dir: PG_BIN_LINK,
      pgpass: PGPASS_PATH,
      authentication: {
        superuser: { username: SYSTEM_USERS.superuser, password: secrets.superuser, ...verify },
        replication: { username: SYSTEM_USERS.replication, password: secrets.replication, ...verify },
        rewind: { username: SYSTEM_USERS.rewind, password: secrets.rewind, ...verify },
      },
      parameters: { unix_socket_directories: SOCKET_DIR, ...(tls ? postgresTlsParameters() : {}) },
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
