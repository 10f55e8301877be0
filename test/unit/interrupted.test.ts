/**
 * Recovery from a killed Pulumi CLI (cli/interrupted.ts): the Docker objects whose creation it
 * did not record are named for removal, the objects it did record never are.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
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

describe("scripts/forget-pending.sh", () => {
  // Stub pulumi and docker record their calls; `stack export` writes the given export.
  function recover(e: StackExport) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "patroni-stack-forget-"));
    try {
      fs.mkdirSync(path.join(dir, "bin"));
      fs.writeFileSync(path.join(dir, "export.json"), JSON.stringify(e));
      const stub = (body: string) => `#!/usr/bin/env bash\necho "$(basename "$0") $*" >>"${dir}/calls"\n${body}\n`;
      fs.writeFileSync(
        path.join(dir, "bin", "pulumi"),
        stub(
          `file=$(sed -n 's/.*--file \\([^ ]*\\).*/\\1/p' <<<"$*")\n` +
            `case "$2" in export) cp "${dir}/export.json" "$file" ;; import) cp "$file" "${dir}/imported.json" ;; esac`,
        ),
        { mode: 0o755 },
      );
      fs.writeFileSync(path.join(dir, "bin", "docker"), stub(""), { mode: 0o755 });
      const r = spawnSync("bash", [path.join(__dirname, "../../scripts/forget-pending.sh"), "dev"], {
        env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` },
        encoding: "utf8",
      });
      const read = (f: string) => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), "utf8") : "");
      return {
        status: r.status,
        stderr: r.stderr,
        calls: read("calls").trim().split("\n"),
        imported: read("imported.json"),
      };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  it("removes the orphaned container, then the network, and imports the state without pending operations", () => {
    const r = recover(
      exported(
        [{ type: CONTAINER, name: "s-pg1" }],
        [
          { op: "creating", type: NETWORK, name: "s-net" },
          { op: "creating", type: CONTAINER, name: "s-pg2" },
        ],
      ),
    );
    expect(r.status).toBe(0);
    expect(r.calls[0]).toMatch(/^pulumi stack export --stack dev --file /);
    expect(r.calls.slice(1, 3)).toEqual(["docker rm -f s-pg2", "docker network rm s-net"]);
    expect(r.calls[3]).toMatch(/^pulumi stack import --stack dev --file /);
    const imported = JSON.parse(r.imported) as StackExport;
    expect(imported.deployment.pending_operations).toBeUndefined();
    expect(imported.deployment.resources).toHaveLength(1);
  }, 30_000);

  it("touches nothing when the killed run left no pending operation", () => {
    const r = recover(exported([{ type: CONTAINER, name: "s-pg1" }], []));
    expect(r.status).toBe(0);
    expect(r.calls).toHaveLength(1);
    expect(r.calls[0]).toMatch(/^pulumi stack export/);
    expect(r.imported).toBe("");
  }, 30_000);
});
