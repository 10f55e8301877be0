import { resolveSettings } from "../../config";
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
      "pg1=http://10.0.0.11:2380,pg2=http://10.0.0.12:2380,pg3=http://10.0.0.13:2380",
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
});
