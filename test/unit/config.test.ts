import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { writePulumiProject } from "../../settings/stackFile";
import { RawSettings, resolveSettings } from "../../settings";
import { configProblems, stackFileSettings, threeNodeSettings, withKey } from "../fixtures/settings";

type Mutate = (s: RawSettings & Record<string, unknown>) => void;

function problemsOf(mutate: Mutate, creds = withKey): string[] {
  const raw = threeNodeSettings() as RawSettings & Record<string, unknown>;
  mutate(raw);
  return configProblems(raw, creds);
}

describe("defaults", () => {
  const s = resolveSettings(threeNodeSettings(), withKey);

  it("follows the field guide where it is safe, with the fast profile's timings and failsafe on", () => {
    expect(s.cluster.scope).toBe("postgres");
    expect(s.cluster.profile).toBe("fast");
    expect(s.patroni).toMatchObject({
      restApiPort: 8008,
      ttl: 20,
      loopWait: 2,
      retryTimeout: 5,
      maximumLagOnFailover: 1048576,
      usePgRewind: true,
      failsafeMode: true,
    });
    expect(s.haproxy).toMatchObject({ maxconn: 200, retries: 2, statsPort: 7000 });
    expect(s.haproxy.check).toEqual({ inter: "1s", fastinter: "250ms", downinter: "250ms", fall: 2, rise: 1 });
    expect(s.haproxy.timeouts).toEqual({ client: "30m", server: "30m", connect: "4s", check: "1s" });
    expect(s.postgresql.initdb).toEqual([{ encoding: "UTF8" }, "data-checksums"]);
    expect(s.postgresql.users).toEqual([{ name: "admin", options: ["createrole", "createdb", "login"] }]);
  });

  it("takes the guide profile's timings, and lets an explicit timing win over the profile", () => {
    const guide = resolveSettings({ ...threeNodeSettings(), cluster: { profile: "guide" } }, withKey);
    expect(guide.patroni).toMatchObject({ ttl: 30, loopWait: 10, retryTimeout: 10 });
    expect(guide.haproxy.check).toEqual({ inter: "3s", fall: 3, rise: 2 });
    expect(guide.haproxy.timeouts.check).toBe("5s");
    const own = resolveSettings(
      { ...threeNodeSettings(), patroni: { ttl: 40 }, haproxy: { check: { rise: 3 }, timeouts: { check: "2s" } } },
      withKey,
    );
    expect(own.patroni).toMatchObject({ ttl: 40, loopWait: 2, retryTimeout: 5 });
    expect(own.haproxy.check).toMatchObject({ inter: "1s", rise: 3 });
    expect(own.haproxy.timeouts.check).toBe("2s");
  });

  it("checks the profile's timings against an explicit ttl", () => {
    expect(problemsOf((r) => (r.patroni = { ttl: 20, retryTimeout: 10 }))).toEqual([
      expect.stringMatching(/patroni\.ttl: loopWait \+ 2\*retryTimeout = 22 exceeds ttl 20/),
    ]);
  });

  it("derives the data directory, packages and etcd token", () => {
    expect(s.postgresql.dataDir).toBe("/data/pg15");
    expect(s.postgresql.packages.debian).toContain("postgresql-15");
    expect(s.postgresql.packages.rhel).toContain("postgresql15-server");
    expect(s.etcd.token).toBe("postgres-etcd");
  });

  it("gives every host the seed's member tags, all false", () => {
    expect(s.hosts[0].tags).toEqual({ nofailover: false, noloadbalance: false, clonefrom: false, nosync: false });
  });
});

