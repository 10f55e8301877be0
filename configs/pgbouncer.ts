/**
 * PgBouncer on each router, in front of HAProxy: a read-write pool on the clients' read-write
 * port and a read-only pool on their read-only port, each opening its server connections through
 * HAProxy's direct listener on the same host (which follows the primary, or balances over the
 * replicas). A switchover moves no client connection: the clients stay on their router's pool,
 * only the pool's server connections move (and `ctl switchover` holds them with PAUSE).
 *
 * Logins: `auth_user` + `auth_query` through a SECURITY DEFINER function on the primary, so every
 * role (those the stack creates and those created later by hand) logs in with its own SCRAM
 * secret; no user list to keep in sync. Pure: files and SQL from the plan's spec.
 */
import type { Packages } from "../plan";
import { CA_PATH, tlsFiles } from "./tls";
import { renderUnit } from "./systemd";
import { shq } from "./scripts";

export const POOL_NAMES = ["rw", "ro"] as const;
export type PoolName = (typeof POOL_NAMES)[number];

/** The role PgBouncer logs in as to look other roles up; its password is generated. */
export const POOL_AUTH_USER = "pgbouncer";
/** The schema and function the lookup goes through (in every database that accepts connections). */
export const POOL_AUTH_SCHEMA = "pgbouncer";
export const POOL_AUTH_FUNCTION = `${POOL_AUTH_SCHEMA}.user_lookup`;

export const PGBOUNCER_DIR = "/etc/pgbouncer";
/** The auth user's password, the one PgBouncer needs in clear (mode 0600, owner postgres). */
export const POOL_AUTH_FILE = `${PGBOUNCER_DIR}/patroni-stack-users.txt`;
/** One systemd template unit, one instance per pool. */
export const POOL_UNIT_TEMPLATE = "patroni-stack-pgbouncer@.service";
export const POOL_UNIT_PATH = `/etc/systemd/system/${POOL_UNIT_TEMPLATE}`;

export function poolConfigPath(pool: PoolName): string {
  return `${PGBOUNCER_DIR}/patroni-stack-${pool}.ini`;
}

export function poolUnit(pool: PoolName): string {
  return `patroni-stack-pgbouncer@${pool}.service`;
}

/** Where a pool's admin console socket lives (systemd's RuntimeDirectory of its instance). */
export function poolSocketDir(pool: PoolName): string {
  return `/run/patroni-stack-pgbouncer-${pool}`;
}

export interface PoolSpec {
  name: PoolName;
  /** Where clients connect. */
  listenPort: number;
  /** HAProxy's direct listener on the same host: where the pool's server connections go. */
  serverPort: number;
}

export interface PgbouncerSpec {
  poolMode: "transaction" | "session";
  poolSize: number;
  maxDbConnections: number;
  maxClientConn: number;
  /** max_prepared_statements when the stack sets it (PgBouncer 1.21+); else the package's default. */
  maxPreparedStatements?: number;
  pools: PoolSpec[];
  packages: Packages;
  /** TLS towards clients (required when `requireClients`) and towards PostgreSQL (verified). */
  tls?: { requireClients: boolean };
}

type IniValue = string | number;

/**
 * PgBouncer's ini dialect: `key = value` to the end of the line, no quoting (the `ini` package
 * quotes values holding `=`, which PgBouncer's `[databases]` lines are made of).
 */
export function renderPgbouncerIni(title: string, sections: Record<string, Record<string, IniValue>>): string {
  const line = (k: string, v: IniValue) => {
    const text = String(v);
    if (/[\r\n]/.test(k + text) || !/^[A-Za-z0-9_*.-]+$/.test(k)) throw new Error(`bad PgBouncer setting ${k}`);
    return `${k} = ${text}`;
  };
  const body = Object.entries(sections).map(([name, entries]) =>
    [`[${name}]`, ...Object.entries(entries).map(([k, v]) => line(k, v))].join("\n"),
  );
  return `; ${title}\n${body.join("\n\n")}\n`;
}

