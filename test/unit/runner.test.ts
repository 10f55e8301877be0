import { deletionOrder, deletionWaves, OperationFacts, planOperation } from "../../runner/engine";
import { describeChange } from "../../runner/values";
import { ResourceState } from "../../runner/state";

const res = (name: string, dependencies: string[] = [], parent = ""): ResourceState => ({
  urn: name,
  type: "t",
  name,
  parent,
  dependencies,
  custom: true,
  digest: "",
  inputs: {},
  outputs: {},
});

describe("the direct runner's delete order", () => {
  it("deletes dependents before what they depend on, children before parents", () => {
    const order = deletionOrder([
      res("host"),
      res("etcd", ["host"]),
      res("leader", ["etcd"], "cluster"),
      res("replica", ["leader"], "cluster"),
      res("haproxy", ["leader", "replica"]),
      res("cluster"),
    ]).map((r) => r.name);
    const before = (a: string, b: string) => expect(order.indexOf(a)).toBeLessThan(order.indexOf(b));
    before("haproxy", "replica");
    before("replica", "leader");
    before("leader", "etcd");
    before("etcd", "host");
    before("leader", "cluster");
  });

  it("ignores dependencies on resources that are already gone", () => {
    expect(deletionOrder([res("a", ["gone"])]).map((r) => r.name)).toEqual(["a"]);
  });

  it("lets what the order allows go together: every router, then every replica, then the leader", () => {
    const waves = deletionWaves([
      res("leader"),
      res("replica1", ["leader"]),
      res("replica2", ["leader"]),
      res("router1", ["leader", "replica1", "replica2"]),
      res("router2", ["leader", "replica1", "replica2"]),
    ]).map((w) => w.map((r) => r.name).sort());
    expect(waves).toEqual([["router1", "router2"], ["replica1", "replica2"], ["leader"]]);
  });

  it("refuses a cycle", () => {
    expect(() => deletionOrder([res("a", ["b"]), res("b", ["a"])])).toThrow(/cycle/);
  });
});

describe("the direct runner's preview", () => {
  it("shows the lines an uploaded file changes", () => {
    const text = (t: string) => ({ text: t });
    expect(describeChange({ source: text("a\nmaxconn 200\nb") }, { source: text("a\nmaxconn 300\nb") })).toBe(
      "    source:\n      - maxconn 200\n      + maxconn 300\n",
    );
  });

  it("names a changed secret without showing it", () => {
    const secret = (v: string) => ({
      "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
      value: v,
    });
    const out = describeChange({ stdin: secret("old-password") }, { stdin: secret("new-password") });
    expect(out).toBe("    stdin: [secret] changed\n");
  });

  it("says nothing for equal inputs", () => {
    expect(describeChange({ a: 1 }, { a: 1 })).toBe("");
  });
});

describe("the direct runner's decision for each resource", () => {
  const facts = (f: Partial<OperationFacts>): OperationFacts => ({
    existing: true,
    replacedEarlier: false,
    unchanged: false,
    stale: false,
    replaceKeys: [],
    deleteBeforeReplace: false,
    ...f,
  });
  it.each<[string, Partial<OperationFacts>, ReturnType<typeof planOperation>]>([
    ["new: created", { existing: false }, { op: "create" }],
    [
      "deleted earlier in the run as a dependent: replaced",
      { existing: false, replacedEarlier: true },
      { op: "replace", order: "delete-first" },
    ],
    ["unchanged: kept", { unchanged: true }, { op: "same" }],
    ["unchanged inputs, changed build context: updated", { unchanged: true, stale: true }, { op: "update" }],
    ["changed, no replacing input: updated in place", {}, { op: "update" }],
    [
      "a replacing input changed: the new one first",
      { replaceKeys: ["triggers"] },
      { op: "replace", order: "create-first" },
    ],
    [
      "a replacing input, deleteBeforeReplace: the old one first",
      { replaceKeys: ["name"], deleteBeforeReplace: true },
      { op: "replace", order: "delete-first" },
    ],
  ])("%s", (_case, f, expected) => {
    expect(planOperation(facts(f))).toEqual(expected);
  });
});
