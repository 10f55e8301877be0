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
      ["--swc", path.join(ROOT, "runner", "cli.ts"), "up", "unit", "--workdir", dir],
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
    ["apply", /error: .*the program refused its input/],
  ])("a resource %s", (which, message) => {
    const r = up(which);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(message);
  });
});

describe("the direct runner runs a dynamic resource with its own provider", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "patroni-stack-dynamic-"));
    const main = path.relative(dir, path.join(ROOT, "test", "fixtures", "dynamic"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), stringify({ name: "dynamic", runtime: "nodejs", main }));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = (verb: string, wanted: string, noise: string) => {
    fs.writeFileSync(
      path.join(dir, "Pulumi.unit.yaml"),
      stringify({ config: { "dynamic:wanted": wanted, "dynamic:noise": noise } }),
    );
    const events = path.join(dir, "events.json");
    const r = spawnSync(
      path.join(ROOT, "node_modules", ".bin", "ts-node"),
      ["--swc", path.join(ROOT, "runner", "cli.ts"), verb, "unit", "--workdir", dir, "--events", events],
      { encoding: "utf8" },
    );
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/error/);
    const ops = (JSON.parse(fs.readFileSync(events, "utf8")) as { op: string }[]).map((e) => e.op);
    const outputs = path.join(dir, ".pulumi-state", "direct", "unit.outputs.json");
    return { ops, out: `${r.stdout}${r.stderr}`, outputs: JSON.parse(fs.readFileSync(outputs, "utf8")) as object };
  };

  it("creates, keeps and updates it as the provider's diff says, with the provider's outputs", () => {
    expect(run("up", "a", "1")).toEqual(
      expect.objectContaining({ ops: ["create"], outputs: { recorded: "a", runs: 1 } }),
    );
    // Another input changed, but the provider sees no change: nothing runs.
    expect(run("up", "a", "2")).toEqual(
      expect.objectContaining({ ops: ["same"], outputs: { recorded: "a", runs: 1 } }),
    );
    const preview = run("preview", "b", "2");
    expect(preview.ops).toEqual(["update"]);
    expect(preview.out).toMatch(/- "?a"?\n.*\+ "?b"?/s);
    expect(run("up", "b", "2")).toEqual(
      expect.objectContaining({ ops: ["update"], outputs: { recorded: "b", runs: 2 } }),
    );
  });
});

describe("the direct runner waits for the program's every registration, however slow its applies", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "patroni-stack-slow-apply-"));
    const main = path.relative(dir, path.join(ROOT, "test", "fixtures", "slow-apply"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), stringify({ name: "slow", runtime: "nodejs", main }));
    fs.writeFileSync(path.join(dir, "Pulumi.unit.yaml"), stringify({ config: { "slow:seconds": "3" } }));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = (verb: string) => {
    const events = path.join(dir, "events.json");
    const r = spawnSync(
      path.join(ROOT, "node_modules", ".bin", "ts-node"),
      ["--swc", path.join(ROOT, "runner", "cli.ts"), verb, "unit", "--workdir", dir, "--events", events],
      { encoding: "utf8" },
    );
    expect({ status: r.status, out: `${r.stdout}${r.stderr}` }).toEqual(expect.objectContaining({ status: 0 }));
    const ops = JSON.parse(fs.readFileSync(events, "utf8")) as { op: string; name: string }[];
    const outputs = path.join(dir, ".pulumi-state", "direct", "unit.outputs.json");
    return { ops: ops.map((e) => `${e.op} ${e.name}`).sort(), outputs: fs.readFileSync(outputs, "utf8") };
  };

  it("creates all three, then a no-op up and a preview neither delete nor recreate any", () => {
    const created = run("up");
    expect(created.ops).toEqual(["create after-slow-apply", "create first", "create inside-slow-apply"]);
    const again = run("up");
    expect(again.ops).toEqual(["same after-slow-apply", "same first", "same inside-slow-apply"]);
    expect(again.outputs).toBe(created.outputs);
    expect(run("preview").ops).toEqual(["same after-slow-apply", "same first", "same inside-slow-apply"]);
  }, 60_000);
});
