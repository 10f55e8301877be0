import { resolveSettings } from "../../settings";
import { planCluster } from "../../plan";
import { stackFileSettings, threeNodeSettings, withKey } from "../fixtures/settings";

describe("planCluster", () => {
  it("makes the first Patroni host the bootstrap leader", () => {
    const plan = planCluster(resolveSettings(threeNodeSettings(), withKey));
    expect(plan.patroni.leader.name).toBe("pg1");
    expect(plan.patroni.replicas.map((r) => r.name)).toEqual(["pg2", "pg3"]);
    expect(plan.patroni.members.map((m) => m.role)).toEqual(["leader", "replica", "replica"]);
  });

  it("gives every etcd member the same initial cluster", () => {
    const plan = planCluster(resolveSettings(threeNodeSettings(), withKey));
    expect(plan.etcd.initialCluster).toBe(
      "pg1=https://10.0.0.11:2380,pg2=https://10.0.0.12:2380,pg3=https://10.0.0.13:2380",
    );
    expect(plan.etcd.clientEndpoints).toEqual(["10.0.0.11:2379", "10.0.0.12:2379", "10.0.0.13:2379"]);
  });

  it("routes to every Patroni member from every router", () => {
    const plan = planCluster(resolveSettings(stackFileSettings("lab"), withKey));
    expect(plan.routers.map((r) => r.name)).toEqual(["pgserver3"]);
    expect(plan.routers[0].backends.map((b) => b.name)).toEqual(["pgsvr1", "pgsvr2"]);
  });

  it("uses sudo and a home stage directory for a non-root SSH user", () => {
    const raw = threeNodeSettings();
    raw.hosts[0].ssh = { user: "deploy", host: "bastion.example", port: 2222 };
    const host = planCluster(resolveSettings(raw, withKey)).hosts[0];
    expect(host.ssh).toEqual({ host: "bastion.example", port: 2222, user: "deploy", sudo: true });
    expect(host.stageDir).toBe("/home/deploy/.patroni-stack");
  });

  it("gives each member its REST API and PostgreSQL endpoint", () => {
    const plan = planCluster(resolveSettings(stackFileSettings("lab"), withKey));
    expect(plan.patroni.members.map((m) => [m.restUrl, m.postgres])).toEqual([
      ["https://192.168.56.201:8008", { address: "192.168.56.201", port: 5413 }],
      ["https://192.168.56.202:8008", { address: "192.168.56.202", port: 5413 }],
    ]);
  });

  it("sends clients of real hosts to the first router, with nothing published", () => {
    const plan = planCluster(resolveSettings(stackFileSettings("lab"), withKey));
    expect(plan.client).toEqual({ host: "192.168.56.203", readWritePort: 5413, readOnlyPort: 5414, statsPort: 7000 });
    expect(plan.hosts.every((h) => h.published.length === 0)).toBe(true);
  });

  it("folds the local mode in: SSH and the first router's ports on 127.0.0.1", () => {
    const plan = planCluster(resolveSettings(stackFileSettings("dev"), withKey));
    expect(plan.hosts.map((h) => h.ssh)).toEqual([
      { host: "127.0.0.1", port: 2201, user: "root", sudo: false },
      { host: "127.0.0.1", port: 2202, user: "root", sudo: false },
      { host: "127.0.0.1", port: 2203, user: "root", sudo: false },
      { host: "127.0.0.1", port: 2204, user: "root", sudo: false },
    ]);
    expect(plan.hosts[0].published).toEqual([
      { internal: 22, external: 2201 },
      { internal: 5000, external: 5000 },
      { internal: 5001, external: 5001 },
      { internal: 7000, external: 7000 },
      { internal: 5002, external: 5002 },
      { internal: 5003, external: 5003 },
    ]);
    expect(plan.hosts[1].published).toEqual([{ internal: 22, external: 2202 }]);
    expect(plan.client).toEqual({
      host: "127.0.0.1",
      readWritePort: 5000,
      readOnlyPort: 5001,
      statsPort: 7000,
      directReadWritePort: 5002,
      directReadOnlyPort: 5003,
    });
  });
});
