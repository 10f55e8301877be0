import { createPrivateKey, X509Certificate } from "crypto";

/**
 * Where the stack's certificates live on a host, which names a host's certificate carries, and
 * the environment that makes the command-line clients on a host (etcdctl, curl, psql) verify.
 * Pure: the certificates themselves are issued by ../components/tlsProvider.ts.
 */

export const TLS_DIR = "/etc/patroni-stack/tls";
/** The stack CA's certificate on every host (public). */
export const CA_PATH = `${TLS_DIR}/ca.crt`;
/**
 * What a host's services were set up with (`tls.enabled`): `tls`, `plain`, or `plain-to-tls` while
 * an up switches a running host to TLS. The first step on each host checks and records it; the
 * stack's last step on the host records `tls` once the switch is done.
 */
export const TRANSPORT_PATH = "/etc/patroni-stack/transport";
/** Sourced by the remote scripts and by ctl's commands on a host. */
export const CLIENT_ENV_PATH = `${TLS_DIR}/client.env`;

/** Every service that reads the host's certificate, and the user it runs as. */
export const TLS_SERVICES = {
  /** etcd's server and peer certificate (it is also the peers' client certificate). */
  etcd: "etcd",
  /** PostgreSQL's server certificate, Patroni's REST API, and Patroni's etcd client certificate. */
  postgres: "postgres",
  /** HAProxy's stats page (certificate and key in one file, as HAProxy reads them). */
  haproxy: "haproxy",
  /** PgBouncer's pools on a router: their server certificate towards clients. */
  pgbouncer: "postgres",
  /** etcdctl and curl run as root by the lifecycle scripts and by ctl. */
  client: "root",
} as const;
export type TlsService = keyof typeof TLS_SERVICES;

export interface TlsFiles {
  certificate: string;
  key: string;
  /** Owner of the key (mode 0600). */
  owner: string;
}

/** A service's copy of the host's certificate and key. */
export function tlsFiles(service: TlsService): TlsFiles {
  return { certificate: `${TLS_DIR}/${service}.crt`, key: `${TLS_DIR}/${service}.key`, owner: TLS_SERVICES[service] };
}

/** HAProxy's `crt` file: the certificate followed by its key. */
export const HAPROXY_PEM_PATH = `${TLS_DIR}/haproxy.pem`;

/** Subject alternative names of a host's certificate. */
export interface AltNames {
  dns: string[];
  ip: string[];
}

/**
 * A host's names: its own name (HAProxy's checks verify it), `localhost`, its address and
 * 127.0.0.1, plus the names and addresses it also answers for (the virtual IP on a router).
 */
export function hostAltNames(host: { name: string; address: string }, also: string[] = []): AltNames {
  const isIp = (s: string) => /^\d+\.\d+\.\d+\.\d+$/.test(s);
  const all = [host.name, "localhost", host.address, "127.0.0.1", ...also];
  const unique = (xs: string[]) => [...new Set(xs)];
  return { dns: unique(all.filter((s) => !isIp(s))), ip: unique(all.filter(isIp)) };
}

/** The curl configuration that presents the host's client certificate (etcd asks for one). */
export function curlHome(): string {
  return `${TLS_DIR}/curl`;
}

export function renderCurlrc(): string {
  const client = tlsFiles("client");
  return [
    "# Managed by patroni-stack: curl presents the host's client certificate (etcd requires one).",
    `cert = "${client.certificate}"`,
    `key = "${client.key}"`,
    "",
  ].join("\n");
}

/**
 * The environment that makes the clients on a host verify the stack's certificates: etcdctl
 * (CA, client certificate and key), curl (CA, and the client certificate through its config
 * file) and libpq (the CA for `sslmode=verify-full`).
 */
export function renderClientEnv(): string {
  const client = tlsFiles("client");
  const vars: Record<string, string> = {
    CURL_CA_BUNDLE: CA_PATH,
    CURL_HOME: curlHome(),
    ETCDCTL_CACERT: CA_PATH,
    ETCDCTL_CERT: client.certificate,
    ETCDCTL_KEY: client.key,
    PGSSLROOTCERT: CA_PATH,
  };
  return [
    "# Managed by patroni-stack: the stack's CA and this host's client certificate for etcdctl, curl and psql.",
    ...Object.entries(vars).map(([k, v]) => `export ${k}=${v}`),
    "",
  ].join("\n");
}

/** Shell text that loads the client environment when the host has one (plain stacks have none). */
export const SOURCE_CLIENT_ENV = `if [ -r ${CLIENT_ENV_PATH} ]; then . ${CLIENT_ENV_PATH}; fi`;

/** A CA of the user's own, as read from `tls.ca.certificateFile` / `keyFile` (the key as PKCS #8 PEM). */
export interface UserCa {
  certificate: string;
  privateKey: string;
}

/**
 * What is wrong with a user's CA, each with its key: not a certificate or not a CA, a key that
 * is not its key, expired, or expiring before the host certificates it would sign.
 */
export function userCaProblems(
  ca: UserCa,
  tls: { validityDays: number },
  now: Date = new Date(),
): { key: string; message: string }[] {
  const certKey = "patroni-stack:tls.ca.certificateFile";
  const keyKey = "patroni-stack:tls.ca.keyFile";
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(ca.certificate);
  } catch (e) {
    return [{ key: certKey, message: `is not a PEM certificate (${(e as Error).message})` }];
  }
  const problems: { key: string; message: string }[] = [];
  if (!cert.ca) {
    problems.push({
      key: certKey,
      message: `${cert.subject} is not a CA (basicConstraints CA:FALSE): use a CA or intermediate certificate`,
    });
  }
  const until = Date.parse(cert.validTo);
  if (until <= now.getTime()) {
    problems.push({
      key: certKey,
      message: `expired on ${cert.validTo}: bring a valid CA, or remove tls.ca to let the stack make one`,
    });
  } else if (until < now.getTime() + tls.validityDays * 86_400_000) {
    problems.push({
      key: certKey,
      message: `expires on ${cert.validTo}, before host certificates of tls.validityDays (${tls.validityDays}) would: lower validityDays or renew the CA`,
    });
  }
  try {
    const key = createPrivateKey(ca.privateKey);
    if (!cert.checkPrivateKey(key)) {
      problems.push({
        key: keyKey,
        message: "is not the key of tls.ca.certificateFile: a CA signs with its own key only",
      });
    } else if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
      problems.push({
        key: keyKey,
        message: `is a ${key.asymmetricKeyType} key: the stack signs with ECDSA P-256 CA keys only`,
      });
    }
  } catch (e) {
    problems.push({ key: keyKey, message: `is not a PEM private key (${(e as Error).message})` });
  }
  return problems;
}
