/**
 * Rules that span several keys (the schema checks each value on its own).
 * Every rule adds to one list so that a user sees all problems in one run.
 */
import { Problem, Settings } from "./schema";
import { calendarProblem } from "./calendar";

export interface Credentials {
  /** `patroni-stack:sshPrivateKey` is set (as a secret). */
  privateKey: boolean;
  /** `patroni-stack:sshPassword` is set (as a secret). */
  password: boolean;
  /** `patroni-stack:backupS3AccessKey` and `backupS3SecretKey` are both set (as secrets). */
  s3Keys?: boolean;
}

type Rule = (s: Settings, creds: Credentials) => Problem[];

const duplicates = (values: string[]) => [...new Set(values.filter((v, i) => values.indexOf(v) !== i))];

const uniqueHosts: Rule = (s) => [
  ...duplicates(s.hosts.map((h) => h.name)).map((n) => ({
    key: "patroni-stack:hosts",
    message: `host name '${n}' is used twice: give every host its own name`,
  })),
  ...duplicates(s.hosts.map((h) => h.address)).map((a) => ({
    key: "patroni-stack:hosts",
    message: `address ${a} is used by two hosts: each host needs its own cluster address`,
  })),
];

const knownRoleHosts: Rule = (s) => {
  const names = new Set(s.hosts.map((h) => h.name));
  const problems: Problem[] = [];
  for (const role of ["etcd", "patroni", "haproxy", "backup"] as const) {
    (s.roles[role] ?? []).forEach((h, i) => {
      if (!names.has(h)) {
        problems.push({
          key: `patroni-stack:roles.${role}[${i}]`,
          message: `unknown host '${h}': add it to patroni-stack:hosts or use one of ${[...names].join(", ")}`,
        });
      }
    });
    for (const d of duplicates(s.roles[role] ?? [])) {
      problems.push({ key: `patroni-stack:roles.${role}`, message: `host '${d}' is listed twice` });
    }
  }
  return problems;
};

const etcdQuorum: Rule = (s) => {
  const n = s.roles.etcd.length;
  return n === 1 || (n >= 3 && n % 2 === 1)
    ? []
    : [
        {
          key: "patroni-stack:roles.etcd",
          message: `${n} etcd members: use 1 (a test setup) or an odd number >= 3, so that a majority survives a failure`,
        },
      ];
};

const dcsTiming: Rule = (s) => {
  const { ttl, loopWait, retryTimeout } = s.patroni;
  const problems: Problem[] = [];
  if (ttl < 20) {
    problems.push({ key: "patroni-stack:patroni.ttl", message: `ttl ${ttl} is below Patroni's minimum of 20 seconds` });
  }
  if (loopWait + 2 * retryTimeout > ttl) {
    problems.push({
      key: "patroni-stack:patroni.ttl",
      message: `loopWait + 2*retryTimeout = ${loopWait + 2 * retryTimeout} exceeds ttl ${ttl}: raise ttl or lower loopWait/retryTimeout`,
    });
  }
  return problems;
};

/** Every (host, port) pair may carry one service. */
const portClashes: Rule = (s) => {
  const used = new Map<string, string>();
  const problems: Problem[] = [];
  const claim = (host: string, port: number, what: string) => {
    const id = `${host}:${port}`;
    const other = used.get(id);
    if (other) {
      problems.push({
        key: `patroni-stack:${what}`,
        message: `port ${port} on host '${host}' is also used by ${other}: choose another port`,
      });
    } else {
      used.set(id, what);
    }
  };
  for (const h of s.roles.etcd) {
    claim(h, s.etcd.clientPort, "etcd.clientPort");
    claim(h, s.etcd.peerPort, "etcd.peerPort");
  }
  for (const h of s.roles.patroni) {
    claim(h, s.postgresql.port, "postgresql.port");
    claim(h, s.patroni.restApiPort, "patroni.restApiPort");
  }
  for (const h of s.roles.haproxy) {
    claim(h, s.haproxy.readWritePort, "haproxy.readWritePort");
    claim(h, s.haproxy.readOnlyPort, "haproxy.readOnlyPort");
    claim(h, s.haproxy.statsPort, "haproxy.statsPort");
    if (s.pgbouncer.enabled) {
      claim(h, s.haproxy.directReadWritePort, "haproxy.directReadWritePort");
      claim(h, s.haproxy.directReadOnlyPort, "haproxy.directReadOnlyPort");
    }
  }
  return problems;
};

