/**
 * The stack's TLS: its CA, a certificate per host (issued in the stack's state, see
 * ./tlsProvider.ts) and, on each host, the step that installs them for the services it runs.
 * Every role's steps on a host wait for that host's step; a renewed certificate runs the step
 * again, which reloads the services that read it.
 */
import * as pulumi from "@pulumi/pulumi";
import { TlsHostSpec, TlsSpec } from "../plan";
import {
  CA_PATH,
  CLIENT_ENV_PATH,
  curlHome,
  HAPROXY_PEM_PATH,
  renderClientEnv,
  renderCurlrc,
  TLS_DIR,
  tlsFiles,
} from "../configs/tls";
import { PATRONI_CONFIG_PATH, SOCKET_DIR } from "../configs/patroni";
import { POOL_NAMES, poolUnit } from "../configs/pgbouncer";
import { renderScript } from "../configs/scripts";
import { HostAccess } from "./hostAccess";
import { RemoteScript } from "./RemoteScript";
import { Certificate } from "./tlsProvider";

/** What signs the host certificates: the generated CA, or the user's. */
interface Issuer {
  certificate: pulumi.Output<string>;
  privateKey: pulumi.Output<string>;
}

export interface StackTlsArgs {
  spec: TlsSpec;
  /** How to reach each host, by host name (after its packages: the services' users exist). */
  access: (host: string) => HostAccess;
  pgPort: number;
  /** The user's CA (`tls.ca`), checked already: it signs the host certificates instead of a generated one. */
  ca?: { certificate: string; privateKey: pulumi.Output<string> };
}

export class StackTls extends pulumi.ComponentResource {
  readonly caCertificate: pulumi.Output<string>;
  /** Each host's install step, by host name. */
  readonly installed: Record<string, RemoteScript>;

  constructor(name: string, args: StackTlsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("patroni-stack:cluster:StackTls", name, {}, opts);
    const { spec } = args;
    const ca: Issuer = args.ca
      ? { certificate: pulumi.output(args.ca.certificate), privateKey: args.ca.privateKey }
      : new Certificate(
          `${name}-ca`,
          { commonName: spec.caName, validityDays: spec.caValidityDays, renewBeforeDays: spec.renewBeforeDays },
          { parent: this },
        );
    this.caCertificate = ca.certificate;
    this.installed = Object.fromEntries(spec.hosts.map((h) => [h.host.name, this.install(name, h, ca, args)]));
    this.registerOutputs({ caCertificate: this.caCertificate });
  }

  private install(name: string, h: TlsHostSpec, ca: Issuer, args: StackTlsArgs): RemoteScript {
    const cert = new Certificate(
      `${name}-${h.host.name}`,
      {
        commonName: h.host.name,
        dns: h.altNames.dns,
        ip: h.altNames.ip,
        validityDays: args.spec.validityDays,
        renewBeforeDays: args.spec.renewBeforeDays,
        issuer: { certificate: ca.certificate, privateKey: ca.privateKey },
      },
      { parent: this },
    );
    const services = h.services.map((s) => {
      const f = tlsFiles(s);
      return `${s}:${f.owner}:${f.certificate}:${f.key}`;
    });
    const shows = [
      `certificate of ${h.host.name} for ${h.services.join(", ")}`,
      `names: ${[...h.altNames.dns, ...h.altNames.ip].join(", ")}`,
    ].join("\n");
    return new RemoteScript(
      `${name}-${h.host.name}-install`,
      {
        host: h.host,
        access: args.access(h.host.name),
        file: "tls-install.sh",
        script: renderScript("tls-install", {
          TLS_DIR,
          CA_PATH,
          SERVICES: services,
          HAPROXY_PEM: HAPROXY_PEM_PATH,
          CLIENT_ENV_PATH,
          CLIENT_ENV: renderClientEnv(),
          CURL_HOME: curlHome(),
          CURLRC: renderCurlrc(),
          SOCKET_DIR,
          PG_PORT: args.pgPort,
          PATRONI_CONFIG: PATRONI_CONFIG_PATH,
          POOL_UNITS: h.services.includes("pgbouncer") ? POOL_NAMES.map(poolUnit) : [],
        }),
        shows,
        // A renewed certificate (a new serial) runs the step again; the preview shows which.
        runsAfter: pulumi.interpolate`certificate serial ${cert.serial} valid until ${cert.notAfter}`,
        stdin: pulumi.secret(
          pulumi
            .all([ca.certificate, cert.certificate, cert.privateKey])
            .apply(([caPem, certificate, privateKey]) => JSON.stringify({ ca: caPem, certificate, privateKey })),
        ),
      },
      { parent: this, dependsOn: args.access(h.host.name).after ?? [] },
    );
  }
}
