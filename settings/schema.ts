/**
 * The stack configuration: its shape, its types and the ONE place where defaults live.
 *
 * Everything here is pure (no Pulumi): `parseSettings` turns the raw values read from
 * `Pulumi.<stack>.yaml` into typed, defaulted settings or a list of problems.
 */
import { z } from "zod";

const name = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,61}[a-z0-9]$/, "must be 2-63 chars of a-z, 0-9 and '-', starting with a letter");
const port = z.number().int().min(1, "must be a port number 1-65535").max(65535, "must be a port number 1-65535");
const ipv4 = z
  .string()
  .regex(/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/, "must be an IPv4 address");
const absPath = z.string().regex(/^\/[^\s'"$`\\]*$/, "must be an absolute path without spaces or quotes");
const duration = z.string().regex(/^\d+(ms|s|m|h)$/, "must be a duration such as 500ms, 3s or 30m");
const pkgList = z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.+_:-]*$/, "must be a package name")).min(1);
const packages = (debian: string[], rhel: string[]) =>
  z.strictObject({ debian: pkgList.default(debian), rhel: pkgList.default(rhel) }).prefault({});
const paramValue = z.union([z.string(), z.number(), z.boolean()]);

/** Patroni member tags (the seed sets all four to false). */
const tags = z
  .strictObject({
    nofailover: z.boolean().default(false),
    noloadbalance: z.boolean().default(false),
    clonefrom: z.boolean().default(false),
    nosync: z.boolean().default(false),
  })
  .prefault({});

const host = z.strictObject({
  /** Patroni member / etcd member name. Stable: never an address. */
  name,
  /** The address other members use to reach this host. */
  address: ipv4,
  ssh: z
    .strictObject({
      /** Where SSH reaches the host; defaults to `address`. */
      host: z.string().min(1).optional(),
      port: port.default(22),
      user: z
        .string()
        .regex(/^[a-z_][a-z0-9_-]*$/, "must be a Unix user name")
        .default("root"),
      /** Prefix root commands with `sudo -n`; defaults to true for a user other than root. */
      sudo: z.boolean().optional(),
    })
    .prefault({}),
  tags,
});

const roles = z.strictObject({
  etcd: z.array(z.string()).min(1, "needs at least one host"),
  /** The first host is the bootstrap leader. */
  patroni: z.array(z.string()).min(1, "needs at least one host"),
  haproxy: z.array(z.string()).min(1, "needs at least one host"),
  /** The pgBackRest repository host (one): backups and WAL archiving are on when it is set. */
  backup: z.array(z.string()).max(1, "takes one host: the repository host").optional(),
});

const user = z.strictObject({
  name: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case SQL identifier"),
  options: z
    .array(z.enum(["createrole", "createdb", "login", "replication", "bypassrls", "superuser"]))
    .default(["login"]),
});

/** Continuous WAL archiving, scheduled backups and point-in-time recovery (pgBackRest). */
export const backupShape = z.strictObject({
  repository: z
    .strictObject({
      /**
       * `host`: the repository lives on the `roles.backup` host, on its disk. `s3`: in an
       * S3-compatible bucket, reached by the backup host and every member.
       */
      type: z.enum(["host", "s3"]).default("host"),
      /** The repository's directory on the backup host, or its prefix in the bucket. */
      path: absPath.default("/var/lib/pgbackrest"),
      s3: z
        .strictObject({
          bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name"),
          endpoint: z.string().regex(/^[A-Za-z0-9.-]+(:\d+)?$/, "must be a host name or host:port, without https://"),
          region: z.string().min(1).default("us-east-1"),
          uriStyle: z.enum(["host", "path"]).default("host"),
          verifyTls: z.boolean().default(true),
        })
        .optional(),
    })
    .prefault({}),
  retention: z
    .strictObject({
      /** Full backups kept (with the WAL they need); older ones expire. */
      full: z.number().int().min(1, "must be at least 1: a repository keeps one full backup or more").default(2),
      /** Differential backups kept per full backup. */
      diff: z.number().int().min(1, "must be at least 1").default(6),
    })
    .prefault({}),
  /** systemd calendar events (`OnCalendar=`) of the backup host's timers. */
  schedule: z
    .strictObject({
      full: z.string().min(1).default("Sun *-*-* 01:00:00"),
      diff: z.string().min(1).default("Mon..Sat *-*-* 01:00:00"),
      incr: z.string().min(1).optional(),
    })
    .prefault({}),
  /** Seconds after which a WAL segment with any write in it is archived (the RPO under low traffic). */
  archiveTimeout: z.number().int().min(1).max(86400).default(60),
  /**
   * The WAL a member queues for an unreachable repository before it drops the oldest (and
   * reports the gap) rather than fill its disk.
   */
  archivePushQueueMax: z
    .string()
    .regex(/^\d+(KiB|MiB|GiB|TiB)$/, "must be a size such as 512MiB or 4GiB")
    .default("1GiB"),
  compress: z.enum(["zst", "lz4", "gz", "none"]).default("zst"),
  /** What destroy does with the repository: keep it (the default) or delete it. */
  onDestroy: z.enum(["keep", "purge"]).default("keep"),
  /** Let the backup host be a Patroni member too (its repository is lost with that member). */
  allowMemberHost: z.boolean().default(false),
});