/** PostgreSQL's default, when postgresql.parameters does not set max_connections. */
const DEFAULT_MAX_CONNECTIONS = 100;
/** Connections kept for superusers, Patroni, backups and direct sessions beside the pools. */
export const DIRECT_CONNECTION_RESERVE = 10;

/**
 * The pools' server connections fit in PostgreSQL's max_connections, and in HAProxy's limits
 * (they reach PostgreSQL through HAProxy's direct listeners).
 */
const poolLimits: Rule = (s) => {
  const b = s.pgbouncer;
  if (!b.enabled) return [];
  const problems: Problem[] = [];
  const raw = s.postgresql.parameters.max_connections;
  const maxConnections = raw === undefined ? DEFAULT_MAX_CONNECTIONS : Number(raw);
  const routers = s.roles.haproxy.length;
  const servers = routers * b.maxDbConnections;
  if (servers + DIRECT_CONNECTION_RESERVE > maxConnections) {
    problems.push({
      key: "patroni-stack:pgbouncer.maxDbConnections",
      message: `${routers} router(s) × ${b.maxDbConnections} server connections + ${DIRECT_CONNECTION_RESERVE} kept for direct sessions exceed max_connections (${maxConnections}): lower pgbouncer.maxDbConnections to ${Math.max(1, Math.floor((maxConnections - DIRECT_CONNECTION_RESERVE) / routers))} or raise postgresql.parameters.max_connections`,
    });
  }
  if (b.poolSize > b.maxDbConnections) {
    problems.push({
      key: "patroni-stack:pgbouncer.poolSize",
      message: `${b.poolSize} is more than pgbouncer.maxDbConnections (${b.maxDbConnections}), which caps it: lower poolSize or raise maxDbConnections`,
    });
  }
  if (s.haproxy.serverMaxconn < b.maxDbConnections) {
    problems.push({
      key: "patroni-stack:haproxy.serverMaxconn",
      message: `${s.haproxy.serverMaxconn} is below pgbouncer.maxDbConnections (${b.maxDbConnections}): HAProxy would queue the pool's server connections; raise it`,
    });
  }
  if (s.haproxy.maxconn < 2 * b.maxDbConnections + DIRECT_CONNECTION_RESERVE) {
    problems.push({
      key: "patroni-stack:haproxy.maxconn",
      message: `${s.haproxy.maxconn} cannot carry both pools' server connections (2 × ${b.maxDbConnections}) and ${DIRECT_CONNECTION_RESERVE} direct sessions: raise it to ${2 * b.maxDbConnections + DIRECT_CONNECTION_RESERVE} or more`,
    });
  }
  return problems;
};

const sshCredentials: Rule = (s, creds) =>
  s.local || creds.privateKey || creds.password
    ? []
    : [
        {
          key: "patroni-stack:sshPrivateKey",
          message:
            "no SSH credentials: run `pulumi config set --secret patroni-stack:sshPrivateKey < ~/.ssh/id_ed25519` (or set sshPassword)",
        },
      ];

const toInt = (a: string) => a.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);

/** A VIP needs two routers to move between, and a free address on their subnet. */
const vip: Rule = (s) => {
  const v = s.haproxy.vip;
  if (!v) return [];
  const key = "patroni-stack:haproxy.vip";
  const problems: Problem[] = [];
  if (s.roles.haproxy.length < 2) {
    problems.push({
      key,
      message:
        "a virtual IP needs at least two HAProxy hosts to move between: add hosts to roles.haproxy or remove haproxy.vip",
    });
  }
  const mask = 2 ** (32 - v.prefixLength);
  const net = (a: string) => Math.floor(toInt(a) / mask);
  for (const name of s.roles.haproxy) {
    const host = s.hosts.find((h) => h.name === name);
    if (host && net(host.address) !== net(v.address)) {
      problems.push({
        key: `${key}.address`,
        message: `${v.address} is not on the subnet of HAProxy host ${name} (${host.address}/${v.prefixLength}): use a free address of that subnet, or set haproxy.vip.prefixLength`,
      });
    }
  }
  const owner = s.hosts.find((h) => h.address === v.address);
  if (owner)
    problems.push({ key: `${key}.address`, message: `${v.address} is host ${owner.name}'s address: use a free one` });
  if (s.local && !cidrContains(s.local.subnet, v.address)) {
    problems.push({
      key: `${key}.address`,
      message: `${v.address} is not a usable address in local.subnet ${s.local.subnet}`,
    });
  }
  return problems;
};

