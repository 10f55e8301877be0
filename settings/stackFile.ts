/**
 * The one reader of `Pulumi.<stack>.yaml` outside the engine: the direct runner, the scripts and
 * the tests take the stack's config from here (the program itself reads it through pulumi.Config).
 */
import * as fs from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";

/** `patroni-stack:key` → JSON text, as `pulumi config` hands values to a program. */
export type StackConfig = Record<string, string>;

export function stackFilePath(dir: string, stack: string): string {
  return path.join(dir, `Pulumi.${stack}.yaml`);
}

/**
 * The stack's plain config values. An encrypted (secure) value is refused, since the direct runner
 * cannot decrypt it, unless `secrets: "skip"`: then it is left out and its key listed in `secretKeys`.
 */
export function readStackFile(
  dir: string,
  stack: string,
  options: { secrets: "refuse" | "skip"; secretKeys?: string[] } = { secrets: "refuse" },
): StackConfig {
  const file = stackFilePath(dir, stack);
  if (!fs.existsSync(file)) throw new Error(`no stack file ${file}`);
  const doc = (parse(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const config: StackConfig = {};
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (value && typeof value === "object" && "secure" in value) {
      if (options.secrets === "skip") {
        options.secretKeys?.push(key);
        continue;
      }
      throw new Error(`${key} is an encrypted secret: the direct runner only runs local stacks; use the Pulumi CLI`);
    }
    config[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return config;
}

/** The `patroni-stack:*` values of a stack's config, without the prefix, as the schema reads them. */
export function rawSettings(config: StackConfig): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(config)
      .filter(([k]) => k.startsWith("patroni-stack:"))
      .map(([k, v]) => [k.slice("patroni-stack:".length), JSON.parse(v) as unknown]),
  );
}

/** The Debian suite of a local stack's hosts, or undefined for a stack of real hosts. */
export function localSuite(config: StackConfig): string | undefined {
  const local = config["patroni-stack:local"];
  if (local === undefined) return undefined;
  return (JSON.parse(local) as { suite?: string }).suite ?? "bookworm";
}

/**
 * The project the Pulumi CLI runs in: `.pulumi-state/pulumi-project/` beside the stack files, its
 * `Pulumi.yaml` pointing at the same program and its `Pulumi.<stack>.yaml` a copy of the stack
 * file, refreshed before every run. Pulumi's passphrase provider records its salt
 * (`encryptionsalt`) in the stack file it runs with: it lands in the copy, and the checkout's own
 * file stays as its author wrote it (a salt committed from one checkout breaks every other
 * checkout's first run). A salt the author's file has (`pulumi config set --secret` writes one)
 * is kept, since its secrets are encrypted with it. Returns the project directory.
 */
export function writePulumiProject(dir: string, stack: string): string {
  const project = parse(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
  const shadow = path.join(dir, ".pulumi-state", "pulumi-project");
  fs.mkdirSync(shadow, { recursive: true, mode: 0o700 });
  const main = path.resolve(dir, typeof project.main === "string" ? project.main : ".");
  fs.writeFileSync(path.join(shadow, "Pulumi.yaml"), stringify({ ...project, main: path.relative(shadow, main) }));
  const source = (parse(fs.readFileSync(stackFilePath(dir, stack), "utf8")) ?? {}) as Record<string, unknown>;
  const copyFile = stackFilePath(shadow, stack);
  const copy = fs.existsSync(copyFile)
    ? ((parse(fs.readFileSync(copyFile, "utf8")) ?? {}) as Record<string, unknown>)
    : {};
  const salt = source.encryptionsalt ?? copy.encryptionsalt;
  fs.writeFileSync(copyFile, stringify({ ...source, ...(salt ? { encryptionsalt: salt } : {}) }), { mode: 0o600 });
  return shadow;
}