const shape = z.strictObject({
  hosts: z.array(host).min(1, "needs at least one host"),
  roles,
  cluster: z
    .strictObject({
      /** Patroni `scope`: the cluster's name in the DCS. */
      scope: name.default("postgres"),
      namespace: z
        .string()
        .regex(/^\/[a-z0-9/_-]*$/)
        .default("/service"),
      /** What `pulumi destroy` leaves on real hosts: data directories are kept unless `purge`. */
      onDestroy: z.enum(["keep-data", "purge"]).default("keep-data"),
      /**
       * Failure-detection timings (see PROFILES): `fast` is tuned to the limits Patroni allows,
       * `guide` is the field guide's. Any timing set explicitly wins over the profile.
       */
      profile: z.enum(["fast", "guide"]).default("fast"),
    })
    .prefault({}),
  postgresql: z
    .strictObject({
      version: z.number().int().min(12).max(18).default(15),
      port: port.default(5432),
      /** Defaults to /data/pg<version> (the seed's layout). Only its parent is created. */
      dataDir: absPath.optional(),
      packages: z.strictObject({ debian: pkgList.optional(), rhel: pkgList.optional() }).prefault({}),
      /** Written to bootstrap.dcs, and applied to a running cluster through `PATCH /config`. */
      parameters: z.record(z.string().regex(/^[a-z_][a-z0-9_.]*$/), paramValue).default({}),
      /**
       * After a change that needs a restart: `rolling` restarts the pending members one at a time
       * (replicas first, then the leader); `manual` only reports them.
       */
      restartPolicy: z.enum(["rolling", "manual"]).default("rolling"),
      /**
       * Extra pg_hba lines, after the ones the stack needs for replication and rewind. Default:
       * every database and user from anywhere with SCRAM (`hostssl` while TLS is required).
       */
      pgHba: z.array(z.string().min(1)).optional(),
      initdb: z
        .array(z.union([z.string(), z.record(z.string(), z.string())]))
        .default([{ encoding: "UTF8" }, "data-checksums"]),
      /** Extra roles created on the leader once it is primary (passwords are generated). */
      users: z.array(user).default([{ name: "admin", options: ["createrole", "createdb", "login"] }]),
    })
    .prefault({}),
  patroni: z
    .strictObject({
      restApiPort: port.default(8008),
      packages: packages(["patroni", "python3-psycopg2", "python3-etcd", "curl"], ["patroni", "patroni-etcd", "curl"]),
      ttl: z.number().int().optional(),
      loopWait: z.number().int().min(1).optional(),
      retryTimeout: z.number().int().min(3).optional(),
      maximumLagOnFailover: z.number().int().min(0).default(1048576),
      synchronousMode: z.boolean().default(false),
      /** On by default: a leader keeps its role through a DCS outage while every member answers it. */
      failsafeMode: z.boolean().default(true),
      usePgRewind: z.boolean().default(true),
    })
    .prefault({}),
  etcd: z
    .strictObject({
      clientPort: port.default(2379),
      peerPort: port.default(2380),
      token: name.optional(),
      dataDir: absPath.default("/var/lib/etcd/patroni-stack"),
      packages: packages(["etcd-server", "etcd-client", "curl"], ["etcd", "curl"]),
    })
    .prefault({}),
  haproxy: z
    .strictObject({
      /** Clients' read-write port: PgBouncer's pool when pgbouncer.enabled, else HAProxy's listener. */
      readWritePort: port.default(5000),
      /** Clients' read-only port (pooled like readWritePort). */
      readOnlyPort: port.default(5001),
      /**
       * HAProxy's own listeners when PgBouncer pools readWritePort and readOnlyPort: a session
       * straight to PostgreSQL, for administration and tools that need one (the pools' servers too).
       */
      directReadWritePort: port.default(5002),
      directReadOnlyPort: port.default(5003),
      statsPort: port.default(7000),
      maxconn: z.number().int().min(1).default(200),
      serverMaxconn: z.number().int().min(1).default(200),
      check: z
        .strictObject({
          inter: duration.optional(),
          fastinter: duration.optional(),
          downinter: duration.optional(),
          fall: z.number().int().min(1).optional(),
          rise: z.number().int().min(1).optional(),
        })
        .prefault({}),
      timeouts: z
        .strictObject({
          client: duration.default("30m"),
          server: duration.default("30m"),
          connect: duration.default("4s"),
          check: duration.optional(),
        })
        .prefault({}),
      retries: z.number().int().min(0).default(2),
      packages: packages(["haproxy", "socat", "curl"], ["haproxy", "socat", "curl"]),
      /**
       * A virtual IP held by keepalived (VRRP) on one HAProxy host at a time, moved when that
       * host or its HAProxy fails. Without it, clients list the routers themselves.
       */
      vip: z
        .strictObject({
          address: ipv4,
          /** The prefix length of the routers' subnet, which must contain the address. */
          prefixLength: z.number().int().min(8).max(30).default(24),
          /** The network interface of the routers that carries their cluster address. */
          interface: z
            .string()
            .regex(/^[A-Za-z0-9_.-]{1,15}$/, "must be a network interface name such as eth0")
            .default("eth0"),
          /** VRRP virtual router id (1-255), unique on the subnet. */
          routerId: z.number().int().min(1).max(255).default(51),
          packages: packages(["keepalived", "curl"], ["keepalived", "curl"]),
        })
        .optional(),
    })
    .prefault({}),
  /**
   * Connection pooling: PgBouncer on every HAProxy host, in front of HAProxy, on the clients'
   * ports (see README "Connection pooling"). Off unless the stack turns it on (seed does).
   */
  pgbouncer: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** transaction: a server connection per transaction (a switchover holds clients); session: per client. */
      poolMode: z.enum(["transaction", "session"]).default("transaction"),
      /** Server connections per database and user, on each router (PgBouncer's default_pool_size). */
      poolSize: z.number().int().min(1).default(20),
      /** Server connections per database, on each router and port (max_db_connections). */
      maxDbConnections: z.number().int().min(1).default(40),
      /** Client connections each pool accepts (max_client_conn). */
      maxClientConn: z.number().int().min(1).max(100000).default(1000),
      /**
       * Protocol-level (named) prepared statements a transaction pool tracks per server connection
       * (max_prepared_statements, PgBouncer 1.21 and later); 0 turns the support off. Unset: the
       * package's default (200 in trixie's 1.24; bookworm's 1.18 has no such support).
       */
      maxPreparedStatements: z.number().int().min(0).max(100000).optional(),
      packages: packages(["pgbouncer", "postgresql-client"], ["pgbouncer", "postgresql"]),
    })
    .prefault({}),
  /** Continuous WAL archiving, scheduled backups and point-in-time recovery (pgBackRest). */
  backup: backupShape.optional(),
  /** TLS on every hop, from a CA the stack generates (see README "TLS"). */
  tls: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Days a host certificate is valid. */
      validityDays: z.number().int().min(1).max(3650).default(365),
      /** An `up` this many days or fewer before a certificate expires issues a new one. */
      renewBeforeDays: z.number().int().min(0).default(30),
      /** Days the stack's CA is valid. */
      caValidityDays: z.number().int().min(1).max(36500).default(3650),
      /**
       * A CA of your own (or an intermediate) instead of the generated one: its certificate and
       * its key as PEM files on the machine that runs the program, relative to the project.
       */
      ca: z
        .strictObject({
          certificateFile: z.string().min(1),
          keyFile: z.string().min(1),
        })
        .optional(),
      postgres: z
        .strictObject({
          /** Refuse plain-text connections from other hosts (pg_hba `hostssl` only). */
          require: z.boolean().default(true),
        })
        .prefault({}),
      restApi: z
        .strictObject({
          /** Patroni's `restapi.verify_client`: ask clients of the REST API for a certificate. */
          verifyClient: z.enum(["none", "optional", "required"]).default("none"),
        })
        .prefault({}),
    })
    .prefault({}),
  /** Present only on stacks whose hosts are local Docker containers. */
  local: z
    .strictObject({
      subnet: z.string().regex(/^\d+\.\d+\.\d+\.\d+\/(1[6-9]|2[0-8])$/, "must be an IPv4 CIDR from /16 to /28"),
      /** Debian suite of the host image (its base image is built locally). */
      suite: z.enum(["bookworm", "trixie"]).default("bookworm"),
      /** Host i's SSH is published on 127.0.0.1:(sshPortBase + i). */
      sshPortBase: port.default(2201),
      /** The first HAProxy host's ports are published on 127.0.0.1:(port + portOffset). */
      portOffset: z.number().int().min(0).max(60000).default(0),
      /**
       * Install every role's packages in the hosts' image (one cached layer per package set), so
       * that a deploy only configures and starts. false: a bare image, installed over SSH at
       * deploy as on real hosts.
       */
      preinstall: z.boolean().default(true),
    })
    .optional(),
});

