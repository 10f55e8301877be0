/**
 * Behaviour of the lifecycle scripts, run for real in bash with stub `systemctl`, `etcdctl`,
 * `curl`, `haproxy`, `install` and `socat` first on PATH: each stub records its arguments, and
 * the tests check what the script did and in which order (not only that it parses).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderDeleteCommand, renderRunCommand, renderScript, ScriptName, ScriptValue } from "../../configs/scripts";

let dir: string;
let calls: string;

/** A stub command: records "name args" and runs `body` (sh) with the arguments. */
function stub(name: string, body = "exit 0") {
  fs.writeFileSync(path.join(dir, "bin", name), `#!/bin/bash\necho "${name} $*" >> "${calls}"\n${body}\n`, {
    mode: 0o755,
  });
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "patroni-stack-lifecycle-"));
  calls = path.join(dir, "calls");
  fs.mkdirSync(path.join(dir, "bin"));
  // Units run until `disable --now` or `stop` stops them.
  stub(
    "systemctl",
    `unit=\${!#}; case "$1" in is-active) [ ! -e "${dir}/stopped-$unit" ] ;; disable|stop) touch "${dir}/stopped-$unit" ;; esac`,
  );
  // install: -d creates directories (only under the test's directory), -D copies SOURCE to DEST;
  // owners are not changed.
  stub(
    "install",
    'args=(); while [ $# -gt 0 ]; do case "$1" in -m|-o|-g) shift 2 ;; -d|-D) mode=$1; shift ;; *) args+=("$1"); shift ;; esac; done\n' +
      `if [ "$mode" = -d ]; then for d in "\${args[@]}"; do case "$d" in "${dir}"/*) mkdir -p "$d" ;; esac; done; exit 0; fi\n` +
      'mkdir -p "$(dirname "${args[1]}")"; cp "${args[0]}" "${args[1]}"',
  );
  stub("chown");
  stub("chmod");
  stub("socat", "cat >/dev/null");
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Run a rendered script (without its root check) with the stubs first on PATH. */
function run(name: ScriptName, vars: Record<string, ScriptValue>, stdin = "") {
  const text = renderScript(name, vars)
    .replace(/^require_root$/m, "")
    .replace(/^export LC_ALL=C PATH=.*$/m, `export LC_ALL=C PATH=${dir}/bin:$PATH`);
  fs.writeFileSync(calls, "");
  // As the hosts run it: `bash <uploaded file>`, so that a script may run itself again.
  const file = path.join(dir, `${name}.sh`);
  fs.writeFileSync(file, text);
  const r = spawnSync("bash", [file], { input: stdin, encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}`, calls: fs.readFileSync(calls, "utf8").split("\n") };
}

const indexOf = (lines: string[], re: RegExp) => lines.findIndex((l) => re.test(l));

describe("haproxy-configure", () => {
  const vars = () => ({
    CONFIG_PATH: path.join(dir, "haproxy.cfg"),
    CONFIG: "global\n  maxconn 100",
    STATE_FILE: path.join(dir, "state", "servers"),
    ADMIN_SOCKET: path.join(dir, "admin.sock"),
  });

  it("never installs or reloads a configuration that `haproxy -c` rejects", () => {
    stub("haproxy", 'case " $* " in *" -c "*) exit 1 ;; esac');
    fs.writeFileSync(path.join(dir, "haproxy.cfg"), "the running configuration\n");
    const r = run("haproxy-configure", vars());
    expect(r.status).not.toBe(0);
    expect(r.out).toContain("haproxy rejected the rendered configuration");
    expect(fs.readFileSync(path.join(dir, "haproxy.cfg"), "utf8")).toBe("the running configuration\n");
    expect(r.calls.some((l) => /systemctl reload/.test(l))).toBe(false);
  });

  it("checks, installs, saves server states, then reloads a changed configuration", () => {
    stub("haproxy");
    const r = run("haproxy-configure", vars());
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    expect(fs.readFileSync(path.join(dir, "haproxy.cfg"), "utf8")).toBe("global\n  maxconn 100\n");
    const check = indexOf(r.calls, /^haproxy -c/);
    const save = indexOf(r.calls, /^socat /);
    const reload = indexOf(r.calls, /^systemctl reload haproxy/);
    expect(check).toBeGreaterThanOrEqual(0);
    expect(check).toBeLessThan(save);
    expect(save).toBeLessThan(reload);
  });

  it("does not reload when the configuration is unchanged", () => {
    stub("haproxy");
    fs.writeFileSync(path.join(dir, "haproxy.cfg"), "global\n  maxconn 100\n");
    const r = run("haproxy-configure", vars());
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    expect(r.calls.some((l) => /systemctl reload/.test(l))).toBe(false);
  });
});

describe("a running router's switch to TLS", () => {
  // The admin socket records what it is sent; the worker's pid changes with a reload.
  const admin = () => {
    stub(
      "socat",
      `input=$(cat); echo "admin: $input" >> "${calls}"; ` +
        `if [ "$input" = "show info" ]; then if [ -e "${dir}/reloaded" ]; then echo "Pid: 2"; else echo "Pid: 1"; fi; fi`,
    );
    stub("systemctl", `case "$1" in reload) touch "${dir}/reloaded" ;; is-active) exit 0 ;; esac`);
  };
  const servers = ["postgres_rw/pg1", "postgres_rw/pg2", "postgres_ro/pg1", "postgres_ro/pg2"];
  const marker = (transport: string) => {
    fs.writeFileSync(path.join(dir, "transport"), `${transport}\n`);
    return path.join(dir, "transport");
  };

  // haproxy-configure on a router with a virtual IP check, on a host that records TRANSPORT.
  const haproxyConfigure = (config: string, transport: string) =>
    run("haproxy-configure", {
      CONFIG_PATH: path.join(dir, "haproxy.cfg"),
      CONFIG: config,
      STATE_FILE: path.join(dir, "state", "servers"),
      ADMIN_SOCKET: path.join(dir, "admin.sock"),
      VIP_CHECK_PATH: path.join(dir, "check.sh"),
      VIP_CHECK: "either scheme",
      SERVERS: servers,
      PATRONI_STACK_TRANSPORT: marker(transport),
    });

  it("HAProxy: the VIP check takes either scheme first, then the reload, then the checks run again on every server", () => {
    admin();
    stub("haproxy");
    fs.writeFileSync(path.join(dir, "check.sh"), "exec curl http://127.0.0.1:7000/\n");
    const r = haproxyConfigure("global\n  maxconn 100 # check-ssl", "plain-to-tls");
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    expect(fs.readFileSync(path.join(dir, "check.sh"), "utf8")).toBe("either scheme\n");
    const save = indexOf(r.calls, /^admin: show servers state/);
    const reload = indexOf(r.calls, /^systemctl reload haproxy/);
    const enables = r.calls.filter((l) => /^admin: enable health /.test(l));
    expect(save).toBeLessThan(reload);
    expect(enables).toEqual(servers.map((sv) => `admin: enable health ${sv}`));
    expect(indexOf(r.calls, /^admin: enable health/)).toBeGreaterThan(reload);
  });

  it("HAProxy without a switch: no check script written, no health command", () => {
    admin();
    stub("haproxy");
    fs.writeFileSync(path.join(dir, "check.sh"), "the check\n");
    const r = haproxyConfigure("global", "tls");
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    expect(fs.readFileSync(path.join(dir, "check.sh"), "utf8")).toBe("the check\n");
    expect(r.calls.filter((l) => /health/.test(l))).toEqual([]);
  });

  const tlsSwitch = (action: string, transport: string, extra: Record<string, ScriptValue> = {}) =>
    run("tls-switch", {
      ACTION: action,
      CONFIG_PATH: path.join(dir, "patroni.yml"),
      HAPROXY_CONFIG: path.join(dir, "haproxy.cfg"),
      ADMIN_SOCKET: path.join(dir, "admin.sock"),
      SERVERS: servers,
      PATRONI_STACK_TRANSPORT: marker(transport),
      ...extra,
    });

  it("holds every server's check state while the REST API moves, unless HAProxy checks over TLS already", () => {
    admin();
    fs.writeFileSync(path.join(dir, "haproxy.cfg"), "server pg1 10.0.0.11:5432 check port 8008\n");
    const r = tlsSwitch("hold", "plain-to-tls");
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    expect(r.calls.filter((l) => /^admin:/.test(l))).toEqual(servers.map((sv) => `admin: disable health ${sv}`));
    fs.writeFileSync(path.join(dir, "haproxy.cfg"), "server pg1 10.0.0.11:5432 check port 8008 check-ssl\n");
    expect(tlsSwitch("hold", "plain-to-tls").calls.filter((l) => /^admin:/.test(l))).toEqual([]);
  });

  it("pauses and resumes the cluster (already done is fine), and says why it cannot", () => {
    stub("patronictl", 'if [ "$3" = pause ]; then echo "Error: Cluster is already paused"; exit 1; fi; exit 0');
    expect(tlsSwitch("pause", "plain-to-tls").out).toContain("cluster management already paused");
    expect(tlsSwitch("resume", "plain-to-tls").out).toContain("cluster management resumed");
    stub("patronictl", 'echo "Error: no leader"; exit 1');
    const r = tlsSwitch("pause", "plain-to-tls");
    expect(r.status).not.toBe(0);
    expect(r.out).toContain("patronictl pause failed: Error: no leader");
  });

  it("does nothing on a host that is not switching, and records TLS at the end of a switch", () => {
    stub("patronictl", "exit 1");
    for (const action of ["pause", "hold", "resume", "done"]) {
      const r = tlsSwitch(action, "tls");
      expect({ action, status: r.status, calls: r.calls.filter(Boolean) }).toEqual({ action, status: 0, calls: [] });
    }
    expect(tlsSwitch("done", "plain-to-tls").status).toBe(0);
    expect(fs.readFileSync(path.join(dir, "transport"), "utf8")).toBe("tls\n");
  });
});

describe("etcd-configure", () => {
  const vars = () => ({
    MEMBER: "pg2",
    CLIENT_URL: "http://10.0.0.12:2379",
    PEERS: ["http://10.0.0.11:2379", "http://10.0.0.13:2379"],
    CONFIG_PATH: path.join(dir, "etcd.yml"),
    CONFIG: "name: pg2",
    SWITCH_CONFIG: "name: pg2\nboth: true",
    PEER_URL: "http://10.0.0.12:2380",
    UNIT: "[Unit]",
    UNIT_PATH: path.join(dir, "etcd.service"),
    DATA_DIR: path.join(dir, "data"),
    PHASE: "configure",
  });
  // A TLS stack's member, on a host that records TRANSPORT (see transport_unchanged).
  const tlsVars = (phase: string, transport: string) => {
    const marker = path.join(dir, "transport");
    fs.writeFileSync(marker, `${transport}\n`);
    return {
      ...vars(),
      CLIENT_URL: "https://10.0.0.12:2379",
      PEERS: ["https://10.0.0.11:2379", "https://10.0.0.13:2379"],
      PEER_URL: "https://10.0.0.12:2380",
      PHASE: phase,
      PATRONI_STACK_TRANSPORT: marker,
    };
  };
  // `etcdctl lock NAME -- CMD...` runs CMD while it holds the lock; `member list` shows pg2 on
  // a plain-text peer URL.
  const lockingEtcdctl = () =>
    stub(
      "etcdctl",
      'if [[ " $* " == *" lock "* ]]; then while [ "$1" != -- ]; do shift; done; shift; exec "$@"; fi\n' +
        'if [[ " $* " == *" member list "* ]]; then echo \'{"members":[{"ID":3054,"name":"pg2","peerURLs":["http://10.0.0.12:2380"]}]}\'; fi',
    );

  it("switching to TLS: serves both schemes and restarts under the lock, its peer URL still in plain text; all through plain text", () => {
    lockingEtcdctl();
    const r = run("etcd-configure", tlsVars("configure", "plain-to-tls"));
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    expect(fs.readFileSync(path.join(dir, "etcd.yml"), "utf8")).toContain("both: true");
    const lock = indexOf(r.calls, /^etcdctl --endpoints=http:\/\/10\.0\.0\.11:2379,http:\/\/10\.0\.0\.13:2379 lock /);
    const restart = indexOf(r.calls, /^systemctl restart etcd/);
    expect(lock).toBeGreaterThanOrEqual(0);
    expect(restart).toBeGreaterThan(lock);
    // Peers that have not restarted yet cannot dial a peer over TLS: the peer URL moves later.
    expect(indexOf(r.calls, /^etcdctl --endpoints=\S+ member update/)).toBe(-1);
    expect(r.calls.filter((l) => /^etcdctl/.test(l)).join("\n")).not.toMatch(/https:\/\/10/);
  });

  it("switching to TLS, finish phase: serves TLS only, moving the peer URL to TLS under the lock before the restart", () => {
    lockingEtcdctl();
    fs.writeFileSync(path.join(dir, "etcd.yml"), "name: pg2\nboth: true\n");
    const r = run("etcd-configure", tlsVars("finish", "plain-to-tls"));
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    expect(fs.readFileSync(path.join(dir, "etcd.yml"), "utf8")).toBe("name: pg2\n");
    const lock = indexOf(r.calls, /^etcdctl --endpoints=https:\/\/10\.0\.0\.11:2379,https:\/\/10\.0\.0\.13:2379 lock /);
    const update = indexOf(r.calls, /^etcdctl .*member update bee --peer-urls=https:\/\/10\.0\.0\.12:2380$/);
    const restart = indexOf(r.calls, /^systemctl restart etcd/);
    expect(lock).toBeGreaterThanOrEqual(0);
    expect(update).toBeGreaterThan(lock);
    expect(restart).toBeGreaterThan(update);
  });

  it("without a switch, the finish phase touches nothing", () => {
    lockingEtcdctl();
    const r = run("etcd-configure", tlsVars("finish", "tls"));
    expect(r.status).toBe(0);
    expect(fs.existsSync(path.join(dir, "etcd.yml"))).toBe(false);
    expect(r.calls.filter((l) => l !== "")).toEqual([]);
  });

  it("restarts a running member with a changed configuration under the cluster's lock, through its peers", () => {
    // `etcdctl lock NAME -- CMD...` runs CMD while it holds the lock: the stub just runs it.
    stub("etcdctl", 'if [[ " $* " == *" lock "* ]]; then while [ "$1" != -- ]; do shift; done; shift; exec "$@"; fi');
    const r = run("etcd-configure", vars());
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    const lock = indexOf(
      r.calls,
      /^etcdctl --endpoints=http:\/\/10\.0\.0\.11:2379,http:\/\/10\.0\.0\.13:2379 lock patroni-stack\/etcd-restart --/,
    );
    const restart = indexOf(r.calls, /^systemctl restart etcd/);
    expect(lock).toBeGreaterThanOrEqual(0);
    expect(restart).toBeGreaterThan(lock);
    // Every member healthy before its turn, and this one again after its restart.
    expect(indexOf(r.calls.slice(lock), /endpoint health/)).toBeGreaterThanOrEqual(0);
    expect(r.out).toContain("etcd member pg2 restarted with its new configuration");
  });

  it("keeps a running member running when only the initial-cluster settings changed", () => {
    stub("etcdctl");
    fs.mkdirSync(path.join(dir, "data", "member"), { recursive: true });
    fs.writeFileSync(
      path.join(dir, "etcd.yml"),
      "name: pg2\ninitial-cluster: pg1=a,pg2=b\ninitial-cluster-state: existing\n",
    );
    fs.writeFileSync(path.join(dir, "etcd.service"), "[Unit]\n");
    const r = run("etcd-configure", {
      ...vars(),
      CONFIG: "name: pg2\ninitial-cluster: pg1=a,pg2=b,pg4=d\ninitial-cluster-state: new",
    });
    expect(r.status).toBe(0);
    expect(r.out).toContain("only the initial-cluster settings changed: etcd member pg2 keeps running");
    expect(r.calls.filter((l) => /systemctl restart|lock/.test(l))).toEqual([]);
    expect(fs.readFileSync(path.join(dir, "etcd.yml"), "utf8")).toContain("pg4=d");
  });

  it("leaves a member whose files are unchanged running", () => {
    stub("etcdctl");
    fs.writeFileSync(path.join(dir, "etcd.yml"), "name: pg2\n");
    fs.writeFileSync(path.join(dir, "etcd.service"), "[Unit]\n");
    const r = run("etcd-configure", vars());
    expect(r.status).toBe(0);
    expect(r.calls.filter((l) => /systemctl restart|lock/.test(l))).toEqual([]);
  });
});

/**
 * A shell command printing `etcdctl member list -w json` for started members pgN (id 0xNNNN,
 * URLs 10.0.0.1N), leaving out the hex ids listed in the file `removed` (when given).
 */
function memberList(names: string[], removed = "/nonexistent") {
  const members = names.map((name) => {
    const n = name.slice(2);
    return {
      ID: parseInt(n.repeat(4), 16),
      name,
      peerURLs: [`http://10.0.0.1${n}:2380`],
      clientURLs: [`http://10.0.0.1${n}:2379`],
    };
  });
  const program = `import json, sys
gone = set(open(sys.argv[1]).read().split()) if __import__("os").path.exists(sys.argv[1]) else set()
print(json.dumps({"members": [m for m in json.loads(sys.argv[2]) if "%x" % m["ID"] not in gone]}))`;
  return `python3 -c '${program}' '${removed}' '${JSON.stringify(members)}'`;
}