function cidrContains(cidr: string, address: string): boolean {
  const [base, bits] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(toInt(base) / size) * size;
  const a = toInt(address);
  // Leave the network address and the gateway (.1) to Docker.
  return a > start + 1 && a < start + size - 1;
}

const localHosts: Rule = (s) => {
  if (!s.local) return [];
  const local = s.local;
  const problems: Problem[] = [];
  s.hosts.forEach((h, i) => {
    if (!cidrContains(local.subnet, h.address)) {
      problems.push({
        key: `patroni-stack:hosts[${i}].address`,
        message: `${h.address} is not a usable address in local.subnet ${local.subnet} (the first two are Docker's)`,
      });
    }
  });
  if (local.sshPortBase + s.hosts.length - 1 > 65535) {
    problems.push({ key: "patroni-stack:local.sshPortBase", message: "too high for the number of hosts" });
  }
  const h = s.haproxy;
  const direct = s.pgbouncer.enabled ? [h.directReadWritePort, h.directReadOnlyPort] : [];
  const maxPort = Math.max(h.readWritePort, h.readOnlyPort, h.statsPort, ...direct);
  if (maxPort + local.portOffset > 65535) {
    problems.push({ key: "patroni-stack:local.portOffset", message: "pushes a published HAProxy port above 65535" });
  }
  return problems;
};

/** Parameters the stack or Patroni sets per member: the dynamic configuration cannot carry them. */
const MANAGED_PARAMETERS: Record<string, string> = {
  port: "set postgresql.port instead",
  listen_addresses: "Patroni listens on each member's address and 127.0.0.1; remove it",
  unix_socket_directories: "patroni-stack uses /var/run/postgresql; remove it",
  data_directory: "set postgresql.dataDir instead",
  hba_file: "add rules with postgresql.pgHba instead",
  ident_file: "remove it (Patroni manages pg_ident.conf)",
  config_file: "remove it (Patroni writes postgresql.conf)",
  hot_standby: "Patroni requires it on; remove it",
};

/** With a repository host, archiving is the stack's (backup.archiveTimeout sets the timeout). */
const ARCHIVE_PARAMETERS: Record<string, string> = {
  archive_mode: "remove it: backups keep it on",
  archive_command: "remove it: the stack archives to its pgBackRest repository",
  archive_timeout: "set backup.archiveTimeout instead",
  restore_command: "remove it: the stack restores WAL from its pgBackRest repository",
};

const managedParameters: Rule = (s) => [
  ...Object.keys(s.postgresql.parameters)
    .filter((p) => p in MANAGED_PARAMETERS)
    .map((p) => ({
      key: `patroni-stack:postgresql.parameters.${p}`,
      message: `is managed per member, not through the dynamic configuration: ${MANAGED_PARAMETERS[p]}`,
    })),
  ...Object.keys(s.postgresql.parameters)
    .filter((p) => s.roles.backup?.length && p in ARCHIVE_PARAMETERS)
    .map((p) => ({
      key: `patroni-stack:postgresql.parameters.${p}`,
      message: `is managed by the stack while roles.backup is set: ${ARCHIVE_PARAMETERS[p]}`,
    })),
];

