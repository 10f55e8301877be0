/**
 * The whole cluster: passwords, etcd members, Patroni members, extra roles, HAProxy routers and
 * their virtual IP, wired in start order: etcd → Patroni leader → replicas → HAProxy → keepalived
 * (destroy runs in reverse).
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { ClusterPlan, HostSpec, PatroniMemberSpec } from "../plan";
import { PATRONI_CONFIG_PATH, PatroniSecrets, SYSTEM_USERS } from "../configs/patroni";
import { renderRolesInput } from "../configs/roles";
import { renderScript } from "../configs/scripts";
import { TRANSPORT_PATH } from "../configs/tls";
import { HAPROXY_ADMIN_SOCKET, HAPROXY_CONFIG_PATH, statsUrl } from "../configs/haproxy";
import { HostAccess } from "./hostAccess";
import { EtcdNode } from "./EtcdNode";
import { HaproxyRouter, haproxyServers } from "./HaproxyRouter";
import { PatroniDynamicConfig } from "./PatroniDynamicConfig";
import { PatroniNode } from "./PatroniNode";
import { RemoteScript } from "./RemoteScript";
import { RouterVip } from "./RouterVip";
import { StackTls } from "./StackTls";
import { BackupRepository } from "./BackupRepository";
import { MemberBackupArgs } from "./PatroniNode";
import { ed25519KeyPair, SshKeyPair } from "./sshKey";
import { S3Keys } from "../configs/pgbackrest";
import { heldPools, poolAuthSql, poolHoldVars, POOL_AUTH_USER } from "../configs/pgbouncer";
import { PgbouncerPool } from "./PgbouncerPool";

export interface PatroniClusterArgs {
  plan: ClusterPlan;
  /** How to reach each host, by host name. */
  hosts: Record<string, HostAccess>;
  /** The S3 repository's keys (`backup.repository.type: s3`). */
  s3Keys?: pulumi.Output<S3Keys>;
  /** The user's CA (`tls.ca`), when it replaces the generated one. */
  userCa?: { certificate: string; privateKey: pulumi.Output<string> };
}

export class PatroniCluster extends pulumi.ComponentResource {
  readonly etcdNodes: EtcdNode[];
  readonly leader: PatroniNode;
  readonly replicas: PatroniNode[];
  readonly routers: HaproxyRouter[];
  readonly vips: RouterVip[];
  readonly backup?: BackupRepository;
  readonly readWriteUrl: pulumi.Output<string>;
  readonly readOnlyUrl: pulumi.Output<string>;
  readonly statsUrl: string;
  /** The loopback ports of a local stack with a virtual IP (a convenience next to the VIP). */
  readonly loopbackReadWriteUrl?: pulumi.Output<string>;
  readonly loopbackReadOnlyUrl?: pulumi.Output<string>;
  /** HAProxy's direct ports beside PgBouncer's pools (on the same entry as the URLs above). */
  readonly directReadWriteUrl?: pulumi.Output<string>;
  readonly directReadOnlyUrl?: pulumi.Output<string>;
  readonly loopbackDirectReadWriteUrl?: pulumi.Output<string>;
  readonly loopbackDirectReadOnlyUrl?: pulumi.Output<string>;
  readonly pools: PgbouncerPool[];
  readonly superuserPassword: pulumi.Output<string>;
  /** The stack CA's certificate (PEM), when TLS is on: clients verify the servers with it. */
  readonly caCertificate?: pulumi.Output<string>;
  readonly userPasswords: pulumi.Output<Record<string, string>>;

