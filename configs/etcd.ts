/** etcd's configuration file (`etcd --config-file`): static bootstrap of every member. */
import { stringify } from "yaml";
import { ClusterPlan, EtcdMemberSpec } from "../plan";
import { CA_PATH, tlsFiles } from "./tls";

export const ETCD_CONFIG_PATH = "/etc/etcd/patroni-stack.conf.yml";

/** What one member's file needs: the member, and the cluster's list, token, ports and data dir. */
export type EtcdClusterSpec = Pick<
  ClusterPlan["etcd"],
  "initialCluster" | "token" | "dataDir" | "clientPort" | "peerPort" | "tls"
>;

/** etcd's TLS on one port: the host's certificate, and clients must present one from the stack's CA. */
function transportSecurity() {
  const files = tlsFiles("etcd");
  return {
    "cert-file": files.certificate,
    "key-file": files.key,
    "trusted-ca-file": CA_PATH,
    "client-cert-auth": true,
  };
}

export function renderEtcdConfig(member: Omit<EtcdMemberSpec, "host">, etcd: EtcdClusterSpec): string {
  const scheme = etcd.tls ? "https" : "http";
  const config = {
    name: member.name,
    "data-dir": etcd.dataDir,
    "listen-peer-urls": `${member.peerUrl},${scheme}://127.0.0.1:${etcd.peerPort}`,
    "listen-client-urls": `${member.clientUrl},${scheme}://127.0.0.1:${etcd.clientPort}`,
    "advertise-client-urls": member.clientUrl,
    "initial-advertise-peer-urls": member.peerUrl,
    "initial-cluster": etcd.initialCluster,
    "initial-cluster-state": "new",
    "initial-cluster-token": etcd.token,
    // Patroni's etcd3 client speaks the JSON gateway; with a config file etcd 3.4 leaves it off.
    "enable-grpc-gateway": true,
    ...(etcd.tls
      ? { "client-transport-security": transportSecurity(), "peer-transport-security": transportSecurity() }
      : {}),
  };
  return `# etcd member ${member.name}: managed by patroni-stack, changes are overwritten\n${stringify(config)}`;
}