/**
 * The failure-detection profiles. `guide`: the field guide's Patroni timings and HAProxy checks.
 * `fast`: Patroni's smallest ttl (20 s) with `loop_wait + 2*retry_timeout` well inside it, and
 * HAProxy checks that notice a new primary within a quarter second.
 */
export const PROFILES = {
  guide: {
    patroni: { ttl: 30, loopWait: 10, retryTimeout: 10 },
    check: { inter: "3s", fall: 3, rise: 2, timeout: "5s" },
  },
  fast: {
    patroni: { ttl: 20, loopWait: 2, retryTimeout: 5 },
    check: { inter: "1s", fastinter: "250ms", downinter: "250ms", fall: 2, rise: 1, timeout: "1s" },
  },
} as const;
export type Profile = keyof typeof PROFILES;

/** Fill the timings not set explicitly from the chosen profile. */
function applyProfile(s: z.output<typeof shape>) {
  const p: { patroni: (typeof PROFILES)[Profile]["patroni"]; check: Record<string, string | number> } =
    PROFILES[s.cluster.profile];
  const c = s.haproxy.check;
  const pick = <T>(own: T | undefined, key: string) => own ?? (p.check[key] as T | undefined);
  return {
    ...s,
    patroni: {
      ...s.patroni,
      ttl: s.patroni.ttl ?? p.patroni.ttl,
      loopWait: s.patroni.loopWait ?? p.patroni.loopWait,
      retryTimeout: s.patroni.retryTimeout ?? p.patroni.retryTimeout,
    },
    haproxy: {
      ...s.haproxy,
      check: {
        inter: pick<string>(c.inter, "inter") as string,
        fastinter: pick<string>(c.fastinter, "fastinter"),
        downinter: pick<string>(c.downinter, "downinter"),
        fall: pick<number>(c.fall, "fall") as number,
        rise: pick<number>(c.rise, "rise") as number,
      },
      timeouts: { ...s.haproxy.timeouts, check: pick<string>(s.haproxy.timeouts.check, "timeout") as string },
    },
  };
}