/** The settings of one pool. */
export function pgbouncerSettings(spec: PgbouncerSpec, pool: PoolSpec): Record<string, Record<string, IniValue>> {
  const files = tlsFiles("pgbouncer");
  const tls: Record<string, IniValue> = spec.tls
    ? {
        client_tls_sslmode: spec.tls.requireClients ? "require" : "prefer",
        client_tls_cert_file: files.certificate,
        client_tls_key_file: files.key,
        client_tls_ca_file: CA_PATH,
        client_tls_protocols: "tlsv1.2,tlsv1.3",
        // HAProxy passes TCP through: the member's certificate answers, and carries 127.0.0.1.
        server_tls_sslmode: "verify-full",
        server_tls_ca_file: CA_PATH,
        server_tls_protocols: "tlsv1.2,tlsv1.3",
      }
    : {};
  return {
    databases: { "*": `host=127.0.0.1 port=${pool.serverPort}` },
    pgbouncer: {
      listen_addr: "*",
      listen_port: pool.listenPort,
      unix_socket_dir: poolSocketDir(pool.name),
      auth_type: "scram-sha-256",
      auth_file: POOL_AUTH_FILE,
      auth_user: POOL_AUTH_USER,
      auth_query: `SELECT username, password FROM ${POOL_AUTH_FUNCTION}($1)`,
      admin_users: POOL_AUTH_USER,
      stats_users: POOL_AUTH_USER,
      pool_mode: spec.poolMode,
      default_pool_size: spec.poolSize,
      max_db_connections: spec.maxDbConnections,
      max_client_conn: spec.maxClientConn,
      ...(spec.maxPreparedStatements === undefined ? {} : { max_prepared_statements: spec.maxPreparedStatements }),
      // A failed server login (no primary behind HAProxy for a moment) is retried within a
      // second, not after PgBouncer's default 15 s.
      server_login_retry: 1,
      server_connect_timeout: 5,
      // Clients held by PAUSE (a switchover) wait this long for a server.
      query_wait_timeout: 120,
      ignore_startup_parameters: "extra_float_digits",
      // Off: with the client's address in each client's application_name, a transaction pool sends
      // a SET application_name before nearly every transaction (a server connection rarely serves
      // the same client twice in a row), which cost 40 % of `pgbench -S`'s throughput on dev. The
      // pool's admin console shows each client's address (SHOW CLIENTS).
      application_name_add_host: 0,
      ...tls,
    },
  };
}

/**
 * The settings whose running value an up compares with the declared one (PgBouncer's `SHOW
 * CONFIG` prints them as written in the file): a pool changed behind the stack's back, in its file
 * and reloaded or on its admin console with `SET`, is set back by the next up.
 */
export const POOL_DRIFT_KEYS = [
  "listen_port",
  "pool_mode",
  "default_pool_size",
  "max_db_connections",
  "max_client_conn",
  "max_prepared_statements",
  "auth_type",
  "auth_user",
  "admin_users",
  "server_login_retry",
  "server_connect_timeout",
  "query_wait_timeout",
  "application_name_add_host",
  "client_tls_sslmode",
  "server_tls_sslmode",
] as const;

/** The declared settings of one pool that `SHOW CONFIG` is compared with. */
export function comparablePoolSettings(spec: PgbouncerSpec, pool: PoolSpec): Record<string, string> {
  const all = pgbouncerSettings(spec, pool).pgbouncer;
  return Object.fromEntries(POOL_DRIFT_KEYS.filter((k) => k in all).map((k) => [k, String(all[k])]));
}

/**
 * A pool's running settings reduced to the declared keys (a value PgBouncer does not report is
 * taken as declared), so that equal means no drift.
 */
export function comparableLivePool(live: Record<string, string>, declared: Record<string, string>) {
  return Object.fromEntries(Object.entries(declared).map(([k, v]) => [k, k in live ? live[k] : v]));
}

/** One line per setting that differs: `pool_mode: live session, declared transaction`. */
export function poolDifferences(live: Record<string, string>, declared: Record<string, string>): string[] {
  return Object.entries(declared)
    .filter(([k, v]) => live[k] !== v)
    .map(([k, v]) => `${k}: live ${live[k]}, declared ${v}`);
}

export function renderPgbouncerConfig(spec: PgbouncerSpec, pool: PoolSpec, router: string): string {
  return renderPgbouncerIni(
    `PgBouncer ${pool.name} pool on ${router}: managed by patroni-stack, changes are overwritten`,
    pgbouncerSettings(spec, pool),
  );
}

/** PgBouncer's auth file: `"user" "password"`, a double quote doubled. */
export function renderPoolAuthFile(user: string, password: string): string {
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  return `${q(user)} ${q(password)}\n`;
}

/**
 * The lookup PgBouncer's auth_query calls: the role's SCRAM secret from pg_shadow, for login
 * roles only, executable by the auth user alone. Holds no password.
 */
export function poolAuthSql(authUser: string = POOL_AUTH_USER): string {
  const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const u = ident(authUser);
  const schema = ident(POOL_AUTH_SCHEMA);
  return [
    `CREATE SCHEMA IF NOT EXISTS ${schema};`,
    `REVOKE ALL ON SCHEMA ${schema} FROM PUBLIC;`,
    `CREATE OR REPLACE FUNCTION ${POOL_AUTH_FUNCTION}(p_user text, OUT username text, OUT password text)`,
    "  RETURNS record LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS",
    "$$ SELECT s.usename::text, s.passwd::text FROM pg_catalog.pg_shadow s",
    "   JOIN pg_catalog.pg_roles r ON r.rolname = s.usename",
    "   WHERE s.usename = p_user AND r.rolcanlogin $$;",
    `REVOKE ALL ON FUNCTION ${POOL_AUTH_FUNCTION}(text) FROM PUBLIC;`,
    `GRANT USAGE ON SCHEMA ${schema} TO ${u};`,
    `GRANT EXECUTE ON FUNCTION ${POOL_AUTH_FUNCTION}(text) TO ${u};`,
    "",
  ].join("\n");
}

