/**
 * The direct runner refuses, before anything runs, what it does not implement: a resource type,
 * an input of a type it knows, or a resource option (run as `runner/cli.ts up` on a fixture).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";

const ROOT = path.resolve(__dirname, "..", "..");

function up(which: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "patroni-stack-refusal-"));
  try {
    const main = path.relative(dir, path.join(ROOT, "test", "fixtures", "refusals"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), stringify({ name: "refusals", runtime: "nodejs", main }));
    fs.writeFileSync(path.join(dir, "Pulumi.unit.yaml"), stringify({ config: { "refusals:case": which } }));
    const r = spawnSync(
      path.join(ROOT, "node_modules", ".bin", "ts-node"),
      ["--transpile-only", path.join(ROOT, "runner", "cli.ts"), "up", "unit", "--workdir", dir],
      { encoding: "utf8" },
    );
    return { status: r.status, out: `${r.stdout}${r.stderr}`, state: fs.existsSync(path.join(dir, ".pulumi-state")) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("the direct runner refuses what it does not implement", () => {
  it.each([
    ["type", /cannot create random:index\/randomString:RandomString \(s\)/],
    ["input", /does not implement the input internal of docker:index\/network:Network \(n\)/],
    ["option", /does not implement the option protect \(b\)/],
  ])("a resource %s", (which, message) => {
    const r = up(which);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(message);
  });
});
