/**
 * patroni-stack: PostgreSQL high availability (etcd + Patroni + HAProxy) on hosts reached over SSH.
 * Reads and checks the stack config, plans the topology, builds the cluster, exports how to use it.
 */
import * as pulumi from "@pulumi/pulumi";
import { readStackConfig } from "./settings";
import { localPrefix, planCluster } from "./plan";
import { sshConnection } from "./components/hostAccess";
import { LocalHosts } from "./components/LocalHosts";
import { PatroniCluster } from "./components/PatroniCluster";

const { settings, sshPrivateKey, sshPassword, s3Keys, userCa } = readStackConfig();
const plan = planCluster(settings);
const stack = pulumi.getStack();

const local = settings.local
  ? new LocalHosts("local", { plan, local: settings.local, prefix: localPrefix(stack) })
  : undefined;
const hosts =
  local?.hosts ??
  Object.fromEntries(
    plan.hosts.map((h) => [
      h.name,
      { connection: sshConnection(h.ssh, { privateKey: sshPrivateKey, password: sshPassword }) },
    ]),
  );

const cluster = new PatroniCluster(settings.cluster.scope, {
  plan,
  hosts,
  userCa,
  s3Keys:
    s3Keys &&
    pulumi.secret(
      pulumi.all([s3Keys.accessKey, s3Keys.secretKey]).apply(([accessKey, secretKey]) => ({ accessKey, secretKey })),
    ),
});

export const readWriteUrl = cluster.readWriteUrl;
export const readOnlyUrl = cluster.readOnlyUrl;
export const statsUrl = cluster.statsUrl;
export const loopbackReadWriteUrl = cluster.loopbackReadWriteUrl;
export const loopbackReadOnlyUrl = cluster.loopbackReadOnlyUrl;
export const directReadWriteUrl = cluster.directReadWriteUrl;
export const directReadOnlyUrl = cluster.directReadOnlyUrl;
export const loopbackDirectReadWriteUrl = cluster.loopbackDirectReadWriteUrl;
export const loopbackDirectReadOnlyUrl = cluster.loopbackDirectReadOnlyUrl;
export const virtualIp = plan.vip?.address;
export const superuserPassword = cluster.superuserPassword;
/** The stack CA's certificate: `sslrootcert` for `sslmode=verify-full`, `--cacert` for curl. */
export const caCertificate = cluster.caCertificate;
export const userPasswords = cluster.userPasswords;
export const leader = plan.patroni.leader.name;
export const members = plan.patroni.members.map((m) => ({ name: m.name, address: m.host.address, role: m.role }));
export const etcdMembers = plan.etcd.members.map((m) => ({ name: m.name, clientUrl: m.clientUrl }));
export const backupHost = plan.backup?.host.name;
export const sshPrivateKeyLocal = local?.privateKey;