describe("validation: each bad input names its key and the fix", () => {
  it.each<[string, Mutate, RegExp]>([
    ["unknown host in a role", (s) => (s.roles.patroni = ["pg1", "pg9"]), /roles\.patroni\[1\]: unknown host 'pg9'/],
    ["duplicate host names", (s) => (s.hosts[1].name = "pg1"), /hosts: host name 'pg1' is used twice/],
    ["duplicate addresses", (s) => (s.hosts[2].address = "10.0.0.11"), /address 10\.0\.0\.11 is used by two hosts/],
    ["no Patroni host", (s) => (s.roles.patroni = []), /roles\.patroni: needs at least one host/],
    ["an even etcd member count", (s) => (s.roles.etcd = ["pg1", "pg2"]), /roles\.etcd: 2 etcd members: use 1/],
    ["zero etcd members", (s) => (s.roles.etcd = []), /roles\.etcd: needs at least one host/],
    ["a port out of range", (s) => (s.postgresql = { port: 70000 }), /postgresql\.port: must be a port number/],
    [
      "two services on one host and port",
      (s) => (s.haproxy = { readWritePort: 5432 }),
      /haproxy\.readWritePort: port 5432 on host 'pg1' is also used by postgresql\.port/,
    ],
    [
      "loopWait + 2*retryTimeout > ttl",
      (s) => (s.patroni = { ttl: 30, loopWait: 15, retryTimeout: 10 }),
      /patroni\.ttl: loopWait \+ 2\*retryTimeout = 35 exceeds ttl 30/,
    ],
    [
      "ttl below 20",
      (s) => (s.patroni = { ttl: 15, loopWait: 5, retryTimeout: 5 }),
      /ttl 15 is below Patroni's minimum/,
    ],
    [
      "a wrong value type",
      (s) => (s.postgresql = { port: "5432" as unknown as number }),
      /postgresql\.port: expected number, got string/,
    ],
    ["a missing required key", (s) => delete (s as Partial<RawSettings>).roles, /roles: expected object \(missing\)/],
    ["an unknown key", (s) => (s.patroni = { ttll: 30 } as never), /patroni: unknown key\(s\) 'ttll'/],
    ["a bad host name", (s) => (s.hosts[0].name = "PG_1"), /hosts\[0\]\.name: must be 2-63 chars/],
    ["a bad address", (s) => (s.hosts[0].address = "10.0.0.300"), /hosts\[0\]\.address: must be an IPv4 address/],
    [
      "a parameter managed per member",
      (s) => (s.postgresql = { parameters: { port: 5433 } }),
      /postgresql\.parameters\.port: is managed per member, not through the dynamic configuration: set postgresql\.port instead/,
    ],
    [
      "an unknown restart policy",
      (s) => (s.postgresql = { restartPolicy: "later" as never }),
      /postgresql\.restartPolicy: .*"rolling"/,
    ],
    [
      "a local host outside the subnet",
      (s) => (s.local = { subnet: "10.9.9.0/24" }),
      /hosts\[0\]\.address: 10\.0\.0\.11 is not a usable address in local\.subnet/,
    ],
  ])("%s", (_what, mutate, expected) => {
    const problems = problemsOf(mutate);
    expect(problems.join("\n")).toMatch(expected);
  });

  it("reports missing SSH credentials with the command that sets them", () => {
    const problems = problemsOf(() => undefined, { privateKey: false, password: false });
    expect(problems).toEqual([
      expect.stringMatching(/sshPrivateKey: no SSH credentials: run `pulumi config set --secret/),
    ]);
  });

  it("accepts a password instead of a key, and local stacks need neither", () => {
    expect(problemsOf(() => undefined, { privateKey: false, password: true })).toEqual([]);
    expect(problemsOf((s) => (s.local = { subnet: "10.0.0.0/24" }), { privateKey: false, password: false })).toEqual(
      [],
    );
  });

  it("collects every problem before failing", () => {
    const problems = problemsOf((s) => {
      s.roles.etcd = ["pg1", "pg2"];
      s.roles.haproxy = ["nope"];
      s.patroni = { ttl: 10 };
    });
    expect(problems.length).toBeGreaterThanOrEqual(4);
  });

  it("formats all problems in one error message", () => {
    const raw = threeNodeSettings();
    raw.roles.etcd = ["pg1", "pg2"];
    expect(() => resolveSettings(raw, withKey)).toThrow(
      /invalid stack configuration \(1 problem\):\n {2}- patroni-stack:roles\.etcd/,
    );
  });
});

describe("the stack files in the repository", () => {
  // The salt belongs to the passphrase of the checkout whose Pulumi CLI wrote it: committed, it
  // makes every other checkout's first `pulumi up` fail with "incorrect passphrase".
  it.each(["dev", "seed", "bookworm", "lab"])("Pulumi.%s.yaml carries no encryptionsalt", (stack) => {
    const text = fs.readFileSync(path.join(__dirname, "..", "..", `Pulumi.${stack}.yaml`), "utf8");
    expect(text).not.toMatch(/^encryptionsalt:/m);
  });

  it.each(["dev", "seed", "bookworm"])("Pulumi.%s.yaml is valid and local", (stack) => {
    const s = resolveSettings(stackFileSettings(stack), { privateKey: false, password: false });
    expect(s.local).toBeDefined();
  });

  it("Pulumi.lab.yaml needs SSH credentials, then is valid", () => {
    expect(() => resolveSettings(stackFileSettings("lab"), { privateKey: false, password: false })).toThrow(
      /sshPrivateKey/,
    );
    const s = resolveSettings(stackFileSettings("lab"), withKey);
    expect(s.local).toBeUndefined();
    expect(s.hosts.map((h) => h.address)).toEqual(["192.168.56.201", "192.168.56.202", "192.168.56.203"]);
  });
});

describe("the project the Pulumi CLI runs in", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "patroni-stack-project-"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: patroni-stack\nruntime: nodejs\nmain: ../program\n");
    fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), "config:\n  patroni-stack:local:\n    suite: trixie\n");
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const read = (file: string) => parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;

  it("runs the same program with a copy of the stack file, keeping the CLI's salt in the copy", () => {
    const shadow = writePulumiProject(dir, "dev");
    expect(path.resolve(shadow, String(read(path.join(shadow, "Pulumi.yaml")).main))).toBe(
      path.resolve(dir, "../program"),
    );
    // The CLI salts the copy; the next run keeps that salt and the author's file stays untouched.
    const copy = path.join(shadow, "Pulumi.dev.yaml");
    fs.writeFileSync(copy, `${fs.readFileSync(copy, "utf8")}encryptionsalt: v1:cli\n`);
    fs.appendFileSync(path.join(dir, "Pulumi.dev.yaml"), "  patroni-stack:cluster:\n    profile: guide\n");
    writePulumiProject(dir, "dev");
    expect(read(copy)).toEqual({ ...read(path.join(dir, "Pulumi.dev.yaml")), encryptionsalt: "v1:cli" });
    expect(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8")).not.toMatch(/encryptionsalt/);
  });

  it("keeps the salt of an author's file that has secrets", () => {
    fs.appendFileSync(path.join(dir, "Pulumi.dev.yaml"), "encryptionsalt: v1:author\n");
    const shadow = writePulumiProject(dir, "dev");
    expect(read(path.join(shadow, "Pulumi.dev.yaml")).encryptionsalt).toBe("v1:author");
  });
});