/** The repository host, its repository and its schedule. */
const backup: Rule = (s, creds) => {
  const host = s.roles.backup?.[0];
  const b = s.backup;
  const problems: Problem[] = [];
  if (!host) {
    return b
      ? [
          {
            key: "patroni-stack:backup",
            message:
              "backup settings without a repository host: name one in patroni-stack:roles.backup (e.g. [backup1]) or remove patroni-stack:backup",
          },
        ]
      : [];
  }
  if (s.roles.patroni.includes(host) && !b?.allowMemberHost) {
    problems.push({
      key: "patroni-stack:roles.backup[0]",
      message: `'${host}' is a Patroni member: a repository there is lost with that member. Use a host outside roles.patroni, or set backup.allowMemberHost: true`,
    });
  }
  if (!b) return problems;
  const repo = b.repository;
  if (repo.type === "s3") {
    if (!repo.s3) {
      problems.push({
        key: "patroni-stack:backup.repository.s3",
        message: "repository type s3 needs its bucket: set backup.repository.s3.bucket and .endpoint",
      });
    }
    if (!creds.s3Keys) {
      problems.push({
        key: "patroni-stack:backupS3AccessKey",
        message:
          "repository type s3 needs its keys as secrets: `pulumi config set --secret patroni-stack:backupS3AccessKey ...` and `... patroni-stack:backupS3SecretKey ...`",
      });
    }
  } else if (repo.s3) {
    problems.push({
      key: "patroni-stack:backup.repository.s3",
      message: "is only read when backup.repository.type is s3: set the type or remove the s3 block",
    });
  }
  for (const [kind, expression] of Object.entries(b.schedule)) {
    if (expression === undefined) continue;
    const problem = calendarProblem(expression);
    if (problem) {
      problems.push({
        key: `patroni-stack:backup.schedule.${kind}`,
        message: `'${expression}' is not a systemd calendar event: ${problem} (e.g. "Sun *-*-* 01:00:00" or daily)`,
      });
    }
  }
  return problems;
};

/** TLS parameters the stack sets on every member from its own certificates. */
const TLS_PARAMETERS = ["ssl", "ssl_cert_file", "ssl_key_file", "ssl_ca_file", "ssl_min_protocol_version"];

const isLoopback = (address: string) => /^(127\.|::1(\/|$)|localhost$)/.test(address);

/** Certificates' lifetimes, the parameters TLS owns, and plain-text rules while TLS is required. */
const tls: Rule = (s) => {
  const t = s.tls;
  if (!t.enabled) return [];
  const problems: Problem[] = [];
  if (t.renewBeforeDays >= t.validityDays) {
    problems.push({
      key: "patroni-stack:tls.renewBeforeDays",
      message: `${t.renewBeforeDays} days is not less than tls.validityDays (${t.validityDays}): every up would issue new certificates. Lower it`,
    });
  }
  if (t.validityDays > t.caValidityDays) {
    problems.push({
      key: "patroni-stack:tls.validityDays",
      message: `host certificates (${t.validityDays} days) cannot outlive the CA (tls.caValidityDays ${t.caValidityDays}): lower it or raise caValidityDays`,
    });
  }
  for (const p of Object.keys(s.postgresql.parameters).filter((k) => TLS_PARAMETERS.includes(k))) {
    problems.push({
      key: `patroni-stack:postgresql.parameters.${p}`,
      message: "is set by the stack while tls.enabled is true (its own certificates): remove it",
    });
  }
  if (t.postgres.require) {
    (s.postgresql.pgHba ?? []).forEach((line, i) => {
      const [type, , , address] = line.trim().split(/\s+/);
      if (type === "host" && address !== undefined && !isLoopback(address)) {
        problems.push({
          key: `patroni-stack:postgresql.pgHba[${i}]`,
          message: `'${line}' lets remote clients in without TLS while tls.postgres.require is true: use hostssl, or set tls.postgres.require: false`,
        });
      }
    });
  }
  return problems;
};

const rules: Rule[] = [
  uniqueHosts,
  knownRoleHosts,
  etcdQuorum,
  dcsTiming,
  portClashes,
  poolLimits,
  sshCredentials,
  localHosts,
  managedParameters,
  vip,
  backup,
  tls,
];

export function validateSettings(settings: Settings, creds: Credentials): Problem[] {
  return rules.flatMap((rule) => rule(settings, creds));
}