  constructor(
    private readonly clusterName: string,
    private readonly args: PatroniClusterArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("patroni-stack:cluster:PatroniCluster", clusterName, {}, opts);
    const { plan } = args;
    const name = clusterName;
    const secrets: pulumi.Output<PatroniSecrets> = pulumi.secret(
      pulumi
        .all([
          this.password("superuser"),
          this.password("replication"),
          this.password("rewind"),
          this.password("restapi"),
        ])
        .apply(([superuser, replication, rewind, restApi]) => ({ superuser, replication, rewind, restApi })),
    );

    // Each host's packages, for all of its roles in one transaction, before any role's step.
    this.hostAccess = Object.fromEntries(
      plan.hostPackages.map((spec) => {
        const access = this.access(spec.host.name);
        const packages = new RemoteScript(
          `${name}-packages-${spec.host.name}`,
          {
            host: spec.host,
            access,
            file: "packages-install.sh",
            script: renderScript("packages-install", {
              PACKAGES_DEBIAN: spec.packages.debian,
              PACKAGES_RHEL: spec.packages.rhel,
              TRANSPORT: plan.tls ? "tls" : "plain",
              TRANSPORT_PATH,
            }),
          },
          { parent: this },
        );
        return [spec.host.name, { ...access, after: [...(access.after ?? []), packages] }];
      }),
    );

    // TLS: the CA and each host's certificate, installed before any role's step on the host.
    const tls = plan.tls
      ? new StackTls(
          `${name}-tls`,
          {
            spec: plan.tls,
            access: (host) => this.access(host),
            pgPort: plan.patroni.leader.postgres.port,
            ca: args.userCa,
          },
          { parent: this },
        )
      : undefined;
    if (tls) {
      for (const [host, step] of Object.entries(tls.installed)) {
        const access = this.hostAccess[host];
        this.hostAccess[host] = { ...access, after: [...(access.after ?? []), step] };
      }
    }
    this.caCertificate = tls?.caCertificate;

    // A running cluster switching from plain text to TLS (TLS stacks; nothing happens without a
    // switch): the cluster pauses, etcd serves both schemes, the routers' checks hold their
    // state, Patroni restarts with TLS, then the routers and pools take TLS, the cluster resumes,
    // etcd requires TLS, and each host records it (see tls-switch.sh).
    const tlsSwitch = (step: string, host: HostSpec, action: string, after: pulumi.Resource[]) => {
      const access = this.access(host.name);
      return new RemoteScript(
        `${name}-tls-switch-${step}`,
        {
          host,
          access,
          file: `tls-switch-${action}.sh`,
          script: renderScript("tls-switch", {
            ACTION: action,
            CONFIG_PATH: PATRONI_CONFIG_PATH,
            HAPROXY_CONFIG: HAPROXY_CONFIG_PATH,
            ADMIN_SOCKET: HAPROXY_ADMIN_SOCKET,
            // Only the hold names the router's servers (the other steps change with no member).
            SERVERS:
              action === "hold" ? plan.routers.filter((r) => r.host.name === host.name).flatMap(haproxyServers) : [],
          }),
        },
        { parent: this, dependsOn: [...(access.after ?? []), ...after] },
      );
    };
    // The pause comes first: while etcd advertises TLS, the members still in plain text lose the
    // DCS until they restart, and a paused cluster (like failsafe mode) does not demote for it.
    const pause = plan.tls ? tlsSwitch("pause", plan.patroni.leader.host, "pause", []) : undefined;

    // The routers' checks hold their state from the pause on: while etcd advertises TLS, the members
    // still in plain text lose the DCS, and their REST API's answers with it.
    const holds = pause ? plan.routers.map((r) => tlsSwitch(`hold-${r.name}`, r.host, "hold", [pause])) : [];

    // On destroy, every etcd member but the first listed stops at once (handing raft leadership
    // to the first if they hold it), then the first.
    const etcdNodes: EtcdNode[] = [];
    for (const member of plan.etcd.members) {
      const first = etcdNodes[0];
      const access = this.access(member.host.name);
      etcdNodes.push(
        new EtcdNode(
          `${name}-etcd-${member.name}`,
          { member, plan, access, stopsBefore: first ? [first] : [], configureAfter: pause ? [pause, ...holds] : [] },
          { parent: this },
        ),
      );
    }

    // The backup's SSH keys: one for the members' postgres user, one for the repository's user.
    const backupSpec = plan.backup;
    const backupKeys = backupSpec
      ? { member: this.sshKey("backup-member-key"), repository: this.sshKey("backup-repository-key") }
      : undefined;
    const memberBackup: MemberBackupArgs | undefined =
      backupSpec && backupKeys
        ? {
            spec: backupSpec,
            memberKey: backupKeys.member,
            repositoryPublicKey: backupKeys.repository.apply((k) => k.publicKey),
            s3Keys: args.s3Keys,
            repositoryIdentity: args.hosts[backupSpec.host.name]?.identity,
          }
        : undefined;

    // Installs and configs run in parallel everywhere; only the starts are ordered.
    const patroniNode = (member: PatroniMemberSpec, startAfter: pulumi.Resource[]) =>
      new PatroniNode(
        `${name}-patroni-${member.name}`,
        {
          member,
          plan,
          access: this.access(member.host.name),
          secrets,
          startAfter,
          backup: memberBackup,
          configureAfter: pause ? [pause, ...holds, ...etcdNodes.map((n) => n.configured)] : [],
        },
        { parent: this },
      );
    const leader = patroniNode(plan.patroni.leader, etcdNodes);
    const replicas = plan.patroni.replicas.map((m) => patroniNode(m, [leader]));
    const patroniConfigured = pause ? [leader, ...replicas].map((n) => n.configured) : [];

    // Day-2 parameter and DCS changes, once every member is up.
    const poolPassword = plan.pgbouncer ? this.password("pgbouncer") : undefined;
    const held = poolPassword
      ? { routers: heldPools(plan.routers, plan.pgbouncer), password: poolPassword }
      : undefined;
    // A member being removed that holds the primary role hands it over before any router drops it,
    // and before the steps that work on the declared members' primary (roles, DCS, backup).
    const handback = new RemoteScript(
      `${name}-handback`,
      {
        host: plan.patroni.leader.host,
        access: this.access(plan.patroni.leader.host.name),
        file: "patroni-handback.sh",
        script: renderScript("patroni-handback", {
          MEMBERS: plan.patroni.members.map((m) => `${m.name}=${m.restUrl}`),
          LEADER: plan.patroni.leader.name,
          CONFIG_PATH: PATRONI_CONFIG_PATH,
          TIMEOUT: 300,
          ...poolHoldVars(held?.routers ?? [], plan.tls !== undefined),
        }),
        stdin: held
          ? pulumi.secret(held.password.apply((poolPassword) => JSON.stringify({ poolPassword })))
          : undefined,
      },
      { parent: this, dependsOn: [leader] },
    );
    const { passwords: userPasswords, step: rolesStep } = this.roles(secrets, [leader, handback], poolPassword);

    const routers = plan.routers.map(
      (router) =>
        new HaproxyRouter(
          `${name}-haproxy-${router.name}`,
          {
            router,
            plan,
            access: this.access(router.host.name),
            configureAfter: [handback, ...patroniConfigured],
            startAfter: [leader, ...replicas],
          },
          { parent: this },
        ),
    );

    const pgbouncer = plan.pgbouncer;
    const pools =
      pgbouncer && poolPassword
        ? plan.routers.map(
            (router, i) =>
              new PgbouncerPool(
                `${name}-pgbouncer-${router.name}`,
                {
                  router,
                  spec: pgbouncer,
                  access: this.access(router.host.name),
                  authPassword: poolPassword,
                  startAfter: [routers[i], rolesStep],
                  configureAfter: patroniConfigured,
                  caCertificate: tls?.caCertificate,
                },
                { parent: this },
              ),
          )
        : [];

    const resume = pause
      ? tlsSwitch("resume", plan.patroni.leader.host, "resume", [
          leader,
          ...replicas,
          ...routers.map((r) => r.configured),
          ...pools,
        ])
      : undefined;
    const dcs = new PatroniDynamicConfig(
      `${name}-dcs`,
      {
        plan,
        access: this.access(plan.patroni.leader.host.name),
        members: [leader, ...replicas, handback, ...(resume ? [resume] : [])],
        superuserPassword: secrets.apply((sec) => sec.superuser),
        caCertificate: tls?.caCertificate,
        pools: held,
      },
      { parent: this },
    );
    // The stanza once the leader archives with the declared parameters (a running cluster that
    // turns archiving on restarts through the DCS step first).
    const backup =
      backupSpec && backupKeys
        ? new BackupRepository(
            `${name}-backup`,
            {
              spec: backupSpec,
              access: this.access(backupSpec.host.name),
              repositoryKey: backupKeys.repository,
              memberPublicKey: backupKeys.member.apply((k) => k.publicKey),
              s3Keys: args.s3Keys,
              memberIdentities: this.identities(backupSpec.members.map((m) => m.name)),
              stanzaAfter: [leader, dcs, ...[leader, ...replicas].flatMap((n) => (n.backupStep ? [n.backupStep] : []))],
            },
            { parent: this },
          )
        : undefined;

    const vip = plan.vip;
    const vips = vip
      ? plan.routers.map(
          (router, i) =>
            new RouterVip(
              `${name}-vip-${router.name}`,
              {
                router,
                vip,
                plan,
                access: this.access(router.host.name),
                startAfter: [routers[i], ...(pools[i] ? [pools[i]] : [])],
                configureAfter: [routers[i].configured],
              },
              { parent: this },
            ),
        )
      : [];

    // The end of a switch to TLS: etcd requires TLS, then each host records it.
    if (resume) {
      const finished = etcdNodes.map((n) => n.finish([resume], this));
      for (const spec of plan.hostPackages) {
        tlsSwitch(`done-${spec.host.name}`, spec.host, "done", [
          ...finished,
          dcs,
          ...vips,
          ...(backup ? [backup] : []),
        ]);
      }
    }

    // Clients use the virtual IP when there is one, else the first router (loopback on local stacks).
    const endpoint = plan.client;
    const url = (host: string, port: number) =>
      pulumi.secret(
        secrets.apply(
          (sec) =>
            `postgresql://${SYSTEM_USERS.superuser}:${sec.superuser}@${host}:${port}/postgres${plan.tls ? "?sslmode=verify-full" : ""}`,
        ),
      );
    const h = plan.haproxy;

    this.etcdNodes = etcdNodes;
    this.leader = leader;
    this.replicas = replicas;
    this.routers = routers;
    this.pools = pools;
    this.vips = vips;
    this.backup = backup;
    const direct = (host: string, port: number | undefined) => (port === undefined ? undefined : url(host, port));
    if (vip) {
      this.readWriteUrl = url(vip.address, h.readWritePort);
      this.readOnlyUrl = url(vip.address, h.readOnlyPort);
      this.statsUrl = statsUrl(vip.address, h.statsPort, plan.tls !== undefined);
      this.directReadWriteUrl = direct(
        vip.address,
        endpoint.directReadWritePort && plan.routers[0].listeners.readWrite,
      );
      this.directReadOnlyUrl = direct(vip.address, endpoint.directReadOnlyPort && plan.routers[0].listeners.readOnly);
      if (endpoint.host === "127.0.0.1") {
        this.loopbackReadWriteUrl = url(endpoint.host, endpoint.readWritePort);
        this.loopbackReadOnlyUrl = url(endpoint.host, endpoint.readOnlyPort);
        this.loopbackDirectReadWriteUrl = direct(endpoint.host, endpoint.directReadWritePort);
        this.loopbackDirectReadOnlyUrl = direct(endpoint.host, endpoint.directReadOnlyPort);
      }
    } else {
      this.readWriteUrl = url(endpoint.host, endpoint.readWritePort);
      this.readOnlyUrl = url(endpoint.host, endpoint.readOnlyPort);
      this.statsUrl = statsUrl(endpoint.host, endpoint.statsPort, plan.tls !== undefined);
      this.directReadWriteUrl = direct(endpoint.host, endpoint.directReadWritePort);
      this.directReadOnlyUrl = direct(endpoint.host, endpoint.directReadOnlyPort);
    }
    this.superuserPassword = pulumi.secret(secrets.apply((sec) => sec.superuser));
    this.userPasswords = userPasswords;
    this.registerOutputs({
      readWriteUrl: this.readWriteUrl,
      readOnlyUrl: this.readOnlyUrl,
      statsUrl: this.statsUrl,
    });
  }

