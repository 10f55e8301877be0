/**
 * ctl's backup verbs: `backup`, `backups` and `restore` (point-in-time recovery of the whole
 * cluster in place), and the backup lines of `ctl list`. pgBackRest runs on the repository host
 * as its user; the restore's data work is a remote script on the member restored.
 */
import { spawnSync } from "child_process";
import * as readline from "readline";
import {
  ArchiverState,
  chooseBackupSet,
  formatTargetTime,
  formatTime,
  parseRestoreTarget,
  renderArchiverState,
  renderBackupInfo,
  renderLastBackup,
  RestoreTarget,
  StanzaInfo,
} from "../configs/backupInfo";
import { BACKUP_TYPES, LOG_PATH, REPOSITORY_USER } from "../configs/pgbackrest";
import { PATRONI_CONFIG_PATH, PG_BIN_LINK, SOCKET_DIR } from "../configs/patroni";
import { ClusterView } from "../configs/memberTable";
import { renderScript } from "../configs/scripts";
import { BackupSpec, localContainerName, localPrefix, PatroniMemberSpec } from "../plan";
import { clusterView, CtlError, flag, loadStack, onHost, option, sleep, Stack, stackNames, waitFor } from "./stack";

export const BACKUP_VERBS = ["backup", "backups", "restore"];

export const BACKUP_USAGE = `  backup [--type full|diff|incr] take a backup now (default: incr, or full when there is none)
  backups                       the repository's backups (type, size, duration, WAL range) and the restorable window
  restore --to <time|lsn|restore point|latest> [--into <stack>] [--yes]
                                point-in-time recovery of the whole cluster in place, or (--into) a clone of it
                                in another deployed stack of this project (asks first; --yes for scripts)`;

function spec(stack: Stack): BackupSpec {
  const b = stack.plan.backup;
  if (!b) {
    throw new CtlError(
      `stack ${stack.name} has no backup repository: name one in roles.backup of Pulumi.${stack.name}.yaml, then make up`,
    );
  }
  return b;
}

function fail(
  what: string,
  r: { status: number | null; stderr?: string | Buffer | null; stdout?: string | Buffer | null },
): never {
  // pgBackRest prints its errors on stdout.
  const err = (String(r.stderr ?? "").trim() || String(r.stdout ?? "")).trim().split("\n").slice(-4).join("\n  ");
  throw new CtlError(`${what} (exit ${r.status ?? "signal"})${err ? `:\n  ${err}` : ""}`);
}

/** pgbackrest as the repository's user on the repository host. */
function pgbackrest(stack: Stack, args: string[], capture: boolean) {
  const b = spec(stack);
  return onHost(
    stack,
    b.host,
    ["runuser", "-u", REPOSITORY_USER, "--", "pgbackrest", `--stanza=${b.stanza}`, ...args],
    {
      stdio: capture ? "pipe" : ["ignore", "inherit", "pipe"],
    },
  );
}

export function stanzaInfo(stack: Stack): StanzaInfo {
  const r = pgbackrest(stack, ["--output=json", "info"], true);
  if (r.status !== 0) fail(`pgbackrest info failed on the repository host ${spec(stack).host.name}`, r);
  const [info] = JSON.parse(String(r.stdout)) as StanzaInfo[];
  if (!info) throw new CtlError(`the repository has no stanza ${spec(stack).stanza}: run make up`);
  return info;
}

/** One SQL statement on a member, as postgres over the local socket; its single value. */
export function sqlOn(stack: Stack, m: PatroniMemberSpec, statement: string): string {
  const argv = ["runuser", "-u", "postgres", "--", `${PG_BIN_LINK}/psql`, "-XAtq", "-h", SOCKET_DIR];
  const r = onHost(stack, m.host, [...argv, "-p", String(m.postgres.port), "-d", "postgres", "-c", statement], {
    stdio: "pipe",
  });
  if (r.status !== 0) fail(`psql on ${m.name} failed`, r);
  return String(r.stdout).trim();
}

function leaderOf(stack: Stack, view?: ClusterView): PatroniMemberSpec | undefined {
  const name = view?.members.find((m) => m.role === "leader" && m.state === "running")?.name;
  return stack.plan.patroni.members.find((m) => m.name === name);
}

function tryView(stack: Stack): ClusterView | undefined {
  try {
    return clusterView(stack);
  } catch {
    return undefined;
  }
}

function archiverOf(stack: Stack, leader: PatroniMemberSpec): ArchiverState {
  return JSON.parse(sqlOn(stack, leader, "select row_to_json(a) from pg_stat_archiver a")) as ArchiverState;
}