describe("etcd-start", () => {
  const vars = (prune: boolean) => ({
    MEMBER: "pg1",
    CLIENT_URL: "http://10.0.0.11:2379",
    PEER_URL: "http://10.0.0.11:2380",
    PEERS: ["http://10.0.0.12:2379", "http://10.0.0.13:2379"],
    CONFIG_PATH: path.join(dir, "etcd.yml"),
    DATA_DIR: path.join(dir, "data"),
    TIMEOUT: 5,
    PRUNE: prune,
    DECLARED_PEER_URLS: ["http://10.0.0.11:2380", "http://10.0.0.12:2380", "http://10.0.0.13:2380"],
  });
  // A running cluster of four registered members, pg4 no longer listed; a removed member leaves
  // the list.
  const registered = () =>
    stub(
      "etcdctl",
      `case "$*" in
        *"member remove"*) echo "\${@: -1}" >> "${dir}/removed" ;;
        *"member list"*) ${memberList(["pg1", "pg2", "pg3", "pg4"], `${dir}/removed`)} ;;
      esac`,
    );

  it("removes the registered members roles.etcd no longer lists, once every listed member is healthy", () => {
    registered();
    fs.mkdirSync(path.join(dir, "data", "member"), { recursive: true });
    const r = run("etcd-start", vars(true));
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    const remove = indexOf(r.calls, /member remove 4444$/);
    expect(remove).toBeGreaterThan(0);
    expect(r.calls.filter((l) => /member remove/.test(l))).toHaveLength(1);
    expect(indexOf(r.calls.slice(0, remove), /endpoint health/)).toBeGreaterThanOrEqual(0);
    expect(r.out).toContain("removing etcd member pg4 (4444): roles.etcd no longer lists it");
  });

  it("keeps a member whose peer URL changed scheme (a cluster switching to TLS): the same address is the same member", () => {
    registered();
    fs.mkdirSync(path.join(dir, "data", "member"), { recursive: true });
    const r = run("etcd-start", {
      ...vars(true),
      DECLARED_PEER_URLS: ["https://10.0.0.11:2380", "https://10.0.0.12:2380", "https://10.0.0.13:2380"],
    });
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    // Only pg4, which roles.etcd no longer lists, leaves: the others are registered on http.
    expect(r.calls.filter((l) => /member remove/.test(l))).toEqual([expect.stringMatching(/member remove 4444$/)]);
  });

  it("checks only itself when it is the one member left", () => {
    registered();
    fs.mkdirSync(path.join(dir, "data", "member"), { recursive: true });
    const r = run("etcd-start", { ...vars(true), PEERS: [], DECLARED_PEER_URLS: ["http://10.0.0.11:2380"] });
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    // No empty endpoint in a list (etcdctl cannot dial one).
    expect(r.calls.filter((l) => /--endpoints=\S*,(\s|$)/.test(l))).toEqual([]);
    expect(r.calls.filter((l) => /member remove/.test(l))).toHaveLength(3);
  });

  it("removes none from the other members", () => {
    registered();
    fs.mkdirSync(path.join(dir, "data", "member"), { recursive: true });
    const r = run("etcd-start", vars(false));
    expect(r.status).toBe(0);
    expect(r.calls.filter((l) => /member remove/.test(l))).toEqual([]);
  });

  it("moves aside the data of a member the cluster removed, then joins in its turn", () => {
    // The other members answer healthy on their client URL's /health.
    stub("curl", "printf 200");
    stub(
      "etcdctl",
      `case "$*" in
        *" lock "*) while [ "$1" != -- ]; do shift; done; shift; exec "$@" ;;
        *"member list"*) ${memberList(["pg2"])} ;;
        *"member add"*) printf '%s\\n' 'Member 1111 added' 'ETCD_NAME="pg1"' 'ETCD_INITIAL_CLUSTER="pg2=http://10.0.0.12:2380,pg1=http://10.0.0.11:2380"' ;;
      esac`,
    );
    fs.mkdirSync(path.join(dir, "data", "member"), { recursive: true });
    fs.writeFileSync(
      path.join(dir, "etcd.yml"),
      "initial-cluster: pg1=http://10.0.0.11:2380,pg2=http://10.0.0.12:2380,pg3=http://10.0.0.13:2380\ninitial-cluster-state: new\n",
    );
    fs.writeFileSync(path.join(dir, "stopped-etcd"), "");
    const r = run("etcd-start", vars(false));
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    expect(r.out).toMatch(/etcd member pg1 was removed from the cluster: its old data moves to .*data\.removed-/);
    const lock = indexOf(r.calls, /lock patroni-stack\/etcd-join/);
    const add = indexOf(r.calls, /member add pg1 --peer-urls=http:\/\/10\.0\.0\.11:2380/);
    expect(lock).toBeGreaterThanOrEqual(0);
    expect(add).toBeGreaterThan(lock);
    // It names the cluster as it is: the running member and itself, not pg3 that joins later.
    expect(fs.readFileSync(path.join(dir, "etcd.yml"), "utf8")).toBe(
      "initial-cluster: pg2=http://10.0.0.12:2380,pg1=http://10.0.0.11:2380\ninitial-cluster-state: existing\n",
    );
  });
  it("waits for a quorum, then joins, when the cluster it is added to is busy with another member's join", () => {
    // No member answers healthy for the first three checks (the cluster waits for another new
    // member to start); pg2's member list, served without a quorum, does not list pg1.
    stub(
      "curl",
      `n=$(cat "${dir}/checks" 2>/dev/null || echo 0); echo $((n + 1)) > "${dir}/checks"; [ "$n" -ge 3 ] && printf 200 || printf 503`,
    );
    stub(
      "etcdctl",
      `case "$*" in
        *" lock "*) while [ "$1" != -- ]; do shift; done; shift; exec "$@" ;;
        *"member list"*) ${memberList(["pg2"])} ;;
        *"member add"*) printf '%s\\n' 'ETCD_INITIAL_CLUSTER="pg2=http://10.0.0.12:2380,pg1=http://10.0.0.11:2380"' ;;
      esac`,
    );
    fs.writeFileSync(path.join(dir, "etcd.yml"), "initial-cluster: pg1=a,pg2=b,pg3=c\ninitial-cluster-state: new\n");
    fs.writeFileSync(path.join(dir, "stopped-etcd"), "");
    const r = run("etcd-start", vars(false));
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    expect(r.out).toContain("settles another change: waiting for a healthy member");
    expect(indexOf(r.calls, /member add pg1/)).toBeGreaterThan(indexOf(r.calls, /lock patroni-stack\/etcd-join/));
    expect(fs.readFileSync(path.join(dir, "etcd.yml"), "utf8")).toContain("initial-cluster-state: existing");
  });

  it("starts a new cluster without waiting or locking when no other member answers", () => {
    stub("curl", "printf 000");
    stub("etcdctl", `case "$*" in *"member list"*|*" lock "*) exit 1 ;; esac`);
    fs.writeFileSync(path.join(dir, "etcd.yml"), "initial-cluster: pg1=a,pg2=b,pg3=c\ninitial-cluster-state: new\n");
    fs.writeFileSync(path.join(dir, "stopped-etcd"), "");
    const r = run("etcd-start", vars(false));
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    expect(r.calls.filter((l) => / lock |member add/.test(l))).toEqual([]);
    expect(fs.readFileSync(path.join(dir, "etcd.yml"), "utf8")).toContain("initial-cluster-state: new");
  });
});

