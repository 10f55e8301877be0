/**
 * Remote scripts: a typed variable header followed by static shell from this folder.
 *
 * The logic lives in `*.sh` files (shellcheck-clean, readable on the host after upload); the
 * TypeScript side only renders the values each script needs, quoted for bash.
 */
import { createHash } from "crypto";
import { readFileSync } from "fs";
import * as path from "path";
import { ETCD_CONFIG_PATH } from "../etcd";
import { HAPROXY_CONFIG_PATH } from "../haproxy";
import { PATRONI_CONFIG_PATH } from "../patroni";
import { POOL_NAMES, poolConfigPath } from "../pgbouncer";
import { CLIENT_ENV_PATH, TLS_DIR, TRANSPORT_PATH } from "../tls";

/** Every remote script, by the name of its file in this folder (`<name>.sh`). */
export const SCRIPT_NAMES = [
  "packages-install",
  "etcd-install",
  "etcd-configure",
  "etcd-start",
  "etcd-stop",
  "patroni-install",
  "patroni-configure",
  "patroni-start",
  "patroni-stop",
  "patroni-dcs",
  "patroni-handback",
  "postgres-roles",
  "pgbackrest-member",
  "pgbackrest-repository",
  "pgbackrest-stanza",
  "pgbackrest-stanza-delete",
  "pgbackrest-restore",
  "pgbackrest-clone-access",
  "pgbackrest-clone-trust",
  "haproxy-install",
  "haproxy-configure",
  "haproxy-start",
  "haproxy-stop",
  "pgbouncer-configure",
  "pgbouncer-start",
  "pgbouncer-stop",
  "keepalived-install",
  "keepalived-configure",
  "keepalived-start",
  "keepalived-stop",
  "tls-install",
  "tls-switch",
] as const;

export type ScriptName = (typeof SCRIPT_NAMES)[number];

export type ScriptValue = string | number | boolean | string[];

/** Quote a value for bash (single quotes). */
export function shq(value: string | number | boolean): string {
  return `'${String(value).replace(/'/g, `'\\''`)}'`;
}

function assignment(name: string, value: ScriptValue): string {
  if (!/^[A-Z][A-Z0-9_]*$/.test(name)) throw new Error(`bad script variable name ${name}`);
  if (Array.isArray(value)) return `${name}=(${value.map(shq).join(" ")})`;
  return `${name}=${shq(value)}`;
}

function source(file: string): string {
  return readFileSync(path.join(__dirname, file), "utf8");
}

/**
 * A script's text with its fragments in place: a line `# include: lib-<name>.sh` is replaced by
 * that file of this folder (functions some scripts share; lib.sh itself precedes every script).
 */
export function withIncludes(text: string): string {
  return text.replace(/^# include: (lib-[a-z-]+\.sh)$/gm, (_line, file: string) => source(file).trim());
}

/** Render `<name>.sh` with its variables; the result is deterministic for the same input. */
export function renderScript(name: ScriptName, vars: Record<string, ScriptValue>): string {
  // Every script's etcdctl, curl and psql verify the stack's certificates (see lib.sh), and every
  // script can tell whether its host is switching from plain text to TLS (switching_to_tls).
  const all: Record<string, ScriptValue> = {
    PATRONI_STACK_CLIENT_ENV: CLIENT_ENV_PATH,
    PATRONI_STACK_TRANSPORT: TRANSPORT_PATH,
    PATRONI_STACK_TLS_DIR: TLS_DIR,
    // The files that name the stack's certificates once a service uses TLS (see
    // services_name_certificates).
    PATRONI_STACK_SERVICE_CONFIGS: [
      ETCD_CONFIG_PATH,
      PATRONI_CONFIG_PATH,
      HAPROXY_CONFIG_PATH,
      ...POOL_NAMES.map(poolConfigPath),
    ],
    ...vars,
  };
  const header = Object.keys(all)
    .sort()
    .map((k) => assignment(k, all[k]))
    .join("\n");
  return [
    "#!/usr/bin/env bash",
    `# ${name}: rendered by patroni-stack; safe to re-run.`,
    "# shellcheck disable=SC2034",
    header,
    "",
    source("lib.sh").trim(),
    "",
    "require_root",
    withIncludes(source(`${name}.sh`)).trim(),
    "",
  ].join("\n");
}

/** How a step's uploaded script runs: the command text of a remote step. */
export interface RunCommandSpec {
  /** The uploaded script on the host. */
  path: string;
  /** Run through `sudo -n` (a non-root SSH user). */
  sudo: boolean;
  /** The script's text: its digest in the command makes a changed script run again. */
  script: string;
  /** Plain text (no secret) of what the step applies, appended as comment lines for previews. */
  shows?: string;
  /** A value whose change runs the step again although the script did not change. */
  runsAfter?: string;
}

const digest = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 16);

/** Text as shell comment lines that follow a command (empty for none). */
export function commentLines(text?: string): string {
  if (text === undefined) return "";
  return text
    .trimEnd()
    .split("\n")
    .map((l) => `\n#   ${l.replace(/^#\s?/, "")}`)
    .join("");
}

export function renderRunCommand(spec: RunCommandSpec): string {
  const sudo = spec.sudo ? "sudo -n " : "";
  const after = spec.runsAfter ? ` after ${spec.runsAfter}` : "";
  return `${sudo}bash ${spec.path} # patroni-stack script ${digest(spec.script)}${after}${commentLines(spec.shows)}`;
}

/** A step's delete: runs its uploaded undo script when that file is on the host, else nothing. */
export function renderDeleteCommand(spec: Omit<RunCommandSpec, "shows">): string {
  const sudo = spec.sudo ? "sudo -n " : "";
  return (
    `if [ -f ${spec.path} ]; then ${sudo}bash ${spec.path}; ` +
    `else echo "patroni-stack: ${spec.path} is gone; nothing to undo"; fi # ${digest(spec.script)}`
  );
}