/** The lines `ctl list` adds under the member table: the last backup and the archiver. */
export function backupStatus(stack: Stack, view: ClusterView): string {
  if (!stack.plan.backup) return "";
  const lines: string[] = [];
  try {
    lines.push(renderLastBackup(stanzaInfo(stack)));
  } catch (e) {
    lines.push(`backups: the repository host did not answer (${(e as Error).message.split("\n")[0]})`);
  }
  const leader = leaderOf(stack, view);
  if (leader) {
    try {
      lines.push(renderArchiverState(archiverOf(stack, leader)));
    } catch (e) {
      lines.push(`archiver: unknown (${(e as Error).message.split("\n")[0]})`);
    }
  }
  return `${lines.join("\n")}\n`;
}

async function confirm(stack: Stack, question: string): Promise<boolean> {
  process.stdout.write(`${question}\nType the stack's name (${stack.name}) to go on: `);
  const rl = readline.createInterface({ input: process.stdin });
  const answer = await new Promise<string>((resolve) => {
    rl.once("line", resolve);
    rl.once("close", () => resolve(""));
  });
  rl.close();
  return answer.trim() === stack.name;
}

function systemctl(stack: Stack, m: PatroniMemberSpec, action: "start" | "stop") {
  const r = onHost(stack, m.host, ["systemctl", action, "patroni"], { stdio: "pipe" });
  if (r.status !== 0) fail(`systemctl ${action} patroni on ${m.name} failed`, r);
}

/** Archive everything written so far (a WAL switch), so that a target up to now is restorable. */
async function archiveNow(stack: Stack, leader: PatroniMemberSpec): Promise<ArchiverState> {
  const segment = sqlOn(stack, leader, "select pg_walfile_name(pg_switch_wal())");
  return waitFor(`WAL ${segment} to reach the repository`, 120, () => {
    const a = archiverOf(stack, leader);
    return a.last_archived_wal && a.last_archived_wal.slice(8) >= segment.slice(8) ? a : undefined;
  });
}

function targetText(t: RestoreTarget): string {
  switch (t.kind) {
    case "latest":
      return "the newest archived WAL";
    case "time":
      return formatTargetTime(t.time);
    case "lsn":
      return `LSN ${t.lsn}`;
    case "name":
      return `restore point ${t.name}`;
  }
}

function scriptTarget(t: RestoreTarget): { TYPE: string; TARGET: string } {
  switch (t.kind) {
    case "latest":
      return { TYPE: "latest", TARGET: "" };
    case "time":
      return { TYPE: "time", TARGET: formatTargetTime(t.time) };
    case "lsn":
      return { TYPE: "lsn", TARGET: t.lsn };
    case "name":
      return { TYPE: "name", TARGET: t.name };
  }
}

/** How the restored member reaches the repository: its own stack's, or (a clone) the source's. */
interface RepositoryAccess {
  vars: { REPO_HOST: string; REPO_USER: string; SSH_CMD: string; ROLES_FILE: string };
  revoke(): void;
}

const IN_PLACE: RepositoryAccess = {
  vars: { REPO_HOST: "", REPO_USER: "", SSH_CMD: "", ROLES_FILE: "" },
  revoke: () => undefined,
};

const CLONE_KEY = "/var/lib/postgresql/.ssh/patroni-stack-clone";
const CLONE_ROLES = "/var/lib/postgresql/.patroni-stack-clone-roles";

/**
 * `--into`: the target's primary reaches the source's repository host for this restore only. Two
 * local stacks are on Docker networks of their own: the repository host's container joins the
 * target's network meanwhile.
 */
