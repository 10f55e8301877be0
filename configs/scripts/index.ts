/**
 * Remote scripts: a typed variable header followed by static shell from this folder.
 *
 * The logic lives in `*.sh` files (shellcheck-clean, readable on the host after upload); the
 * TypeScript side only renders the values each script needs, quoted for bash.
 */
import { readFileSync } from "fs";
import * as path from "path";

export type ScriptName =
  | "etcd-install"
  | "etcd-configure"
  | "etcd-start"
  | "etcd-stop"
  | "patroni-install"
  | "patroni-configure"
  | "patroni-start"
  | "patroni-stop"
  | "patroni-dcs"
  | "postgres-roles"
  | "haproxy-install"
  | "haproxy-configure"
  | "haproxy-start"
  | "haproxy-stop";

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

/** Render `<name>.sh` with its variables; the result is deterministic for the same input. */
export function renderScript(name: ScriptName, vars: Record<string, ScriptValue>): string {
  const header = Object.keys(vars)
    .sort()
    .map((k) => assignment(k, vars[k]))
    .join("\n");
  return [
    "#!/usr/bin/env bash",
    `# ${name}: rendered by patroni-stack; safe to re-run.`,
    "# shellcheck disable=SC2034",
    header,
    "",
    source("lib.sh").trim(),
    "",
    source(`${name}.sh`).trim(),
    "",
  ].join("\n");
}
