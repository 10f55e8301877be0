import { spawnSync } from "child_process";
import { ConfigError, RawSettings, resolveSettings } from "../../settings";
import { renderKeepalivedConfig, renderVipCheck } from "../../configs/keepalived";
import { planCluster } from "../../plan";
import { stackFileSettings, threeNodeSettings, withKey } from "../fixtures/settings";

function withVip(vip: Record<string, unknown>, routers = ["pg1", "pg2"]): RawSettings {
  const s = threeNodeSettings();
  return { ...s, roles: { ...s.roles, haproxy: routers }, haproxy: { vip } } as RawSettings;
}

function problems(raw: RawSettings): string[] {
  try {
    resolveSettings(raw, withKey);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.key}: ${p.message}`);
    throw e;
  }
  return [];
}

describe("the routers' virtual IP", () => {
  const plan = planCluster(resolveSettings(withVip({ address: "10.0.0.100" }), withKey));

  it("plans keepalived on every router, the first one preferred", () => {
    expect(plan.vip).toMatchObject({ address: "10.0.0.100", prefixLength: 24, interface: "eth0", routerId: 51 });
    expect(plan.vip?.routers).toEqual([
      { name: "pg1", address: "10.0.0.11", priority: 150 },
      { name: "pg2", address: "10.0.0.12", priority: 140 },
    ]);
  });

  it("renders one unicast VRRP instance per router that tracks HAProxy and does not preempt", () => {
    const vip = plan.vip as NonNullable<typeof plan.vip>;
    const pg2 = renderKeepalivedConfig("pg2", vip);
    for (const line of [
      "    state BACKUP",
      "    interface eth0",
      "    virtual_router_id 51",
      "    priority 140",
      "    nopreempt",
      "    unicast_src_ip 10.0.0.12",
      "    unicast_peer {\n        10.0.0.11\n    }",
      "    virtual_ipaddress {\n        10.0.0.100/24 dev eth0\n    }",
      "    track_script {\n        check_haproxy\n    }",
      '    script "/etc/keepalived/check-haproxy.sh"',
    ]) {
      expect(pg2).toContain(line);
    }
    expect(() => renderKeepalivedConfig("pg3", vip)).toThrow(/not one of the routers/);
  });

  it("checks HAProxy's stats page on loopback, with a shell that parses", () => {
    const check = renderVipCheck(7000);
    expect(check).toContain("curl -fsS -m 1 -o /dev/null http://127.0.0.1:7000/");
    expect(spawnSync("sh", ["-n"], { input: check }).status).toBe(0);
  });

  it("makes the VIP the clients' endpoint in the dev stack", () => {
    const dev = planCluster(resolveSettings(stackFileSettings("dev"), { privateKey: false, password: false }));
    expect(dev.vip?.address).toBe("10.213.7.100");
    expect(dev.routers.map((r) => r.name)).toEqual(["pg1", "pg2"]);
  });

  it.each<[string, RawSettings, RegExp]>([
    [
      "one router",
      withVip({ address: "10.0.0.100" }, ["pg1"]),
      /haproxy\.vip: a virtual IP needs at least two HAProxy hosts/,
    ],
    [
      "another subnet",
      withVip({ address: "10.0.1.100" }),
      /haproxy\.vip\.address: 10\.0\.1\.100 is not on the subnet of HAProxy host pg1 \(10\.0\.0\.11\/24\)/,
    ],
    [
      "a host's address",
      withVip({ address: "10.0.0.12" }),
      /haproxy\.vip\.address: 10\.0\.0\.12 is host pg2's address/,
    ],
    [
      "a bad interface",
      withVip({ address: "10.0.0.100", interface: "eth0; rm" }),
      /haproxy\.vip\.interface: must be a network interface name/,
    ],
  ])("refuses a VIP on %s, naming the key", (_, raw, expected) => {
    expect(problems(raw)).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
  });
});