function grantCloneAccess(source: Stack, target: Stack, primary: PatroniMemberSpec): RepositoryAccess {
  const repo = spec(source).host;
  const undo: (() => void)[] = [];
  const revoke = () => {
    for (const step of undo.reverse()) {
      try {
        step();
      } catch {
        // Best effort: each step says what it could not undo.
      }
    }
  };
  try {
    let address = repo.address;
    if (source.local && target.local) {
      const container = localContainerName(source.name, repo.name);
      const network = localPrefix(target.name);
      const join = spawnSync("docker", ["network", "connect", network, container], { encoding: "utf8" });
      if (join.status !== 0 && !/already exists/.test(join.stderr))
        fail(`could not attach ${container} to ${network}`, join);
      undo.push(() => {
        const leave = spawnSync("docker", ["network", "disconnect", network, container], { encoding: "utf8" });
        if (leave.status !== 0)
          console.error(`ctl: could not detach ${container} from ${network}: ${leave.stderr.trim()}`);
      });
      const ip = spawnSync(
        "docker",
        ["inspect", "-f", `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, container],
        { encoding: "utf8" },
      );
      if (ip.status !== 0 || !ip.stdout.trim()) fail(`no address of ${container} on ${network}`, ip);
      address = ip.stdout.trim();
    }
    const vars = (action: string) => ({
      ACTION: action,
      REPO_HOST: address,
      KEY_BASE: CLONE_KEY,
      ROLES_FILE: CLONE_ROLES,
      PG_BIN: PG_BIN_LINK,
      SOCKET_DIR,
      PG_PORT: primary.postgres.port,
    });
    undo.push(() => {
      const r = onHost(target, primary.host, ["bash", "-s"], {
        input: renderScript("pgbackrest-clone-access", vars("revoke")),
        stdio: ["pipe", "ignore", "pipe"],
      });
      if (r.status !== 0) console.error(`ctl: could not remove the restore's key on ${primary.name}`);
    });
    const grant = onHost(target, primary.host, ["bash", "-s"], {
      input: renderScript("pgbackrest-clone-access", vars("grant")),
      stdio: "pipe",
    });
    if (grant.status !== 0) fail(`could not prepare ${primary.name} of stack ${target.name} for the restore`, grant);
    const publicKey = String(grant.stdout).trim().split("\n").pop() ?? "";
    const mark = `patroni-stack-clone-${target.name}`;
    const trust = (action: string) =>
      onHost(source, repo, ["bash", "-s"], {
        input: renderScript("pgbackrest-clone-trust", {
          ACTION: action,
          REPO_USER: REPOSITORY_USER,
          FROM: primary.host.address,
          MARK: mark,
          PUBLIC_KEY: publicKey,
        }),
        stdio: ["pipe", "ignore", "pipe"],
      });
    const granted = trust("grant");
    undo.push(() => {
      if (trust("revoke").status !== 0) console.error(`ctl: could not remove the restore's key on ${repo.name}`);
    });
    if (granted.status !== 0) fail(`the repository host ${repo.name} did not accept the restore's key`, granted);
    console.log(
      `${primary.name} of stack ${target.name} reaches ${source.name}'s repository on ${address} for this restore`,
    );
    return {
      vars: { REPO_HOST: address, REPO_USER: REPOSITORY_USER, SSH_CMD: `${CLONE_KEY}-ssh`, ROLES_FILE: CLONE_ROLES },
      revoke,
    };
  } catch (e) {
    revoke();
    throw e;
  }
}

/** `--into <stack>`: another stack of this project, deployed, with pgBackRest and the same major version. */
function cloneTarget(source: Stack, into: string): Stack {
  if (into === source.name) {
    throw new CtlError(`--into ${into} is this stack: leave --into out to restore in place; nothing was touched`);
  }
  if (!stackNames(source.dir).includes(into)) {
    throw new CtlError(
      `unknown stack '${into}': no Pulumi.${into}.yaml in ${source.dir} (stacks: ${stackNames(source.dir).join(", ")}); nothing was touched`,
    );
  }
  const target = loadStack(into, source.dir);
  if (!target.plan.backup) {
    throw new CtlError(
      `stack ${into} has no pgBackRest: name a repository host in its roles.backup and make up STACK=${into}; nothing was touched`,
    );
  }
  const [from, to] = [source.plan.patroni.pgVersion, target.plan.patroni.pgVersion];
  if (from !== to) {
    throw new CtlError(
      `stack ${into} runs PostgreSQL ${to}, this one ${from}: a clone needs the same major version; nothing was touched`,
    );
  }
  if (!leaderOf(target, tryView(target))) {
    throw new CtlError(`stack ${into} has no running leader: make up STACK=${into} first; nothing was touched`);
  }
  return target;
}

async function restore(stack: Stack, args: string[]): Promise<number> {
  const b = spec(stack);
  const yes = flag(args, "--yes");
  const into = option(args, "--into");
  const to = option(args, "--to");
  if (to === undefined) throw new CtlError("restore needs --to <time|lsn|restore point|latest>");
  let target: RestoreTarget;
  try {
    target = parseRestoreTarget(to);
  } catch (e) {
    throw new CtlError((e as Error).message);
  }
  const started = Date.now();
  const dest = into === undefined ? stack : cloneTarget(stack, into);
  const clone = dest !== stack;
  const info = stanzaInfo(stack);
  let set;
  try {
    set = chooseBackupSet(info, target);
  } catch (e) {
    throw new CtlError(`${(e as Error).message}; nothing was touched (ctl backups shows the window)`);
  }
  const pg = dest.plan.patroni;
  const view = tryView(dest);
  // A restore stops every member: one the stack does not know of would go on as a leader.
  const strangers = (view?.members ?? []).filter((m) => !pg.members.some((p) => p.name === m.name));
  if (strangers.length > 0) {
    throw new CtlError(
      `stack ${dest.name}'s cluster runs member(s) the stack does not list (${strangers.map((m) => m.name).join(", ")}): ` +
        `make up STACK=${dest.name} so that the stack and the cluster agree, then restore; nothing was touched`,
    );
  }
  const leader = leaderOf(dest, view);
  const primary = leader ?? pg.leader;
  const others = pg.members.filter((m) => m !== primary);
  const from = `from ${clone ? `stack ${stack.name}'s ` : ""}backup ${set.label} (${set.type}, ${formatTime(new Date(set.timestamp.start * 1000))})`;
  const plan = [
    clone
      ? `Clone stack ${stack.name} at ${targetText(target)} into stack ${dest.name}, ${from} (${stack.name} is not touched):`
      : `Restore stack ${stack.name} to ${targetText(target)}, ${from}:`,
    `  1. stop Patroni on ${[...others.map((m) => m.name), primary.name].join(", then ")} (the cluster stops taking writes)`,
    `  2. remove cluster ${pg.scope} from the DCS`,
    `  3. restore ${primary.name}'s data from the repository and recover it to the target`,
    `  4. start ${primary.name} as the primary with the cluster's dynamic configuration, take a full backup`,
    `  5. rebuild ${others.map((m) => m.name).join(", ") || "no replica"} from the repository`,
    clone ? `Everything stack ${dest.name} holds now is replaced.` : "Every write after the target is lost.",
  ].join("\n");
  if (yes) console.log(plan);
  else if (!(await confirm(dest, plan))) {
    console.error("ctl: not confirmed: nothing was touched");
    return 1;
  }

  // Everything written so far reaches the repository.
  const sourceLeader = clone ? leaderOf(stack, tryView(stack)) : leader;
  if (sourceLeader) {
    const a = await archiveNow(stack, sourceLeader);
    console.log(`archived up to ${a.last_archived_wal}`);
  }
  // The dynamic configuration is kept.
  let saved: string | undefined;
  if (leader) {
    const r = onHost(dest, leader.host, ["patronictl", "-c", PATRONI_CONFIG_PATH, "show-config"], { stdio: "pipe" });
    if (r.status === 0) saved = String(r.stdout);
  } else {
    console.log(`no running leader: restoring on ${primary.name}, the dynamic configuration from its bootstrap`);
  }

  const access = clone ? grantCloneAccess(stack, dest, primary) : IN_PLACE;
  try {
    for (const m of [...others, primary]) {
      console.log(`stopping Patroni on ${m.name}`);
      systemctl(dest, m, "stop");
    }
    const etcd = dest.plan.etcd.members;
    const prefix = `/${[pg.namespace, pg.scope].map((p) => p.replace(/^\/+|\/+$/g, "")).join("/")}/`;
    const del = onHost(
      dest,
      etcd[0].host,
      ["etcdctl", `--endpoints=${etcd.map((m) => m.clientUrl).join(",")}`, "del", "--prefix", prefix],
      { stdio: "pipe" },
    );
    if (del.status !== 0) fail(`could not remove ${prefix} from etcd`, del);
    console.log(`removed ${prefix} from the DCS`);

    const script = renderScript("pgbackrest-restore", {
      STANZA: b.stanza,
      SET: set.label,
      ...scriptTarget(target),
      DATA_DIR: pg.dataDir,
      PG_BIN: PG_BIN_LINK,
      SOCKET_DIR,
      PG_PORT: primary.postgres.port,
      LOG_PATH,
      TIMEOUT: 1800,
      ...access.vars,
    });
    const r = onHost(dest, primary.host, ["bash", "-s"], { input: script, stdio: ["pipe", "inherit", "pipe"] });
    if (r.status !== 0) {
      fail(
        `the restore on ${primary.name} failed; Patroni is stopped on every member of stack ${dest.name}. Fix the cause and run the same restore again`,
        r,
      );
    }
  } finally {
    access.revoke();
  }

  systemctl(dest, primary, "start");
  const probe = (path: string, m: PatroniMemberSpec) =>
    onHost(dest, m.host, ["curl", "-s", "-o", "/dev/null", "-m", "3", "-w", "%{http_code}", `${m.restUrl}${path}`], {
      stdio: "pipe",
    }).stdout?.toString() === "200"
      ? true
      : undefined;
  // Patroni starts the promoted data as a replica, takes the leader lock and promotes it again.
  await waitFor(`${primary.name} to run as the primary`, 600, () =>
    probe("/primary", primary) && sqlOn(dest, primary, "select pg_is_in_recovery()") === "f" ? true : undefined,
  );
  console.log(`${primary.name} is the primary and takes writes (${Math.round((Date.now() - started) / 1000)} s)`);
  if (saved) {
    const replace = () =>
      onHost(
        dest,
        primary.host,
        [
          "sh",
          "-c",
          `f=$(mktemp) && cat >"$f" && patronictl -c ${PATRONI_CONFIG_PATH} edit-config --replace "$f" --force >/dev/null; s=$?; rm -f "$f"; exit $s`,
        ],
        { input: saved, stdio: ["pipe", "ignore", "pipe"] },
      );
    // The new leader writes the cluster's config key a moment after it takes the lock.
    let put = replace();
    for (let i = 0; i < 60 && put.status !== 0 && /config key does not exist/.test(String(put.stderr)); i++) {
      await sleep(1000);
      put = replace();
    }
    if (put.status !== 0) fail("could not put the dynamic configuration back (make up repairs it)", put);
    console.log("dynamic configuration restored");
  }

  if (clone) {
    // The target's repository held another cluster (another system id): its stanza starts again.
    const stanza = spec(dest).stanza;
    for (const step of [["stop"], ["stanza-delete", "--force"], ["start"]]) {
      const r = pgbackrest(dest, ["--log-level-console=error", ...step], true);
      if (r.status !== 0)
        fail(`pgbackrest ${step[0]} of stanza ${stanza} on stack ${dest.name}'s repository failed`, r);
    }
    // The primary's archiver retries its refused WAL meanwhile and holds its archive lock at times,
    // which stanza-create needs for a moment: it is retried until it gets it.
    let created: ReturnType<typeof pgbackrest> | undefined;
    const deadline = Date.now() + 120_000;
    do {
      if (created) await sleep(2000);
      created = pgbackrest(dest, ["--log-level-console=error", "stanza-create"], true);
    } while (created.status !== 0 && Date.now() < deadline);
    if (created.status !== 0) {
      fail(`pgbackrest stanza-create of stanza ${stanza} on stack ${dest.name}'s repository failed`, created);
    }
    console.log(`stack ${dest.name}'s repository starts stanza ${stanza} again, for the clone`);
  }
  console.log("taking a full backup of the new timeline");
  const full = pgbackrest(dest, ["--type=full", "--log-level-console=error", "backup"], false);
  if (full.status !== 0) fail("the full backup after the restore failed (ctl backup --type full retries it)", full);

  for (const m of others) {
    console.log(`rebuilding ${m.name} from the repository`);
    const wipe = onHost(dest, m.host, ["find", pg.dataDir, "-mindepth", "1", "-delete"], { stdio: "pipe" });
    if (wipe.status !== 0) fail(`could not empty ${pg.dataDir} on ${m.name}`, wipe);
    systemctl(dest, m, "start");
  }
  await waitFor("every replica to stream", 900, () => {
    const v = tryView(dest);
    const replicas = v?.members.filter((m) => m.role !== "leader") ?? [];
    return replicas.length === others.length && replicas.every((m) => m.state === "streaming") ? true : undefined;
  });
  console.log(
    `${clone ? `cloned into stack ${dest.name}` : "restored"} to ${targetText(target)}: ${primary.name} leads, ${others.length} replica(s) streaming ` +
      `(${Math.round((Date.now() - started) / 1000)} s)`,
  );
  return 0;
}

export async function runBackupVerb(stack: Stack, verb: string, args: string[]): Promise<number> {
  switch (verb) {
    case "backup": {
      const type = option(args, "--type");
      if (type !== undefined && !(BACKUP_TYPES as readonly string[]).includes(type)) {
        throw new CtlError(`--type ${type}: use one of ${BACKUP_TYPES.join(", ")}`);
      }
      spec(stack);
      const r = pgbackrest(stack, [...(type ? [`--type=${type}`] : []), "--log-level-console=info", "backup"], false);
      if (r.status !== 0) fail("the backup failed", r);
      return 0;
    }
    case "backups": {
      const info = stanzaInfo(stack);
      const leader = leaderOf(stack, tryView(stack));
      let archiver: ArchiverState | undefined;
      if (leader) {
        try {
          archiver = archiverOf(stack, leader);
        } catch {
          archiver = undefined;
        }
      }
      process.stdout.write(renderBackupInfo(info, archiver));
      return 0;
    }
    case "restore":
      return restore(stack, args);
    default:
      throw new CtlError(`unknown backup verb ${verb}`);
  }
}
