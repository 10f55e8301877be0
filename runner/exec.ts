/** Child processes for the direct runner: output streamed with a prefix, stdin piped. */
import { ChildProcess, spawn } from "child_process";

const running = new Set<ChildProcess>();

/** Where child processes' output lines go: the terminal, or a run's log (quiet display). */
type Sink = (prefix: string, line: string) => void;
let sink: Sink = (prefix, line) => process.stderr.write(`${prefix}${line}\n`);

/** Send every output line to `fn` instead of stderr. */
export function setOutputSink(fn: Sink): void {
  sink = fn;
}

/** Terminate every child process still running (Ctrl-C). */
export function terminateAll(): void {
  for (const child of running) child.kill("SIGTERM");
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; prefix?: string; quiet?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? process.env });
    running.add(child);
    let stdout = "";
    let stderr = "";
    const echo = (chunk: Buffer) => {
      if (opts.quiet) return;
      for (const line of chunk.toString().split("\n")) {
        if (line.trim()) sink(opts.prefix ?? "", line);
      }
    };
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
      echo(c);
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
      echo(c);
    });
    child.on("error", reject);
    child.on("close", (code) => {
      running.delete(child);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}

export async function runOk(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.slice(0, 3).join(" ")} … failed (exit ${r.code}): ${r.stderr.trim().slice(-2000)}`);
  }
  return r;
}
