/**
 * patroni.yml for one member, in two parts the configure step joins on the host: the member's own
 * settings (they carry passwords: render them only inside a secret Output) and the `bootstrap`
 * section, which Patroni reads once, when it initializes the cluster. Later changes to the
 * dynamic configuration go through `PATCH /config` instead (see ./dcs.ts).
 */
import { stringify } from "yaml";
import { ClusterPlan, PatroniMemberSpec } from "../plan";
import { renderDynamicConfig } from "./dcs";

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

/** pg_hba lines: local peer for the OS superuser, then each member for replication and rewind. */
export function renderPgHba(plan: ClusterPlan): string[] {
  const members = plan.patroni.members.map((m) => `${m.host.address}/32`);
  return [
    `local all ${SYSTEM_USERS.superuser} peer`,
    "local all all scram-sha-256",
    "host all all 127.0.0.1/32 scram-sha-256",
    ...members.map((cidr) => `host replication ${SYSTEM_USERS.replication} ${cidr} scram-sha-256`),
    ...members.map((cidr) => `host all ${SYSTEM_USERS.superuser},${SYSTEM_USERS.rewind} ${cidr} scram-sha-256`),
    ...plan.settings.postgresql.pgHba,
  ];
}

export function renderPatroniConfig(member: PatroniMemberSpec, plan: ClusterPlan, secrets: PatroniSecrets): string {
  const s = plan.settings;
  const address = member.host.address;
  const config = {
    scope: s.cluster.scope,
    namespace: s.cluster.namespace,
    name: member.name,
    restapi: {
      listen: `${address}:${s.patroni.restApiPort}`,
      connect_address: `${address}:${s.patroni.restApiPort}`,
      authentication: { username: RESTAPI_USER, password: secrets.restApi },
    },
    etcd3: { hosts: plan.etcd.clientEndpoints },
    postgresql: {
      listen: `${address},127.0.0.1:${s.postgresql.port}`,
      connect_address: `${address}:${s.postgresql.port}`,
      data_dir: s.postgresql.dataDir,
      bin_dir: PG_BIN_LINK,
      pgpass: PGPASS_PATH,
      authentication: {
        superuser: { username: SYSTEM_USERS.superuser, password: secrets.superuser },
        replication: { username: SYSTEM_USERS.replication, password: secrets.replication },
        rewind: { username: SYSTEM_USERS.rewind, password: secrets.rewind },
      },
      parameters: { unix_socket_directories: SOCKET_DIR },
      pg_hba: renderPgHba(plan),
    },
    tags: member.host.tags,
  };
  return `# Patroni member ${member.name}: managed by patroni-stack, changes are overwritten\n${stringify(config)}`;
}

/** The `bootstrap` section of patroni.yml (no secret in it), appended by the configure step. */
export function renderPatroniBootstrap(plan: ClusterPlan): string {
  const s = plan.settings;
  const initdb = [...s.postgresql.initdb, { "auth-host": "scram-sha-256" }, { "auth-local": "peer" }];
  return stringify({ bootstrap: { dcs: renderDynamicConfig(s), initdb } });
}