export const settingsSchema = shape.transform(applyProfile);

/** Every top-level key of the stack configuration (namespace `patroni-stack`), from the schema. */
export const SETTINGS_KEYS: readonly string[] = Object.keys(shape.shape);

/** PostgreSQL parameters every cluster gets unless `postgresql.parameters` overrides them. */
export const BASE_PARAMETERS: Readonly<Record<string, string | number | boolean>> = Object.freeze({
  max_wal_size: "1GB",
  max_wal_senders: 8,
  password_encryption: "scram-sha-256",
});

export type RawSettings = z.input<typeof settingsSchema>;
export type Settings = z.output<typeof settingsSchema>;
export type HostSettings = Settings["hosts"][number];
export type UserSettings = Settings["postgresql"]["users"][number];
export type OsFamily = "debian" | "rhel";
export type BackupSettings = NonNullable<Settings["backup"]>;
export type TlsSettings = Settings["tls"];
export type PgbouncerSettings = Settings["pgbouncer"];

/** Package names per OS family for a PostgreSQL major version (the distro's or PGDG's naming). */
export function postgresPackages(version: number): Record<OsFamily, string[]> {
  return {
    debian: [`postgresql-${version}`, "postgresql-common"],
    rhel: [`postgresql${version}-server`, `postgresql${version}-contrib`],
  };
}

/** A validation problem: the config key it concerns and what to do about it. */
export interface Problem {
  key: string;
  message: string;
}

export function formatKey(path: ReadonlyArray<PropertyKey>): string {
  const [top, ...rest] = path.map(String);
  let key = `patroni-stack:${top ?? ""}`;
  for (const part of rest) key += /^\d+$/.test(part) ? `[${part}]` : `.${part}`;
  return key;
}

/** Shape and type checks; returns defaulted settings or every problem found. */
export function parseSettings(raw: unknown): { settings?: Settings; problems: Problem[] } {
  const result = settingsSchema.safeParse(raw, { reportInput: true });
  if (result.success) return { settings: result.data, problems: [] };
  const problems = result.error.issues.map((issue) => ({
    key: formatKey(issue.path),
    message: describeIssue(issue),
  }));
  return { problems };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    return `unknown key(s) ${issue.keys.map((k) => `'${k}'`).join(", ")}: remove or correct them (see README "Configuration reference")`;
  }
  if (issue.code === "invalid_type") {
    return `expected ${issue.expected}${issue.input === undefined ? " (missing)" : `, got ${typeof issue.input}`}`;
  }
  return issue.message;
}
