import * as path from "path";
import * as fs from "fs";
import { spawnSync } from "child_process";
import { parse } from "yaml";
import { resolveSettings } from "../../settings";
import { planCluster } from "../../plan";
import { renderEtcdConfig } from "../../configs/etcd";
import { renderHaproxyConfig } from "../../configs/haproxy";
import { renderPatroniBootstrap, renderPatroniConfig } from "../../configs/patroni";
import { renderEtcdUnit, renderPatroniUnit } from "../../configs/systemd";
import { renderScript, SCRIPT_NAMES } from "../../configs/scripts";
import { stackFileSettings, withKey } from "../fixtures/settings";

const lab = planCluster(resolveSettings(stackFileSettings("lab"), withKey));
const secrets = { superuser: "S3cret-su", replication: "S3cret-repl", rewind: "S3cret-rw", restApi: "S3cret-api" };

describe("patroni.yml for the field guide's lab", () => {
  // As the configure step writes it: the member's settings, then the bootstrap section.
  const pgsvr1 = parse(
    renderPatroniConfig(lab.patroni.leader, lab.patroni, secrets) + renderPatroniBootstrap(lab.patroni),
  );

  it("carries the seed's identity and addresses", () => {
    expect(pgsvr1).toMatchObject({
      scope: "postgres",
      name: "pgsvr1",
      restapi: { listen: "192.168.56.201:8008", connect_address: "192.168.56.201:8008" },
      etcd3: { hosts: ["192.168.56.203:2379"] },
      postgresql: {
        listen: "192.168.56.201,127.0.0.1:5413",
        connect_address: "192.168.56.201:5413",
        data_dir: "/data/pg13",
      },
      tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
    });
  });

  it("bootstraps the seed's DCS settings", () => {
    expect(pgsvr1.bootstrap.dcs).toMatchObject({
      ttl: 30,
      loop_wait: 10,
      retry_timeout: 10,
      maximum_lag_on_failover: 1048576,
      postgresql: { use_pg_rewind: true, parameters: { max_wal_size: "1GB", max_wal_senders: 8 } },
    });
    expect(pgsvr1.bootstrap.initdb).toEqual([
      { encoding: "UTF8" },
      "data-checksums",
      { "auth-host": "scram-sha-256" },
      { "auth-local": "peer" },
    ]);
  });

  it("uses the seed's users with scram-sha-256 and no md5", () => {
    const verify = { sslmode: "verify-full", sslrootcert: "/etc/patroni-stack/tls/ca.crt" };
    expect(pgsvr1.postgresql.authentication).toEqual({
      superuser: { username: "postgres", password: "S3cret-su", ...verify },
      replication: { username: "repl", password: "S3cret-repl", ...verify },
      rewind: { username: "rewind_user", password: "S3cret-rw", ...verify },
    });
    const hba: string[] = pgsvr1.postgresql.pg_hba;
    expect(hba).toContain("host replication repl 127.0.0.1/32 scram-sha-256");
    expect(hba).toContain("hostssl replication repl 192.168.56.201/32 scram-sha-256");
    expect(hba).toContain("hostssl replication repl 192.168.56.202/32 scram-sha-256");
    expect(hba).toContain("hostssl all all 0.0.0.0/0 scram-sha-256");
    // Only loopback may connect without TLS.
    expect(hba.filter((l) => l.startsWith("host ")).every((l) => l.includes(" 127.0.0.1/32 "))).toBe(true);
    expect(hba.join("\n")).not.toMatch(/md5|trust/);
    expect(pgsvr1.bootstrap.dcs.postgresql.parameters.password_encryption).toBe("scram-sha-256");
  });

  it("keeps pgpass out of /tmp and requires REST API auth", () => {
    expect(pgsvr1.postgresql.pgpass).not.toMatch(/^\/tmp/);
    expect(pgsvr1.restapi.authentication).toEqual({ username: "patroni", password: "S3cret-api" });
  });

  it("differs between members only in name and addresses", () => {
    const pgsvr2 = renderPatroniConfig(lab.patroni.replicas[0], lab.patroni, secrets);
    const normalized = pgsvr2.replace(/pgsvr2/g, "pgsvr1").replace(/192\.168\.56\.202(?!\/32)/g, "192.168.56.201");
    expect(normalized).toBe(renderPatroniConfig(lab.patroni.leader, lab.patroni, secrets));
  });
});

