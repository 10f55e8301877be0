import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { resolveSettings } from "../../settings";
import { planCluster } from "../../plan";
import {
  comparableLivePool,
  comparablePoolSettings,
  pgbouncerSettings,
  poolDifferences,
  poolAuthSql,
  renderPgbouncerConfig,
  renderPgbouncerIni,
  renderPoolAuthFile,
  renderPoolTool,
  renderPoolUnit,
  POOL_AUTH_USER,
} from "../../configs/pgbouncer";
import { renderVipCheck } from "../../configs/keepalived";
import { configProblems, stackFileSettings, withKey } from "../fixtures/settings";

const pooled = (raw: Record<string, unknown> = {}) => ({
  ...stackFileSettings("dev"),
  pgbouncer: { enabled: true },
  ...raw,
});
const dev = planCluster(resolveSettings(pooled(), withKey));
function pools(plan: ReturnType<typeof planCluster>) {
  if (!plan.pgbouncer) throw new Error("no pools in the plan");
  return plan.pgbouncer;
}
const spec = pools(dev);

describe("the pools' plan", () => {
  it("is off unless the stack turns it on: HAProxy keeps the clients' ports", () => {
    const { pgbouncer: _on, ...unpooled } = stackFileSettings("dev") as Record<string, unknown>;
    expect(_on).toEqual({ enabled: true, maxPreparedStatements: 100 });
    const plain = planCluster(resolveSettings(unpooled, withKey));
    expect(plain.pgbouncer).toBeUndefined();
    expect(plain.routers[0].listeners).toEqual({ readWrite: 5000, readOnly: 5001 });
    expect(plain.client.directReadWritePort).toBeUndefined();
  });

  it("puts a read-write and a read-only pool on the clients' ports, served by HAProxy's direct ports", () => {
    expect(spec.pools).toEqual([
      { name: "rw", listenPort: 5000, serverPort: 5002 },
      { name: "ro", listenPort: 5001, serverPort: 5003 },
    ]);
    expect(dev.routers.map((r) => r.listeners)).toEqual([
      { readWrite: 5002, readOnly: 5003 },
      { readWrite: 5002, readOnly: 5003 },
    ]);
    expect(spec.poolMode).toBe("transaction");
  });

  it("installs PgBouncer and psql on the routers only", () => {
    const pkgs = (host: string) => dev.hostPackages.find((h) => h.host.name === host)?.packages.debian ?? [];
    expect(pkgs("pg1")).toEqual(expect.arrayContaining(["pgbouncer", "postgresql-client"]));
    expect(pkgs("pg3")).not.toContain("pgbouncer");
  });
});

describe("pgbouncer.ini", () => {
  const rw = renderPgbouncerConfig(spec, spec.pools[0], "pg1");
  const settings = pgbouncerSettings(spec, spec.pools[0]);

  it("sends every database to HAProxy's direct listener on the same host", () => {
    expect(rw).toContain("[databases]\n* = host=127.0.0.1 port=5002\n");
    expect(rw).toContain("listen_port = 5000\n");
  });

  it("looks roles up through the auth function, SCRAM only, with no user list", () => {
    expect(settings.pgbouncer).toMatchObject({
      auth_type: "scram-sha-256",
      auth_user: "pgbouncer",
      auth_query: "SELECT username, password FROM pgbouncer.user_lookup($1)",
    });
  });

  it("requires TLS from clients and verifies PostgreSQL's certificate", () => {
    expect(settings.pgbouncer).toMatchObject({
      client_tls_sslmode: "require",
      server_tls_sslmode: "verify-full",
      server_tls_ca_file: "/etc/patroni-stack/tls/ca.crt",
      client_tls_key_file: "/etc/patroni-stack/tls/pgbouncer.key",
    });
    const plain = planCluster(resolveSettings(pooled({ tls: { enabled: false } }), withKey));
    expect(renderPgbouncerConfig(pools(plain), pools(plain).pools[0], "pg1")).not.toMatch(/tls/);
  });

  it("retries a failed server login within a second (a switchover), not after 15 s", () => {
    expect(settings.pgbouncer.server_login_retry).toBe(1);
  });

  it("keeps each client's application_name as the client set it, so that a transaction pool sends no SET before its transactions", () => {
    expect(settings.pgbouncer.application_name_add_host).toBe(0);
  });

  it("sets max_prepared_statements only when the stack does (PgBouncer 1.21+; older ones do not know it)", () => {
    expect(settings.pgbouncer).not.toHaveProperty("max_prepared_statements");
    const tracked = planCluster(
      resolveSettings(pooled({ pgbouncer: { enabled: true, maxPreparedStatements: 50 } }), withKey),
    );
    const ini = renderPgbouncerConfig(pools(tracked), pools(tracked).pools[0], "pg1");
    expect(ini).toMatch(/^max_prepared_statements = 50$/m);
    expect(comparablePoolSettings(pools(tracked), pools(tracked).pools[0]).max_prepared_statements).toBe("50");
    expect(configProblems(pooled({ pgbouncer: { enabled: true, maxPreparedStatements: -1 } })).join("\n")).toMatch(
      /pgbouncer\.maxPreparedStatements/,
    );
  });

  it("refuses a value that would end its line", () => {
    expect(() => renderPgbouncerIni("t", { pgbouncer: { listen_addr: "*\nadmin_users = x" } })).toThrow(
      /bad PgBouncer/,
    );
  });
});

