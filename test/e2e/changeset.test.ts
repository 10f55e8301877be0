/**
 * One change set of each kind (create, replace with a dependent replaced first, an ignored
 * change, delete) run under every engine this machine has, through scripts/stack.sh: each engine
 * must report the operations Pulumi's rules give, and the engines must agree with each other.
 */
import * as fs from "fs";
import { availableEngines, EngineName, makeProject, runStack, RunResult } from "./stack";

jest.setTimeout(10 * 60 * 1000);

const EXPECTED: Record<string, string[]> = {
  "1": ["create a", "create gone", "create kept", "create p"],
  "2": ["replace a", "replace p", "same gone", "same kept"],
  "3": ["create added", "delete gone", "same a", "same kept", "same p"],
  down: ["delete a", "delete added", "delete kept", "delete p"],
};

const ops = (r: RunResult) => r.events.map((e) => `${e.op} ${e.name}`).sort();

function succeeded(r: RunResult, engine: EngineName): RunResult {
  if (r.code !== 0) throw new Error(`${engine}: exited with ${r.code ?? r.signal}:\n${r.output.slice(-3000)}`);
  return r;
}

const seen: Record<string, Record<string, string[]>> = {};

describe.each(availableEngines())("the change set under the %s engine", (engine) => {
  const stack = makeProject(`changeset-${engine}-${process.pid}`, "test/fixtures/changeset", {
    "changeset:step": "1",
  });
  const file = `${stack.dir}/Pulumi.${stack.name}.yaml`;
  const setStep = (step: string) =>
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/changeset:step: "\d"/, `changeset:step: "${step}"`));
  seen[engine] = {};

  afterAll(() => fs.rmSync(stack.dir, { recursive: true, force: true }));

  it.each(["1", "2", "3"])("step %s", async (step) => {
    setStep(step);
    const r = succeeded(await runStack(stack, "up", undefined, engine), engine);
    seen[engine][step] = ops(r);
    expect(ops(r)).toEqual(EXPECTED[step]);
  });

  it("destroy", async () => {
    const r = succeeded(await runStack(stack, "down", undefined, engine), engine);
    seen[engine].down = ops(r);
    expect(ops(r)).toEqual(EXPECTED.down);
  });
});

// Comparing engines needs two of them: with one, the case is skipped (and reported as skipped).
const compare = availableEngines().length > 1 ? it : it.skip;
compare("gives the same operations under every engine (skipped where only one engine is installed)", () => {
  const engines = Object.keys(seen);
  for (const e of engines.slice(1)) expect(seen[e]).toEqual(seen[engines[0]]);
});

describe.each(availableEngines())("a dynamic resource under the %s engine", (engine) => {
  // Its provider plans a change only when `wanted` differs from what it recorded.
  const stack = makeProject(`dynamic-${engine}-${process.pid}`, "test/fixtures/dynamic", {
    "dynamic:wanted": "a",
    "dynamic:noise": "1",
  });
  const file = `${stack.dir}/Pulumi.${stack.name}.yaml`;
  const set = (key: string, value: string) =>
    fs.writeFileSync(
      file,
      fs.readFileSync(file, "utf8").replace(new RegExp(`(dynamic:${key}): "?\\w+"?`), `$1: "${value}"`),
    );
  afterAll(() => fs.rmSync(stack.dir, { recursive: true, force: true }));

  it("follows the provider's own diff: created, unchanged by an input it ignores, updated", async () => {
    expect(ops(succeeded(await runStack(stack, "up", undefined, engine), engine))).toEqual(["create thing"]);
    set("noise", "2");
    expect(ops(succeeded(await runStack(stack, "up", undefined, engine), engine))).toEqual(["same thing"]);
    set("wanted", "b");
    const preview = succeeded(await runStack(stack, "preview", undefined, engine), engine);
    expect(ops(preview)).toEqual(["update thing"]);
    expect(ops(succeeded(await runStack(stack, "up", undefined, engine), engine))).toEqual(["update thing"]);
    expect(ops(succeeded(await runStack(stack, "down", undefined, engine), engine))).toEqual(["delete thing"]);
  });
});
