/** The display of `make up/down/refresh`: lines from an engine's event log (Pulumi's shape). */
import { Display, EngineEvent } from "../../cli/display";

const urn = (type: string, name: string) => `urn:pulumi:dev::patroni-stack::patroni-stack:x$${type}::${name}`;
const meta = (op: string, type: string, name: string) => ({ op, type, urn: urn(type, name) });
const pre = (op: string, type: string, name: string): EngineEvent => ({
  resourcePreEvent: { metadata: meta(op, type, name) },
});
const done = (op: string, type: string, name: string): EngineEvent => ({
  resOutputsEvent: { metadata: meta(op, type, name) },
});
const say = (name: string, message: string, severity = "info"): EngineEvent => ({
  diagnosticEvent: { urn: urn("command:remote:Command", name), message, severity },
});

describe("the display", () => {
  it("prints a line as each changed resource starts and ends, with its duration and a running count", () => {
    const d = new Display();
    const lines = [
      ...d.event(pre("same", "random:index/randomPassword:RandomPassword", "pw"), 0),
      ...d.event(done("same", "random:index/randomPassword:RandomPassword", "pw"), 0),
      ...d.event(pre("create", "command:remote:Command", "etcd-install-run"), 1000),
      ...d.event(say("etcd-install-run", "installing etcd-server (apt)\n"), 2000),
      ...d.event(done("create", "command:remote:Command", "etcd-install-run"), 24_500),
    ];
    expect(lines).toEqual([
      "[  1 done] + etcd-install-run (Command) create…",
      "[  2 done] ✓ etcd-install-run (Command) created in 23.5 s",
    ]);
    expect(d.summary("up", 30.04)).toBe("up: 1 created, 1 unchanged in 30.0 s");
  });

  it("leaves out the stack and the project's components", () => {
    const d = new Display();
    expect(d.event(pre("create", "pulumi:pulumi:Stack", "patroni-stack-dev"), 0)).toEqual([]);
    expect(d.event(pre("create", "patroni-stack:cluster:PatroniCluster", "postgres"), 0)).toEqual([]);
    expect(d.event(done("create", "patroni-stack:cluster:PatroniCluster", "postgres"), 0)).toEqual([]);
    expect(d.summary("up", 1)).toBe("up: 0 unchanged in 1.0 s");
  });

  it("shows the last lines of a step that fails, with its name", () => {
    const d = new Display(3);
    d.event(pre("update", "command:remote:Command", "dcs-apply-run"), 0);
    for (const l of ["one", "two", "three", "four"]) d.event(say("dcs-apply-run", `${l}\n`), 1);
    d.event(say("dcs-apply-run", "ERROR: PATCH answered 401\n", "error"), 2);
    const lines = d.event(
      { resOpFailedEvent: { metadata: meta("update", "command:remote:Command", "dcs-apply-run") } },
      4000,
    );
    expect(lines).toEqual([
      "[  0 done] ✗ dcs-apply-run (Command) update failed in 4.0 s",
      "      │ three",
      "      │ four",
      "      │ ERROR: PATCH answered 401",
    ]);
    expect(d.failed).toEqual(["dcs-apply-run"]);
  });

  it("keeps the program's own errors for the end of a failed run", () => {
    const d = new Display();
    d.event(
      {
        diagnosticEvent: {
          urn: "urn:pulumi:dev::patroni-stack::pulumi:pulumi:Stack::patroni-stack-dev",
          message: "patroni-stack:postgresql.parameters: PostgreSQL would refuse this value\n",
          severity: "error",
        },
      },
      0,
    );
    expect(d.generalErrors()).toEqual(["patroni-stack:postgresql.parameters: PostgreSQL would refuse this value"]);
  });

  it("counts deletes and replacements in the summary", () => {
    const d = new Display();
    d.event(done("delete", "command:remote:Command", "a"), 0);
    d.event(done("replace", "docker:index/container:Container", "b"), 0);
    expect(d.summary("down", 2)).toBe("down: 1 deleted, 1 replaced, 0 unchanged in 2.0 s");
  });
});
