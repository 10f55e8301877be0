/**
 * Pure planning: from resolved settings to who runs what, where, on which ports. The plan is
 * complete: every member, router and host carries what the components and renderers need
 * (endpoints, ports, SSH target, the local mode folded in), so nothing downstream reaches back
 * into the settings. Unit tests check it without Pulumi.
 */
import { BASE_PARAMETERS, BackupSettings, HostSettings, ResolvedSettings } from "./settings";
import { archiveParameters, BACKUP_PACKAGES, recoveryConf } from "./configs/pgbackrest";
import { AltNames, hostAltNames, TlsService } from "./configs/tls";
import { PgbouncerSpec } from "./configs/pgbouncer";

export interface SshEndpoint {
  host: string;
  port: number;
  user: string;
  sudo: boolean;
}

/** A port of a local host published on 127.0.0.1. */
export interface PublishedPort {
  internal: number;
  external: number;
}

export interface HostSpec {
  name: string;
  /** Position in `patroni-stack:hosts`. */
  index: number;
  address: string;
  /** Where SSH reaches the host (on local stacks: a port published on 127.0.0.1). */
  ssh: SshEndpoint;
  tags: HostSettings["tags"];
  /** Where uploaded scripts and files are staged before they are installed. */
  stageDir: string;
  /** Local stacks: the ports Docker publishes on 127.0.0.1 (SSH, and HAProxy's on the first router). */
  published: PublishedPort[];
}

/** OS packages per family. */
export interface Packages {
  debian: string[];
  rhel: string[];
}

/** The packages of every role a host runs, installed in one transaction before any role's step. */
export interface HostPackagesSpec {
  host: HostSpec;
  packages: Packages;
}

export interface EtcdMemberSpec {
  name: string;
  host: HostSpec;
  clientUrl: string;
  peerUrl: string;
}

export interface PatroniMemberSpec {
  name: string;
  host: HostSpec;
  role: "leader" | "replica";
  /** Patroni's REST API, e.g. `http://10.0.0.11:8008`. */
  restUrl: string;
  /** Where PostgreSQL listens for other members and routers. */
  postgres: { address: string; port: number };
}

export interface RouterSpec {
  name: string;
  host: HostSpec;
  backends: PatroniMemberSpec[];
  /**
   * HAProxy's read-write and read-only listeners: the clients' ports, or the direct ports when
   * PgBouncer pools the clients' ports.
   */
  listeners: { readWrite: number; readOnly: number };
}

/** Where clients reach the stack's first router. */
export interface ClientEndpoint {
  host: string;
  readWritePort: number;
  readOnlyPort: number;
  statsPort: number;
  /** HAProxy's own listeners beside the pools (absent without PgBouncer: the ports above are HAProxy's). */
  directReadWritePort?: number;
  directReadOnlyPort?: number;
}

/** What Patroni's dynamic configuration is made of (./configs/dcs.ts renders it). */
export interface DcsSpec {
  ttl: number;
  loopWait: number;
  retryTimeout: number;
  maximumLagOnFailover: number;
  synchronousMode: boolean;
  failsafeMode: boolean;
  usePgRewind: boolean;
  /** PostgreSQL parameters, the stack's defaults merged with the config's. */
  parameters: Record<string, string | number | boolean>;
  /** Patroni's `postgresql.recovery_conf` (the repository's restore_command when backups are on). */
  recoveryConf: Record<string, string>;
  restartPolicy: "rolling" | "manual";
}

export type EtcdSettings = ResolvedSettings["etcd"];
export type HaproxySettings = ResolvedSettings["haproxy"];

/** The routers' virtual IP: keepalived on every router, the first one preferred. */
export interface VipSpec {
  address: string;
  prefixLength: number;
  interface: string;
  routerId: number;
  packages: Packages;
  /** Every router with its VRRP priority (higher wins an election). */
  routers: { name: string; address: string; priority: number }[];
}

/** A database member as the repository host reaches it (pgBackRest's `pgN-*`). */
export interface BackupMemberSpec {
  name: string;
  address: string;
  port: number;
  dataDir: string;
}

