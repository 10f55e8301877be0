/**
 * The whole cluster: passwords, etcd members, Patroni members, extra roles and HAProxy routers,
 * wired in start order: etcd → Patroni leader → replicas → HAProxy (destroy runs in reverse).
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { ClusterPlan } from "../plan";
import { PatroniSecrets, SYSTEM_USERS } from "../configs/patroni";
import { renderScript } from "../configs/scripts";
import { HostAccess } from "./connection";
import { EtcdNode } from "./EtcdNode";
import { HaproxyRouter } from "./HaproxyRouter";
import { PatroniDynamicConfig } from "./PatroniDynamicConfig";
import { PatroniNode } from "./PatroniNode";
import { RemoteScript } from "./RemoteScript";

/** Where clients reach the first router (local stacks publish it on 127.0.0.1). */
export interface ClientEndpoint {
  host: string;
  readWritePort: number;
  readOnlyPort: number;
  statsPort: number;
}

export interface PatroniClusterArgs {
  plan: ClusterPlan;
  /** How to reach each host, by host name. */
  hosts: Record<string, HostAccess>;
  clientEndpoint?: ClientEndpoint;
}

export class PatroniCluster extends pulumi.ComponentResource {
  readonly etcdNodes: EtcdNode[];
  readonly leader: PatroniNode;
  readonly replicas: PatroniNode[];
  readonly routers: HaproxyRouter[];
  readonly readWriteUrl: pulumi.Output<string>;
  readonly readOnlyUrl: pulumi.Output<string>;
  readonly statsUrl: string;
  readonly superuserPassword: pulumi.Output<string>;
  readonly userPasswords: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: PatroniClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("patroni-stack:cluster:PatroniCluster", name, {}, opts);
    const { plan } = args;
    const s = plan.settings;
    const access = (host: string): HostAccess => {
      const c = args.hosts[host];
      if (!c) throw new Error(`no SSH connection for host '${host}'`);
      return c;
    };
    const password = (purpose: string) =>
      new random.RandomPassword(`${name}-${purpose}-password`, { length: 32, special: false }, { parent: this }).result;

    const secrets: pulumi.Output<PatroniSecrets> = pulumi.secret(
      pulumi
        .all([password("superuser"), password("replication"), password("rewind"), password("restapi")])
        .apply(([superuser, replication, rewind, restApi]) => ({ superuser, replication, rewind, restApi })),
    );

    const etcdNodes: EtcdNode[] = [];
    for (const member of plan.etcd.members) {
      const previous = etcdNodes[etcdNodes.length - 1];
      etcdNodes.push(
        new EtcdNode(
          `${name}-etcd-${member.name}`,
          { member, plan, access: access(member.host.name), stopsBefore: previous ? [previous] : [] },
          { parent: this },
        ),
      );
    }

    // Installs and configs run in parallel everywhere; only the starts are ordered.
    const patroniNode = (member: ClusterPlan["patroni"]["leader"], startAfter: pulumi.Resource[]) =>
      new PatroniNode(
        `${name}-patroni-${member.name}`,
        { member, plan, access: access(member.host.name), secrets, startAfter },
        { parent: this },
      );
    const leader = patroniNode(plan.patroni.leader, etcdNodes);
    const replicas = plan.patroni.replicas.map((m) => patroniNode(m, [leader]));

    // Day-2 parameter and DCS changes, once every member is up.
    new PatroniDynamicConfig(
      `${name}-dcs`,
      { plan, access: access(plan.patroni.leader.host.name), members: [leader, ...replicas] },
      { parent: this },
    );

    const users = s.postgresql.users.map((u) => ({ user: u, password: password(`user-${u.name}`) }));
    new RemoteScript(
      `${name}-roles`,
      {
        host: plan.patroni.leader.host,
        access: access(plan.patroni.leader.host.name),
        file: "postgres-roles.sh",
        script: renderScript("postgres-roles", {
          HOSTS: plan.patroni.members.map((m) => m.host.address).join(","),
          PG_PORT: s.postgresql.port,
          SUPERUSER: SYSTEM_USERS.superuser,
        }),
        stdin: pulumi.secret(
          pulumi
            .all([secrets, pulumi.all(users.map((u) => u.password))])
            .apply(
              ([sec, pws]) =>
                [
                  sec.superuser,
                  ...users.map((u, i) => `${u.user.name}\t${pws[i]}\t${u.user.options.join(" ").toUpperCase()}`),
                ].join("\n") + "\n",
            ),
        ),
      },
      { parent: this, dependsOn: [leader] },
    );

    const routers = plan.routers.map(
      (router) =>
        new HaproxyRouter(
          `${name}-haproxy-${router.name}`,
          { router, plan, access: access(router.host.name), startAfter: [leader, ...replicas] },
          { parent: this },
        ),
    );

    const endpoint: ClientEndpoint = args.clientEndpoint ?? {
      host: plan.routers[0].host.address,
      readWritePort: s.haproxy.readWritePort,
      readOnlyPort: s.haproxy.readOnlyPort,
      statsPort: s.haproxy.statsPort,
    };
    const url = (port: number) =>
      pulumi.secret(
        secrets.apply(
          (sec) => `postgresql://${SYSTEM_USERS.superuser}:${sec.superuser}@${endpoint.host}:${port}/postgres`,
        ),
      );

    this.etcdNodes = etcdNodes;
    this.leader = leader;
    this.replicas = replicas;
    this.routers = routers;
    this.readWriteUrl = url(endpoint.readWritePort);
    this.readOnlyUrl = url(endpoint.readOnlyPort);
    this.statsUrl = `http://${endpoint.host}:${endpoint.statsPort}/`;
    this.superuserPassword = pulumi.secret(secrets.apply((sec) => sec.superuser));
    this.userPasswords = pulumi.secret(
      pulumi
        .all(users.map((u) => u.password))
        .apply((pws) => Object.fromEntries(users.map((u, i) => [u.user.name, pws[i]]))),
    );
    this.registerOutputs({
      readWriteUrl: this.readWriteUrl,
      readOnlyUrl: this.readOnlyUrl,
      statsUrl: this.statsUrl,
    });
  }
}
