/**
 * The dependency edges that give the start order (etcd → leader → replicas → HAProxy) and, in
 * reverse, the destroy order; checked on the dependencies the SDK sends to the engine.
 */
import { resolveSettings } from "../../settings";
import { planCluster } from "../../plan";
import { installMocks, mockPassword, Registered, runProgram } from "./harness";
import { threeNodeSettings, withKey } from "../fixtures/settings";

let registered: Registered[];

beforeAll(async () => {
  registered = await installMocks();
  await runProgram(registered, async () => {
    const { PatroniCluster } = await import("../../components/PatroniCluster");
    const plan = planCluster(resolveSettings(threeNodeSettings(), withKey));
    const hosts = Object.fromEntries(
      plan.hosts.map((h) => [h.name, { connection: { host: h.address, user: "root", privateKey: "KEY" } }]),
    );
    new PatroniCluster("postgres", { plan, hosts });
    // The same hosts with two routers behind a virtual IP.
    const raw = threeNodeSettings();
    const vipPlan = planCluster(
      resolveSettings(
        { ...raw, roles: { ...raw.roles, haproxy: ["pg1", "pg2"] }, haproxy: { vip: { address: "10.0.0.100" } } },
        withKey,
      ),
    );
    new PatroniCluster("vip", { plan: vipPlan, hosts });
  });
});

const run = (name: string): Registered => {
  const found = registered.find((r) => r.type === "command:remote:Command" && r.name === `${name}-run`);
  if (!found) throw new Error(`no command ${name}-run among ${registered.map((r) => r.name).join(", ")}`);
  return found;
};
const dependsOn = (from: string, to: string) => run(from).dependencies.includes(run(to).urn);

