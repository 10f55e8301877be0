/**
 * The one reader of `Pulumi.<stack>.yaml` outside the engine: the direct runner, the scripts and
 * the tests take the stack's config from here (the program itself reads it through pulumi.Config).
 */
import * as fs from "fs";
import * as path from "path";
import { isMap, parse, parseDocument, stringify, YAMLMap } from "yaml";
import { configPassphrase, PassphraseCrypter } from "./secrets";

/** `patroni-stack:key` → JSON text, as `pulumi config` hands values to a program. */
export type StackConfig = Record<string, string>;

export function stackFilePath(dir: string, stack: string): string {
  return path.join(dir, `Pulumi.${stack}.yaml`);
}

/**
 * The stack's config values. An encrypted (secure) value is refused (`secrets: "refuse"`), left out
 * with its key listed in `secretKeys` (`"skip"`), or decrypted with the passphrase from the
 * environment and its key listed in `secretKeys` (`"decrypt"`, the direct runner's runs).
 */
export function readStackFile(
  dir: string,
  stack: string,
  options: { secrets: "refuse" | "skip" | "decrypt"; secretKeys?: string[]; env?: NodeJS.ProcessEnv } = {
    secrets: "refuse",
  },
): StackConfig {
  const file = stackFilePath(dir, stack);
  if (!fs.existsSync(file)) throw new Error(`no stack file ${file}`);
  const doc = (parse(fs.readFileSync(file, "utf8")) ?? {}) as {
    config?: Record<string, unknown>;
    encryptionsalt?: unknown;
  };
  const config: StackConfig = {};
  let crypter: PassphraseCrypter | undefined;
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (value && typeof value === "object" && "secure" in value) {
      if (options.secrets === "refuse")
        throw new Error(`${key} is an encrypted secret, which this command does not read`);
      options.secretKeys?.push(key);
      if (options.secrets === "skip") continue;
      if (typeof doc.encryptionsalt !== "string") {
        throw new Error(`${file}: ${key} is encrypted but the file has no encryptionsalt: set the secret again`);
      }
      crypter ??= PassphraseCrypter.fromSalt(doc.encryptionsalt, configPassphrase(options.env));
      const secure = (value as { secure: unknown }).secure;
      if (typeof secure !== "string") throw new Error(`${file}: ${key}.secure is not a string`);
      config[key] = crypter.decrypt(secure);
      continue;
    }
    config[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return config;
}

/**
 * Set a config key to an encrypted value in the stack file, as `pulumi config set --secret` does:
 * a key without a namespace is the project's (`patroni-stack:<key>`), and the value is encrypted
 * with the file's salt, or a new one recorded in it. The rest of the file, comments too, stays.
 */
export function setStackSecret(
  dir: string,
  stack: string,
  key: string,
  value: string,
  env: NodeJS.ProcessEnv = process.env,
): void {
  if (!/^([A-Za-z][\w-]*:)?[A-Za-z][\w]*$/.test(key)) {
    throw new Error(`secret key '${key}': a config key name such as backupS3AccessKey (letters and digits)`);
  }
  const file = stackFilePath(dir, stack);
  if (!fs.existsSync(file)) throw new Error(`no stack file ${file}`);
  const project = (parse(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8")) as { name: string }).name;
  const full = key.includes(":") ? key : `${project}:${key}`;
  const doc = parseDocument(fs.readFileSync(file, "utf8"));
  const passphrase = configPassphrase(env);
  const salt = doc.get("encryptionsalt");
  let crypter: PassphraseCrypter;
  if (typeof salt === "string") {
    crypter = PassphraseCrypter.fromSalt(salt, passphrase);
  } else {
    const made = PassphraseCrypter.create(passphrase);
    crypter = made.crypter;
    doc.set("encryptionsalt", made.salt);
  }
  const config = doc.get("config");
  if (!isMap(config)) doc.set("config", doc.createNode({}));
  const map = doc.get("config") as YAMLMap;
  map.flow = false;
  map.set(full, doc.createNode({ secure: crypter.encrypt(value) }));
  fs.writeFileSync(file, doc.toString());
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
