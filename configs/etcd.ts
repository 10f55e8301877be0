/** etcd's configuration file (`etcd --config-file`): static bootstrap of every member. */
import { stringify } from "yaml";
import { ClusterPlan, EtcdMemberSpec } from "../plan";

export const ETCD_CONFIG_PATH = "/etc/etcd/patroni-stack.conf.yml";

/** What one member's file needs: the member, and the cluster's list, token, ports and data dir. */
export type EtcdClusterSpec = Pick<
  ClusterPlan["etcd"],
  "initialCluster" | "token" | "dataDir" | "clientPort" | "peerPort"
>;

export function renderEtcdConfig(member: Omit<EtcdMemberSpec, "host">, etcd: EtcdClusterSpec): string {
  const config = {
    name: member.name,
    "data-dir": etcd.dataDir,
    "listen-peer-urls": `${member.peerUrl},http://127.0.0.1:${etcd.peerPort}`,
    "listen-client-urls": `${member.clientUrl},http://127.0.0.1:${etcd.clientPort}`,
    "advertise-client-urls": member.clientUrl,
    "initial-advertise-peer-urls": member.peerUrl,
    "initial-cluster": etcd.initialCluster,
    "initial-cluster-state": "new",
    "initial-cluster-token": etcd.token,
    // Patroni's etcd3 client speaks the JSON gateway; with a config file etcd 3.4 leaves it off.
    "enable-grpc-gateway": true,
  };
  return `# etcd member ${member.name}: managed by patroni-stack, changes are overwritten\n${stringify(config)}`;
}