describe("start order", () => {
  it.each(["pg1", "pg2", "pg3"])("the leader starts after etcd member %s is healthy", (m) => {
    expect(dependsOn("postgres-patroni-pg1-start", `postgres-etcd-${m}-start`)).toBe(true);
  });

  it.each(["pg2", "pg3"])("replica %s starts after the leader", (m) => {
    expect(dependsOn(`postgres-patroni-${m}-start`, "postgres-patroni-pg1-start")).toBe(true);
    expect(dependsOn(`postgres-patroni-${m}-start`, "postgres-etcd-pg1-start")).toBe(false);
  });

  it.each(["pg1", "pg2", "pg3"])("HAProxy starts after Patroni member %s", (m) => {
    expect(dependsOn("postgres-haproxy-pg1-start", `postgres-patroni-${m}-start`)).toBe(true);
  });

  it("installs every host's packages in one step, on all hosts in parallel, before any role's step", () => {
    for (const host of ["pg1", "pg2", "pg3"]) {
      expect(run(`postgres-packages-${host}`).dependencies.filter((d) => d.includes("Command"))).toEqual([]);
    }
    for (const [name, host] of [
      ["postgres-patroni-pg2-install", "pg2"],
      ["postgres-haproxy-pg1-install", "pg1"],
      ["postgres-etcd-pg3-install", "pg3"],
    ]) {
      const commands = run(name).dependencies.filter((d) => d.includes("Command"));
      // The host's packages, then its certificates (TLS).
      expect(commands.sort()).toEqual([
        expect.stringMatching(new RegExp(`::postgres-packages-${host}-run$`)),
        expect.stringMatching(new RegExp(`::postgres-tls-${host}-install-run$`)),
      ]);
    }
  });

  it("creates the extra roles once the leader is primary", () => {
    expect(dependsOn("postgres-roles", "postgres-patroni-pg1-start")).toBe(true);
  });

  it("hands a removed member's primary role over once the leader runs, before the routers, roles and DCS steps", () => {
    expect(dependsOn("postgres-handback", "postgres-patroni-pg1-start")).toBe(true);
    expect(dependsOn("postgres-haproxy-pg1-configure", "postgres-handback")).toBe(true);
    expect(dependsOn("vip-haproxy-pg1-configure", "vip-handback")).toBe(true);
    expect(dependsOn("vip-haproxy-pg2-configure", "vip-handback")).toBe(true);
    // The steps that look for the primary among the declared members come after it too.
    expect(dependsOn("postgres-roles", "postgres-handback")).toBe(true);
    expect(dependsOn("postgres-dcs-apply", "postgres-handback")).toBe(true);
    // Its script names the members it keeps, so it runs again whenever they change.
    expect(String(run("postgres-handback").inputs.create)).toMatch(/patroni-handback\.sh # patroni-stack script/);
  });

  it.each(["pg1", "pg2", "pg3"])("applies the dynamic configuration once member %s is up", (m) => {
    expect(dependsOn("postgres-dcs-apply", `postgres-patroni-${m}-start`)).toBe(true);
  });
});

describe("a running cluster's switch from plain text to TLS (steps that do nothing without one)", () => {
  const members = ["pg1", "pg2", "pg3"];
  const routers = ["pg1", "pg2"];

  it("pauses the cluster before any etcd member serves TLS", () => {
    for (const m of members) expect(dependsOn(`vip-etcd-${m}-configure`, "vip-tls-switch-pause")).toBe(true);
  });

  it("holds the routers' checks before etcd advertises TLS, and restarts Patroni once etcd serves both schemes", () => {
    for (const r of routers) {
      expect(dependsOn(`vip-tls-switch-hold-${r}`, "vip-tls-switch-pause")).toBe(true);
      for (const m of members) expect(dependsOn(`vip-etcd-${m}-configure`, `vip-tls-switch-hold-${r}`)).toBe(true);
    }
    for (const m of members) {
      expect(dependsOn(`vip-patroni-${m}-configure`, "vip-tls-switch-pause")).toBe(true);
      for (const r of routers) expect(dependsOn(`vip-patroni-${m}-configure`, `vip-tls-switch-hold-${r}`)).toBe(true);
      for (const e of members) expect(dependsOn(`vip-patroni-${m}-configure`, `vip-etcd-${e}-configure`)).toBe(true);
    }
  });

  it("moves HAProxy's checks to TLS after every REST API, and the VIP check after its host's HAProxy", () => {
    for (const r of routers) {
      for (const m of members) expect(dependsOn(`vip-haproxy-${r}-configure`, `vip-patroni-${m}-configure`)).toBe(true);
      expect(dependsOn(`vip-vip-${r}-configure`, `vip-haproxy-${r}-configure`)).toBe(true);
    }
  });

  it("resumes once every member and router runs TLS, then etcd requires TLS, then every host records it", () => {
    for (const m of members) expect(dependsOn("vip-tls-switch-resume", `vip-patroni-${m}-start`)).toBe(true);
    for (const r of routers) expect(dependsOn("vip-tls-switch-resume", `vip-haproxy-${r}-configure`)).toBe(true);
    expect(dependsOn("vip-dcs-apply", "vip-tls-switch-resume")).toBe(true);
    for (const m of members) {
      expect(dependsOn(`vip-etcd-${m}-require-tls`, "vip-tls-switch-resume")).toBe(true);
      for (const h of members) expect(dependsOn(`vip-tls-switch-done-${h}`, `vip-etcd-${m}-require-tls`)).toBe(true);
    }
  });

  it("leaves the start order alone: the leader does not wait for the end of a switch", () => {
    expect(dependsOn("vip-patroni-pg1-start", "vip-tls-switch-resume")).toBe(false);
    expect(dependsOn("vip-patroni-pg1-start", "vip-etcd-pg1-require-tls")).toBe(false);
  });
});

describe("day-2 changes", () => {
  const upload = (name: string) => {
    const found = registered.find((r) => r.name === name);
    if (!found) throw new Error(`no resource ${name}`);
    return found;
  };

  it("never re-uploads the bootstrap section of a member that exists (Patroni reads it once)", () => {
    for (const m of ["pg1", "pg2", "pg3"]) {
      expect(upload(`postgres-patroni-${m}-bootstrap-upload`).ignoreChanges).toEqual(["source"]);
      expect(dependsOn(`postgres-patroni-${m}-configure`, `postgres-patroni-${m}-install`)).toBe(true);
      expect(run(`postgres-patroni-${m}-configure`).dependencies).toContain(
        upload(`postgres-patroni-${m}-bootstrap-upload`).urn,
      );
    }
  });

  it("runs the PATCH /config step on the bootstrap leader's host, the planned patch on its stdin", () => {
    const apply = run("postgres-dcs-apply");
    // The declared configuration rides in the command as comment lines, for the preview.
    expect(String(apply.inputs.create)).toMatch(/patroni-dcs\.sh/);
    expect(String(apply.inputs.create)).toMatch(/max_wal_senders: 8\n/);
    expect(apply.propertyDependencies.stdin).toEqual([
      expect.stringMatching(/DynamicConfigState::postgres-dcs-state$/),
    ]);
    expect(JSON.stringify(run("postgres-dcs-apply").inputs.connection)).toMatch(/10\.0\.0\.11/);
  });
});

describe("the virtual IP", () => {
  it.each(["pg1", "pg2"])("keepalived on %s starts after that host's HAProxy", (m) => {
    expect(dependsOn(`vip-vip-${m}-start`, `vip-haproxy-${m}-start`)).toBe(true);
    expect(dependsOn(`vip-vip-${m}-stop`, `vip-vip-${m}-start`)).toBe(true);
  });

  it("is left out without a VIP", () => {
    expect(registered.some((r) => r.name.startsWith("postgres-vip-"))).toBe(false);
  });
});

describe("destroy order (the reverse of the dependencies)", () => {
  it("stops each service only after what depends on it", () => {
    expect(dependsOn("postgres-haproxy-pg1-stop", "postgres-haproxy-pg1-start")).toBe(true);
    expect(dependsOn("postgres-patroni-pg2-stop", "postgres-patroni-pg2-start")).toBe(true);
  });

  it("stops the other etcd members together, then the first listed one", () => {
    expect(dependsOn("postgres-etcd-pg3-stop", "postgres-etcd-pg1-stop")).toBe(true);
    expect(dependsOn("postgres-etcd-pg2-stop", "postgres-etcd-pg1-stop")).toBe(true);
    expect(dependsOn("postgres-etcd-pg3-stop", "postgres-etcd-pg2-stop")).toBe(false);
    expect(dependsOn("postgres-etcd-pg2-stop", "postgres-etcd-pg3-stop")).toBe(false);
  });

  it("runs the stop script only on delete", () => {
    const stop = run("postgres-patroni-pg1-stop");
    expect(stop.inputs.create).toBeUndefined();
    expect(String(stop.inputs.delete)).toMatch(/bash \/root\/\.patroni-stack\/patroni-stop\.sh/);
  });
});

describe("components", () => {
  it("parents every resource to a component of the cluster", () => {
    const byUrn = new Map(registered.map((r) => [r.urn, r]));
    const root = (r: Registered): Registered => {
      const parent = byUrn.get(r.parent);
      return parent ? root(parent) : r;
    };
    expect(new Set(registered.map((r) => root(r).type))).toEqual(new Set(["patroni-stack:cluster:PatroniCluster"]));
  });

  it("wraps every command in a typed component", () => {
    const types = new Set(registered.map((r) => r.type));
    for (const t of ["EtcdNode", "PatroniNode", "HaproxyRouter"]) expect(types).toContain(`patroni-stack:cluster:${t}`);
  });
});

describe("secrets", () => {
  const passwords = () =>
    registered.filter((r) => r.type === "random:index/randomPassword:RandomPassword").map((r) => mockPassword(r.name));

  it("generates every password with @pulumi/random", () => {
    expect(
      registered
        .filter((r) => r.type.startsWith("random:") && r.name.startsWith("postgres-"))
        .map((r) => r.name)
        .sort(),
    ).toEqual([
      "postgres-replication-password",
      "postgres-restapi-password",
      "postgres-rewind-password",
      "postgres-superuser-password",
      "postgres-user-admin-password",
    ]);
  });

  it("puts no password in any command, upload or other plain input", () => {
    for (const r of registered) {
      const plain = Object.entries(r.inputs).filter(([k]) => !r.secretInputs.includes(k));
      const text = JSON.stringify(plain);
      for (const pw of passwords())
        expect({ resource: r.name, leaks: text.includes(pw) }).toEqual({ resource: r.name, leaks: false });
    }
  });

  it("sends passwords only as secret stdin", () => {
    const withStdin = registered.filter((r) => r.inputs.stdin !== undefined && r.name.startsWith("postgres-"));
    // The DCS patch comes on stdin too: it holds no secret, so it stays readable in a preview.
    expect(withStdin.map((r) => r.name).sort()).toEqual([
      "postgres-dcs-apply-run",
      "postgres-patroni-pg1-configure-run",
      "postgres-patroni-pg2-configure-run",
      "postgres-patroni-pg3-configure-run",
      "postgres-roles-run",
      "postgres-tls-pg1-install-run",
      "postgres-tls-pg2-install-run",
      "postgres-tls-pg3-install-run",
    ]);
    for (const r of withStdin.filter((x) => x.name !== "postgres-dcs-apply-run"))
      expect(r.secretInputs).toContain("stdin");
  });

  it("keeps SSH credentials secret", () => {
    for (const r of registered.filter((x) => x.type.startsWith("command:")))
      expect(r.secretInputs).toContain("connection");
  });
});
