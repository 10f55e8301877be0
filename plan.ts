/**
 * Pure planning: from resolved settings to who runs what, where, on which ports.
 * Components consume the plan; unit tests check it without Pulumi.
 */
import { HostSettings, ResolvedSettings } from "./config";

export interface SshEndpoint {
  host: string;
  port: number;
  user: string;
  sudo: boolean;
}

export interface HostSpec {
  name: string;
  /** Position in `patroni-stack:hosts` (local mode derives published ports from it). */
  index: number;
  address: string;
  ssh: SshEndpoint;
  tags: HostSettings["tags"];
  /** Where uploaded scripts and files are staged before they are installed. */
  stageDir: string;
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
}

export interface RouterSpec {
  name: string;
  host: HostSpec;
  backends: PatroniMemberSpec[];
}

export interface ClusterPlan {
  settings: ResolvedSettings;
  hosts: HostSpec[];
  etcd: {
    members: EtcdMemberSpec[];
    /** `name=peerUrl,...` in member order, identical on every member. */
    initialCluster: string;
    /** `address:clientPort` of every member, for Patroni's `etcd3.hosts`. */
    clientEndpoints: string[];
  };
  patroni: {
    leader: PatroniMemberSpec;
    replicas: PatroniMemberSpec[];
    members: PatroniMemberSpec[];
  };
  routers: RouterSpec[];
}

export function planHost(h: HostSettings, index: number): HostSpec {
  const user = h.ssh.user;
  return {
    name: h.name,
    index,
    address: h.address,
    ssh: { host: h.ssh.host ?? h.address, port: h.ssh.port, user, sudo: h.ssh.sudo ?? user !== "root" },
    tags: h.tags,
    stageDir: user === "root" ? "/root/.patroni-stack" : `/home/${user}/.patroni-stack`,
  };
}

export function planCluster(settings: ResolvedSettings): ClusterPlan {
  const hosts = settings.hosts.map(planHost);
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const lookup = (name: string): HostSpec => {
    const host = byName.get(name);
    if (!host) throw new Error(`unknown host '${name}' (validation should have caught this)`);
    return host;
  };

  const members = settings.roles.etcd.map(lookup).map((host) => ({
    name: host.name,
    host,
    clientUrl: `http://${host.address}:${settings.etcd.clientPort}`,
    peerUrl: `http://${host.address}:${settings.etcd.peerPort}`,
  }));

  const patroniMembers = settings.roles.patroni
    .map(lookup)
    .map((host, i): PatroniMemberSpec => ({ name: host.name, host, role: i === 0 ? "leader" : "replica" }));

  return {
    settings,
    hosts,
    etcd: {
      members,
      initialCluster: members.map((m) => `${m.name}=${m.peerUrl}`).join(","),
      clientEndpoints: members.map((m) => `${m.host.address}:${settings.etcd.clientPort}`),
    },
    patroni: { leader: patroniMembers[0], replicas: patroniMembers.slice(1), members: patroniMembers },
    routers: settings.roles.haproxy.map(lookup).map((host) => ({ name: host.name, host, backends: patroniMembers })),
  };
}