describe("patroni-start", () => {
  const vars = (role: string) => ({
    MEMBER: "pg2",
    ROLE: role,
    REST_URL: "https://10.0.0.12:8008",
    PG_PORT: 5432,
    SOCKET_DIR: dir,
    TIMEOUT: 2,
  });
  // pg2 answers as the primary (it took the role in a switchover).
  beforeEach(() => stub("curl", 'case "$*" in *"/primary"*) printf 200 ;; *) printf 503 ;; esac'));

  it("finds a running member that holds the primary role since a switchover up, whatever its declared role", () => {
    const r = run("patroni-start", vars("replica"));
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    expect(r.out).toContain("pg2 is up (primary)");
  });

  it("waits for a replica it starts to stream, not for any role", () => {
    stub("systemctl", 'case "$1" in is-active) exit 3 ;; esac');
    const r = run("patroni-start", vars("replica"));
    expect(r.status).not.toBe(0);
    expect(r.out).toContain("timed out after 2s waiting for pg2 to answer https://10.0.0.12:8008/replica and stream");
  });
});

describe("pgbouncer-configure", () => {
  const vars = (port: number) => ({
    UNIT_PATH: path.join(dir, "unit"),
    UNIT: "[Unit]",
    POOLS: [`rw:${path.join(dir, "rw.ini")}:pool@rw.service`],
    CONFIGS: [`[pgbouncer]\nlisten_port = ${port}\nmax_client_conn = 10`],
    AUTH_FILE: path.join(dir, "users.txt"),
    TOOL_PATH: path.join(dir, "tool"),
    TOOL: "#!/bin/bash",
  });
  beforeEach(() => stub("id", "exit 0"));

  it("installs the auth file from stdin without printing it, and reloads a running pool on a change", () => {
    fs.writeFileSync(path.join(dir, "rw.ini"), "[pgbouncer]\nlisten_port = 5000\nmax_client_conn = 5\n");
    const r = run("pgbouncer-configure", vars(5000), '"pgbouncer" "s3cret-pw"\n');
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    expect(fs.readFileSync(path.join(dir, "users.txt"), "utf8")).toBe('"pgbouncer" "s3cret-pw"\n');
    expect(r.out).not.toContain("s3cret-pw");
    expect(r.calls).toContain("systemctl reload pool@rw.service");
    expect(r.calls.filter((l) => /restart/.test(l))).toEqual([]);
  });

  it("switching to TLS: once the reloaded pool makes TLS server connections, RECONNECT closes the plain ones", () => {
    // The admin tool, already in place (the step finds it unchanged): it records its calls.
    const body = `if [[ "$*" == *"SHOW CONFIG"* ]]; then echo "server_tls_sslmode|verify-full|prefer|yes"; fi`;
    stub("pooltool", body);
    fs.writeFileSync(path.join(dir, "transport"), "plain-to-tls\n");
    fs.writeFileSync(path.join(dir, "rw.ini"), "[pgbouncer]\nlisten_port = 5000\n");
    const r = run(
      "pgbouncer-configure",
      {
        ...vars(5000),
        TOOL_PATH: path.join(dir, "bin", "pooltool"),
        TOOL: `#!/bin/bash\necho "pooltool $*" >> "${calls}"\n${body}`,
        PATRONI_STACK_TRANSPORT: path.join(dir, "transport"),
      },
      '"pgbouncer" "pw"\n',
    );
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    const reload = indexOf(r.calls, /^systemctl reload pool@rw.service/);
    const shown = indexOf(r.calls, /^pooltool rw -qAtc SHOW CONFIG/);
    const reconnect = indexOf(r.calls, /^pooltool rw -qAtc RECONNECT/);
    expect(reload).toBeGreaterThanOrEqual(0);
    expect(shown).toBeGreaterThan(reload);
    expect(reconnect).toBeGreaterThan(shown);
  });

  it("reloads a running pool whose file is unchanged: the run sets back settings that drifted", () => {
    fs.writeFileSync(path.join(dir, "rw.ini"), "[pgbouncer]\nlisten_port = 5000\nmax_client_conn = 10\n");
    fs.writeFileSync(path.join(dir, "users.txt"), '"pgbouncer" "pw"\n');
    const r = run("pgbouncer-configure", vars(5000), '"pgbouncer" "pw"\n');
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    expect(r.out).toContain("file unchanged");
    expect(r.calls).toContain("systemctl reload pool@rw.service");
  });

  it("installs a new pool's file on a host that has none, and starts nothing", () => {
    fs.writeFileSync(path.join(dir, "stopped-pool@rw.service"), "");
    const r = run("pgbouncer-configure", vars(5000), '"pgbouncer" "pw"\n');
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    expect(fs.readFileSync(path.join(dir, "rw.ini"), "utf8")).toContain("listen_port = 5000");
    expect(r.calls.filter((l) => /systemctl (reload|restart|start)/.test(l))).toEqual([]);
  });

  it("restarts a pool whose port changed", () => {
    fs.writeFileSync(path.join(dir, "rw.ini"), "[pgbouncer]\nlisten_port = 6432\n");
    const r = run("pgbouncer-configure", vars(5000), '"pgbouncer" "pw"\n');
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    expect(r.calls).toContain("systemctl restart pool@rw.service");
  });

  it("refuses to run without the auth file on stdin", () => {
    const r = run("pgbouncer-configure", vars(5000), "");
    expect(r.status).not.toBe(0);
    expect(r.out).toContain("no auth file on stdin");
  });
});

