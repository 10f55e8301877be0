/**
 * End to end, for the default (dev) topology and the field guide's (seed) topology, on local
 * containers: up from nothing, the cluster works through HAProxy, a second up changes nothing,
 * destroy runs in reverse start order and leaves nothing behind, and an interrupted up followed by
 * another up converges; on dev, the chaos smoke (./chaosSmoke.ts) then runs on that cluster.
 * Timings go to bench/results/e2e.json.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import { ETCD_CONFIG_PATH } from "../../configs/etcd";
import { HAPROXY_CONFIG_PATH, READ_ONLY_LISTENER, READ_WRITE_LISTENER, serverStates } from "../../configs/haproxy";
import { LOG_PATH, SPOOL_PATH } from "../../configs/pgbackrest";
import { POOL_TOOL_PATH } from "../../configs/pgbouncer";
import { KEEPALIVED_CONFIG_PATH } from "../../configs/keepalived";
import { PATRONI_CONFIG_PATH } from "../../configs/patroni";
import { CA_PATH, tlsFiles } from "../../configs/tls";
import { clientFiles } from "../../cli/connection";
import { Client } from "pg";
import { Endpoint, failures, LoadClient, pgSettings, queryOnce, startWriting } from "../../bench/chaos/client";
import { endpoints, requestTimeoutMs } from "../../bench/chaos/run";
import {
  ctl as ctlRun,
  ctlAsync,
  ctlOk,
  deployPhases,
  leftovers,
  makeStack,
  marksAroundTarget,
  onHost,
  oneMemberWithBackup,
  patronictlList,
  psql,
  recordBenchmark,
  removeStack,
  runStack,
  ENGINE,
  RunResult,
  editConfig,
  setConfig,
  readConfig,
  sh,
  stateResources,
  stackOutputs,
  switchover,
  TestStack,
} from "./stack";
import { expectChaosSmoke } from "./chaosSmoke";

jest.setTimeout(30 * 60 * 1000);

/** The names of the resources an up changed, sorted. */
const changedSteps = (r: RunResult) =>
  r.events
    .filter((e) => e.op !== "same")
    .map((e) => e.name)
    .sort();

const stopOrder = (r: RunResult) =>
  r.events.filter((e) => e.op === "delete" && /-stop-run$/.test(e.name)).map((e) => e.name.replace(/-stop-run$/, ""));

/** One leader (the configured one), every replica streaming on the leader's timeline. */
function clusterHealth(stack: TestStack) {
  const members = patronictlList(stack, stack.leader);
  const leaders = members.filter((m) => m.Role === "Leader");
  const streaming = onHost(
    stack,
    stack.leader,
    `runuser -u postgres -- psql -X -At -h /var/run/postgresql -p ${stack.pgPort} -c "select count(*) from pg_stat_replication where state = 'streaming'"`,
  );
  return {
    leaders: leaders.map((m) => m.Member),
    replicas: members.filter((m) => m.Role === "Replica").length,
    timelines: [...new Set(members.map((m) => m.TL))],
    streaming: Number(streaming),
  };
}

/** A run that must succeed; on failure the message carries the end of its output. */
function expectSucceeded(r: RunResult) {
  if (r.code !== 0) {
    throw new Error(`${ENGINE}: exited with ${r.code ?? r.signal}; its output ended with:\n${r.output.slice(-3000)}`);
  }
}

async function expectHealthy(stack: TestStack) {
  const expected = {
    leaders: [stack.leader],
    replicas: stack.hostsRunningPatroni - 1,
    timelines: [1],
    streaming: stack.hostsRunningPatroni - 1,
  };
  // Members publish their timeline to etcd once per loop_wait: give them a few loops.
  let health = clusterHealth(stack);
  for (let i = 0; i < 30 && JSON.stringify(health) !== JSON.stringify(expected); i++) {
    await new Promise((r) => setTimeout(r, 1000));
    health = clusterHealth(stack);
  }
  expect(health).toEqual(expected);
}

function expectReadYourWrites(stack: TestStack) {
  const token = `e2e-${Date.now()}`;
  psql(stack, stack.rwPort, `create table if not exists e2e(v text); insert into e2e values ('${token}')`);
  expect(psql(stack, stack.rwPort, "select pg_is_in_recovery()")).toBe("f");
  // Replication is asynchronous: a replica may not have replayed the write (or the table) yet.
  let seen = "";
  const deadline = Date.now() + 10_000;
  while (seen !== `t|${token}` && Date.now() < deadline) {
    try {
      seen = psql(stack, stack.roPort, `select pg_is_in_recovery(), (select v from e2e where v = '${token}')`);
    } catch (e) {
      seen = (e as Error).message;
    }
    if (seen !== `t|${token}`) spawnSync("sleep", ["0.2"]);
  }
  expect(seen).toBe(`t|${token}`);
}

/**
 * The topologies to run (E2E_TOPOLOGIES, comma-separated): by default the default stack (trixie,
 * packages in the image) and the field guide's (bookworm, installed over SSH). The bookworm copy
 * of the default topology runs only when asked for; the others are reported as skipped.
 */
const TOPOLOGIES: [string, number][] = [
  ["dev", 1],
  ["seed", 2],
  ["bookworm", 3],
];
/** A client's failed requests, one per line after the summary (nothing when none failed). */
const failedLines = (client: LoadClient) =>
  failures(client.samples)
    .map((l) => `\n  ${l}`)
    .join("");

const selected = (process.env.E2E_TOPOLOGIES ?? "dev,seed").split(",").map((t) => t.trim());

