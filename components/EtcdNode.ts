/**
 * One etcd member: install from the OS packages, configure (static bootstrap of all members),
 * start and wait for `endpoint health`. A member added to a running cluster joins it (`etcdctl
 * member add`), and the first listed member removes those no longer listed (`member remove`). On destroy the member stops; `stopsBefore` orders the
 * stops of several members, and a member that is raft leader hands leadership over first.
 */
import * as pulumi from "@pulumi/pulumi";
import { ClusterPlan, EtcdMemberSpec } from "../plan";
import { ETCD_CONFIG_PATH, renderEtcdConfig } from "../configs/etcd";
import { renderEtcdUnit } from "../configs/systemd";
import { renderScript } from "../configs/scripts";
import { HostAccess } from "./hostAccess";
import { lifecycleSteps, RemoteScript } from "./RemoteScript";

export interface EtcdNodeArgs {
  member: EtcdMemberSpec;
  plan: ClusterPlan;
  access: HostAccess;
  /**
   * Members that are stopped after this one on destroy; the first of them takes over raft
   * leadership if this member holds it.
   */
  stopsBefore?: EtcdNode[];
  /** What must run before the configuration changes (a switch to TLS: the cluster paused). */
  configureAfter?: pulumi.Resource[];
  /** Seconds to wait for the member to be healthy. */
  timeout?: number;
}

export class EtcdNode extends pulumi.ComponentResource {
  readonly memberName: string;
  readonly clientUrl: string;
  /** The step whose deletion stops the member. */
  readonly stop: RemoteScript;
  /** The step that writes the member's configuration (and restarts it in turn when it changed). */
  readonly configured: RemoteScript;
  /**
   * TLS stacks: the step that, once every client of etcd uses TLS (AFTER), ends a running
   * cluster's switch from plain text: the member serves TLS only. Nothing happens without a switch.
   */
  readonly finish: (after: pulumi.Resource[], parent: pulumi.Resource) => RemoteScript;

  constructor(name: string, args: EtcdNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("patroni-stack:cluster:EtcdNode", name, {}, opts);
    const { member, plan, access } = args;
    const etcd = plan.etcd;
    const steps = lifecycleSteps(this, name, member.host, access);
    const install = steps("install", {
      file: "etcd-install.sh",
      script: renderScript("etcd-install", {
        PACKAGES_DEBIAN: etcd.packages.debian,
        PACKAGES_RHEL: etcd.packages.rhel,
        CONFIG_PATH: ETCD_CONFIG_PATH,
      }),
    });
    const config = renderEtcdConfig(member, plan.etcd);
    const configureVars = (phase: "configure" | "finish") => ({
      MEMBER: member.name,
      CLIENT_URL: member.clientUrl,
      PEER_URL: member.peerUrl,
      PEERS: plan.etcd.members.filter((m) => m.name !== member.name).map((m) => m.clientUrl),
      CONFIG_PATH: ETCD_CONFIG_PATH,
      CONFIG: config,
      SWITCH_CONFIG: renderEtcdConfig(member, plan.etcd, { bothSchemes: true }),
      UNIT: renderEtcdUnit(ETCD_CONFIG_PATH),
      UNIT_PATH: "/etc/systemd/system/etcd.service",
      DATA_DIR: etcd.dataDir,
      PHASE: phase,
    });
    const configure = steps(
      "configure",
      { file: "etcd-configure.sh", script: renderScript("etcd-configure", configureVars("configure")), shows: config },
      [install, ...(args.configureAfter ?? [])],
    );
    this.configured = configure;
    // Not a child of this member: what starts after the member (every Patroni member) must not
    // wait for the end of a switch, which waits for them.
    this.finish = (after: pulumi.Resource[], parent: pulumi.Resource) =>
      new RemoteScript(
        `${name}-require-tls`,
        {
          host: member.host,
          access,
          file: "etcd-require-tls.sh",
          script: renderScript("etcd-configure", configureVars("finish")),
        },
        { parent, dependsOn: [...(access.after ?? []), configure, ...after] },
      );
    const start = steps(
      "start",
      {
        file: "etcd-start.sh",
        script: renderScript("etcd-start", {
          MEMBER: member.name,
          CLIENT_URL: member.clientUrl,
          PEER_URL: member.peerUrl,
          PEERS: plan.etcd.members.filter((m) => m.name !== member.name).map((m) => m.clientUrl),
          CONFIG_PATH: ETCD_CONFIG_PATH,
          DATA_DIR: etcd.dataDir,
          TIMEOUT: args.timeout ?? 180,
          // The first listed member removes the members roles.etcd no longer lists.
          PRUNE: plan.etcd.members[0].name === member.name,
          DECLARED_PEER_URLS: plan.etcd.members.map((m) => m.peerUrl),
        }),
      },
      [configure],
    );
    this.stop = steps(
      "stop",
      {
        file: "etcd-stop.sh",
        deleteFile: "etcd-stop.sh",
        onDelete: renderScript("etcd-stop", {
          MEMBER: member.name,
          CLIENT_URL: member.clientUrl,
          DATA_DIR: etcd.dataDir,
          PURGE: plan.purgeOnDestroy,
          HANDOFF_URL: args.stopsBefore?.[0]?.clientUrl ?? "",
        }),
      },
      [start, ...(args.stopsBefore ?? []).map((n) => n.stop)],
    );

    this.memberName = member.name;
    this.clientUrl = member.clientUrl;
    this.registerOutputs({ memberName: this.memberName, clientUrl: this.clientUrl });
  }
}
