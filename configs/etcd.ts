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

/** The same URL in plain text (a member's client URL while a running cluster switches to TLS). */
export function plainUrl(url: string): string {
  return url.replace(/^https:/, "http:");
}

/**
 * One member's file. With `bothSchemes` (a TLS stack whose running cluster switches from plain
 * text), the client port serves plain text and TLS side by side and advertises TLS, so clients can
 * move over before the member requires TLS. The peer port stays in plain text, with the peer
 * certificates already in place, so that the member can dial a peer that has moved to TLS: a
 * member without them rejects that peer's certificate (etcd 3.4). The finish phase moves each
 * member's peer URL to TLS.
 */
export function renderEtcdConfig(
  member: Omit<EtcdMemberSpec, "host">,
  etcd: EtcdClusterSpec,
  opts: { bothSchemes?: boolean } = {},
): string {
  const scheme = etcd.tls ? "https" : "http";
  const loopbackClient = `${scheme}://127.0.0.1:${etcd.clientPort}`;
  const clientUrls =
    etcd.tls && opts.bothSchemes
      ? [plainUrl(member.clientUrl), member.clientUrl, plainUrl(loopbackClient), loopbackClient]
      : [member.clientUrl, loopbackClient];
  const switching = etcd.tls !== undefined && opts.bothSchemes === true;
  const peerUrl = switching ? plainUrl(member.peerUrl) : member.peerUrl;
  const config = {
    name: member.name,
    "data-dir": etcd.dataDir,
    "listen-peer-urls": `${peerUrl},${switching ? "http" : scheme}://127.0.0.1:${etcd.peerPort}`,
    "listen-client-urls": clientUrls.join(","),
    "advertise-client-urls": member.clientUrl,
    "initial-advertise-peer-urls": peerUrl,
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
