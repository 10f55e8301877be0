/**
 * Stack configuration: read, check and resolve in one place.
 *
 * `resolveSettings` is pure and used by the unit tests; `readStackConfig` is the only
 * function that touches `pulumi.Config`.
 */
import * as pulumi from "@pulumi/pulumi";
import { Credentials, validateSettings } from "./validate";
import { createPrivateKey } from "crypto";
import * as fs from "fs";
import * as path from "path";
import {
  BackupSettings,
  backupShape,
  parseSettings,
  postgresPackages,
  Problem,
  Settings,
  SETTINGS_KEYS,
} from "./schema";
import { UserCa, userCaProblems } from "../configs/tls";

export * from "./schema";
export { Credentials, validateSettings } from "./validate";

/** The keys of `Pulumi.<stack>.yaml` (namespace `patroni-stack`) other than the SSH secrets. */
export const CONFIG_KEYS = SETTINGS_KEYS;

export class ConfigError extends Error {
  constructor(readonly problems: Problem[]) {
    super(
      `invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p.key}: ${p.message}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** Settings with every derived default filled in. */
export interface ResolvedSettings extends Settings {
  postgresql: Settings["postgresql"] & {
    dataDir: string;
    packages: { debian: string[]; rhel: string[] };
  };
  etcd: Settings["etcd"] & { token: string };
  /** Present exactly when `roles.backup` names a repository host (defaults filled in). */
  backup?: BackupSettings;
}

/** Check the raw config values and fill in defaults; throws one ConfigError listing every problem. */
export function resolveSettings(raw: unknown, creds: Credentials): ResolvedSettings {
  const { settings, problems } = parseSettings(raw);
  if (!settings) throw new ConfigError(problems);
  const semantic = validateSettings(settings, creds);
  if (semantic.length > 0) throw new ConfigError(semantic);
  const pg = settings.postgresql;
  const pkgs = postgresPackages(pg.version);
  return {
    ...settings,
    postgresql: {
      ...pg,
      dataDir: pg.dataDir ?? `/data/pg${pg.version}`,
      packages: { debian: pg.packages.debian ?? pkgs.debian, rhel: pg.packages.rhel ?? pkgs.rhel },
    },
    etcd: { ...settings.etcd, token: settings.etcd.token ?? `${settings.cluster.scope}-etcd` },
    backup: settings.roles.backup?.length ? (settings.backup ?? backupShape.parse({})) : undefined,
  };
}

export interface StackConfig {
  settings: ResolvedSettings;
  sshPrivateKey?: pulumi.Output<string>;
  sshPassword?: pulumi.Output<string>;
  /** The S3 repository's keys (`backup.repository.type: s3`). */
  s3Keys?: { accessKey: pulumi.Output<string>; secretKey: pulumi.Output<string> };
  /** `tls.ca`: the user's CA, read and checked (the key secret). */
  userCa?: { certificate: string; privateKey: pulumi.Output<string> };
}

/**
 * The user's CA from `tls.ca` (paths relative to the project directory), checked before anything
 * runs: readable, a CA, with its own key, valid long enough.
 */
export function readUserCa(settings: ResolvedSettings, dir = process.cwd()): UserCa | undefined {
  const files = settings.tls.enabled ? settings.tls.ca : undefined;
  if (!files) return undefined;
  const read = (key: string, file: string) => {
    try {
      return fs.readFileSync(path.resolve(dir, file), "utf8");
    } catch (e) {
      throw new ConfigError([{ key, message: `cannot read ${file}: ${(e as Error).message}` }]);
    }
  };
  const certificate = read("patroni-stack:tls.ca.certificateFile", files.certificateFile);
  const key = read("patroni-stack:tls.ca.keyFile", files.keyFile);
  const ca = { certificate, privateKey: key };
  const problems = userCaProblems(ca, settings.tls);
  if (problems.length > 0) throw new ConfigError(problems);
  return { certificate, privateKey: createPrivateKey(key).export({ format: "pem", type: "pkcs8" }).toString() };
}

/** Read `patroni-stack:*` from the current stack. */
export function readStackConfig(): StackConfig {
  const cfg = new pulumi.Config("patroni-stack");
  const raw: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const value = cfg.getObject<unknown>(key);
    if (value !== undefined) raw[key] = value;
  }
  const sshPrivateKey = cfg.getSecret("sshPrivateKey");
  const sshPassword = cfg.getSecret("sshPassword");
  const accessKey = cfg.getSecret("backupS3AccessKey");
  const secretKey = cfg.getSecret("backupS3SecretKey");
  const s3Keys = accessKey && secretKey ? { accessKey, secretKey } : undefined;
  const settings = resolveSettings(raw, { privateKey: !!sshPrivateKey, password: !!sshPassword, s3Keys: !!s3Keys });
  const ca = readUserCa(settings);
  const userCa = ca && { certificate: ca.certificate, privateKey: pulumi.secret(ca.privateKey) };
  return { settings, sshPrivateKey, sshPassword, s3Keys, userCa };
}
