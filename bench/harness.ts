/**
 * The shape every benchmark shares: a stack deployed for the measurement and taken down after it
 * (its files removed whatever happens), a record under bench/results/ with docs/benchmarks.md
 * regenerated from every record, and a failure reported as one line and exit status 1.
 */
import * as fs from "fs";
import * as path from "path";
import { writeReport } from "./chaos/report";
import { removeStack, runStack, type RunResult, type TestStack } from "../test/e2e/stack";

const ROOT = path.resolve(__dirname, "..");
const RESULTS_DIR = path.join(ROOT, "bench", "results");

/** `runStack`, failing with the end of the output when the command does not succeed. */
export async function mustRun(stack: TestStack, command: "up" | "down", label: string): Promise<RunResult> {
  const run = await runStack(stack, command);
  if (run.code !== 0) throw new Error(`${label}: ${command} failed:\n${run.output.slice(-2000)}`);
  return run;
}

/** Brings the stack up, measures, takes it down; the stack's files are removed even on failure. */
export async function onDeployedStack<T>(
  stack: TestStack,
  label: string,
  measure: (up: RunResult) => Promise<T>,
): Promise<{ result: T; up: RunResult; down: RunResult }> {
  try {
    const up = await mustRun(stack, "up", label);
    const result = await measure(up);
    const down = await mustRun(stack, "down", label);
    return { result, up, down };
  } finally {
    removeStack(stack);
  }
}

/** Writes one benchmark's record (bench/results/<file>) and regenerates the report. */
export function saveRecord(file: string, record: unknown): void {
  fs.writeFileSync(path.join(RESULTS_DIR, file), `${JSON.stringify(record, null, 2)}\n`);
  regenerateReport();
}

export function regenerateReport(): void {
  writeReport(RESULTS_DIR, path.join(ROOT, "docs"));
}

/** Runs `main` when `entry` is the program's entry point; a failure is one line on stderr. */
export function runAsMain(entry: NodeModule, main: () => Promise<void>, name = "bench"): void {
  if (require.main !== entry) return;
  main().catch((e: Error) => {
    process.stderr.write(`${name}: ${e.message}\n`);
    process.exit(1);
  });
}
