/**
 * Stack configuration: read, check and resolve in one place.
 *
 * `resolveSettings` is pure and used by the unit tests; `readStackConfig` is the only
 * function that touches `pulumi.Config`.
 */
import * as pulumi from "@pulumi/pulumi";
import { Credentials, validateSettings } from "./validate";
import { BackupSettings, backupShape, parseSettings, postgresPackages, Problem, Settings } from "./schema";

export * from "./schema";
export { Credentials, validateSettings } from "./validate";

/** The keys of `Pulumi.<stack>.yaml` (namespace `patroni-stack`) other than the SSH secrets. */
export const CONFIG_KEYS = [
  "hosts",
  "roles",
  "cluster",
  "postgresql",
  "patroni",
  "etcd",
  "haproxy",
  "backup",
  "tls",
  "local",
] as const;

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
  return { settings, sshPrivateKey, sshPassword, s3Keys };
}
