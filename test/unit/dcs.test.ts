/**
 * Day-2 changes: the rendered dynamic configuration (what `preview` shows) and the apply step,
 * run for real in bash against a stand-in for the members' REST APIs on loopback.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { RawSettings, resolveSettings } from "../../settings";
import { planDcs } from "../../plan";
import { renderDynamicConfig, renderDynamicConfigFile } from "../../configs/dcs";
import { dcsPatch, stablePatchText } from "../../configs/dcsDiff";
import { renderScript } from "../../configs/scripts";
import { poolHoldVars } from "../../configs/pgbouncer";
import { threeNodeSettings, withKey } from "../fixtures/settings";

const settingsWith = (postgresql: RawSettings["postgresql"]) => {
  const raw = threeNodeSettings();
  raw.postgresql = postgresql;
  return planDcs(resolveSettings(raw, withKey));
};

describe("the dynamic configuration file", () => {
  const s = settingsWith({ parameters: { work_mem: "8MB", max_connections: 200 } });
  const text = renderDynamicConfigFile(s);

  it("holds the same values as bootstrap.dcs", () => {
    expect(parse(text)).toEqual(renderDynamicConfig(s));
  });

  it("leaves which parameter needs a restart to the server (no fixed list)", () => {
    expect(text).toMatch(/^ {4}max_connections: 200$/m);
    expect(text).toMatch(/^ {4}work_mem: 8MB$/m);
    expect(text).not.toMatch(/restart$/m);
  });

  it("names what the restart policy will do", () => {
    expect(text).toMatch(/^# Restart policy rolling: .* replicas first, then the leader/m);
    expect(renderDynamicConfigFile(settingsWith({ restartPolicy: "manual" }))).toMatch(
      /^# Restart policy manual: members pending a restart are reported, not restarted/m,
    );
  });
});

describe("the apply step (PATCH /config, then restarts)", () => {
  let dir: string;
  let server: ChildProcess;
  let port: number;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "patroni-stack-dcs-"));
    fs.writeFileSync(
      path.join(dir, "patroni.yml"),
      "restapi:\n  authentication:\n    username: patroni\n    password: api-secret\n",
    );
    fs.writeFileSync(path.join(dir, "state.json"), "{}");
    // psql's stand-in: one JSON line per statement (where, what, whether a password came in the
    // environment, and its whole command line).
    fs.mkdirSync(path.join(dir, "bin"));
    fs.writeFileSync(
      path.join(dir, "bin", "psql"),
      [
        "#!/usr/bin/env python3",
        "import json, os, re, sys",
        "a = sys.argv[1:]",
        "conn, sql = a[a.index('-d') + 1], a[a.index('-c') + 1]",
        "where = dict(re.findall(r'(\\w+)=(\\S+)', conn))",
        "line = {'method': 'SQL', 'member': where['host'] + ':' + where['port'], 'path': where['dbname'], 'body': sql,",
        "        'auth': os.environ.get('PGPASSWORD') == 'pool-secret', 'argv': ' '.join(a), 'tls': where.get('sslmode')}",
        "open(os.environ['PSQL_LOG'], 'a').write(json.dumps(line) + '\\n')",
        "if sql == 'SELECT pg_is_in_recovery()': print('f')",
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    server = spawn("/usr/bin/python3", [
      path.join(__dirname, "..", "fixtures", "fake-patroni.py"),
      path.join(dir, "state.json"),
      path.join(dir, "requests.log"),
    ]);
    port = await new Promise<number>((resolve, reject) => {
      server.stdout?.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
      server.once("error", reject);
    });
  });
  afterAll(() => {
    server.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  let live: Record<string, unknown> = {};
  /** Give the stand-in a running cluster whose configuration is `config`. */
  function cluster(config: Record<string, unknown>) {
    live = config;
    const members = [
      { name: "pg1", role: "leader" },
      { name: "pg2", role: "replica" },
      { name: "pg3", role: "replica" },
    ];
    fs.writeFileSync(path.join(dir, "state.json"), JSON.stringify({ config, members }));
    fs.rmSync(path.join(dir, "requests.log"), { force: true });
  }

  /**
   * The step as an up runs it: with the patch the program planned from the live configuration
   * (and, with `pools`, the read-write pools of two routers; `psql` is a stand-in that logs each
   * statement to the same request log and answers `f` to pg_is_in_recovery()).
   */
  function apply(postgresql: RawSettings["postgresql"], pools = false) {
    const s = settingsWith(postgresql);
    const script = renderScript("patroni-dcs", {
      MEMBERS: ["pg1", "pg2", "pg3"].map((m) => `${m}=http://127.0.0.1:${port}/${m}`),
      CONFIG_PATH: path.join(dir, "patroni.yml"),
      RESTART_POLICY: s.restartPolicy,
      LOOP_WAIT: 0,
      TIMEOUT: 10,
      POOLS: pools ? ["127.0.0.11:5000:5002", "127.0.0.12:5000:5002"] : [],
      POOL_USER: "pgbouncer",
      POOL_SSLMODE: "verify-full",
      CA_PATH: "/etc/patroni-stack/tls/ca.crt",
    });
    const planned = {
      changes: ["a change as the preview shows it"],
      patch: dcsPatch(live, renderDynamicConfig(s)),
    };
    const plan = pools ? JSON.stringify({ ...planned, poolPassword: "pool-secret" }) : stablePatchText(planned);
    return run(script, plan);
  }

  /** A rendered script run in bash with `input` on stdin: its status, output and the requests it made. */
  function run(script: string, input: string) {
    // psql's stand-in first on the script's own PATH.
    const withStub = script.replace(
      /^export LC_ALL=C PATH=.*$/m,
      `export LC_ALL=C PATH=${path.join(dir, "bin")}:$PATH`,
    );
    const r = spawnSync("bash", ["-c", withStub], {
      encoding: "utf8",
      input,
      env: {
        ...process.env,
        PSQL_LOG: path.join(dir, "requests.log"),
      },
    });
    const log = path.join(dir, "requests.log");
    const requests = fs.existsSync(log)
      ? fs
          .readFileSync(log, "utf8")
          .trim()
          .split("\n")
          .map(
            (l) =>
              JSON.parse(l) as {
                method: string;
                member: string;
                path?: string;
                body?: unknown;
                auth: boolean;
                argv?: string;
                tls?: string;
              },
          )
      : [];
    return { status: r.status, output: r.stdout + r.stderr, requests };
  }

  const current = (parameters: Record<string, unknown>) => ({
    ...renderDynamicConfig(settingsWith({})),
    postgresql: { use_pg_rewind: true, use_slots: true, parameters },
  });
  const defaults = { max_wal_size: "1GB", max_wal_senders: 8, password_encryption: "scram-sha-256" };

  it("changes nothing when the cluster already has the configuration", () => {
    // Patroni spells numbers as it likes.
    cluster(current({ ...defaults, max_wal_senders: "8" }));
    const r = apply({});
    expect(r.status).toBe(0);
    expect(r.output).toMatch(/the dynamic configuration is up to date/);
    expect(r.requests).toEqual([]);
  });

  it("patches only what differs, then restarts replicas first and the leader last", () => {
    cluster(current(defaults));
    const r = apply({ parameters: { work_mem: "8MB", max_connections: 200 } });
    expect(r.status).toBe(0);
    expect(r.output).toMatch(/dynamic configuration patched through/);
    expect(r.output).toMatch(/\[patroni-stack\] change: a change as the preview shows it/);
    expect(r.requests[0]).toEqual({
      method: "PATCH",
      member: "pg1",
      path: "config",
      auth: true,
      body: { postgresql: { parameters: { max_connections: 200, work_mem: "8MB" } } },
    });
    expect(r.requests.slice(1).map((q) => `${q.method} ${q.member}`)).toEqual(["POST pg2", "POST pg3", "POST pg1"]);
    expect(r.output).toMatch(/rolling restart done/);
    expect(r.output).not.toContain("api-secret");
  });

  it("holds the read-write pools' clients around the leader's restart only (PAUSE, then RECONNECT and RESUME)", () => {
    cluster(current(defaults));
    const r = apply({ parameters: { max_connections: 200 } }, true);
    expect(r.status).toBe(0);
    const steps = r.requests.map((q) =>
      q.method === "SQL" ? `${q.member}/${q.path} ${String(q.body)}` : `${q.method} ${q.member}`,
    );
    const pause = ["127.0.0.11:5000/pgbouncer PAUSE", "127.0.0.12:5000/pgbouncer PAUSE"];
    const release = (router: string) => [
      `${router}:5002/postgres SELECT pg_is_in_recovery()`,
      `${router}:5000/pgbouncer RECONNECT`,
      `${router}:5000/pgbouncer RESUME`,
    ];
    // The replicas restart unheld; the leader between the PAUSEs and the RESUMEs, which wait
    // until each router's HAProxy sends writes to a primary again.
    expect(steps).toEqual([
      "PATCH pg1",
      "POST pg2",
      "POST pg3",
      ...pause,
      "POST pg1",
      ...release("127.0.0.11"),
      ...release("127.0.0.12"),
    ]);
    const sql = r.requests.filter((q) => q.method === "SQL");
    // As the auth user, over verified TLS, the password in the environment only.
    for (const q of sql) expect(q).toMatchObject({ auth: true, tls: "verify-full" });
    expect(sql.map((q) => String(q.argv)).join("\n")).not.toContain("pool-secret");
    expect(r.output).not.toContain("pool-secret");
    expect(r.output).toMatch(/holding the clients of the read-write pool on 127\.0\.0\.11:5000/);
  });

  it("resets every parameter the config does not declare: one it set before, one set by hand", () => {
    cluster(current({ ...defaults, work_mem: "8MB", Log_Min_Duration_Statement: 9999 }));
    const r = apply({});
    expect(r.status).toBe(0);
    expect(r.requests).toEqual([
      expect.objectContaining({
        method: "PATCH",
        body: { postgresql: { parameters: { work_mem: null, Log_Min_Duration_Statement: null } } },
      }),
    ]);
  });

  it("only reports members pending a restart when the policy is manual", () => {
    cluster(current(defaults));
    const r = apply({ parameters: { shared_buffers: "256MB" }, restartPolicy: "manual" });
    expect(r.status).toBe(0);
    expect(r.requests.map((q) => q.method)).toEqual(["PATCH"]);
    expect(r.output).toMatch(/waiting for a restart \(restartPolicy manual\): pg1 pg2 pg3/);
  });

  describe("the hand-back before the routers drop a member", () => {
    type FakeState = { members: { name: string; role: string }[] };
    /** The step as an up that keeps pg1..pg3 runs it, with pg1 the declared leader. */
    const handback = (primary: string, pools = false, slow = false) => {
      const members = ["pg1", "pg2", "pg3", "pg4"].map((name) => ({
        name,
        role: name === primary ? "leader" : "replica",
      }));
      fs.writeFileSync(path.join(dir, "state.json"), JSON.stringify({ config: {}, members, slow }));
      fs.rmSync(path.join(dir, "requests.log"), { force: true });
      const script = renderScript("patroni-handback", {
        MEMBERS: ["pg1", "pg2", "pg3"].map((m) => `${m}=http://127.0.0.1:${port}/${m}`),
        LEADER: "pg1",
        CONFIG_PATH: path.join(dir, "patroni.yml"),
        TIMEOUT: 10,
        ...poolHoldVars(
          pools ? ["127.0.0.11", "127.0.0.12"].map((address) => ({ address, poolPort: 5000, haproxyPort: 5002 })) : [],
          true,
        ),
      });
      const r = run(script, pools ? JSON.stringify({ poolPassword: "pool-secret" }) : "");
      const roles = (JSON.parse(fs.readFileSync(path.join(dir, "state.json"), "utf8")) as FakeState).members;
      return { ...r, leader: roles.find((m) => m.role === "leader")?.name };
    };

    it("does nothing while a member the stack keeps is the primary", () => {
      const r = handback("pg2");
      expect(r.status).toBe(0);
      expect(r.output).toMatch(/the primary pg2 stays a member/);
      expect(r.requests).toEqual([]);
      expect(r.leader).toBe("pg2");
    });

    it("switches a removed member's primary role over to the declared leader, the pools held around it", () => {
      const r = handback("pg4", true);
      expect(r.status).toBe(0);
      expect(r.leader).toBe("pg1");
      const steps = r.requests.map((q) =>
        q.method === "SQL" ? `${q.member}/${q.path} ${String(q.body)}` : `${q.method} ${q.member}/${q.path}`,
      );
      expect(steps).toEqual([
        "127.0.0.11:5000/pgbouncer PAUSE",
        "127.0.0.12:5000/pgbouncer PAUSE",
        "POST pg1/switchover",
        ...["127.0.0.11", "127.0.0.12"].flatMap((router) => [
          `${router}:5002/postgres SELECT pg_is_in_recovery()`,
          `${router}:5000/pgbouncer RECONNECT`,
          `${router}:5000/pgbouncer RESUME`,
        ]),
      ]);
      expect(r.requests.find((q) => q.method === "POST")).toMatchObject({
        auth: true,
        body: { leader: "pg4", candidate: "pg1" },
      });
      expect(r.output).toMatch(/pg4 holds the primary role and is being removed: switching over to pg1 first/);
      expect(r.output).not.toContain("pool-secret");
      expect(r.output).not.toContain("api-secret");
    });

    it("waits for the new primary when the member it asked could not tell how the switchover ended", () => {
      const r = handback("pg4", false, true);
      expect(r.status).toBe(0);
      expect(r.output).toMatch(/did not see the switchover end in time; waiting for pg1 to take over/);
      expect(r.output).toMatch(/pg1 is the primary; pg4 can stop/);
    });

    it("switches over without pools to hold on a stack without PgBouncer", () => {
      const r = handback("pg4");
      expect(r.status).toBe(0);
      expect(r.leader).toBe("pg1");
      expect(r.requests.map((q) => `${q.method} ${q.member}/${q.path}`)).toEqual(["POST pg1/switchover"]);
    });
  });

  it("fails with the member's answer when Patroni refuses the change", () => {
    fs.writeFileSync(
      path.join(dir, "patroni.yml"),
      "restapi:\n  authentication:\n    username: patroni\n    password: wrong\n",
    );
    try {
      cluster(current(defaults));
      const r = apply({ parameters: { work_mem: "8MB" } });
      expect(r.status).not.toBe(0);
      expect(r.output).toMatch(/PATCH http:\/\/127\.0\.0\.1:\d+\/pg1\/config answered 401/);
      expect(r.output).not.toContain("wrong");
    } finally {
      fs.writeFileSync(
        path.join(dir, "patroni.yml"),
        "restapi:\n  authentication:\n    username: patroni\n    password: api-secret\n",
      );
    }
  });
});
