/**
 * The stack's certificates, issued on the machine that runs the program with a maintained X.509
 * library (@peculiar/x509 over Node's WebCrypto): one CA per stack and one certificate per host,
 * ECDSA P-256, kept in the stack's state with the private keys as secrets. Both are dynamic
 * resources, so the Pulumi CLI and the direct runner issue them with the same code and need no
 * provider plugin.
 *
 * A certificate is issued again when what it must name changes, or on the first `up` within
 * `renewBeforeDays` of its expiry. Pulumi serializes the providers into the state, so the
 * functions below load their libraries themselves and use nothing but their arguments.
 */
import * as pulumi from "@pulumi/pulumi";

export interface IssueRequest {
  commonName: string;
  dns: string[];
  ip: string[];
  validityDays: number;
  /** The issuer; absent: a self-signed CA. */
  issuer?: { certificate: string; privateKey: string };
  /**
   * Where the X.509 library is (absolute paths): the provider runs from the stack's project
   * directory, which need not hold this program's node_modules.
   */
  modules?: Modules;
}

export interface Modules {
  x509: string;
  reflectMetadata: string;
}

/** The libraries' absolute paths, resolved from this program's own node_modules. */
export function libraryModules(): Modules {
  return { x509: require.resolve("@peculiar/x509"), reflectMetadata: require.resolve("reflect-metadata") };
}

export interface Issued {
  certificate: string;
  privateKey: string;
  /** Hex, as `openssl x509 -serial` prints it. */
  serial: string;
  notBefore: string;
  notAfter: string;
}

/** Issue a CA (no issuer) or a server-and-client certificate signed by `issuer`. */
export async function issueCertificate(req: IssueRequest): Promise<Issued> {
  const modules = req.modules ?? { x509: "@peculiar/x509", reflectMetadata: "reflect-metadata" };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(modules.reflectMetadata);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const x509 = require(modules.x509) as typeof import("@peculiar/x509");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { webcrypto, randomBytes } = require("crypto") as typeof import("crypto");
  const subtle = webcrypto.subtle;
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const serialBytes = randomBytes(16);
  serialBytes[0] &= 0x7f; // a positive serial
  const serialNumber = serialBytes.toString("hex");
  // A little in the past: a host whose clock is a few minutes behind accepts the certificate.
  const notBefore = new Date(Date.now() - 5 * 60_000);
  const notAfter = new Date(notBefore.getTime() + req.validityDays * 86_400_000);
  const pem = (der: ArrayBuffer, label: string) =>
    `-----BEGIN ${label}-----\n${Buffer.from(der)
      .toString("base64")
      .replace(/(.{64})/g, "$1\n")
      .replace(/\n$/, "")}\n-----END ${label}-----\n`;

  let cert: InstanceType<typeof x509.X509Certificate>;
  if (!req.issuer) {
    cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber,
      name: `CN=${req.commonName}`,
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: alg,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
  } else {
    const ca = new x509.X509Certificate(req.issuer.certificate);
    const der = Buffer.from(req.issuer.privateKey.replace(/-----[^-]+-----|\s/g, ""), "base64");
    const caKey = await subtle.importKey("pkcs8", der, alg, false, ["sign"]);
    cert = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject: `CN=${req.commonName}`,
      issuer: ca.subject,
      notBefore,
      notAfter,
      signingAlgorithm: alg,
      publicKey: keys.publicKey,
      signingKey: caKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([
          ...req.dns.map((value) => ({ type: "dns" as const, value })),
          ...req.ip.map((value) => ({ type: "ip" as const, value })),
        ]),
        await x509.AuthorityKeyIdentifierExtension.create(ca, false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
  }
  const privateKey = pem(await subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY");
  return {
    certificate: cert.toString("pem") + "\n",
    privateKey,
    serial: serialNumber.toUpperCase(),
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
  };
}

/** Why a certificate must be issued again now, or undefined while it is good. */
export function renewalReason(notAfter: unknown, renewBeforeDays: number, now = Date.now()): string | undefined {
  const end = Date.parse(String(notAfter));
  if (!Number.isFinite(end)) return "no expiry recorded";
  const left = (end - now) / 86_400_000;
  if (left <= 0) return `expired on ${String(notAfter)}`;
  if (left < renewBeforeDays) return `expires on ${String(notAfter)}, within tls.renewBeforeDays (${renewBeforeDays})`;
  return undefined;
}

type Props = Record<string, unknown>;

/** What a certificate is made from: a change of any of these issues it again. */
const ISSUED_FROM = ["commonName", "dns", "ip", "validityDays", "issuerCertificate"];

function mustReissue(olds: Props, news: Props): boolean {
  const same = (k: string) => JSON.stringify(olds[k] ?? null) === JSON.stringify(news[k] ?? null);
  return ISSUED_FROM.some((k) => !same(k)) || renewalReason(olds.notAfter, Number(news.renewBeforeDays)) !== undefined;
}

async function issueFrom(inputs: Props): Promise<{ id: string; outs: Props }> {
  const issued = await issueCertificate({
    commonName: String(inputs.commonName),
    dns: (inputs.dns as string[] | undefined) ?? [],
    ip: (inputs.ip as string[] | undefined) ?? [],
    validityDays: Number(inputs.validityDays),
    issuer: inputs.issuerCertificate
      ? { certificate: String(inputs.issuerCertificate), privateKey: String(inputs.issuerPrivateKey) }
      : undefined,
    modules: inputs.modules as Modules | undefined,
  });
  return { id: `${String(inputs.commonName)}-${issued.serial}`, outs: { ...inputs, ...issued } };
}

/** The provider of both kinds: `issuerCertificate` absent means the stack's CA. */
export const CERTIFICATE_PROVIDER: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: Props, news: Props) {
    const changes = mustReissue(olds, news) || olds.renewBeforeDays !== news.renewBeforeDays;
    return { changes, replaces: [], deleteBeforeReplace: false };
  },
  async create(inputs: Props) {
    return issueFrom(inputs);
  },
  async update(_id: string, olds: Props, news: Props) {
    if (!mustReissue(olds, news)) return { outs: { ...olds, renewBeforeDays: news.renewBeforeDays } };
    return { outs: (await issueFrom(news)).outs };
  },
};

export interface CertificateArgs {
  commonName: string;
  dns?: string[];
  ip?: string[];
  validityDays: number;
  renewBeforeDays: number;
  /** The CA that signs it; absent: the certificate is the stack's (self-signed) CA. */
  issuer?: { certificate: pulumi.Input<string>; privateKey: pulumi.Input<string> };
}

/** A certificate and its private key (secret) in the stack's state. */
export class Certificate extends pulumi.dynamic.Resource {
  declare readonly certificate: pulumi.Output<string>;
  declare readonly privateKey: pulumi.Output<string>;
  declare readonly serial: pulumi.Output<string>;
  declare readonly notAfter: pulumi.Output<string>;

  constructor(name: string, args: CertificateArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      CERTIFICATE_PROVIDER,
      name,
      {
        commonName: args.commonName,
        dns: args.dns ?? [],
        ip: args.ip ?? [],
        validityDays: args.validityDays,
        renewBeforeDays: args.renewBeforeDays,
        modules: libraryModules(),
        issuerCertificate: args.issuer?.certificate,
        issuerPrivateKey: args.issuer ? pulumi.secret(args.issuer.privateKey) : undefined,
        certificate: undefined,
        privateKey: undefined,
        serial: undefined,
        notAfter: undefined,
      },
      { ...opts, additionalSecretOutputs: ["privateKey", "issuerPrivateKey"] },
      "tls",
      "Certificate",
    );
  }
}
