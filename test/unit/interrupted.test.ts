/**
 * Recovery from a killed Pulumi CLI (cli/interrupted.ts): the Docker objects whose creation it
 * did not record are named for removal, the objects it did record never are.
 */
import { cleared, orphans, StackExport } from "../../cli/interrupted";

const CONTAINER = "docker:index/container:Container";
const NETWORK = "docker:index/network:Network";
const COMMAND = "command:remote:Command";

function exported(
  resources: { type: string; name: string }[],
  pending: { op: string; type: string; name: string }[],
): StackExport {
  return {
    version: 3,
    deployment: {
      manifest: { time: "t" },
      resources: resources.map((r, i) => ({
        urn: `urn:pulumi:dev::p::${r.type}::r${i}`,
        type: r.type,
        id: `id${i}`,
        inputs: { name: r.name },
      })),
      pending_operations: pending.map((p, i) => ({
        type: p.op,
        resource: { urn: `urn:pulumi:dev::p::${p.type}::p${i}`, type: p.type, inputs: { name: p.name } },
      })),
    },
  };
}

describe("after a killed up", () => {
  it("names the containers, then the networks, whose creation was pending", () => {
    const e = exported(
      [{ type: CONTAINER, name: "s-pg1" }],
      [
        { op: "creating", type: NETWORK, name: "s-net" },
        { op: "creating", type: CONTAINER, name: "s-pg2" },
        { op: "creating", type: CONTAINER, name: "s-bk1" },
      ],
    );
    expect(orphans(e)).toEqual([
      { kind: "container", name: "s-pg2" },
      { kind: "container", name: "s-bk1" },
      { kind: "network", name: "s-net" },
    ]);
  });

  it("never names an object the state holds, one being updated or deleted, or a remote step", () => {
    const e = exported(
      [
        { type: CONTAINER, name: "s-pg1" },
        { type: NETWORK, name: "s-net" },
      ],
      [
        // A replacement under the same name: the recorded host stays.
        { op: "creating", type: CONTAINER, name: "s-pg1" },
        { op: "creating", type: NETWORK, name: "s-net" },
        { op: "updating", type: CONTAINER, name: "s-pg3" },
        { op: "deleting", type: CONTAINER, name: "s-pg4" },
        { op: "creating", type: COMMAND, name: "s-pg5" },
      ],
    );
    expect(orphans(e)).toEqual([]);
  });

  it("drops the pending operations and keeps everything else", () => {
    const e = exported([{ type: CONTAINER, name: "s-pg1" }], [{ op: "creating", type: CONTAINER, name: "s-pg2" }]);
    const c = cleared(e);
    expect(c.deployment.pending_operations).toBeUndefined();
    expect(c.deployment.resources).toEqual(e.deployment.resources);
    expect(c.deployment.manifest).toEqual(e.deployment.manifest);
    expect(c.version).toBe(3);
    // The input is left as it was.
    expect(e.deployment.pending_operations).toHaveLength(1);
  });
});