describe("install_file", () => {
  it("reports a change once, then none for the same content", () => {
    const dest = path.join(dir, "f");
    const snippet = `write_file ${dest} 0644 root:root "hello"; write_file ${dest} 0644 root:root "hello"; write_file ${dest} 0644 root:root "bye"`;
    const text = renderScript("haproxy-stop", {})
      .split("\n# Stop HAProxy")[0]
      .replace(/^require_root$/m, "")
      .replace(/^export LC_ALL=C PATH=.*$/m, `export LC_ALL=C PATH=${dir}/bin:$PATH`);
    const r = spawnSync("bash", ["-c", `${text}\n${snippet}`], { encoding: "utf8" });
    expect({ status: r.status, out: r.stderr }).toMatchObject({ status: 0 });
    expect(r.stdout.trim().split("\n")).toEqual(["changed", "unchanged", "changed"]);
  });
});

describe("etcd-stop", () => {
  const vars = (handoff = "") => ({
    MEMBER: "pg1",
    CLIENT_URL: "http://10.0.0.11:2379",
    DATA_DIR: "/nonexistent",
    PURGE: false,
    HANDOFF_URL: handoff,
  });
  // etcdctl's JSON (decimal ids): pg1 is 0x1111, pg2 0x2222, pg3 0x3333; /health answers for the
  // members named in `healthy`.
  const cluster = (leader: boolean, healthy: string[] = ["12", "13"]) => {
    stub(
      "etcdctl",
      `case "$*" in
        *"endpoint status"*) echo '[{"Endpoint":"http://10.0.0.11:2379","Status":{"header":{"member_id":4369},"leader":${leader ? 4369 : 8738}}}]' ;;
        *"member list"*) echo '{"members":[{"ID":4369,"name":"pg1","clientURLs":["http://10.0.0.11:2379"]},{"ID":8738,"name":"pg2","clientURLs":["http://10.0.0.12:2379"]},{"ID":13107,"name":"pg3","clientURLs":["http://10.0.0.13:2379"]}]}' ;;
        *"move-leader"*) exit 0 ;;
      esac`,
    );
    const ok = healthy.map((h) => `*10.0.0.${h}:2379/health*`).join("|");
    stub("curl", `case "$*" in ${ok}) printf 200 ;; *) printf 000 ;; esac`);
  };

  it("hands raft leadership to the member that stops last, before it stops", () => {
    cluster(true);
    const r = run("etcd-stop", vars("http://10.0.0.13:2379"));
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    const move = indexOf(r.calls, /move-leader 3333$/);
    const stop = indexOf(r.calls, /^systemctl disable --now etcd/);
    expect(move).toBeGreaterThanOrEqual(0);
    expect(move).toBeLessThan(stop);
    expect(r.out).toContain("stopping etcd member pg1 (follower: leadership moved to 3333)");
  });

  it("hands it to any healthy member when it is itself the last to stop", () => {
    cluster(true, ["12"]);
    const r = run("etcd-stop", vars());
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    expect(indexOf(r.calls, /move-leader 2222$/)).toBeGreaterThanOrEqual(0);
  });

  it("stops a follower without moving leadership", () => {
    cluster(false);
    const r = run("etcd-stop", vars("http://10.0.0.13:2379"));
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    expect(indexOf(r.calls, /move-leader/)).toBe(-1);
    expect(r.out).toContain("stopping etcd member pg1 (follower)");
  });

  it("stops the last member running as the leader it was", () => {
    cluster(true, []);
    const r = run("etcd-stop", vars());
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    expect(indexOf(r.calls, /move-leader/)).toBe(-1);
    expect(r.out).toContain("stopping etcd member pg1 (raft leader, last member running)");
  });
});

