/**
 * TLS: the certificates the stack issues (names, usages, validity, signature), when they are
 * issued again, what the plan puts in them, the rendered files that verify them, and the
 * settings that are refused.
 */
import { createPrivateKey, X509Certificate } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { resolveSettings } from "../../settings";
import { planCluster } from "../../plan";
import { renderHaproxyConfig } from "../../configs/haproxy";
import { renderVipCheck } from "../../configs/keepalived";
import { renderEtcdConfig } from "../../configs/etcd";
import { parse } from "yaml";
import { renderClientEnv, hostAltNames, TLS_DIR, userCaProblems } from "../../configs/tls";
import { renderPatroniConfig } from "../../configs/patroni";
import { renderPgbouncerConfig } from "../../configs/pgbouncer";
import { readUserCa, ConfigError } from "../../settings";
import { renderScript } from "../../configs/scripts";
import { CERTIFICATE_PROVIDER, issueCertificate, renewalReason } from "../../components/tlsProvider";
import { configProblems, stackFileSettings, threeNodeSettings, withKey } from "../fixtures/settings";

const DAY = 86_400_000;

describe("issued certificates", () => {
  let ca: Awaited<ReturnType<typeof issueCertificate>>;
  let host: Awaited<ReturnType<typeof issueCertificate>>;
  beforeAll(async () => {
    ca = await issueCertificate({ commonName: "patroni-stack postgres CA", dns: [], ip: [], validityDays: 3650 });
    host = await issueCertificate({
      commonName: "pg1",
      ...hostAltNames({ name: "pg1", address: "10.0.0.11" }, ["10.0.0.100", "pg2"]),
      validityDays: 30,
      issuer: ca,
    });
  });

  it("makes a CA that signs host certificates carrying every name and address", () => {
    const caCert = new X509Certificate(ca.certificate);
    const cert = new X509Certificate(host.certificate);
    expect(caCert.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    for (const name of ["pg1", "pg2", "localhost"]) expect(cert.checkHost(name)).toBe(name);
    for (const ip of ["10.0.0.11", "127.0.0.1", "10.0.0.100"]) expect(cert.checkIP(ip)).toBe(ip);
    expect(cert.checkHost("pg9")).toBeUndefined();
    // A server certificate that is also the member's client certificate (etcd peers, Patroni → etcd).
    expect(cert.keyUsage).toEqual(expect.arrayContaining(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]));
  });

  it("is valid for the days asked, from a few minutes ago, with a key that matches it", () => {
    const cert = new X509Certificate(host.certificate);
    const from = Date.parse(cert.validFrom);
    const to = Date.parse(cert.validTo);
    expect(Math.round((to - from) / DAY)).toBe(30);
    expect(from).toBeLessThan(Date.now());
    expect(cert.serialNumber).toBe(host.serial);
    expect(host.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(cert.checkPrivateKey(createPrivateKey(host.privateKey))).toBe(true);
  });

  it("is issued again when its names change or its renewal is due, and not otherwise", async () => {
    const inputs = { commonName: "pg1", dns: ["pg1"], ip: ["10.0.0.11"], validityDays: 365, renewBeforeDays: 30 };
    const olds = { ...inputs, notAfter: new Date(Date.now() + 200 * DAY).toISOString() };
    const diff = CERTIFICATE_PROVIDER.diff as NonNullable<typeof CERTIFICATE_PROVIDER.diff>;
    expect((await diff("id", olds, inputs)).changes).toBe(false);
    expect((await diff("id", olds, { ...inputs, ip: ["10.0.0.11", "10.0.0.100"] })).changes).toBe(true);
    expect((await diff("id", olds, { ...inputs, renewBeforeDays: 250 })).changes).toBe(true);
    const soon = { ...olds, notAfter: new Date(Date.now() + 10 * DAY).toISOString() };
    expect((await diff("id", soon, inputs)).changes).toBe(true);
  });

  it("says why a certificate is renewed", () => {
    const now = Date.parse("2026-12-01T00:00:00Z");
    expect(renewalReason("2027-06-01T00:00:00Z", 30, now)).toBeUndefined();
    expect(renewalReason("2026-12-20T00:00:00Z", 30, now)).toMatch(/within tls.renewBeforeDays \(30\)/);
    expect(renewalReason("2026-11-20T00:00:00Z", 30, now)).toMatch(/^expired on/);
  });
});

describe("the plan's certificates", () => {
  const plan = planCluster(resolveSettings(stackFileSettings("dev"), withKey));

  it("gives the members the names clients reach them by: the virtual IP and the routers", () => {
    const pg3 = plan.tls?.hosts.find((h) => h.host.name === "pg3");
    expect(pg3?.services).toEqual(["etcd", "postgres", "client"]);
    expect(pg3?.altNames.ip).toEqual(
      expect.arrayContaining(["10.213.7.13", "127.0.0.1", "10.213.7.100", "10.213.7.11"]),
    );
    expect(pg3?.altNames.dns).toEqual(expect.arrayContaining(["pg3", "localhost", "pg1", "pg2"]));
    const pg1 = plan.tls?.hosts.find((h) => h.host.name === "pg1");
    expect(pg1?.services).toEqual(["etcd", "postgres", "haproxy", "pgbouncer", "client"]);
  });

  it("uses https everywhere and verify-full between members", () => {
    expect(plan.etcd.members.every((m) => m.clientUrl.startsWith("https://") && m.peerUrl.startsWith("https://"))).toBe(
      true,
    );
    expect(plan.patroni.members.every((m) => m.restUrl.startsWith("https://"))).toBe(true);
    expect(plan.patroni.extraHba).toEqual(["hostssl all all 0.0.0.0/0 scram-sha-256"]);
  });

  it("lets tls.enabled: false keep plain text", () => {
    const plain = planCluster(resolveSettings({ ...stackFileSettings("dev"), tls: { enabled: false } }, withKey));
    expect(plain.tls).toBeUndefined();
    expect(plain.patroni.members[0].restUrl).toMatch(/^http:\/\//);
    expect(plain.patroni.extraHba).toEqual(["host all all 0.0.0.0/0 scram-sha-256"]);
    expect(renderHaproxyConfig(plain.routers[0], plain.haproxy, false)).not.toMatch(/ssl/);
  });

  it("names no certificate in a plain-text stack's service files (a stopped switch goes back on that)", () => {
    const plain = planCluster(resolveSettings({ ...stackFileSettings("dev"), tls: { enabled: false } }, withKey));
    const secrets = { superuser: "su", replication: "repl", rewind: "rw", restApi: "api" };
    const pools = plain.pgbouncer;
    if (!pools) throw new Error("dev has pools");
    const files = [
      renderEtcdConfig(plain.etcd.members[0], plain.etcd),
      renderPatroniConfig(plain.patroni.leader, plain.patroni, secrets),
      renderHaproxyConfig(plain.routers[0], plain.haproxy, false),
      ...pools.pools.map((p) => renderPgbouncerConfig(pools, p, "pg1")),
    ];
    for (const text of files) expect(text).not.toContain(`${TLS_DIR}/`);
    expect(renderEtcdConfig(plan.etcd.members[0], plan.etcd)).toContain(`${TLS_DIR}/`);
  });
});

describe("rendered files that verify", () => {
  const plan = planCluster(resolveSettings(stackFileSettings("dev"), withKey));

  it("checks every REST API over TLS with the CA and the member's name, never `verify none`", () => {
    const cfg = renderHaproxyConfig(plan.routers[0], plan.haproxy, true);
    const servers = cfg.split("\n").filter((l) => l.trim().startsWith("server "));
    expect(servers).toHaveLength(6);
    for (const line of servers) {
      const name = line.trim().split(" ")[1];
      expect(line).toContain(`check-ssl verify required ca-file /etc/patroni-stack/tls/ca.crt verifyhost ${name}`);
    }
    expect(cfg).not.toMatch(/verify none/);
    expect(cfg).toMatch(/bind \*:7000 ssl crt \/etc\/patroni-stack\/tls\/haproxy.pem/);
  });

  it("makes the virtual IP's check and the hosts' clients verify", () => {
    expect(renderVipCheck(7000, true)).toMatch(
      /curl -fsS -m 1 --cacert \/etc\/patroni-stack\/tls\/ca.crt .*https:\/\/127/,
    );
    const env = renderClientEnv();
    expect(env).toMatch(/^export ETCDCTL_CACERT=\/etc\/patroni-stack\/tls\/ca.crt$/m);
    expect(env).toMatch(/^export CURL_CA_BUNDLE=/m);
    expect(env).not.toMatch(/insecure|-k\b/);
  });

  it("while a running cluster switches: etcd serves both schemes and advertises TLS; the VIP check takes either", () => {
    const etcd = parse(renderEtcdConfig(plan.etcd.members[0], plan.etcd, { bothSchemes: true })) as Record<
      string,
      unknown
    >;
    expect(String(etcd["listen-client-urls"]).split(",")).toEqual([
      "http://10.213.7.11:2379",
      "https://10.213.7.11:2379",
      "http://127.0.0.1:2379",
      "https://127.0.0.1:2379",
    ]);
    expect(etcd["advertise-client-urls"]).toBe("https://10.213.7.11:2379");
    // Peers stay in plain text, with the certificates to dial a peer that has moved to TLS.
    expect(etcd["listen-peer-urls"]).toBe("http://10.213.7.11:2380,http://127.0.0.1:2380");
    expect(etcd["initial-advertise-peer-urls"]).toBe("http://10.213.7.11:2380");
    expect(etcd["peer-transport-security"]).toMatchObject({ "client-cert-auth": true });
    expect(etcd["client-transport-security"]).toMatchObject({ "client-cert-auth": true });
    // Once the switch is done, TLS only.
    const final = parse(renderEtcdConfig(plan.etcd.members[0], plan.etcd)) as Record<string, unknown>;
    expect(final["listen-client-urls"]).not.toMatch(/http:/);
    const either = renderVipCheck(7000, true, [5000], { eitherScheme: true });
    expect(either).toMatch(
      /--cacert \/etc\/patroni-stack\/tls\/ca.crt .*https:\/\/127.0.0.1:7000\/ \|\| curl .*http:\/\/127/,
    );
    expect(renderVipCheck(7000, true, [5000])).not.toMatch(/http:/);
  });

  it("installs keys with mode 0600 from stdin, never from the script's text", () => {
    const script = renderScript("tls-install", {
      TLS_DIR: "/etc/patroni-stack/tls",
      SERVICES: ["postgres:postgres:/etc/patroni-stack/tls/postgres.crt:/etc/patroni-stack/tls/postgres.key"],
    });
    expect(script).toMatch(/install_file "\$work\/host.key" "\$key" 0600 "\$owner:\$group"/);
    expect(script).toMatch(/json.load\(sys.stdin\)/);
    expect(script).not.toMatch(/BEGIN PRIVATE KEY/);
  });
});

describe("refused TLS settings", () => {
  const problems = (tls: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    configProblems({ ...threeNodeSettings(), tls, ...extra });

  it("names the key and what to do", () => {
    expect(problems({ renewBeforeDays: 400 })).toEqual([
      expect.stringMatching(/^patroni-stack:tls.renewBeforeDays: 400 days is not less than tls.validityDays \(365\)/),
    ]);
    expect(problems({ validityDays: 800, caValidityDays: 700 })).toEqual([
      expect.stringMatching(/^patroni-stack:tls.validityDays: host certificates \(800 days\) cannot outlive the CA/),
    ]);
    expect(problems({}, { postgresql: { pgHba: ["host all all 10.0.0.0/8 scram-sha-256"] } })).toEqual([
      expect.stringMatching(/^patroni-stack:postgresql.pgHba\[0\]: .* use hostssl, or set tls.postgres.require: false/),
    ]);
    expect(problems({}, { postgresql: { parameters: { ssl_cert_file: "/x" } } })).toEqual([
      expect.stringMatching(/^patroni-stack:postgresql.parameters.ssl_cert_file: is set by the stack/),
    ]);
  });

  it("accepts plain rules for loopback, and any rule once TLS is not required", () => {
    expect(problems({}, { postgresql: { pgHba: ["host all all 127.0.0.1/32 scram-sha-256"] } })).toEqual([]);
    expect(
      problems({ postgres: { require: false } }, { postgresql: { pgHba: ["host all all 0.0.0.0/0 scram-sha-256"] } }),
    ).toEqual([]);
  });
});

describe("a CA of the user's own (tls.ca)", () => {
  let ca: Awaited<ReturnType<typeof issueCertificate>>;
  let other: Awaited<ReturnType<typeof issueCertificate>>;
  let leaf: Awaited<ReturnType<typeof issueCertificate>>;
  beforeAll(async () => {
    ca = await issueCertificate({ commonName: "corp CA", dns: [], ip: [], validityDays: 1000 });
    other = await issueCertificate({ commonName: "other CA", dns: [], ip: [], validityDays: 1000 });
    leaf = await issueCertificate({ commonName: "pg1", dns: ["pg1"], ip: [], validityDays: 1000, issuer: ca });
  });
  const tls = { validityDays: 365 };

  it("accepts a valid CA with its own key", () => {
    expect(userCaProblems({ certificate: ca.certificate, privateKey: ca.privateKey }, tls)).toEqual([]);
  });

  it("refuses what cannot sign the stack's certificates, naming the key", () => {
    const messages = (c: { certificate: string; privateKey: string }, now?: Date) =>
      userCaProblems(c, tls, now).map((p) => `${p.key}: ${p.message}`);
    expect(messages({ certificate: ca.certificate, privateKey: other.privateKey })).toEqual([
      expect.stringMatching(/^patroni-stack:tls.ca.keyFile: is not the key of tls.ca.certificateFile/),
    ]);
    expect(messages({ certificate: leaf.certificate, privateKey: leaf.privateKey })).toEqual([
      expect.stringMatching(/^patroni-stack:tls.ca.certificateFile: CN=pg1 is not a CA/),
    ]);
    const later = new Date(Date.now() + 1100 * DAY);
    expect(messages({ certificate: ca.certificate, privateKey: ca.privateKey }, later)).toEqual([
      expect.stringMatching(/^patroni-stack:tls.ca.certificateFile: expired on /),
    ]);
    const soon = new Date(Date.now() + 800 * DAY);
    expect(messages({ certificate: ca.certificate, privateKey: ca.privateKey }, soon)).toEqual([
      expect.stringMatching(/expires on .* before host certificates of tls.validityDays \(365\) would/),
    ]);
    expect(messages({ certificate: "not a certificate", privateKey: ca.privateKey })).toEqual([
      expect.stringMatching(/^patroni-stack:tls.ca.certificateFile: is not a PEM certificate/),
    ]);
  });

  it("reads the files relative to the project, and names the key of a file it cannot read", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "patroni-stack-ca-"));
    try {
      fs.writeFileSync(path.join(dir, "ca.crt"), ca.certificate);
      fs.writeFileSync(path.join(dir, "ca.key"), ca.privateKey, { mode: 0o600 });
      const settings = resolveSettings(
        { ...threeNodeSettings(), tls: { ca: { certificateFile: "ca.crt", keyFile: "ca.key" } } },
        withKey,
      );
      expect(readUserCa(settings, dir)?.certificate).toBe(ca.certificate);
      const missing = resolveSettings(
        { ...threeNodeSettings(), tls: { ca: { certificateFile: "ca.crt", keyFile: "nope.key" } } },
        withKey,
      );
      expect(() => readUserCa(missing, dir)).toThrow(ConfigError);
      expect(() => readUserCa(missing, dir)).toThrow(/patroni-stack:tls.ca.keyFile: cannot read nope.key/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
