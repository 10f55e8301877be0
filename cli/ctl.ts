/**
 * patroni-stack ctl: the field guide's day-2 procedures (switchover, history, restarts, pause and
 * reinit) as commands on a stack's cluster. It reads the stack file, so there is no address or
 * password to type, and reaches the hosts with `docker exec` (local stacks) or SSH as the stack's
 * SSH user (real hosts; your SSH agent or keys).
 *
 *   STACK=dev npm run ctl -- <verb> [arguments]        or   make ctl ARGS="<verb> [arguments]"
 */
import { spawnSync, SpawnSyncOptions } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { resolveSettings } from "../settings";
import { rawSettings, readStackFile } from "../settings/stackFile";
import { PATRONI_CONFIG_PATH } from "../configs/patroni";
import { ClusterView, renderMemberTable } from "../configs/memberTable";
import { shq } from "../configs/scripts";
import { ClusterPlan, HostSpec, localContainerName, planCluster } from "../plan";

const ROOT = path.resolve(__dirname, "..");

const USAGE = `usage: STACK=<stack> npm run ctl -- <verb> [arguments]   (STACK defaults to dev)

  list                          members, roles, states, timelines and lag (patronictl list)
  history                       the timeline history: every failover and switchover
  show-config                   the dynamic configuration in the DCS
  switchover [--candidate M] [--scheduled TIME]
                                planned switchover from the current leader (to M, or the healthiest replica)
  failover --candidate M        make M the leader now (also when the leader is down)
  restart [M...] [--pending]    restart PostgreSQL through Patroni (all members, or M; --pending: only those waiting)
  reload [M...]                 reload the members' configuration
  pause | resume                stop / restore automatic failover (maintenance mode)
  reinit M                      rebuild replica M from the leader (e.g. after its data directory was damaged)
  psql [--ro] [-- PSQL ARGS]    psql through HAProxy (read-write port, or --ro), with the stack's credentials
  logs M [patroni|postgresql|etcd|haproxy] [--lines N]
                                the last lines of a service's log on member host M`;

class CtlError extends Error {}

interface Stack {
  name: string;
  dir: string;
  plan: ClusterPlan;
  local: boolean;
}

function loadStack(): Stack {
  const name = process.env.STACK || "dev";
  const dir = path.resolve(process.env.PATRONI_STACK_DIR ?? ROOT);
  if (!fs.existsSync(path.join(dir, `Pulumi.${name}.yaml`))) {
    throw new CtlError(`no stack file Pulumi.${name}.yaml in ${dir}: set STACK to one of your stacks`);
  }
  const secretKeys: string[] = [];
  const config = readStackFile(dir, name, { secrets: "skip", secretKeys });
  const creds = {
    privateKey: secretKeys.includes("patroni-stack:sshPrivateKey"),
    password: secretKeys.includes("patroni-stack:sshPassword"),
  };
  const raw = rawSettings(config);
  const plan = planCluster(resolveSettings(raw, creds));
  return { name, dir, plan, local: raw.local !== undefined };
}

