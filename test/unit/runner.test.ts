import { deletionOrder } from "../../runner/engine";
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

  it("refuses a cycle", () => {
    expect(() => deletionOrder([res("a", ["b"]), res("b", ["a"])])).toThrow(/cycle/);
  });
});