/** pgBackRest: the repository host, its repository, and the members that archive to it. */
export interface BackupSpec {
  host: HostSpec;
  /** pgBackRest's stanza: the cluster's scope. */
  stanza: string;
  repository: BackupSettings["repository"];
  retention: BackupSettings["retention"];
  schedule: BackupSettings["schedule"];
  archivePushQueueMax: string;
  compress: BackupSettings["compress"];
  /** `backup.onDestroy: purge`: destroy deletes the repository. */
  purge: boolean;
  members: BackupMemberSpec[];
  packages: Packages;
}

/** One host's certificate: the names it carries and the services that read it. */
export interface TlsHostSpec {
  host: HostSpec;
  altNames: AltNames;
  services: TlsService[];
}

/** TLS on every hop (`tls.enabled`): the stack's CA and a certificate per host. */
export interface TlsSpec {
  validityDays: number;
  renewBeforeDays: number;
  caValidityDays: number;
  /** The CA's common name. */
  caName: string;
  hosts: TlsHostSpec[];
}

export interface ClusterPlan {
  hosts: HostSpec[];
  /** Each host that runs a role, with the packages of all its roles. */
  hostPackages: HostPackagesSpec[];
  /**
   * Local stacks: the Debian packages installed in the hosts' image (every role's, so that a
   * deploy only configures and starts), or none when `local.preinstall` is false.
   */
  imagePackages: string[];
  etcd: EtcdSettings & {
    members: EtcdMemberSpec[];
    /** `name=peerUrl,...` in member order, identical on every member. */
    initialCluster: string;
    /** `address:clientPort` of every member, for Patroni's `etcd3.hosts`. */
    clientEndpoints: string[];
    /** https with client certificates on the client and peer ports. */
    tls: boolean;
  };
  patroni: {
    leader: PatroniMemberSpec;
    replicas: PatroniMemberSpec[];
    members: PatroniMemberSpec[];
    dcs: DcsSpec;
    scope: string;
    namespace: string;
    /** `address:port` of every etcd member, for Patroni's `etcd3.hosts`. */
    etcdHosts: string[];
    dataDir: string;
    /** pg_hba lines the stack config adds after the ones the cluster needs. */
    extraHba: string[];
    initdb: ResolvedSettings["postgresql"]["initdb"];
    /** PostgreSQL's major version, and the packages of PostgreSQL and Patroni per OS family. */
    pgVersion: number;
    packages: Packages;
    /** Extra roles created on the primary. */
    users: ResolvedSettings["postgresql"]["users"];
    /** TLS on PostgreSQL, the REST API and Patroni's etcd client (absent: plain text). */
    tls?: { verifyClient: ResolvedSettings["tls"]["restApi"]["verifyClient"]; requirePostgres: boolean };
  };
  /** `cluster.onDestroy: purge`: destroy removes data directories too. */
  purgeOnDestroy: boolean;
  routers: RouterSpec[];
  haproxy: HaproxySettings;
  /** PgBouncer's pools on every router, in front of HAProxy (`pgbouncer.enabled`). */
  pgbouncer?: PgbouncerSpec;
  client: ClientEndpoint;
  vip?: VipSpec;
  /** Backups and WAL archiving, when `roles.backup` names a repository host. */
  backup?: BackupSpec;
  tls?: TlsSpec;
}

/** The prefix of a local stack's Docker objects (its network, and its containers' names). */
export function localPrefix(stack: string): string {
  return `patroni-stack-${stack}`;
}

/** The container that acts as a local stack's host. */
export function localContainerName(stack: string, host: string): string {
  return `${localPrefix(stack)}-${host}`;
}

export function planHost(h: HostSettings, index: number, local?: ResolvedSettings["local"]): HostSpec {
  const user = local ? "root" : h.ssh.user;
  const ssh = local
    ? { host: "127.0.0.1", port: local.sshPortBase + index, user, sudo: false }
    : { host: h.ssh.host ?? h.address, port: h.ssh.port, user, sudo: h.ssh.sudo ?? user !== "root" };
  return {
    name: h.name,
    index,
    address: h.address,
    ssh,
    tags: h.tags,
    stageDir: user === "root" ? "/root/.patroni-stack" : `/home/${user}/.patroni-stack`,
    published: local ? [{ internal: 22, external: ssh.port }] : [],
  };
}

