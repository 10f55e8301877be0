/**
 * What every ctl verb shares: the stack read from its file (no address or password to type), the
 * hosts reached with `docker exec` (local stacks) or SSH as the stack's SSH user (real hosts),
 * Patroni's view of the cluster, and argument helpers.
 */
import { execFile, spawnSync, SpawnSyncOptions } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { resolveSettings } from "../settings";
import { rawSettings, readStackFile } from "../settings/stackFile";
import { PATRONI_CONFIG_PATH } from "../configs/patroni";
import { ClusterView } from "../configs/memberTable";
import { shq } from "../configs/scripts";
import { SOURCE_CLIENT_ENV } from "../configs/tls";
import { ClusterPlan, HostSpec, localContainerName, planCluster } from "../plan";

export const ROOT = path.resolve(__dirname, "..");

/** An error the user can act on: printed as is, exit code 1. */
export class CtlError extends Error {}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `probe` every `intervalMs` until it gives a value; a CtlError naming `what` after `seconds`. */
export async function waitFor<T>(
  what: string,
  seconds: number,
  probe: () => T | undefined,
  intervalMs = 1000,
): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const got = probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new CtlError(`timed out after ${seconds} s waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export interface Stack {
  name: string;
  dir: string;
  plan: ClusterPlan;
  local: boolean;
}

/** The stacks of the project in `dir`: the names of its `Pulumi.<stack>.yaml` files. */
export function stackNames(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((n): n is string => n !== undefined)
    .sort();
}

/** A stack of the project in `dir` (default: STACK in PATRONI_STACK_DIR, or dev in the checkout). */
export function loadStack(
  name = process.env.STACK || "dev",
  dir = path.resolve(process.env.PATRONI_STACK_DIR ?? ROOT),
): Stack {
  if (!fs.existsSync(path.join(dir, `Pulumi.${name}.yaml`))) {
    throw new CtlError(
      `no stack file Pulumi.${name}.yaml in ${dir}: use one of your stacks (${stackNames(dir).join(", ") || "none"})`,
    );
  }
  const secretKeys: string[] = [];
  const config = readStackFile(dir, name, { secrets: "skip", secretKeys });
  const creds = {
    privateKey: secretKeys.includes("patroni-stack:sshPrivateKey"),
    password: secretKeys.includes("patroni-stack:sshPassword"),
    s3Keys:
      secretKeys.includes("patroni-stack:backupS3AccessKey") && secretKeys.includes("patroni-stack:backupS3SecretKey"),
  };
  const raw = rawSettings(config);
  const plan = planCluster(resolveSettings(raw, creds));
  return { name, dir, plan, local: raw.local !== undefined };
}

/** The command that runs argv on a host: `docker exec` into a local host, SSH to a real one. */
function hostCommand(stack: Stack, host: HostSpec, argv0: string[], stdin: boolean): [string, string[]] {
  // etcdctl, curl and psql on the host verify the stack's certificates (TLS stacks).
  const argv = ["sh", "-c", `${SOURCE_CLIENT_ENV}; exec "$@"`, "sh", ...argv0];
  const quoted = argv.map(shq).join(" ");
  return stack.local
    ? ["docker", ["exec", ...(stdin ? ["-i"] : []), localContainerName(stack.name, host.name), ...argv]]
    : [
        "ssh",
        [
          ...["-p", String(host.ssh.port), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"],
          `${host.ssh.user}@${host.ssh.host}`,
          host.ssh.sudo ? `sudo -n ${quoted}` : quoted,
        ],
      ];
}

/** Run a command on a host: `docker exec` into a local host, SSH to a real one. */
export function onHost(stack: Stack, host: HostSpec, argv0: string[], opts: SpawnSyncOptions = {}) {
  const [cmd, args] = hostCommand(stack, host, argv0, opts.input !== undefined);
  return spawnSync(cmd, args, { encoding: "utf8", ...opts });
}

/** A shell command on a host (by name), without blocking: its stdout, or an error with its stderr. */
export function runOnHost(stack: Stack): (host: string, command: string, timeoutS: number) => Promise<string> {
  return (name, command, timeoutS) => {
    const host = stack.plan.hosts.find((h) => h.name === name);
    if (!host) return Promise.reject(new CtlError(`no host '${name}' in stack ${stack.name}`));
    const [cmd, args] = hostCommand(stack, host, ["bash", "-c", command], false);
    return new Promise((resolve, reject) =>
      execFile(cmd, args, { encoding: "utf8", timeout: timeoutS * 1000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`on ${name}: ${String(stderr).trim() || error.message}`)) : resolve(String(stdout)),
      ),
    );
  };
}

export function member(stack: Stack, name: string): HostSpec {
  const found = stack.plan.patroni.members.find((m) => m.name === name);
  if (!found) {
    const names = stack.plan.patroni.members.map((m) => m.name).join(", ");
    throw new CtlError(`no Patroni member '${name}' in stack ${stack.name}: its members are ${names}`);
  }
  return found.host;
}

/** patronictl on the first member host that answers; its output goes to the terminal. */
export function patronictl(stack: Stack, args: string[], capture = false): string {
  const failures: string[] = [];
  for (const m of stack.plan.patroni.members) {
    const r = onHost(stack, m.host, ["patronictl", "-c", PATRONI_CONFIG_PATH, ...args], {
      stdio: capture ? "pipe" : ["ignore", "inherit", "pipe"],
    });
    if (r.status === 0) return capture ? String(r.stdout) : "";
    const err = String(r.stderr ?? "").trim();
    // patronictl ran and refused: that is the answer (e.g. no such candidate).
    if (
      r.status !== null &&
      !/No such container|is not running|Connection refused|Could not resolve|timed out|No such file/i.test(err)
    ) {
      throw new CtlError(`patronictl ${args[0]} failed on ${m.name}: ${err.split("\n").slice(-3).join(" ")}`);
    }
    failures.push(`${m.name}: ${err.split("\n").pop() ?? "no answer"}`);
  }
  throw new CtlError(
    `no Patroni member of stack ${stack.name} answered (${failures.join("; ")}): is it up? Run \`make up STACK=${stack.name}\``,
  );
}

/** Patroni's `GET /cluster`, read on the first member host that answers (no credentials needed). */
export function clusterView(stack: Stack): ClusterView {
  const failures: string[] = [];
  for (const m of stack.plan.patroni.members) {
    const r = onHost(stack, m.host, ["curl", "-sf", "-m", "3", `${m.restUrl}/cluster`], { stdio: "pipe" });
    if (r.status === 0) return JSON.parse(String(r.stdout)) as ClusterView;
    failures.push(
      `${m.name}: ${
        String(r.stderr ?? "")
          .trim()
          .split("\n")
          .pop() || `exit ${r.status}`
      }`,
    );
  }
  throw new CtlError(
    `no Patroni member of stack ${stack.name} answered (${failures.join("; ")}): is it up? Run \`make up STACK=${stack.name}\``,
  );
}

export function currentLeader(stack: Stack): string {
  const members = JSON.parse(patronictl(stack, ["list", "-f", "json"], true)) as { Member: string; Role: string }[];
  const leader = members.find((m) => m.Role === "Leader");
  if (!leader) throw new CtlError(`stack ${stack.name} has no leader right now: see \`npm run ctl -- list\``);
  return leader.Member;
}

/** `--name value` out of args; the rest stays in place. */
export function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined || value.startsWith("--")) throw new CtlError(`${name} needs a value`);
  args.splice(i, 2);
  return value;
}

export function flag(args: string[], name: string): boolean {
  const i = args.indexOf(name);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
}