  /** Each host's access, once its packages step exists: every role's steps wait for it. */
  private hostAccess: Record<string, HostAccess> = {};

  private access(host: string): HostAccess {
    const found = this.hostAccess[host] ?? this.args.hosts[host];
    if (!found) throw new Error(`no SSH connection for host '${host}'`);
    return found;
  }

  /** The identities of hosts that have one (local containers), joined: changes when one is replaced. */
  private identities(hosts: string[]): pulumi.Output<string> | undefined {
    const ids = hosts.flatMap((h) => {
      const id = this.args.hosts[h]?.identity;
      return id === undefined ? [] : [id];
    });
    return ids.length ? pulumi.all(ids).apply((xs) => xs.join(",")) : undefined;
  }

  /** An ed25519 key pair from 32 random bytes kept (secret) in the stack's state. */
  private sshKey(purpose: string): pulumi.Output<SshKeyPair> {
    const seed = new random.RandomBytes(`${this.clusterName}-${purpose}-seed`, { length: 32 }, { parent: this });
    return pulumi.secret(
      seed.base64.apply((b64) => ed25519KeyPair(Buffer.from(b64, "base64"), "patroni-stack-backup")),
    );
  }

  private password(purpose: string): pulumi.Output<string> {
    return new random.RandomPassword(
      `${this.clusterName}-${purpose}-password`,
      { length: 32, special: false },
      { parent: this },
    ).result;
  }