export function planDcs(settings: ResolvedSettings): DcsSpec {
  const p = settings.patroni;
  const b = settings.backup;
  const stanza = settings.cluster.scope;
  return {
    ttl: p.ttl,
    loopWait: p.loopWait,
    retryTimeout: p.retryTimeout,
    maximumLagOnFailover: p.maximumLagOnFailover,
    synchronousMode: p.synchronousMode,
    failsafeMode: p.failsafeMode,
    usePgRewind: p.usePgRewind,
    parameters: {
      ...BASE_PARAMETERS,
      ...settings.postgresql.parameters,
      ...(b ? archiveParameters(stanza, b.archiveTimeout) : {}),
    },
    recoveryConf: b ? recoveryConf(stanza) : {},
    restartPolicy: settings.postgresql.restartPolicy,
  };
}

export function planCluster(settings: ResolvedSettings): ClusterPlan {
  const local = settings.local;
  const hosts = settings.hosts.map((h, i) => planHost(h, i, local));
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const lookup = (name: string): HostSpec => {
    const host = byName.get(name);
    if (!host) throw new Error(`unknown host '${name}' (validation should have caught this)`);
    return host;
  };
  const { etcd, haproxy, patroni, postgresql } = settings;
  const tls = settings.tls.enabled ? settings.tls : undefined;
  const scheme = tls ? "https" : "http";

  const members = settings.roles.etcd.map(lookup).map((host) => ({
    name: host.name,
    host,
    clientUrl: `${scheme}://${host.address}:${etcd.clientPort}`,
    peerUrl: `${scheme}://${host.address}:${etcd.peerPort}`,
  }));

  const patroniMembers = settings.roles.patroni.map(lookup).map((host, i): PatroniMemberSpec => ({
    name: host.name,
    host,
    role: i === 0 ? "leader" : "replica",
    restUrl: `${scheme}://${host.address}:${patroni.restApiPort}`,
    postgres: { address: host.address, port: postgresql.port },
  }));

  const pooled = settings.pgbouncer.enabled;
  const listeners = pooled
    ? { readWrite: haproxy.directReadWritePort, readOnly: haproxy.directReadOnlyPort }
    : { readWrite: haproxy.readWritePort, readOnly: haproxy.readOnlyPort };
  const routers = settings.roles.haproxy
    .map(lookup)
    .map((host) => ({ name: host.name, host, backends: patroniMembers, listeners }));
  const ports: Omit<ClientEndpoint, "host"> = {
    readWritePort: haproxy.readWritePort,
    readOnlyPort: haproxy.readOnlyPort,
    statsPort: haproxy.statsPort,
    ...(pooled ? { directReadWritePort: listeners.readWrite, directReadOnlyPort: listeners.readOnly } : {}),
  };
  let client: ClientEndpoint = { host: routers[0].host.address, ...ports };
  if (local) {
    // The first router's client ports are published on 127.0.0.1, shifted by portOffset.
    const entries = Object.entries(ports) as [keyof typeof ports, number][];
    client = {
      host: "127.0.0.1",
      ...Object.fromEntries(entries.map(([k, v]) => [k, v + local.portOffset])),
    } as ClientEndpoint;
    routers[0].host.published.push(...entries.map(([, v]) => ({ internal: v, external: v + local.portOffset })));
  }
  const b = settings.pgbouncer;
  const pgbouncer: PgbouncerSpec | undefined = pooled
    ? {
        poolMode: b.poolMode,
        poolSize: b.poolSize,
        maxDbConnections: b.maxDbConnections,
        maxClientConn: b.maxClientConn,
        maxPreparedStatements: b.maxPreparedStatements,
        pools: [
          { name: "rw", listenPort: haproxy.readWritePort, serverPort: listeners.readWrite },
          { name: "ro", listenPort: haproxy.readOnlyPort, serverPort: listeners.readOnly },
        ],
        packages: b.packages,
        tls: tls && { requireClients: tls.postgres.require },
      }
    : undefined;

  const vipPackages = haproxy.vip?.packages ?? { debian: [], rhel: [] };
  const pgPackages = {
    debian: [...postgresql.packages.debian, ...patroni.packages.debian],
    rhel: [...postgresql.packages.rhel, ...patroni.packages.rhel],
  };
  const backupHost = settings.roles.backup?.[0];
  const rolePackages = (host: HostSpec): Packages[] => [
    ...(backupHost && (host.name === backupHost || patroniMembers.some((m) => m.host === host))
      ? [BACKUP_PACKAGES]
      : []),
    ...(members.some((m) => m.host === host) ? [etcd.packages] : []),
    ...(patroniMembers.some((m) => m.host === host) ? [pgPackages] : []),
    ...(routers.some((r) => r.host === host)
      ? [haproxy.packages, vipPackages, ...(pgbouncer ? [pgbouncer.packages] : [])]
      : []),
  ];
  const union = (lists: string[][]) => [...new Set(lists.flat())].sort();
  const hostPackages = hosts
    .map((host) => {
      const roles = rolePackages(host);
      return { host, packages: { debian: union(roles.map((r) => r.debian)), rhel: union(roles.map((r) => r.rhel)) } };
    })
    .filter((h) => h.packages.debian.length + h.packages.rhel.length > 0);

  const bk = settings.backup;
  const backup: BackupSpec | undefined =
    bk && backupHost
      ? {
          host: lookup(backupHost),
          stanza: settings.cluster.scope,
          repository: bk.repository,
          retention: bk.retention,
          schedule: bk.schedule,
          archivePushQueueMax: bk.archivePushQueueMax,
          compress: bk.compress,
          purge: bk.onDestroy === "purge",
          members: patroniMembers.map((m) => ({
            name: m.name,
            address: m.postgres.address,
            port: m.postgres.port,
            dataDir: postgresql.dataDir,
          })),
          packages: BACKUP_PACKAGES,
        }
      : undefined;

  // Clients reach PostgreSQL through the routers and the virtual IP too: the members' certificates
  // carry those names, and the routers' carry the virtual IP.
  const vipAddress = haproxy.vip ? [haproxy.vip.address] : [];
  const routerNames = routers.flatMap((r) => [r.name, r.host.address]);
  const tlsSpec: TlsSpec | undefined = tls && {
    validityDays: tls.validityDays,
    renewBeforeDays: tls.renewBeforeDays,
    caValidityDays: tls.caValidityDays,
    caName: `patroni-stack ${settings.cluster.scope} CA`,
    hosts: hostPackages.map(({ host }) => {
      const services: TlsService[] = [
        ...(members.some((m) => m.host === host) ? (["etcd"] as const) : []),
        ...(patroniMembers.some((m) => m.host === host) ? (["postgres"] as const) : []),
        ...(routers.some((r) => r.host === host) ? (["haproxy"] as const) : []),
        ...(pgbouncer && routers.some((r) => r.host === host) ? (["pgbouncer"] as const) : []),
        "client",
      ];
      const also = [
        ...(services.includes("postgres") ? [...routerNames, ...vipAddress] : []),
        ...(services.includes("haproxy") ? vipAddress : []),
      ];
      return { host, altNames: hostAltNames(host, also), services };
    }),
  };
  const extraHba = postgresql.pgHba ?? [
    `${tls?.postgres.require ? "hostssl" : "host"} all all 0.0.0.0/0 scram-sha-256`,
  ];

  return {
    hosts,
    hostPackages,
    imagePackages: local?.preinstall ? union(hostPackages.map((h) => h.packages.debian)) : [],
    etcd: {
      ...etcd,
      members,
      initialCluster: members.map((m) => `${m.name}=${m.peerUrl}`).join(","),
      clientEndpoints: members.map((m) => `${m.host.address}:${etcd.clientPort}`),
      tls: tls !== undefined,
    },
    patroni: {
      leader: patroniMembers[0],
      replicas: patroniMembers.slice(1),
      members: patroniMembers,
      dcs: planDcs(settings),
      scope: settings.cluster.scope,
      namespace: settings.cluster.namespace,
      etcdHosts: members.map((m) => `${m.host.address}:${etcd.clientPort}`),
      dataDir: postgresql.dataDir,
      extraHba,
      initdb: postgresql.initdb,
      pgVersion: postgresql.version,
      users: postgresql.users,
      packages: pgPackages,
      tls: tls && { verifyClient: tls.restApi.verifyClient, requirePostgres: tls.postgres.require },
    },
    purgeOnDestroy: settings.cluster.onDestroy === "purge",
    routers,
    haproxy,
    pgbouncer,
    client,
    vip: haproxy.vip && {
      ...haproxy.vip,
      routers: routers.map((r, i) => ({ name: r.name, address: r.host.address, priority: 150 - 10 * i })),
    },
    backup,
    tls: tlsSpec,
  };
}