/** Run a command on a host: `docker exec` into a local host, SSH to a real one. */
function onHost(stack: Stack, host: HostSpec, argv: string[], opts: SpawnSyncOptions = {}) {
  const quoted = argv.map(shq).join(" ");
  const [cmd, args] = stack.local
    ? ["docker", ["exec", localContainerName(stack.name, host.name), ...argv]]
    : [
        "ssh",
        [
          ...["-p", String(host.ssh.port), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"],
          `${host.ssh.user}@${host.ssh.host}`,
          host.ssh.sudo ? `sudo -n ${quoted}` : quoted,
        ],
      ];
  return spawnSync(cmd as string, args as string[], { encoding: "utf8", ...opts });
}

function member(stack: Stack, name: string): HostSpec {
  const found = stack.plan.patroni.members.find((m) => m.name === name);
  if (!found) {
    const names = stack.plan.patroni.members.map((m) => m.name).join(", ");
    throw new CtlError(`no Patroni member '${name}' in stack ${stack.name}: its members are ${names}`);
  }
  return found.host;
}

/** patronictl on the first member host that answers; its output goes to the terminal. */
function patronictl(stack: Stack, args: string[], capture = false): string {
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
function clusterView(stack: Stack): ClusterView {
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

function currentLeader(stack: Stack): string {
  const members = JSON.parse(patronictl(stack, ["list", "-f", "json"], true)) as { Member: string; Role: string }[];
  const leader = members.find((m) => m.Role === "Leader");
  if (!leader) throw new CtlError(`stack ${stack.name} has no leader right now: see \`npm run ctl -- list\``);
  return leader.Member;
}

/** `--name value` out of args; the rest stays in place. */
function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined || value.startsWith("--")) throw new CtlError(`${name} needs a value`);
  args.splice(i, 2);
  return value;
}

function flag(args: string[], name: string): boolean {
  const i = args.indexOf(name);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
}

const LOG_UNITS: Record<string, string> = {
  patroni: "patroni",
  postgresql: "patroni",
  etcd: "etcd",
  haproxy: "haproxy",
};

function run(verb: string | undefined, args: string[]): number {
  if (!verb || verb === "help" || verb === "--help") {
    console.log(USAGE);
    return verb ? 0 : 2;
  }
  const stack = loadStack();
  const scope = stack.plan.patroni.scope;
  switch (verb) {
    case "list":
      process.stdout.write(renderMemberTable(clusterView(stack)));
      return 0;
    case "history":
    case "show-config":
      patronictl(stack, [verb]);
      return 0;
    case "switchover": {
      const candidate = option(args, "--candidate");
      if (candidate) member(stack, candidate);
      const scheduled = option(args, "--scheduled");
      const leader = currentLeader(stack);
      if (candidate === leader) throw new CtlError(`${candidate} is the leader already`);
      patronictl(stack, [
        "switchover",
        scope,
        "--leader",
        leader,
        ...(candidate ? ["--candidate", candidate] : []),
        ...(scheduled ? ["--scheduled", scheduled] : []),
        "--force",
      ]);
      return 0;
    }
    case "failover": {
      const candidate = option(args, "--candidate");
      if (!candidate) throw new CtlError("failover needs --candidate M (the member to promote)");
      member(stack, candidate);
      patronictl(stack, ["failover", scope, "--candidate", candidate, "--force"]);
      return 0;
    }
    case "restart":
    case "reload": {
      const pending = verb === "restart" && flag(args, "--pending");
      args.forEach((m) => member(stack, m));
      patronictl(stack, [verb, scope, ...args, ...(pending ? ["--pending"] : []), "--force"]);
      return 0;
    }
    case "pause":
    case "resume":
      patronictl(stack, [verb, scope, "--wait"]);
      return 0;
    case "reinit": {
      const [name] = args;
      if (!name) throw new CtlError("reinit needs the member to rebuild: reinit M");
      member(stack, name);
      if (name === currentLeader(stack)) {
        throw new CtlError(`${name} is the leader: switch over first (npm run ctl -- switchover), then reinit it`);
      }
      patronictl(stack, ["reinit", scope, name, "--force", "--wait"]);
      return 0;
    }
    case "psql": {
      const ro = flag(args, "--ro");
      const dash = args.indexOf("--");
      const extra = dash >= 0 ? args.slice(dash + 1) : args;
      const pgpass = path.join(stack.dir, ".pulumi-state", `${stack.name}.pgpass`);
      if (!fs.existsSync(pgpass)) {
        throw new CtlError(
          `no credentials for stack ${stack.name} (${pgpass}): \`make up STACK=${stack.name}\` writes them`,
        );
      }
      const c = stack.plan.client;
      const r = spawnSync(
        "psql",
        [
          "-h",
          c.host,
          "-p",
          String(ro ? c.readOnlyPort : c.readWritePort),
          "-U",
          "postgres",
          "-d",
          "postgres",
          ...extra,
        ],
        { stdio: "inherit", env: { ...process.env, PGPASSFILE: pgpass } },
      );
      return r.status ?? 1;
    }
    case "logs": {
      const lines = option(args, "--lines") ?? "100";
      const [name, service = "patroni"] = args;
      if (!name) throw new CtlError("logs needs a member host: logs M [patroni|postgresql|etcd|haproxy]");
      const host = stack.plan.hosts.find((h) => h.name === name);
      if (!host)
        throw new CtlError(
          `no host '${name}' in stack ${stack.name}: its hosts are ${stack.plan.hosts.map((h) => h.name).join(", ")}`,
        );
      const unit = LOG_UNITS[service];
      if (!unit) throw new CtlError(`unknown service '${service}': use ${Object.keys(LOG_UNITS).join(", ")}`);
      const r = onHost(stack, host, ["journalctl", "-u", unit, "-n", lines, "--no-pager", "-o", "short-iso"], {
        stdio: ["ignore", "inherit", "inherit"],
      });
      return r.status ?? 1;
    }
    default:
      throw new CtlError(`unknown verb '${verb}'\n\n${USAGE}`);
  }
}

if (require.main === module) {
  const [verb, ...args] = process.argv.slice(2);
  try {
    process.exit(run(verb, args));
  } catch (e) {
    console.error(`ctl: ${(e as Error).message}`);
    process.exit(e instanceof CtlError ? 1 : 3);
  }
}