/** The pools' template unit: one PgBouncer per pool, as postgres, reloaded with SIGHUP. */
export function renderPoolUnit(): string {
  return renderUnit({
    description: "PgBouncer %i pool (patroni-stack)",
    after: ["network-online.target", "haproxy.service"],
    service: {
      Type: "notify",
      User: "postgres",
      Group: "postgres",
      ExecStart: `/usr/sbin/pgbouncer ${PGBOUNCER_DIR}/patroni-stack-%i.ini`,
      ExecReload: "/bin/kill -HUP $MAINPID",
      // SIGINT: a safe shutdown that lets running transactions finish.
      KillSignal: "SIGINT",
      TimeoutStopSec: 30,
      RuntimeDirectory: "patroni-stack-pgbouncer-%i",
      Restart: "on-failure",
      RestartSec: "1s",
      LimitNOFILE: 65536,
    },
  });
}

/** The admin tool on each router: `patroni-stack-pool rw|ro [PSQL ARGS...]`. */
export const POOL_TOOL_PATH = "/usr/local/sbin/patroni-stack-pool";

/**
 * `patroni-stack-pool POOL [PSQL ARGS...]`: psql on POOL's admin console (SHOW POOLS, PAUSE,
 * RESUME, RECONNECT), as the auth user, whose password it reads from the auth file into the
 * environment (never a command line). POOL_DB and POOL_HOST reach a database through the pool;
 * POOL_SERVER=1 reaches it the way the pool's server connections do, through HAProxy's direct
 * listener (verified on a TLS stack), which tells whether RESUME would send statements to a
 * primary that takes writes.
 */
export function renderPoolTool(spec: PgbouncerSpec): string {
  // The auth file's line up to the password: `"pgbouncer" "`.
  const authPrefix = renderPoolAuthFile(POOL_AUTH_USER, "").replace(/"\n$/, "");
  const cases = spec.pools.map((p) => `  ${p.name}) port=${p.listenPort} server=${p.serverPort} ;;`);
  const serverTls = spec.tls ? ` sslmode=verify-full sslrootcert=${CA_PATH}` : "";
  return [
    "#!/bin/bash",
    "# Managed by patroni-stack: psql on a PgBouncer pool's admin console (or POOL_DB through it).",
    "set -euo pipefail",
    `usage() { echo "usage: $0 ${spec.pools.map((p) => p.name).join("|")} [PSQL ARGS...]" >&2; exit 2; }`,
    "[ $# -ge 1 ] || usage",
    "pool=$1",
    "shift",
    'case "$pool" in',
    ...cases,
    "  *) usage ;;",
    "esac",
    // The password is the auth file's second field (bash alone: this runs on every hold step).
    `auth_file=${POOL_AUTH_FILE}`,
    'IFS= read -r line <"$auth_file"',
    `password=\${line#${shq(authPrefix)}}`,
    "password=${password%'\"'}",
    `export PGPASSWORD=\${password//'""'/'"'}`,
    'if [ -n "${POOL_SERVER:-}" ]; then',
    `  exec psql -X -d "host=127.0.0.1 port=$server user=${POOL_AUTH_USER} dbname=\${POOL_DB:-postgres} connect_timeout=3${serverTls}" "$@"`,
    "fi",
    `exec psql -X -h "\${POOL_HOST:-/run/patroni-stack-pgbouncer-$pool}" -p "$port" -U ${POOL_AUTH_USER} -d "\${POOL_DB:-pgbouncer}" "$@"`,
    "",
  ].join("\n");
}

/** A read-write pool as the member-side scripts reach it to hold its clients (lib-pools.sh). */
export interface HeldPool {
  /** The router's address. */
  address: string;
  /** The pool's port (its admin console). */
  poolPort: number;
  /** HAProxy's direct read-write listener on the same router: where the pool's servers are. */
  haproxyPort: number;
}

/** The read-write pools of a plan's routers, held while the primary restarts or moves. */
export function heldPools(routers: { host: { address: string } }[], spec: PgbouncerSpec | undefined): HeldPool[] {
  const rw = spec?.pools.find((p) => p.name === "rw");
  return rw
    ? routers.map((r) => ({ address: r.host.address, poolPort: rw.listenPort, haproxyPort: rw.serverPort }))
    : [];
}

/** The variables of lib-pools.sh for the scripts that include it. */
export function poolHoldVars(pools: HeldPool[], tls: boolean): Record<string, string | string[]> {
  return {
    POOLS: pools.map((p) => `${p.address}:${p.poolPort}:${p.haproxyPort}`),
    POOL_USER: POOL_AUTH_USER,
    POOL_SSLMODE: tls ? "verify-full" : "prefer",
    CA_PATH,
  };
}