describe("haproxy.cfg for the lab", () => {
  const cfg = renderHaproxyConfig(lab.routers[0], lab.haproxy, lab.tls !== undefined);

  it("sends the read-write port to the primary and the read-only port to replicas", () => {
    expect(cfg).toMatch(/listen postgres_rw\n {4}bind \*:5413\n {4}option httpchk OPTIONS \/primary/);
    expect(cfg).toMatch(
      /listen postgres_ro\n {4}bind \*:5414\n {4}balance roundrobin\n {4}option httpchk OPTIONS \/replica/,
    );
    expect(cfg.match(/http-check expect status 200/g)).toHaveLength(2);
  });

  it("moves to the direct ports when PgBouncer's pools take the clients' ports", () => {
    const pooled = planCluster(resolveSettings({ ...stackFileSettings("lab"), pgbouncer: { enabled: true } }, withKey));
    const text = renderHaproxyConfig(pooled.routers[0], pooled.haproxy, pooled.tls !== undefined);
    expect(text).toMatch(/listen postgres_rw\n {4}bind \*:5002\n/);
    expect(text).toMatch(/listen postgres_ro\n {4}bind \*:5003\n/);
    expect(pooled.pgbouncer?.pools.map((p) => p.listenPort)).toEqual([5413, 5414]);
  });

  it("checks each member on the REST API with the seed's timings", () => {
    expect(cfg).toContain("server pgsvr1 192.168.56.201:5413 maxconn 200 check port 8008");
    expect(cfg).toContain("server pgsvr2 192.168.56.202:5413 maxconn 200 check port 8008");
    expect(cfg).toContain("default-server inter 3s fall 3 rise 2 on-marked-down shutdown-sessions");
    expect(cfg).toMatch(/global\n {4}maxconn 200/);
    for (const line of [
      "mode tcp",
      "retries 2",
      "timeout client 30m",
      "timeout connect 4s",
      "timeout server 30m",
      "timeout check 5s",
    ]) {
      expect(cfg).toContain(`    ${line}\n`);
    }
    expect(cfg).toMatch(
      /listen stats\n {4}mode http\n {4}bind \*:7000 ssl crt \/etc\/patroni-stack\/tls\/haproxy.pem\n {4}stats enable\n {4}stats uri \//,
    );
  });

  it("is stable", () => {
    expect(cfg).toMatchSnapshot();
  });
});

describe("etcd config", () => {
  it("bootstraps every member statically on the cluster address", () => {
    const cfg = parse(renderEtcdConfig(lab.etcd.members[0], lab.etcd));
    const security = {
      "cert-file": "/etc/patroni-stack/tls/etcd.crt",
      "key-file": "/etc/patroni-stack/tls/etcd.key",
      "trusted-ca-file": "/etc/patroni-stack/tls/ca.crt",
      "client-cert-auth": true,
    };
    expect(cfg).toEqual({
      name: "pgserver3",
      "data-dir": "/var/lib/etcd/patroni-stack",
      "listen-peer-urls": "https://192.168.56.203:2380,https://127.0.0.1:2380",
      "listen-client-urls": "https://192.168.56.203:2379,https://127.0.0.1:2379",
      "advertise-client-urls": "https://192.168.56.203:2379",
      "initial-advertise-peer-urls": "https://192.168.56.203:2380",
      "initial-cluster": "pgserver3=https://192.168.56.203:2380",
      "initial-cluster-state": "new",
      "initial-cluster-token": "postgres-etcd",
      "enable-grpc-gateway": true,
      "client-transport-security": security,
      "peer-transport-security": security,
    });
  });
});

describe("systemd units", () => {
  it("lets Patroni stop PostgreSQL and restarts it on failure", () => {
    const unit = renderPatroniUnit("/etc/patroni/patroni.yml");
    expect(unit).toContain("User=postgres\n");
    expect(unit).toContain("KillMode=process\n");
    expect(unit).toContain("Restart=on-failure\n");
    expect(unit).toContain("TimeoutSec=30\n");
  });

  it("runs etcd from its config file", () => {
    expect(renderEtcdUnit("/etc/etcd/x.yml")).toContain("ExecStart=/usr/bin/etcd --config-file /etc/etcd/x.yml\n");
  });
});

describe("remote scripts", () => {
  // Every script the code knows, and every script file in the folder is known.
  const names = [...SCRIPT_NAMES];
  it("lists every script file", () => {
    const files = fs
      .readdirSync(path.join(__dirname, "..", "..", "configs", "scripts"))
      .filter((f) => f.endsWith(".sh") && !f.startsWith("lib"))
      .map((f) => f.replace(/\.sh$/, ""));
    expect([...files].sort()).toEqual([...names].sort());
  });

  it.each(names)("%s is strict bash that parses", (name) => {
    const text = renderScript(name, { CONFIG: "a 'quoted'\nmulti-line value", LIST: ["a b", "c"] });
    expect(text.startsWith("#!/usr/bin/env bash\n")).toBe(true);
    expect(text).toContain("\nset -euo pipefail\n");
    const check = spawnSync("bash", ["-n"], { input: text });
    expect(check.stderr.toString()).toBe("");
    expect(check.status).toBe(0);
  });

  it("quotes values so that bash reads them back unchanged", () => {
    const value = 'it\'s $HOME `x` "y"\nline2';
    const text = renderScript("haproxy-stop", { CONFIG: value, LIST: ["a b", "c'd"] });
    const header = text.split("\n# Shared prelude")[0];
    const out = spawnSync("bash", ["-c", `${header}\nprintf '%s|' "$CONFIG" "\${LIST[@]}"`]);
    expect(out.stdout.toString()).toBe(`${value}|a b|c'd|`);
  });

  it("are deterministic", () => {
    const vars = { B: "2", A: "1" };
    expect(renderScript("etcd-start", vars)).toBe(renderScript("etcd-start", { A: "1", B: "2" }));
  });
});