  /**
   * The extra roles, created or updated on the primary once the leader is up, and PgBouncer's
   * auth user with its lookup function; their passwords and the step.
   */
  private roles(
    secrets: pulumi.Output<PatroniSecrets>,
    after: pulumi.Resource[],
    poolPassword?: pulumi.Output<string>,
  ) {
    const { plan } = this.args;
    const users = plan.patroni.users;
    const passwords = pulumi.all(users.map((u) => this.password(`user-${u.name}`)));
    const step = new RemoteScript(
      `${this.clusterName}-roles`,
      {
        host: plan.patroni.leader.host,
        access: this.access(plan.patroni.leader.host.name),
        file: "postgres-roles.sh",
        script: renderScript("postgres-roles", {
          HOSTS: plan.patroni.members.map((m) => m.postgres.address).join(","),
          PG_PORT: plan.patroni.leader.postgres.port,
          SUPERUSER: SYSTEM_USERS.superuser,
          POOL_AUTH_SQL: poolPassword ? poolAuthSql(POOL_AUTH_USER) : "",
        }),
        stdin: pulumi.secret(
          pulumi
            .all([secrets, passwords, poolPassword])
            .apply(([sec, pws, poolPw]) =>
              renderRolesInput(sec.superuser, [
                ...users.map((u, i) => ({ name: u.name, password: pws[i], options: u.options })),
                ...(poolPw === undefined ? [] : [{ name: POOL_AUTH_USER, password: poolPw, options: ["login"] }]),
              ]),
            ),
        ),
      },
      { parent: this, dependsOn: after },
    );
    return {
      passwords: pulumi.secret(passwords.apply((pws) => Object.fromEntries(users.map((u, i) => [u.name, pws[i]])))),
      step,
    };
  }
}