describe.each(TOPOLOGIES)("the %s topology", (source, slot) => {
  if (!selected.includes(source)) {
    it.skip(`runs only with E2E_TOPOLOGIES including ${source}`, () => undefined);
    return;
  }
  /** A case for some topologies only: skipped, visibly, on the others. */
  const itOn = (sources: string[], name: string, fn: () => Promise<void>) =>
    (sources.includes(source) ? it : it.skip)(name, fn);
  let stack: TestStack;
  const timings: Record<string, number> = {};

  beforeAll(() => {
    stack = makeStack(source, slot);
  });
  afterAll(() => {
    recordBenchmark(source, timings);
    removeStack(stack);
  });

  // On dev, the deploy from nothing is an up interrupted by SIGKILL (the harder case: the engine
  // gets no chance to finish or record anything), well before its end, and then an up that
  // converges: one deploy serves both checks. Seed's uninterrupted deploy is timed.
  const interruption: { signal: NodeJS.Signals; afterSeconds: number } | undefined =
    source === "seed" ? undefined : { signal: "SIGKILL", afterSeconds: source === "dev" ? 20 : 15 };
  const deployTitle = interruption
    ? `comes up from nothing, through an up interrupted by ${interruption.signal} after ${interruption.afterSeconds} s, with one leader and streaming replicas`
    : "comes up from nothing with one leader and streaming replicas";
  it(deployTitle, async () => {
    expect(stateResources(stack)).toBe(0);
    if (interruption) {
      const cut = await runStack(stack, "up", interruption);
      // The signal came before the end of the up.
      expect({ code: cut.code, signal: cut.signal }).not.toEqual({ code: 0, signal: null });
    }
    const r = await runStack(stack, "up");
    expectSucceeded(r);
    if (interruption) {
      timings.converge_after_interrupted_up_s = r.seconds;
    } else {
      timings.deploy_s = r.seconds;
      Object.assign(timings, deployPhases(r.events, stack.leader));
    }
    await expectHealthy(stack);
  });

  it("routes writes to the primary and reads to a replica through HAProxy", () => {
    expectReadYourWrites(stack);
  });

  // the seed topology has one router and no VIP
  itOn(
    ["dev", "bookworm"],
    "serves clients on the virtual IP, and moves it when its holder's HAProxy stops",
    async () => {
      const vip = stack.vip;
      const ports = stack.routerPorts;
      expect(psql(stack, ports.readWrite, "select pg_is_in_recovery()", vip)).toBe("f");
      expect(psql(stack, ports.readOnly, "select pg_is_in_recovery()", vip)).toBe("t");
      const holders = () =>
        stack.routers.filter((r) => onHost(stack, r, `ip -o -4 addr show | grep -c ' ${vip}/' || true`) === "1");
      const before = holders();
      expect(before).toHaveLength(1);
      onHost(stack, before[0], "systemctl stop haproxy");
      try {
        let now = holders();
        for (let i = 0; i < 60 && (now.length !== 1 || now[0] === before[0]); i++) {
          await new Promise((r) => setTimeout(r, 500));
          now = holders();
        }
        expect(now).toHaveLength(1);
        expect(now[0]).not.toBe(before[0]);
        expect(psql(stack, ports.readWrite, "select pg_is_in_recovery()", vip)).toBe("f");
      } finally {
        // With nopreempt the address stays on its new holder once this HAProxy is back.
        onHost(stack, before[0], "systemctl start haproxy");
        // The tests after this one connect through the first router's ports: wait until its
        // restarted HAProxy has found the primary again (its first checks take a moment).
        for (let i = 0; i < 60; i++) {
          try {
            psql(stack, stack.rwPort, "select 1");
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      }
    },
  );

  it("runs with the settings from the stack config", () => {
    expect(psql(stack, stack.rwPort, "show port")).toBe(String(stack.pgPort));
    expect(psql(stack, stack.rwPort, "select current_setting('server_version_num')::int / 10000")).toBe(
      String(stack.pgVersion),
    );
    expect(onHost(stack, stack.leader, ". /etc/os-release && echo $VERSION_CODENAME")).toBe(stack.suite);
    expect(psql(stack, stack.rwPort, "show max_wal_senders")).toBe("8");
    expect(psql(stack, stack.rwPort, "show password_encryption")).toBe("scram-sha-256");
    expect(psql(stack, stack.rwPort, "show data_checksums")).toBe("on");
    expect(
      psql(stack, stack.rwPort, "select rolcreaterole and rolcreatedb from pg_roles where rolname = 'admin'"),
    ).toBe("t");
    const hba = onHost(stack, stack.leader, `cat ${stack.dataDir}/pg_hba.conf`);
    expect(hba).not.toMatch(/\b(md5|trust)\b/);
    expect(onHost(stack, stack.leader, `stat -c '%a %U' ${PATRONI_CONFIG_PATH}`)).toBe("600 postgres");
  });

  it("changes nothing on a second up", async () => {
    const r = await runStack(stack, "up");
    expectSucceeded(r);
    expect(r.events.filter((e) => e.op !== "same")).toEqual([]);
    timings.noop_s = r.seconds;
  });

  // one topology is enough (the seed stack runs the same code on the guide profile)
  itOn(["dev", "bookworm"], "changes nothing on an up after a refresh", async () => {
    expectSucceeded(await runStack(stack, "refresh"));
    const r = await runStack(stack, "up");
    expectSucceeded(r);
    expect(r.events.filter((e) => e.op !== "same")).toEqual([]);
  });

  // one topology is enough (the seed stack runs the same code on the guide profile)
  itOn(["dev", "bookworm"], "previews a config change, then applies only the steps it affects", async () => {
    editConfig(stack, "haproxy", { maxconn: 321 });
    const preview = await runStack(stack, "preview");
    expect(preview.code).toBe(0);
    const planned = preview.events.filter((e) => e.op !== "same").map((e) => `${e.op} ${e.name}`);
    // Every router's configure step, nothing else.
    const configure = stack.routers
      .flatMap((r) => [`postgres-haproxy-${r}-configure-run`, `postgres-haproxy-${r}-configure-upload`])
      .sort();
    expect(planned.sort()).toEqual(configure.map((n) => `update ${n}`));
    // The changed lines, under either engine (Pulumi hides uploaded contents; the command shows them).
    expect(preview.output).toMatch(/-\s+(#\s+)?maxconn 200\n.*\+\s+(#\s+)?maxconn 321/s);
    // As `make up` shows it: a line per step as it starts and ends, a summary, and the log's path.
    const r = await runStack(stack, "up", undefined, ENGINE, false);
    expectSucceeded(r);
    expect(changedSteps(r)).toEqual(configure);
    for (const step of configure) {
      expect(r.output).toMatch(new RegExp(`\\] ~ ${step} \\(\\w+\\) update…\n`));
      expect(r.output).toMatch(new RegExp(`\\] ✓ ${step} \\(\\w+\\) updated in \\d+\\.\\d s\n`));
    }
    expect(r.output).toMatch(new RegExp(`\\bup: ${configure.length} updated, \\d+ unchanged in \\d+\\.\\d s\n`));
    expect(r.output).not.toContain("saving server states and reloading HAProxy");
    const log = /up: full output in (\S+\.log)/.exec(r.output)?.[1] ?? "";
    expect(fs.readFileSync(log, "utf8")).toContain("saving server states and reloading HAProxy");
    for (const router of stack.routers) {
      expect(onHost(stack, router, "grep -m1 maxconn /etc/haproxy/haproxy.cfg")).toBe("maxconn 321");
    }
    expectReadYourWrites(stack);
  });

  // TLS on every hop, verified against the CA the stack exports (written next to its pgpass file).
  const caFile = () => clientFiles(stack.dir, stack.name).ca;
  /** `openssl s_client` from this machine with the exported CA: its exit status and output. */
  const handshake = (address: string, port: number, starttls?: string) => {
    const r = spawnSync(
      "openssl",
      [
        "s_client",
        "-connect",
        `${address}:${port}`,
        "-CAfile",
        caFile(),
        "-verify_return_error",
        "-verify_ip",
        address,
        ...(starttls ? ["-starttls", starttls] : []),
      ],
      { input: "", encoding: "utf8", timeout: 15_000 },
    );
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };
  /** The serial of the certificate a server presents (verified), as `openssl x509 -serial` prints it. */
  const servedSerial = (address: string, port: number, starttls?: string) => {
    const r = handshake(address, port, starttls);
    expect({ at: `${address}:${port}`, status: r.status }).toEqual({ at: `${address}:${port}`, status: 0 });
    return sh("sh", ["-c", 'printf "%s" "$PEM" | openssl x509 -noout -serial'], { PEM: r.out }).replace("serial=", "");
  };
  /** etcd asks for a client certificate: its handshake runs on a member with the host's own. */
  const etcdSerial = (host: string, port: number) =>
    onHost(
      stack,
      host,
      `echo | openssl s_client -connect ${stack.addresses[host]}:${port} -CAfile ${CA_PATH} -verify_return_error ` +
        `-cert ${tlsFiles("client").certificate} -key ${tlsFiles("client").key} 2>/dev/null | openssl x509 -noout -serial`,
    ).replace("serial=", "");
  const plainStatus = (url: string, options: string[] = []) =>
    spawnSync("curl", ["-s", "-m", "3", ...options, "-o", "/dev/null", "-w", "%{http_code}", url], {
      encoding: "utf8",
    }).stdout;
  /** Every TLS endpoint of the stack with the serial it serves now. */
  const servedSerials = () => ({
    ...Object.fromEntries(
      stack.etcdHosts.flatMap((h) => [
        [`${h} etcd client`, etcdSerial(h, 2379)],
        [`${h} etcd peer`, etcdSerial(h, 2380)],
      ]),
    ),
    ...Object.fromEntries(
      stack.patroniHosts.flatMap((h) => [
        [`${h} REST API`, servedSerial(stack.addresses[h], Number(new URL(stack.restUrls[h]).port))],
        [`${h} PostgreSQL`, servedSerial(stack.addresses[h], stack.pgPort, "postgres")],
      ]),
    ),
    ...Object.fromEntries(
      stack.routers.map((h) => [`${h} stats`, servedSerial(stack.addresses[h], stack.routerPorts.stats)]),
    ),
    ...Object.fromEntries(
      stack.pooled
        ? stack.routers.flatMap((h) => [
            [`${h} read-write pool`, servedSerial(stack.addresses[h], stack.routerPorts.readWrite, "postgres")],
            [`${h} read-only pool`, servedSerial(stack.addresses[h], stack.routerPorts.readOnly, "postgres")],
          ])
        : [],
    ),
  });
  const fileSerial = (host: string) =>
    onHost(stack, host, `openssl x509 -in ${tlsFiles("client").certificate} -noout -serial`).replace("serial=", "");
  const verifiedPsql = (host: string, port: number, sql: string) =>
    sh("psql", ["-X", "-At", "-h", host, "-p", String(port), "-U", "postgres", "-d", "postgres", "-c", sql], {
      PGPASSFILE: clientFiles(stack.dir, stack.name).pgpass,
      PGSSLMODE: "verify-full",
      PGSSLROOTCERT: caFile(),
      PGCONNECT_TIMEOUT: "5",
    });

  it("encrypts every hop and verifies it against the exported CA; plain text is refused", () => {
    // Each service presents its host's certificate, issued by the stack's CA.
    const served = servedSerials();
    for (const [endpoint, serial] of Object.entries(served)) {
      const host = endpoint.split(" ")[0];
      expect({ endpoint, serial }).toEqual({ endpoint, serial: fileSerial(host) });
    }
    // etcd: a verified server, but no answer without a client certificate.
    for (const h of stack.etcdHosts) {
      expect(plainStatus(`https://${stack.addresses[h]}:2379/health`, ["--cacert", caFile()])).toBe("000");
    }
    // Plain text is refused on every port.
    for (const h of stack.etcdHosts) expect(plainStatus(`http://${stack.addresses[h]}:2379/health`)).toBe("000");
    for (const h of stack.patroniHosts)
      expect(plainStatus(`${stack.restUrls[h].replace("https:", "http:")}/health`)).toBe("000");
    for (const h of stack.routers) {
      expect(plainStatus(`http://${stack.addresses[h]}:${stack.routerPorts.stats}/`)).toBe("000");
    }
    const plainPsql = (port: number) =>
      spawnSync(
        "psql",
        ["-X", "-At", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-c", "select 1"],
        {
          encoding: "utf8",
          env: { ...process.env, PGPASSFILE: clientFiles(stack.dir, stack.name).pgpass, PGSSLMODE: "disable" },
        },
      ).stderr;
    // PostgreSQL itself (through HAProxy's direct port when the pools take the clients' port).
    expect(plainPsql(stack.directRwPort ?? stack.rwPort)).toMatch(/no pg_hba\.conf entry for host .* no encryption/);
    if (stack.pooled) expect(plainPsql(stack.rwPort)).toMatch(/SSL required/);
    // psql verify-full through HAProxy (the virtual IP when there is one): an encrypted session.
    // (Without a virtual IP, the client endpoint is the first router's port published on loopback.)
    const [entry, port] = stack.vip ? [stack.vip, stack.routerPorts.readWrite] : ["127.0.0.1", stack.rwPort];
    expect(verifiedPsql(entry, port, "select ssl from pg_stat_ssl where pid = pg_backend_pid()")).toBe("t");
    expect(verifiedPsql("127.0.0.1", stack.rwPort, "select pg_is_in_recovery()")).toBe("f");
    // Replication between members is encrypted too.
    expect(
      onHost(
        stack,
        stack.leader,
        `runuser -u postgres -- psql -X -At -h /var/run/postgresql -p ${stack.pgPort} -c ` +
          `"select bool_and(s.ssl) from pg_stat_replication r join pg_stat_ssl s using (pid)"`,
      ),
    ).toBe("t");
    // HAProxy checks every REST API over verified TLS, and finds the primary and the replicas.
    const csv = sh("curl", [
      "-sf",
      "--cacert",
      caFile(),
      `https://${stack.addresses[stack.routers[0]]}:${stack.routerPorts.stats}/;csv`,
    ]);
    const states = csv
      .split("\n")
      .map((l) => l.split(","))
      .filter((f) => f[0] === "postgres_rw" && !["FRONTEND", "BACKEND"].includes(f[1]))
      .map((f) => f[17]);
    expect(states.filter((st) => st === "UP")).toHaveLength(1);
    expect(
      onHost(stack, stack.routers[0], "grep -c 'check-ssl verify required ca-file' /etc/haproxy/haproxy.cfg"),
    ).toBe(String(2 * stack.hostsRunningPatroni));
  });

  // the seed stack turns PgBouncer's pools on
  itOn(
    ["seed"],
    "pools 500 client sessions on a few server connections; stack roles and roles made by hand log in through the pool",
    async () => {
      expect(stack.pooled).toBe(true);
      const { rw, ro } = endpoints(stack);
      const directPort = stack.vip ? stack.directRouterPorts?.readWrite : stack.directRwPort;
      if (directPort === undefined) throw new Error("no direct port: is pgbouncer.enabled false?");
      const direct: Endpoint = { ...rw, port: directPort };
      const open = async (e: Endpoint, n: number) => {
        const clients: Client[] = [];
        try {
          for (let i = 0; i < n; i += 50) {
            const batch = Array.from(
              { length: Math.min(50, n - i) },
              () => new Client({ ...pgSettings(e), connectionTimeoutMillis: 30_000 }),
            );
            clients.push(...batch);
            await Promise.all(batch.map((c) => c.connect()));
          }
        } catch (err) {
          await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
          throw err;
        }
        return clients;
      };
      const sessions = await open(rw, 500);
      try {
        const answers = await Promise.all(sessions.map((c) => c.query("select pg_is_in_recovery() as standby")));
        expect(answers.filter((a) => (a.rows[0] as { standby: boolean }).standby === false)).toHaveLength(500);
        // PostgreSQL keeps its default max_connections, and serves the 500 on a few backends.
        const [server] = await queryOnce<{ max: string; backends: string }>(
          direct,
          "select current_setting('max_connections') as max, (select count(*) from pg_stat_activity where backend_type = 'client backend') as backends",
        );
        expect(Number(server.max)).toBe(100);
        expect(Number(server.backends)).toBeLessThan(50);
        expect(ctlOk(stack, "pool")).toMatch(new RegExp(`${stack.routers[0]} rw pool\n.*clients active`));
      } finally {
        await Promise.all(sessions.map((c) => c.end().catch(() => undefined)));
      }
      // A role the stack created, and one created by hand afterwards, log in through the pool
      // (auth_query: no user list to keep in sync).
      const passwords = stackOutputs(stack).userPasswords as Record<string, string>;
      const login = async (user: string, password: string) =>
        (await queryOnce<{ me: string }>({ ...rw, user, password }, "select current_user as me", [], 0))[0].me;
      expect(await login("admin", passwords.admin)).toBe("admin");
      const byHand = `app_${Date.now()}`;
      await queryOnce(direct, `create role ${byHand} login password 'made-by-hand-1'`);
      expect(await login(byHand, "made-by-hand-1")).toBe(byHand);
      await expect(login(byHand, "wrong")).rejects.toThrow(/(password|SASL) authentication failed/);
      await queryOnce(direct, `drop role ${byHand}`);
      // The read-only pool spreads its server connections over the replicas.
      const readers = await open(ro, 8);
      try {
        const seen = await Promise.all(
          readers.map(async (c) => {
            await c.query("begin");
            const r = await c.query("select host(inet_server_addr()) as at, pg_sleep(0.5)");
            await c.query("commit");
            return (r.rows[0] as { at: string }).at;
          }),
        );
        const replicas = stack.patroniHosts.filter((h) => h !== stack.leader).map((h) => stack.addresses[h]);
        expect([...new Set(seen)].sort()).toEqual(replicas.sort());
      } finally {
        await Promise.all(readers.map((c) => c.end().catch(() => undefined)));
      }
    },
  );

  // dev sets pgbouncer.maxPreparedStatements (PgBouncer 1.21+; seed's bookworm has 1.18)
  itOn(["dev"], "runs clients' named prepared statements through the transaction pool", async () => {
    expect(stack.pool?.mode).toBe("transaction");
    const declared = (readConfig(stack, "pgbouncer") as { maxPreparedStatements?: number }).maxPreparedStatements;
    expect(declared).toBeDefined();
    for (const router of stack.routers) {
      const shown = onHost(
        stack,
        router,
        `${POOL_TOOL_PATH} rw -qAt -c 'SHOW CONFIG' | grep '^max_prepared_statements|'`,
      );
      expect(shown.split("|")[1]).toBe(String(declared));
    }
    // More clients than the pool has server connections: each client's statement, parsed once on
    // its connection, runs on whichever server connection its transaction gets.
    const clients = Array.from({ length: 30 }, () => new Client(pgSettings(endpoints(stack).rw)));
    try {
      await Promise.all(clients.map((c) => c.connect()));
      const sums = await Promise.all(
        clients.map(async (c, i) => {
          let sum = 0;
          for (let k = 0; k < 10; k++) {
            const r = await c.query({ name: "add_one", text: "select $1::int + 1 as n, pg_sleep(0.01)", values: [i] });
            sum += (r.rows[0] as { n: number }).n;
          }
          return sum;
        }),
      );
      expect(sums).toEqual(clients.map((_, i) => 10 * (i + 1)));
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    }
  });

  itOn(["dev"], "renews every certificate with an up: new serials everywhere, no restart, no lost write", async () => {
    const before = servedSerials();
    const started = () =>
      Object.fromEntries(
        stack.patroniHosts.map((h) => [
          h,
          onHost(
            stack,
            h,
            `runuser -u postgres -- psql -X -At -h /var/run/postgresql -p ${stack.pgPort} -c "select pg_postmaster_start_time()"`,
          ),
        ]),
      );
    const startedBefore = started();
    const leaderBefore = patronictlList(stack, stack.leader).find((m) => m.Role === "Leader")?.Member;
    const client = await startWriting(endpoints(stack).rw, "rotation");
    let r: RunResult;
    try {
      // A new validity issues every host certificate again, as a renewal does.
      editConfig(stack, "tls", { validityDays: 400 });
      r = await runStack(stack, "up");
    } finally {
      await client.stop();
    }
    expectSucceeded(r);
    const changed = r.events.filter((e) => e.op !== "same");
    expect(changed.filter((e) => e.op !== "update")).toEqual([]);
    expect(changed.map((e) => e.name).filter((n) => !/^postgres-tls-/.test(n))).toEqual([]);
    expect(r.output).not.toMatch(/PRIVATE KEY/);
    const after = servedSerials();
    for (const [endpoint, serial] of Object.entries(after)) {
      const host = endpoint.split(" ")[0];
      expect({ endpoint, renewed: serial !== before[endpoint], serial }).toEqual({
        endpoint,
        renewed: true,
        serial: fileSerial(host),
      });
    }
    expect(started()).toEqual(startedBefore);
    expect(patronictlList(stack, stack.leader).find((m) => m.Role === "Leader")?.Member).toBe(leaderBefore);
    const verdict = await client.verify();
    expect(verdict.writes.lost).toBe(0);
    timings.tls_rotation_s = r.seconds;
    timings.tls_rotation_write_gap_s = verdict.writes.longestGapMs / 1000;
    timings.tls_rotation_failed_writes = verdict.writes.failed;
  });

  itOn(["dev"], "refuses to turn TLS off for the running cluster, before any host changes", async () => {
    // Every service's configuration on every host.
    const files = [PATRONI_CONFIG_PATH, ETCD_CONFIG_PATH, HAPROXY_CONFIG_PATH, KEEPALIVED_CONFIG_PATH];
    const configs = () =>
      Object.keys(stack.addresses).map((h) =>
        onHost(stack, h, `for f in ${files.join(" ")}; do if [ -f "$f" ]; then md5sum "$f"; fi; done`),
      );
    const before = configs();
    editConfig(stack, "tls", { enabled: false });
    let r: RunResult;
    try {
      r = await runStack(stack, "up");
    } finally {
      editConfig(stack, "tls", { enabled: true });
    }
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(
      /tls\.enabled changed on a running cluster: .* run with tls, the stack now asks for plain/,
    );
    // Every host stopped at its first step: no configuration was written, no step after it ran.
    expect(configs()).toEqual(before);
    const ran = r.events.filter((e) => e.op !== "same" && !/-packages-/.test(e.name)).map((e) => e.name);
    expect(ran.filter((n) => /-(configure|start|install|dcs)-|-tls-install-/.test(n))).toEqual([]);
    await expectHealthy(stack);
    expect(psql(stack, stack.rwPort, "select ssl from pg_stat_ssl where pid = pg_backend_pid()")).toBe("t");
    // With the setting back, an up finishes what the refused one left: its first steps only.
    const again = await runStack(stack, "up");
    expectSucceeded(again);
    expect(again.events.filter((e) => e.op !== "same" && !/-packages-/.test(e.name))).toEqual([]);
    expect(configs()).toEqual(before);
  });

  // one topology is enough (the seed stack runs the same code on the guide profile)
  itOn(
    ["dev", "bookworm"],
    "applies a parameter change through PATCH /config: preview, rolling restart, no failover",
    async () => {
      const parameters = (readConfig(stack, "postgresql").parameters ?? {}) as Record<string, unknown>;
      editConfig(stack, "postgresql", { parameters: { ...parameters, work_mem: "12MB", max_connections: 150 } });
      const preview = await runStack(stack, "preview");
      expectSucceeded(preview);
      const planned = preview.events.filter((e) => e.op !== "same").map((e) => `${e.op} ${e.name}`);
      // The step's script is the same: only its planned patch (stdin) and the state change.
      expect(planned.sort()).toEqual(["update postgres-dcs-apply-run", "update postgres-dcs-state"]);
      // Each change with its live value and what it does, as the server classifies it.
      expect(preview.output).toMatch(
        /postgresql\.parameters\.max_connections: live not set, declared 150: restart \(context postmaster\)/,
      );
      expect(preview.output).toMatch(
        /postgresql\.parameters\.work_mem: live not set, declared 12mb: reload \(context user\)/,
      );
      // The declared configuration's new keys (the runner: `+ parameters.work_mem: "12mb"`; Pulumi:
      // `+ work_mem : "12mb"` inside `declared.parameters`).
      expect(preview.output).toMatch(/\+\s+(parameters\.)?work_mem\s*: "12mb"/);

      // A client writing through the read-write port (the pools on a pooled stack) meanwhile. The
      // pools hold its statements for the length of the leader's restart (10 s on 2 busy cores,
      // once 32 s, when PostgreSQL's shutdown took 25 s): its own timeout is longer, as a
      // client's that is to be held must be (60 s, as the pooled chaos client's).
      const client = await startWriting(endpoints(stack).rw, "restart", 300, 60_000);
      let r: RunResult;
      try {
        r = await runStack(stack, "up");
      } finally {
        await client.stop();
      }
      expectSucceeded(r);
      expect(changedSteps(r)).toEqual(["postgres-dcs-apply-run", "postgres-dcs-state"]);
      const verdict = await client.verify();
      process.stdout.write(
        `rolling restart under a writing client (${stack.pooled ? "pooled" : "direct"}): ${verdict.writes.failed} failed, longest gap ${verdict.writes.longestGapMs} ms${failedLines(client)}\n`,
      );
      timings.parameter_change_failed_writes = verdict.writes.failed;
      timings.parameter_change_write_gap_s = verdict.writes.longestGapMs / 1000;
      expect(verdict.writes.lost).toBe(0);
      // The pools hold their clients while the leader restarts: no statement fails.
      if (stack.pooled) {
        expect(r.output).toMatch(/holding the clients of the read-write pool on/);
        expect(verdict.writes.failed).toBe(0);
      }
      // Every member restarted once, the leader last; it stayed the leader on the same timeline.
      const restarts = [...r.output.matchAll(/restarting PostgreSQL on (\S+) \((\w+)\)/g)].map((m) => m[1]);
      const members = patronictlList(stack, stack.leader);
      expect([...restarts].sort()).toEqual(members.map((m) => m.Member).sort());
      expect(restarts[restarts.length - 1]).toBe(stack.leader);
      expect(members.filter((m) => m.Role === "Leader").map((m) => [m.Member, m.TL])).toEqual([[stack.leader, 1]]);
      for (const member of members.map((m) => m.Member)) {
        const show = onHost(
          stack,
          member,
          `runuser -u postgres -- psql -X -At -h /var/run/postgresql -p ${stack.pgPort} -c ` +
            `"select current_setting('max_connections') || ' ' || current_setting('work_mem') || ' ' || ` +
            `(select count(*) from pg_settings where pending_restart)"`,
        );
        expect({ member, show }).toEqual({ member, show: "150 12MB 0" });
      }
      expectReadYourWrites(stack);
      timings.parameter_change_s = r.seconds;

      // Dropping them again resets them; a lower max_connections takes a second turn on replicas.
      editConfig(stack, "postgresql", { parameters });
      const back = await runStack(stack, "up");
      expectSucceeded(back);
      expect(back.output).toMatch(/change: postgresql\.parameters\.max_connections: live 150, declared not set/);
      for (const member of members.map((m) => m.Member)) {
        const show = onHost(
          stack,
          member,
          `runuser -u postgres -- psql -X -At -h /var/run/postgresql -p ${stack.pgPort} -c ` +
            `"select current_setting('max_connections') || ' ' || current_setting('work_mem')"`,
        );
        expect({ member, show }).toEqual({ member, show: "100 4MB" });
      }
      timings.parameter_reset_s = back.seconds;
    },
  );

  // the same code on every topology: once is enough
  itOn(
    ["dev"],
    "shows changes made behind the stack's back (the DCS, a pool) at preview, and undoes them at up",
    async () => {
      expect(stack.pooled).toBe(true);
      const patronictl = `patronictl -c ${PATRONI_CONFIG_PATH}`;
      onHost(
        stack,
        stack.leader,
        `${patronictl} edit-config --force -s ttl=45 -p log_min_duration_statement=9999 >/dev/null`,
      );
      const router = stack.routers[0];
      const poolSetting = (key: string) =>
        onHost(stack, router, `${POOL_TOOL_PATH} rw -At -F '|' -c 'SHOW CONFIG'`)
          .split("\n")
          .map((l) => l.split("|"))
          .find(([k]) => k === key)?.[1];
      const declaredPoolSize = poolSetting("default_pool_size");
      onHost(stack, router, `${POOL_TOOL_PATH} rw -c 'SET default_pool_size = 3' >/dev/null`);
      expect(poolSetting("default_pool_size")).toBe("3");

      const preview = await runStack(stack, "preview");
      expectSucceeded(preview);
      expect(changedSteps(preview)).toEqual(
        expect.arrayContaining(["postgres-dcs-state", `postgres-pgbouncer-${router}-state`]),
      );
      expect(preview.output).toMatch(/\bttl: live 45, declared \d+: Patroni setting/);
      expect(preview.output).toMatch(
        /postgresql\.parameters\.log_min_duration_statement: live 9999, declared not set \(reset to the default\): reload/,
      );
      expect(preview.output).toContain(`rw pool: default_pool_size: live 3, declared ${declaredPoolSize}: reload`);

      const clients = await startWriting(endpoints(stack).rw, "drift", 300, requestTimeoutMs(stack));
      const r = await runStack(stack, "up");
      const verdict = await clients.stop().then(() => clients.verify());
      expectSucceeded(r);
      // Only the DCS step and that router's pools (their configure step reloads them).
      expect(changedSteps(r).filter((n) => /-(run|state)$/.test(n))).toEqual([
        "postgres-dcs-apply-run",
        "postgres-dcs-state",
        `postgres-pgbouncer-${router}-configure-run`,
        `postgres-pgbouncer-${router}-state`,
      ]);
      // The step logs the changes the preview showed, then sends their patch.
      expect(r.output).toMatch(
        /change: postgresql\.parameters\.log_min_duration_statement: live 9999, declared not set \(reset to the default\)/,
      );
      expect(r.output).toMatch(/patched through .*"log_min_duration_statement":null/);
      const live = JSON.parse(onHost(stack, stack.leader, `curl -s ${stack.restUrls[stack.leader]}/config`)) as {
        ttl: number;
        postgresql: { parameters: Record<string, unknown> };
      };
      expect(live.ttl).not.toBe(45);
      expect(live.postgresql.parameters).not.toHaveProperty("log_min_duration_statement");
      expect(poolSetting("default_pool_size")).toBe(declaredPoolSize);
      // Neither the reloads nor the patch drop a client.
      expect({ failed: verdict.writes.failed, lost: verdict.writes.lost }).toEqual({ failed: 0, lost: 0 });
      const again = await runStack(stack, "up");
      expectSucceeded(again);
      expect(again.events.filter((e) => e.op !== "same")).toEqual([]);
    },
  );

  itOn(["dev"], "refuses a parameter PostgreSQL would not take, at preview, before anything is applied", async () => {
    const parameters = (readConfig(stack, "postgresql").parameters ?? {}) as Record<string, unknown>;
    editConfig(stack, "postgresql", { parameters: { ...parameters, shared_bufers: "1GB", wal_level: "archive" } });
    try {
      const preview = await runStack(stack, "preview");
      expect(preview.code).not.toBe(0);
      expect(preview.output).toMatch(/patroni-stack:postgresql\.parameters: PostgreSQL would refuse these values/);
      expect(preview.output).toMatch(/shared_bufers: PostgreSQL has no parameter of that name/);
      expect(preview.output).toMatch(/wal_level: 'archive' is not one of minimal, replica, logical/);
      const up = await runStack(stack, "up");
      expect(up.code).not.toBe(0);
      // At most the apply step's script was uploaded: nothing ran, nothing was patched.
      const ran = up.events.filter((e) => e.op !== "same" && !e.name.endsWith("-upload"));
      expect(ran).toEqual([]);
    } finally {
      editConfig(stack, "postgresql", { parameters });
    }
  });

  itOn(
    ["dev"],
    "adds a replica, then removes it while it is the primary: it hands the role back first, the pools' clients held, no write lost",
    async () => {
      const hosts = readConfig(stack, "hosts") as unknown as { name: string; address: string }[];
      const roles = readConfig(stack, "roles") as unknown as Record<string, string[]>;
      // The first host number past every address the stack already uses.
      const used = hosts.map((h) => Number(h.address.split(".")[3]));
      const address = stack.addresses.pg3.replace(/\.\d+$/, `.${Math.max(...used) + 1}`);
      const leaderBefore = patronictlList(stack, stack.leader).find((m) => m.Role === "Leader");
      // Held statements wait through a switchover (see the held ctl switchover below).
      const client = await startWriting(endpoints(stack).rw, "scale", 900, 60_000);
      let removed = false;
      try {
        setConfig(stack, "hosts", [...hosts, { name: "pg4", address }]);
        editConfig(stack, "roles", { ...roles, patroni: [...roles.patroni, "pg4"] });
        const out = await runStack(stack, "up");
        expectSucceeded(out);
        const changed = out.events.filter((e) => e.op !== "same");
        expect(changed.filter((e) => e.op === "delete" || e.op === "replace")).toEqual([]);
        // pg4's own resources; elsewhere only updates of the steps that list the members.
        const elsewhere = changed.filter((e) => !e.name.includes("pg4")).map((e) => `${e.op} ${e.name}`);
        const listsMembers =
          /^update postgres-(haproxy-\w+-configure|patroni-\w+-configure|tls-switch-hold-\w+|dcs-apply|handback|roles|backup-configure)-(run|upload)$|^update postgres-dcs-state$/;
        expect(elsewhere.filter((n) => !listsMembers.test(n))).toEqual([]);
        let members = patronictlList(stack, stack.leader);
        for (let i = 0; i < 60 && members.find((m) => m.Member === "pg4")?.State !== "streaming"; i++) {
          await new Promise((r) => setTimeout(r, 1000));
          members = patronictlList(stack, stack.leader);
        }
        expect(members.find((m) => m.Member === "pg4")).toEqual(
          expect.objectContaining({ Role: "Replica", State: "streaming" }),
        );
        for (const router of stack.routers) {
          expect(onHost(stack, router, "grep -c ' pg4 ' /etc/haproxy/haproxy.cfg")).toBe("2");
        }
        timings.replica_added_s = out.seconds;

        // pg4 takes the primary role, and keeps it until its removal hands it back.
        const moved = await ctlAsync(stack, ["switchover", "--candidate", "pg4"]);
        if (moved.status !== 0) throw new Error(`ctl switchover: exit ${moved.status}\n${moved.out}`);
        expect(patronictlList(stack, stack.leader).find((m) => m.Role === "Leader")?.Member).toBe("pg4");

        setConfig(stack, "hosts", hosts);
        editConfig(stack, "roles", roles);
        const back = await runStack(stack, "up");
        expectSucceeded(back);
        removed = true;
        // Before any router dropped it, pg4 handed the primary role back to the declared leader.
        expect(back.output).toMatch(/pg4 holds the primary role and is being removed: switching over to \w+ first/);
        expect(
          back.events
            .filter((e) => e.op === "delete")
            .map((e) => e.name)
            .every((n) => n.includes("pg4")),
        ).toBe(true);
        // Its member key expires with its lease (ttl) once its Patroni has stopped.
        let left = patronictlList(stack, stack.leader).map((m) => m.Member);
        for (let i = 0; i < 60 && left.includes("pg4"); i++) {
          await new Promise((r) => setTimeout(r, 1000));
          left = patronictlList(stack, stack.leader).map((m) => m.Member);
        }
        expect(left.sort()).toEqual([...roles.patroni].sort());
        for (const router of stack.routers) {
          expect(onHost(stack, router, "grep -c ' pg4 ' /etc/haproxy/haproxy.cfg || true")).toBe("0");
        }
        timings.replica_removed_s = back.seconds;
      } finally {
        await client.stop();
        // Whatever failed above, the tests after this one see the stack's own hosts.
        setConfig(stack, "hosts", hosts);
        editConfig(stack, "roles", roles);
        if (!removed) await runStack(stack, "up");
      }
      const verdict = await client.verify();
      process.stdout.write(
        `replica added and removed under a writing client: ${verdict.writes.failed} failed, longest gap ${verdict.writes.longestGapMs} ms${failedLines(client)}\n`,
      );
      timings.scale_write_gap_s = verdict.writes.longestGapMs / 1000;
      timings.scale_failed_writes = verdict.writes.failed;
      // Two held switchovers (to pg4 and back): no statement failed, none was lost.
      expect({ failed: verdict.writes.failed, lost: verdict.writes.lost, ghost: verdict.writes.ghost }).toEqual({
        failed: 0,
        lost: 0,
        ghost: 0,
      });
      const leaderAfter = patronictlList(stack, stack.leader).find((m) => m.Role === "Leader");
      expect([leaderAfter?.Member, leaderAfter?.TL]).toEqual([leaderBefore?.Member, (leaderBefore?.TL ?? 0) + 2]);
    },
  );

  itOn(
    ["seed"],
    "grows etcd from one member to three and back, one at a time, Patroni following by a reload",
    async () => {
      const roles = readConfig(stack, "roles") as unknown as { etcd: string[]; patroni: string[]; haproxy: string[] };
      const etcdMembers = (host: string) =>
        (
          JSON.parse(
            onHost(
              stack,
              host,
              'etcdctl member list -w json | python3 -c \'import json,sys; print(json.dumps([m.get("name","") for m in json.load(sys.stdin)["members"]]))\'',
            ),
          ) as string[]
        ).sort();
      const leaderBefore = patronictlList(stack, stack.leader).find((m) => m.Role === "Leader");
      const grown = [...roles.etcd, ...roles.patroni];
      editConfig(stack, "roles", { ...roles, etcd: grown });
      const out = await runStack(stack, "up");
      expectSucceeded(out);
      expect(etcdMembers(roles.etcd[0])).toEqual([...grown].sort());
      expect(out.output.match(/adding etcd member \S+ to the running cluster/g)).toHaveLength(roles.patroni.length);
      expect(out.output).not.toMatch(/restarting etcd member/);
      // Patroni learns the new members by a reload (no restart: same leader and timeline below).
      expect(out.output).toMatch(/patroni\.yml changed: reloading Patroni/);
      for (const m of roles.patroni) {
        expect(onHost(stack, m, `grep -c ':2379$' ${PATRONI_CONFIG_PATH}`)).toBe(String(grown.length));
      }
      editConfig(stack, "roles", roles);
      const back = await runStack(stack, "up");
      expectSucceeded(back);
      for (const m of roles.patroni) expect(back.output).toMatch(new RegExp(`removing etcd member ${m} \\(`));
      expect(etcdMembers(roles.etcd[0])).toEqual([...roles.etcd]);
      const leaderAfter = patronictlList(stack, stack.leader).find((m) => m.Role === "Leader");
      expect([leaderAfter?.Member, leaderAfter?.TL]).toEqual([leaderBefore?.Member, leaderBefore?.TL]);
      expectReadYourWrites(stack);
      const again = await runStack(stack, "up");
      expectSucceeded(again);
      expect(again.events.filter((e) => e.op !== "same")).toEqual([]);
    },
  );

  it("switches over to a replica (the timeline moves on) and HAProxy follows", async () => {
    const replica = stack.hosts.find(
      (h) => h !== stack.leader && patronictlList(stack, stack.leader).some((m) => m.Member === h),
    );
    if (!replica) throw new Error("no replica");
    // The timeline moves on from wherever the cases before this one left it.
    const tl = (patronictlList(stack, stack.leader).find((m) => m.Role === "Leader")?.TL ?? 0) + 1;
    switchover(stack, stack.leader, replica);
    let primary = { member: "", tl: 0 };
    for (let i = 0; i < 60 && !(primary.member === replica && primary.tl === tl); i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const leader = patronictlList(stack, replica).find((m) => m.Role === "Leader");
      primary = { member: leader?.Member ?? "", tl: leader?.TL ?? 0 };
    }
    expect(primary).toEqual({ member: replica, tl });
    let served = "";
    for (let i = 0; i < 30 && served !== "f"; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      served = (() => {
        try {
          return psql(stack, stack.rwPort, "select pg_is_in_recovery()");
        } catch {
          return "";
        }
      })();
    }
    expect(served).toBe("f");
  });

  // one topology is enough: the verbs are patronictl's and the engines'
  itOn(
    ["dev"],
    "runs the day-2 procedures through ctl: list, history, pause, switchover, failover, reinit, psql, logs",
    async () => {
      const ctl = (...args: string[]) => ctlRun(stack, args);
      const ok = (...args: string[]) => ctlOk(stack, ...args);
      const leaderNow = () => patronictlList(stack, stack.leader).find((m) => m.Role === "Leader");
      // Its leader key comes before its promotion: wait for the new timeline too.
      const waitLeader = async (name: string, timeline: number) => {
        const there = () => leaderNow()?.Member === name && leaderNow()?.TL === timeline;
        for (let i = 0; i < 60 && !there(); i++) await new Promise((res) => setTimeout(res, 1000));
        return leaderNow();
      };
      const before = leaderNow();
      if (!before) throw new Error("no leader");
      expect(ok("list")).toMatch(new RegExp(`\\| ${before.Member} .*\\| Leader`));
      expect(ok("history")).toMatch(/\|\s+1\s+\|/);
      expect(ok("show-config")).toMatch(/loop_wait: \d+/);

      // Maintenance mode on and off (§4.4).
      ok("pause");
      expect(ok("list")).toMatch(/Maintenance mode: on/);
      ok("resume");
      expect(ok("list")).not.toMatch(/Maintenance mode: on/);

      // A planned switchover to the bootstrap leader, then a failover back (§4.1): new timelines each.
      ok("switchover", "--candidate", stack.leader);
      expect(await waitLeader(stack.leader, (before.TL ?? 0) + 1)).toMatchObject({
        Member: stack.leader,
        TL: (before.TL ?? 0) + 1,
      });
      ok("failover", "--candidate", before.Member);
      expect(await waitLeader(before.Member, (before.TL ?? 0) + 2)).toMatchObject({
        Member: before.Member,
        TL: (before.TL ?? 0) + 2,
      });

      // A member whose data directory was emptied is rebuilt by reinit (§4.4).
      const broken = stack.hosts.find((h) => h !== stack.leader && h !== before.Member);
      if (!broken) throw new Error("no third member");
      ok("pause");
      onHost(stack, broken, `systemctl stop patroni && rm -rf ${stack.dataDir}/* && systemctl start patroni`);
      ok("reinit", broken);
      ok("resume");
      let status = "";
      for (let i = 0; i < 90 && status !== "streaming"; i++) {
        await new Promise((res) => setTimeout(res, 1000));
        try {
          status = onHost(
            stack,
            broken,
            `runuser -u postgres -- psql -X -At -h /var/run/postgresql -p ${stack.pgPort} -c "select status from pg_stat_wal_receiver"`,
          );
        } catch {
          status = "";
        }
      }
      expect(status).toBe("streaming");

      ok("restart", broken);
      ok("reload");
      expect(ok("psql", "--", "-Atc", "select pg_is_in_recovery()").trim()).toBe("f");
      expect(ok("psql", "--ro", "--", "-Atc", "select pg_is_in_recovery()").trim()).toBe("t");
      expect(ok("logs", stack.leader, "etcd", "--lines", "5").trim().length).toBeGreaterThan(0);
      // Mistakes say what to do.
      expect(ctl("failover")).toMatchObject({ status: 1, out: expect.stringMatching(/failover needs --candidate M/) });
      expect(ctl("reinit", "nobody")).toMatchObject({
        status: 1,
        out: expect.stringMatching(/no Patroni member 'nobody'/),
      });
    },
  );

  // Backups: the repository host's stanza, its archive, and the restores, on one topology.
  const pgbackrestInfo = () =>
    JSON.parse(
      onHost(stack, stack.backupHost ?? "", "runuser -u pgbackrest -- pgbackrest --stanza=postgres --output=json info"),
    )[0] as { backup: { label: string; type: string }[]; archive: { max: string }[] };
  const primaryNow = () => {
    const leader = patronictlList(stack, stack.leader).find((m) => m.Role === "Leader");
    if (!leader) throw new Error("no leader");
    return leader;
  };
  const onPrimary = (sql: string) =>
    onHost(
      stack,
      primaryNow().Member,
      `runuser -u postgres -- psql -X -At -h /var/run/postgresql -p ${stack.pgPort} -c ${JSON.stringify(sql)}`,
    );
  /** The last WAL segment archived, once it reaches `segment` or `seconds` have passed. */
  const archivedUpTo = async (segment: string, seconds: number) => {
    let last = "";
    const until = Date.now() + seconds * 1000;
    // WAL file names sort by timeline, then position: the previous timeline's segment of the same
    // number (or a .history file) is not this one.
    while (!(last.slice(0, 24) >= segment) && Date.now() < until) {
      await new Promise((res) => setTimeout(res, 1000));
      last = onPrimary("select coalesce(last_archived_wal, '') from pg_stat_archiver");
    }
    if (!(last.slice(0, 24) >= segment)) {
      // What the archiver reports, for the failure message.
      const state = onPrimary("select failed_count, last_failed_wal, last_failed_time from pg_stat_archiver");
      // What waits to be archived, pgBackRest's async queue, and the archiver's processes.
      const queue = onHost(
        stack,
        primaryNow().Member,
        [
          `ls ${stack.dataDir}/pg_wal/archive_status | tail -4`,
          `ls ${SPOOL_PATH}/archive/*/out 2>/dev/null | tail -4`,
          `tail -5 ${LOG_PATH}/*archive-push-async.log 2>/dev/null`,
          "ps -eo pid,etimes,args | grep -E 'archiver|archive-push' | grep -v grep || true",
        ].join("; echo ---; "),
      );
      return `${last.slice(0, 24)} (archiver: failed_count|last_failed_wal|last_failed_time ${state})\n${queue}`;
    }
    return last.slice(0, 24);
  };

  itOn(["dev", "seed"], "took the first full backup at deploy, and archives WAL from the new primary", async () => {
    const info = pgbackrestInfo();
    expect(info.backup.filter((b) => b.type === "full").length).toBeGreaterThanOrEqual(1);
    // Switchovers happened above: the primary is on a later timeline, and its WAL reaches the repository.
    const leader = primaryNow();
    // A write first: with no WAL since the last switch, pg_switch_wal does not switch, and names
    // the segment just begun, which nothing completes.
    onPrimary("create table if not exists e2e_archive_probe (at timestamptz)");
    // In one call (psql prints each statement's result: the name is the last line).
    const segment = onPrimary("insert into e2e_archive_probe values (now()); select pg_walfile_name(pg_switch_wal())")
      .split("\n")
      .at(-1) as string;
    expect(await archivedUpTo(segment, 180)).toBe(segment);
    expect(Number.parseInt(segment.slice(0, 8), 16)).toBe(leader.TL);
    onHost(stack, stack.backupHost ?? "", "runuser -u pgbackrest -- pgbackrest --stanza=postgres check");
    expect(ctlOk(stack, "backup", "--type", "incr")).toMatch(/backup command end: completed successfully/);
    // The command's backup is new; the backup host's timer may add one of its own meanwhile
    // (the daily differential at 01:00).
    const known = new Set(info.backup.map((b) => b.label));
    const added = pgbackrestInfo().backup.filter((b) => !known.has(b.label));
    expect(added.map((b) => b.type)).toContain("incr");
    expect(ctlOk(stack, "backups")).toMatch(/restorable: from \d{4}-\d{2}-\d{2} /);
    expect(ctlOk(stack, "list")).toMatch(/backups: last incr .* ago, \d+ in the repository\narchiver: last archived /);
  });

  itOn(["dev"], "rebuilds a reinitialized replica from the repository, not from the primary", async () => {
    const replica = patronictlList(stack, stack.leader).find((m) => m.Role === "Replica")?.Member;
    if (!replica) throw new Error("no replica");
    const since = onHost(stack, replica, "date '+%Y-%m-%d %H:%M:%S'");
    ctlOk(stack, "reinit", replica);
    let log = "";
    for (let i = 0; i < 90 && !/replica has been created using/.test(log); i++) {
      await new Promise((res) => setTimeout(res, 1000));
      log = onHost(stack, replica, `journalctl -u patroni --no-pager -o cat --since '${since}'`);
    }
    expect(log).toMatch(/replica has been created using pgbackrest/);
    expect(log).not.toMatch(/Error creating replica using method pgbackrest/);
  });

  itOn(["dev"], "keeps taking writes while the repository host is away, and archiving catches up", async () => {
    const bk = `${stack.prefix}-${stack.backupHost}`;
    psql(stack, stack.rwPort, "create table if not exists away(n int)");
    sh("docker", ["pause", bk]);
    let written = 0;
    try {
      for (let i = 0; i < 20; i++) {
        psql(stack, stack.rwPort, `insert into away values (${i}); select pg_switch_wal()`);
        written++;
        await new Promise((res) => setTimeout(res, 500));
      }
    } finally {
      sh("docker", ["unpause", bk]);
    }
    expect(written).toBe(20);
    expect(psql(stack, stack.rwPort, "select count(*) from away")).toBe("20");
    // A write first: with no WAL since the last switch, pg_switch_wal does not switch, and names
    // the segment just begun, which nothing completes.
    onPrimary("create table if not exists e2e_archive_probe (at timestamptz)");
    // In one call (psql prints each statement's result: the name is the last line).
    const segment = onPrimary("insert into e2e_archive_probe values (now()); select pg_walfile_name(pg_switch_wal())")
      .split("\n")
      .at(-1) as string;
    expect(await archivedUpTo(segment, 180)).toBe(segment);
  });

  itOn(["dev"], "refuses a restore it cannot do, or that is not confirmed, before touching anything", async () => {
    const before = primaryNow();
    expect(ctlRun(stack, ["restore", "--to", "2001-01-01T00:00:00Z", "--yes"])).toMatchObject({
      status: 1,
      out: expect.stringMatching(/before the end of the oldest backup .*nothing was touched/s),
    });
    expect(ctlRun(stack, ["restore", "--to", "latest"], "no\n")).toMatchObject({
      status: 1,
      out: expect.stringMatching(/not confirmed: nothing was touched/),
    });
    expect(ctlRun(stack, ["restore", "--to", "latest", "--into", "elsewhere", "--yes"])).toMatchObject({
      status: 1,
      out: expect.stringMatching(/unknown stack 'elsewhere': no Pulumi\.elsewhere\.yaml .*nothing was touched/),
    });
    expect(ctlRun(stack, ["restore", "--to", "latest", "--into", stack.name, "--yes"])).toMatchObject({
      status: 1,
      out: expect.stringMatching(/is this stack: leave --into out .*nothing was touched/),
    });
    expect(primaryNow()).toEqual(before);
  });

  itOn(["dev"], "restores the whole cluster to a point in time: exactly the rows written before it", async () => {
    const target = await marksAroundTarget(stack, "marks");
    psql(stack, stack.rwPort, "drop table marks");
    const leader = primaryNow();
    const started = Date.now();
    const out = ctlOk(stack, "restore", "--to", target, "--yes");
    timings.restore_to_time_s = (Date.now() - started) / 1000;
    expect(out).toMatch(/restored to .*: .* leads, 2 replica\(s\) streaming/);
    expect(psql(stack, stack.rwPort, "select count(*), min(id), max(id) from marks")).toBe("150|1|150");
    // HA again: the same leader on a new timeline, every replica streaming, writes through HAProxy.
    const after = primaryNow();
    expect(after.Member).toBe(leader.Member);
    expect(after.TL ?? 0).toBeGreaterThan(leader.TL ?? 0);
    expect(
      patronictlList(stack, stack.leader)
        .filter((m) => m.Role === "Replica")
        .map((m) => m.State),
    ).toEqual(["streaming", "streaming"]);
    expectReadYourWrites(stack);
    // A new full backup of the new timeline, and its WAL archived.
    expect(pgbackrestInfo().backup.slice(-1)[0].type).toBe("full");
    // A write first: with no WAL since the last switch, pg_switch_wal does not switch, and names
    // the segment just begun, which nothing completes.
    onPrimary("create table if not exists e2e_archive_probe (at timestamptz)");
    // In one call (psql prints each statement's result: the name is the last line).
    const segment = onPrimary("insert into e2e_archive_probe values (now()); select pg_walfile_name(pg_switch_wal())")
      .split("\n")
      .at(-1) as string;
    expect(await archivedUpTo(segment, 180)).toBe(segment);
    const again = await runStack(stack, "up");
    expectSucceeded(again);
    expect(again.events.filter((e) => e.op !== "same")).toEqual([]);
  });

  itOn(["dev"], "clones the cluster at a point in time into another stack, and leaves this one as it was", async () => {
    // A small second stack of the same project: one member, its own repository host.
    const clone = makeStack("dev", 9, {
      kind: "clone",
      project: stack,
      overrides: oneMemberWithBackup("c1", "cbk"),
    });
    try {
      expect(ctlRun(stack, ["restore", "--to", "latest", "--into", clone.name, "--yes"])).toMatchObject({
        status: 1,
        out: expect.stringMatching(/has no running leader: make up STACK=.*nothing was touched/),
      });
      expectSucceeded(await runStack(clone, "up"));
      const target = await marksAroundTarget(stack, "cloned");
      const before = primaryNow();
      const started = Date.now();
      const out = ctlOk(stack, "restore", "--to", target, "--into", clone.name, "--yes");
      timings.clone_to_time_s = (Date.now() - started) / 1000;
      expect(out).toMatch(/cloned into stack .*: c1 leads, 0 replica\(s\) streaming/);
      // The clone: the rows before the target, through its own HAProxy with its own password.
      expect(psql(clone, clone.rwPort, "select count(*), min(id), max(id) from cloned")).toBe("150|1|150");
      psql(clone, clone.rwPort, "insert into cloned values (1000)");
      // This stack: every row, the same leader on the same timeline, its repository as it was.
      expect(psql(stack, stack.rwPort, "select count(*) from cloned")).toBe("200");
      expect(primaryNow()).toEqual(before);
      const trusted = `grep -c patroni-stack-clone /home/pgbackrest/.ssh/authorized_keys || true`;
      expect(onHost(stack, stack.backupHost ?? "", trusted)).toBe("0");
      // The clone archives to its own repository, and its stack changes nothing on the next up.
      onHost(clone, "cbk", "runuser -u pgbackrest -- pgbackrest --stanza=postgres check");
      const again = await runStack(clone, "up");
      expectSucceeded(again);
      expect(again.events.filter((e) => e.op !== "same")).toEqual([]);
      expectSucceeded(await runStack(clone, "down"));
    } finally {
      removeStack(clone, { keepProject: true });
    }
  });

  // one topology is enough for this (slow) scenario
  itOn(["dev"], "sets a lost host up again from scratch: it rejoins etcd, streams, and routes again", async () => {
    // The bootstrap leader's host (a replica since the switchover) also runs etcd and HAProxy.
    const host = stack.leader;
    sh("docker", ["rm", "-f", `${stack.prefix}-${host}`]);
    expectSucceeded(await runStack(stack, "refresh"));
    const preview = await runStack(stack, "preview");
    expectSucceeded(preview);
    const r = await runStack(stack, "up");
    expectSucceeded(r);
    timings.host_replaced_s = r.seconds;
    const touched = r.events.filter((e) => e.op !== "same").map((e) => e.name);
    // Only what runs on that host: its container and its steps (the roles, DCS, hand-back and the
    // TLS switch's pause and resume steps run there). The backup repository scans the new host's
    // SSH key again.
    expect(
      touched.filter(
        (n) =>
          !n.includes(`-${host}`) &&
          !/^postgres-(roles|dcs|handback|backup-configure|tls-switch-pause|tls-switch-resume)-/.test(n),
      ),
    ).toEqual([]);
    expect(touched).toContain(`local-${host}`);
    expect(preview.events.filter((e) => e.op !== "same").length).toBe(touched.length);
    expect(r.output).toMatch(new RegExp(`etcd member ${host} lost its data`));
    // Nothing stopped on the new host by an old step's delete.
    expect(onHost(stack, host, "systemctl is-active etcd patroni haproxy").split("\n")).toEqual([
      "active",
      "active",
      "active",
    ]);
    const members = JSON.parse(
      onHost(
        stack,
        host,
        'etcdctl member list -w json | python3 -c \'import json,sys; print(json.dumps([m.get("name","") for m in json.load(sys.stdin)["members"]]))\'',
      ),
    ) as string[];
    expect(members.sort()).toEqual([...stack.etcdHosts].sort()); // dev: etcd on every member host, all started
    const receiver = () =>
      onHost(
        stack,
        host,
        `runuser -u postgres -- psql -X -At -h /var/run/postgresql -p ${stack.pgPort} -c "select status from pg_stat_wal_receiver"`,
      );
    let status = "";
    for (let i = 0; i < 60 && status !== "streaming"; i++) {
      await new Promise((res) => setTimeout(res, 1000));
      status = receiver();
    }
    expect(status).toBe("streaming");
    // The new replica came from the backup repository, not from the primary.
    expect(onHost(stack, host, "journalctl -u patroni --no-pager -o cat")).toMatch(
      /replica has been created using pgbackrest/,
    );
    expect(patronictlList(stack, host).find((m) => m.Member === host)?.Role).toBe("Replica");
    expect(psql(stack, stack.rwPort, "select pg_is_in_recovery()")).toBe("f");
    const again = await runStack(stack, "up");
    expectSucceeded(again);
    expect(again.events.filter((e) => e.op !== "same")).toEqual([]);
  });

  // The chaos smoke runs on the suite's cluster, last before it goes (a deploy of its own would
  // cost minutes).
  itOn(
    ["dev"],
    "recovers by itself from each smoke fault under load, losing no acknowledged write (chaos smoke)",
    async () => {
      expect(stateResources(stack)).toBeGreaterThan(0);
      await expectChaosSmoke(stack);
    },
  );

  it("destroys HAProxy, then replicas, then the leader, then etcd (followers first)", async () => {
    const primary = patronictlList(stack, stack.leader).find((m) => m.Role === "Leader")?.Member;
    expect(primary).toBeDefined();
    const r = await runStack(stack, "down");
    // A member declared as a replica that is the primary hands the role back before it stops.
    const handBack = /is the primary: switching over to/;
    if (primary === stack.leader) expect(r.output).not.toMatch(handBack);
    else expect(r.output).toMatch(handBack);
    expectSucceeded(r);
    timings.destroy_s = r.seconds;
    const order = stopOrder(r);
    const at = (part: string) => order.findIndex((n) => n.includes(part));
    const replicas = order.filter((n) => n.includes("-patroni-") && !n.endsWith(`-${stack.leader}`));
    // The router tier first: keepalived (the virtual IP), then HAProxy and PgBouncer's pools.
    const routerTier = order.filter((n) => /-(haproxy|vip|pgbouncer)-/.test(n));
    expect(order.slice(0, routerTier.length)).toEqual(routerTier);
    for (const v of routerTier.filter((n) => n.includes("-vip-")))
      expect(order.indexOf(v)).toBeLessThan(at("-haproxy-"));
    for (const rep of replicas) expect(order.indexOf(rep)).toBeLessThan(at(`-patroni-${stack.leader}`));
    const etcd = order.filter((n) => n.includes("-etcd-"));
    for (const e of etcd) expect(order.indexOf(e)).toBeGreaterThan(at(`-patroni-${stack.leader}`));
    // Every etcd member but the last stopped as a follower (a leader hands over first).
    const lines = r.output.split("\n").filter((l) => /stopping etcd member/.test(l));
    // e.g. "stopping etcd member pg2 (follower: leadership moved to …)"
    expect(lines).toHaveLength(etcd.length);
    expect(lines.slice(0, -1).every((l) => /\(follower/.test(l))).toBe(true);
    expect(lines[lines.length - 1]).toMatch(etcd.length === 1 ? /stopping etcd member/ : /\(raft leader, last member/);
    expect(leftovers(stack)).toEqual([]);
    expect(stateResources(stack)).toBe(0);
  });

  it("leaves nothing behind at the last down", async () => {
    const d = await runStack(stack, "down");
    expect(d.code).toBe(0);
    expect(leftovers(stack)).toEqual([]);
    expect(stateResources(stack)).toBe(0);
  });

  // A stack of its own, once the suite's cluster is gone: the dev topology without its backup host.
  // A stack of its own on bookworm (etcd 3.4), in the seed topology's run.
  itOn(
    ["seed"],
    "refuses to switch a running cluster on etcd 3.4 to TLS before anything changes, and goes on in plain text",
    async () => {
      const plain = makeStack("bookworm", 11, {
        kind: "switch34",
        overrides: {
          hosts: ["pg1", "pg2"].map((name) => ({ name, address: "0.0.0.0" })),
          roles: { etcd: ["pg1"], patroni: ["pg1", "pg2"], haproxy: ["pg1", "pg2"] },
          tls: { enabled: false },
        },
      });
      try {
        expectSucceeded(await runStack(plain, "up"));
        const configs = () =>
          plain.hosts.map((h) =>
            onHost(plain, h, `md5sum ${ETCD_CONFIG_PATH} ${PATRONI_CONFIG_PATH} 2>/dev/null || true`),
          );
        const before = configs();
        editConfig(plain, "tls", { enabled: true });
        const refused = await runStack(plain, "up");
        expect(refused.code).not.toBe(0);
        expect(refused.output).toMatch(/runs etcd 3\.4\.\d+: etcd before 3\.5 cannot serve plain text and TLS/);
        // Nothing moved: the services' files, the cluster (not paused), plain text served.
        expect(configs()).toEqual(before);
        expect(onHost(plain, "pg1", "etcdctl --endpoints=http://127.0.0.1:2379 endpoint health 2>&1")).toMatch(
          /is healthy/,
        );
        expect(onHost(plain, "pg1", `curl -sS ${plain.restUrls.pg1}/patroni`)).not.toMatch(/"pause": ?true/);
        // Back to plain text: the up goes on, and every host records plain text.
        editConfig(plain, "tls", { enabled: false });
        expectSucceeded(await runStack(plain, "up"));
        for (const h of plain.hosts) expect(onHost(plain, h, "cat /etc/patroni-stack/transport")).toBe("plain");
        expectSucceeded(await runStack(plain, "down"));
      } finally {
        removeStack(plain);
      }
    },
  );

  itOn(
    ["dev"],
    "switches a running cluster (its primary moved since the deploy) from plain text to TLS in place: no HAProxy server DOWN, the virtual IP stays, no write fails",
    async () => {
      const plain = makeStack("dev", 8, {
        kind: "switch",
        overrides: {
          hosts: ["pg1", "pg2", "pg3"].map((name) => ({ name, address: "0.0.0.0" })),
          roles: { etcd: ["pg1", "pg2", "pg3"], patroni: ["pg1", "pg2", "pg3"], haproxy: ["pg1", "pg2"], backup: [] },
          tls: { enabled: false },
        },
      });
      try {
        expectSucceeded(await runStack(plain, "up"));
        expect(plain.tls).toBe(false);
        // The roles moved since the deploy, as they do in a cluster's life: a replica leads.
        const primary = plain.patroniHosts.find((h) => h !== plain.leader) ?? "";
        switchover(plain, plain.leader, primary);
        const leads = () => patronictlList(plain, primary).find((m) => m.Role === "Leader")?.Member;
        for (let i = 0; i < 60 && leads() !== primary; i++) await new Promise((r) => setTimeout(r, 1000));
        expect(leads()).toBe(primary);
        // And HAProxy followed, before the switch's window opens (its checks mark the old primary DOWN).
        const followed = () =>
          plain.routers.every((r) => {
            const csv = onHost(plain, r, `curl -s 'http://127.0.0.1:${plain.routerPorts.stats}/;csv'`);
            const up = Object.entries(serverStates(csv, READ_WRITE_LISTENER)).filter(([, st]) => st === "UP");
            const readOnly = serverStates(csv, READ_ONLY_LISTENER);
            return up.length === 1 && up[0][0] === primary && readOnly[primary] === "DOWN";
          });
        for (let i = 0; i < 60 && !followed(); i++) await new Promise((r) => setTimeout(r, 1000));
        expect(followed()).toBe(true);
        const vipHolder = () =>
          plain.routers.filter(
            (r) => onHost(plain, r, `ip -o -4 addr show | grep -c ' ${plain.vip}/' || true`) === "1",
          );
        const holder = vipHolder();
        expect(holder).toHaveLength(1);
        // Clients as applications have them: TLS when the server offers it (libpq's sslmode=prefer).
        const prefer = (e: Endpoint): Endpoint => ({ ...e, preferTls: true });
        const pooled = await startWriting(prefer(endpoints(plain).rw), "tls-switch-pooled", 300, 60_000);
        const direct = await startWriting(prefer(endpoints(plain, "direct").rw), "tls-switch-direct", 300);
        const since = onHost(plain, plain.routers[0], "date -u '+%Y-%m-%d %H:%M:%S'");
        editConfig(plain, "tls", { enabled: true });
        let r: RunResult;
        try {
          r = await runStack(plain, "up");
        } finally {
          await pooled.stop();
          await direct.stop();
        }
        expectSucceeded(r);
        expect(r.output).toMatch(/switch from plain text to TLS in this up/);
        timings.tls_switch_s = r.seconds;
        const verdicts = { pooled: await pooled.verify(), direct: await direct.verify() };
        for (const [path, v] of Object.entries(verdicts)) {
          const client = path === "pooled" ? pooled : direct;
          process.stdout.write(
            `switch to TLS under a writing client (${path}): ${v.writes.failed} failed, longest gap ${v.writes.longestGapMs} ms${failedLines(client)}\n`,
          );
          timings[`tls_switch_${path}_failed_writes`] = v.writes.failed;
          timings[`tls_switch_${path}_write_gap_s`] = v.writes.longestGapMs / 1000;
          expect({ path, failed: v.writes.failed, lost: v.writes.lost }).toEqual({ path, failed: 0, lost: 0 });
        }
        // No server went DOWN on a failed check (a reload that restores a DOWN server's saved state
        // logs it too, "changed from server-state"), and the virtual IP stayed where it was.
        for (const router of plain.routers) {
          const log = onHost(plain, router, `journalctl -t haproxy --no-pager -o cat --since '${since}' || true`);
          const down = log.split("\n").filter((l) => / is DOWN/.test(l) && !/changed from server-state/.test(l));
          expect({ router, down }).toEqual({ router, down: [] });
        }
        expect(vipHolder()).toEqual(holder);
        // Every host records TLS; the cluster runs unpaused, on its leader and timeline.
        for (const h of plain.hosts) expect(onHost(plain, h, "cat /etc/patroni-stack/transport")).toBe("tls");
        const members = patronictlList(plain, plain.leader);
        expect(members.find((m) => m.Role === "Leader")?.Member).toBe(primary);
        // (The stack's URLs were read when it was plain text.)
        const tlsUrl = (url: string) => url.replace(/^http:/, "https:");
        expect(onHost(plain, plain.leader, `curl -sS ${tlsUrl(plain.restUrls[plain.leader])}/patroni`)).not.toMatch(
          /"pause": ?true/,
        );
        // Plain text is refused where it was served; TLS is verified through the virtual IP.
        const status = (url: string) =>
          spawnSync("curl", ["-s", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}", url], { encoding: "utf8" })
            .stdout;
        for (const h of plain.etcdHosts) expect(status(`http://${plain.addresses[h]}:2379/health`)).toBe("000");
        // Every etcd member's peers reach it over TLS (its registration moved in the finish phase).
        const registered = JSON.parse(onHost(plain, plain.etcdHosts[0], "etcdctl member list -w json")) as {
          members: { name: string; peerURLs: string[] }[];
        };
        expect(registered.members.flatMap((m) => m.peerURLs).filter((u) => !u.startsWith("https://"))).toEqual([]);
        expect(registered.members).toHaveLength(plain.etcdHosts.length);
        for (const h of plain.patroniHosts) {
          expect(status(`${plain.restUrls[h]}/health`)).toBe("000");
        }
        const files = clientFiles(plain.dir, plain.name);
        const verified = sh(
          "psql",
          ["-X", "-At", "-h", plain.vip ?? "", "-p", String(plain.routerPorts.readWrite), "-U", "postgres"].concat([
            "-d",
            "postgres",
            "-c",
            "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
          ]),
          { PGPASSFILE: files.pgpass, PGSSLMODE: "verify-full", PGSSLROOTCERT: files.ca, PGCONNECT_TIMEOUT: "5" },
        );
        expect(verified).toBe("t");
        expect(
          onHost(
            plain,
            primary,
            `runuser -u postgres -- psql -X -At -h /var/run/postgresql -p ${plain.pgPort} -c ` +
              `"select count(*), bool_and(s.ssl) from pg_stat_replication r join pg_stat_ssl s using (pid)"`,
          ),
        ).toBe(`${plain.hostsRunningPatroni - 1}|t`);
        // The switch is done: the next up changes nothing.
        const again = await runStack(plain, "up");
        expectSucceeded(again);
        expect(again.events.filter((e) => e.op !== "same")).toEqual([]);
        expectSucceeded(await runStack(plain, "down"));
      } finally {
        removeStack(plain);
      }
    },
  );
});