describe("the pools' drift", () => {
  const declared = comparablePoolSettings(spec, spec.pools[0]);

  it("compares the settings that shape the pool, and no path or secret", () => {
    expect(declared).toMatchObject({ listen_port: "5000", pool_mode: "transaction", default_pool_size: "20" });
    expect(Object.keys(declared).filter((k) => /file|password|query/.test(k) && k !== "query_wait_timeout")).toEqual(
      [],
    );
  });

  it("finds nothing when the running pool holds what is declared (keys it does not report count as declared)", () => {
    const running = { ...declared, listen_addr: "*", max_prepared_statements: "200" };
    delete (running as Record<string, string>).client_tls_sslmode;
    const live = comparableLivePool(running, declared);
    expect(live).toEqual(declared);
    expect(poolDifferences(live, declared)).toEqual([]);
  });

  it("names each setting changed behind the stack's back, live and declared", () => {
    const live = comparableLivePool({ ...declared, default_pool_size: "5", pool_mode: "session" }, declared);
    expect(poolDifferences(live, declared)).toEqual([
      "pool_mode: live session, declared transaction",
      "default_pool_size: live 5, declared 20",
    ]);
  });
});

describe("the auth function and file", () => {
  it("reads pg_shadow as its owner, for login roles, callable by the auth user only, with no password in it", () => {
    const sql = poolAuthSql();
    expect(sql).toContain("SECURITY DEFINER SET search_path = pg_catalog");
    expect(sql).toContain("r.rolcanlogin");
    expect(sql).toContain("REVOKE ALL ON FUNCTION pgbouncer.user_lookup(text) FROM PUBLIC;");
    expect(sql).toContain('GRANT EXECUTE ON FUNCTION pgbouncer.user_lookup(text) TO "pgbouncer";');
    expect(sql).not.toMatch(/password\s*'|PASSWORD '/i);
  });

  it("quotes the auth file's fields PgBouncer's way", () => {
    expect(renderPoolAuthFile("pgbouncer", 'a"b')).toBe('"pgbouncer" "a""b"\n');
  });

  it.each(["plainPassword1", 'with "quotes" and $x'])(
    "gives the admin tool's psql the auth file's password (%s) in its environment only",
    (password) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "patroni-stack-pool-tool-"));
      try {
        fs.writeFileSync(path.join(dir, "users.txt"), renderPoolAuthFile(POOL_AUTH_USER, password));
        fs.writeFileSync(path.join(dir, "psql"), '#!/bin/bash\nprintf "%s|%s" "$PGPASSWORD" "$*"\n', { mode: 0o755 });
        const tool = renderPoolTool(spec).replace(/^auth_file=.*$/m, `auth_file=${path.join(dir, "users.txt")}`);
        const r = spawnSync("bash", ["-c", tool, "patroni-stack-pool", "rw", "-c", "SHOW POOLS"], {
          encoding: "utf8",
          env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
        });
        expect(r.status).toBe(0);
        const [seen, argv] = r.stdout.split("|");
        expect(seen).toBe(password);
        expect(argv).not.toContain(password);
        expect(argv).toContain("-c SHOW POOLS");
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it("runs each pool as postgres, reloaded by SIGHUP", () => {
    const unit = renderPoolUnit();
    expect(unit).toContain("ExecStart=/usr/sbin/pgbouncer /etc/pgbouncer/patroni-stack-%i.ini");
    expect(unit).toContain("User=postgres");
    expect(unit).toContain("ExecReload=/bin/kill -HUP $MAINPID");
  });

  it("keeps the virtual IP only where HAProxy answers and both pools listen", () => {
    const check = renderVipCheck(7000, true, [5000, 5001]);
    expect(check).not.toContain("exec ");
    expect(check).toContain("ss -Hltn 'sport = :5000' | grep -q .");
    expect(check).toContain("ss -Hltn 'sport = :5001' | grep -q .");
  });

  it("does not log in to a pool to check it (a paused pool holds logins)", () => {
    expect(renderVipCheck(7000, true, [5000, 5001])).not.toMatch(/pg_isready|psql/);
  });
});

describe("the pools' limits", () => {
  const problems = (raw: Record<string, unknown>) => configProblems(pooled(raw)).map((p) => p.split(": ")[0]);

  it("accepts the defaults", () => {
    expect(problems({})).toEqual([]);
  });

  it("refuses server connections beyond max_connections, naming the key", () => {
    expect(problems({ pgbouncer: { enabled: true, maxDbConnections: 60 } })).toContain(
      "patroni-stack:pgbouncer.maxDbConnections",
    );
    expect(
      problems({
        pgbouncer: { enabled: true, maxDbConnections: 60 },
        postgresql: { version: 17, parameters: { max_connections: 200 } },
      }),
    ).toEqual([]);
  });

  it("refuses a pool larger than its database's cap, and HAProxy limits below the pools'", () => {
    expect(problems({ pgbouncer: { enabled: true, poolSize: 50 } })).toContain("patroni-stack:pgbouncer.poolSize");
    expect(problems({ haproxy: { vip: { address: "10.213.7.100" }, serverMaxconn: 10 } })).toContain(
      "patroni-stack:haproxy.serverMaxconn",
    );
    expect(problems({ haproxy: { vip: { address: "10.213.7.100" }, maxconn: 50 } })).toContain(
      "patroni-stack:haproxy.maxconn",
    );
  });

  it("refuses a direct port that another service on the router uses", () => {
    expect(problems({ haproxy: { vip: { address: "10.213.7.100" }, directReadWritePort: 5432 } })).toContain(
      "patroni-stack:haproxy.directReadWritePort",
    );
  });
});