describe("patroni-stop", () => {
  const config = () => {
    const file = path.join(dir, "patroni.yml");
    fs.writeFileSync(file, "restapi:\n  authentication:\n    username: api\n    password: pw\n");
    return file;
  };
  const vars = () => ({
    MEMBER: "pg2",
    ROLE: "replica",
    REST_URL: "http://10.0.0.12:8008",
    LEADER: "pg1",
    LEADER_REST_URL: "http://10.0.0.11:8008",
    CONFIG_PATH: config(),
    DATA_DIR: path.join(dir, "data"),
    PURGE: true,
  });
  // pg2 is the primary until a switchover is posted; pg1 is a healthy replica until then.
  const curl = () =>
    stub(
      "curl",
      `flag=${dir}/switched
      url=\${!#}
      case "$*" in *"/switchover"*) touch "$flag"; cat >/dev/null; echo 200; exit 0 ;; esac
      if [ -e "$flag" ]; then primary=http://10.0.0.11:8008; else primary=http://10.0.0.12:8008; fi
      case "$url" in
        "$primary/primary") echo -n 200 ;;
        http://10.0.0.11:8008/replica) [ -e "$flag" ] && echo -n 503 || echo -n 200 ;;
        *) echo -n 503 ;;
      esac`,
    );

  it("hands the primary role back to the bootstrap leader before stopping a replica that holds it", () => {
    curl();
    const r = run("patroni-stop", vars());
    if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.out}`);
    const post = indexOf(r.calls, /^curl .*-X POST .*\/switchover/);
    const stop = indexOf(r.calls, /^systemctl disable --now patroni/);
    expect(post).toBeGreaterThanOrEqual(0);
    expect(post).toBeLessThan(stop);
    expect(r.out).toContain("pg2 is the primary: switching over to pg1 before stopping");
  });

  it("keeps the data directory when PostgreSQL still runs on it", () => {
    curl();
    fs.mkdirSync(path.join(dir, "data"));
    fs.writeFileSync(path.join(dir, "data", "postmaster.pid"), `${process.pid}\n`);
    const r = run("patroni-stop", vars());
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/PostgreSQL still runs on .*data.*: the directory is kept/);
    expect(fs.existsSync(path.join(dir, "data", "postmaster.pid"))).toBe(true);
  });
});

describe("step commands", () => {
  it("carry the script's digest, so a changed script runs again and an unchanged one does not", () => {
    const a = renderRunCommand({ path: "/s/x.sh", sudo: false, script: "echo a" });
    expect(a).toMatch(/^bash \/s\/x\.sh # patroni-stack script [0-9a-f]{16}$/);
    expect(renderRunCommand({ path: "/s/x.sh", sudo: false, script: "echo a" })).toBe(a);
    expect(renderRunCommand({ path: "/s/x.sh", sudo: false, script: "echo b" })).not.toBe(a);
    const d = renderDeleteCommand({ path: "/s/x.sh", sudo: true, script: "echo a" });
    expect(renderDeleteCommand({ path: "/s/x.sh", sudo: true, script: "echo b" })).not.toBe(d);
    expect(d).toMatch(
      /^if \[ -f \/s\/x\.sh \]; then sudo -n bash \/s\/x\.sh; else .* nothing to undo"; fi # [0-9a-f]{16}$/,
    );
  });

  it("show what the step applies as comment lines, for previews", () => {
    const c = renderRunCommand({ path: "/s/x.sh", sudo: false, script: "s", shows: "# header\nmaxconn 200\n" });
    expect(c.split("\n").slice(1)).toEqual(["#   header", "#   maxconn 200"]);
  });
});
