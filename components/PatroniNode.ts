/**
 * One Patroni member with its PostgreSQL: install, configure (patroni.yml through stdin, since it
 * holds passwords), start and wait for the member's role: the bootstrap leader until `/primary`
 * answers 200, a replica until `/replica` answers 200 and it streams.
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { BackupSpec, ClusterPlan, PatroniMemberSpec } from "../plan";
import {
  PATRONI_CONFIG_PATH,
  PatroniSecrets,
  PG_BIN_LINK,
  PGPASS_PATH,
  renderPatroniBootstrap,
  renderPatroniConfig,
  SOCKET_DIR,
} from "../configs/patroni";
import {
  LOG_PATH as PGBACKREST_LOG_PATH,
  PGBACKREST_CONFIG_PATH,
  PGBACKREST_LEGACY_CONFIG_PATH,
  renderMemberConfig,
  S3Keys,
  SPOOL_PATH,
} from "../configs/pgbackrest";
import { renderPatroniUnit } from "../configs/systemd";
import { renderScript } from "../configs/scripts";
import { boundTo, HostAccess } from "./hostAccess";
import { lifecycleSteps, RemoteScript } from "./RemoteScript";
import { SshKeyPair } from "./sshKey";

/** Stand-ins for the passwords in the preview's copy of patroni.yml. */
const HIDDEN_SECRETS: PatroniSecrets = {
  superuser: "(secret)",
  replication: "(secret)",
  rewind: "(secret)",
  restApi: "(secret)",
};

/** A member's side of the backup: its pgbackrest.conf and its SSH trust with the repository host. */
export interface MemberBackupArgs {
  spec: BackupSpec;
  /** The postgres user's key (the same on every member), and the repository user's public key. */
  memberKey: pulumi.Output<SshKeyPair>;
  repositoryPublicKey: pulumi.Output<string>;
  s3Keys?: pulumi.Output<S3Keys>;
  /** Changes when the repository host is replaced: its host key is scanned again. */
  repositoryIdentity?: pulumi.Input<string>;
}

export interface PatroniNodeArgs {
  member: PatroniMemberSpec;
  plan: ClusterPlan;
  access: HostAccess;
  secrets: pulumi.Output<PatroniSecrets>;
  /** What must be up before this member starts (installs and configs proceed in parallel). */
  startAfter?: pulumi.Resource[];
  /** Seconds to wait for the member's role. */
  timeout?: number;
  /** WAL archiving and replicas restored from the repository, when the stack has backups. */
  backup?: MemberBackupArgs;
  /** What must run before patroni.yml changes (a switch to TLS: the cluster paused, the routers' checks held). */
  configureAfter?: pulumi.Resource[];
}

export class PatroniNode extends pulumi.ComponentResource {
  readonly memberName: string;
  /** The member's pgBackRest step (the stanza waits for every member's). */
  readonly backupStep?: pulumi.Resource;
  readonly role: "leader" | "replica";
  readonly restUrl: string;
  /** The step that writes patroni.yml (and reloads or, in a switch to TLS, restarts Patroni). */
  readonly configured: RemoteScript;

  constructor(name: string, args: PatroniNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("patroni-stack:cluster:PatroniNode", name, {}, opts);
    const { member, plan, access } = args;
    const pg = plan.patroni;
    const host = member.host;
    const restUrl = member.restUrl;

    const steps = lifecycleSteps(this, name, host, access);
    const install = steps("install", {
      file: "patroni-install.sh",
      script: renderScript("patroni-install", {
        PG_VERSION: pg.pgVersion,
        PACKAGES_DEBIAN: pg.packages.debian,
        PACKAGES_RHEL: pg.packages.rhel,
        DATA_DIR: pg.dataDir,
        PG_BIN_LINK,
        PGPASS_DIR: PGPASS_PATH.replace(/\/[^/]+$/, ""),
        CONFIG_DIR: PATRONI_CONFIG_PATH.replace(/\/[^/]+$/, ""),
      }),
    });
    // Patroni reads the bootstrap section only when it initializes the cluster, so later edits
    // must not re-run anything here: they reach the running cluster through PatroniDynamicConfig.
    const bootstrapPath = `${host.stageDir}/patroni-bootstrap.yml`;
    const bootstrap = new command.remote.CopyToRemote(
      `${name}-bootstrap-upload`,
      {
        ...boundTo(access).inputs,
        remotePath: bootstrapPath,
        source: new pulumi.asset.StringAsset(renderPatroniBootstrap(plan.patroni)),
      },
      { ...boundTo(access).options, parent: this, ignoreChanges: ["source"] },
    );
    const configure = steps(
      "configure",
      {
        file: "patroni-configure.sh",
        script: renderScript("patroni-configure", {
          CONFIG_PATH: PATRONI_CONFIG_PATH,
          BOOTSTRAP_PATH: bootstrapPath,
          UNIT: renderPatroniUnit(PATRONI_CONFIG_PATH),
          REST_URL: restUrl,
          SOCKET_DIR,
          PG_PORT: member.postgres.port,
        }),
        shows: renderPatroniConfig(member, plan.patroni, HIDDEN_SECRETS, args.backup?.spec),
        stdin: pulumi.secret(
          args.secrets.apply((s) => renderPatroniConfig(member, plan.patroni, s, args.backup?.spec)),
        ),
      },
      [install, bootstrap, ...(args.configureAfter ?? [])],
    );
    const backup = args.backup;
    const backupStep = backup
      ? steps(
          "pgbackrest",
          {
            file: "pgbackrest-member.sh",
            script: renderScript("pgbackrest-member", {
              REPO_HOST: backup.spec.host.address,
              CONFIG_PATH: PGBACKREST_CONFIG_PATH,
              LEGACY_CONFIG_PATH: PGBACKREST_LEGACY_CONFIG_PATH,
              SPOOL_PATH,
              LOG_PATH: PGBACKREST_LOG_PATH,
            }),
            shows: renderMemberConfig(backup.spec, member.name),
            runsAfter: backup.repositoryIdentity,
            stdin: pulumi.secret(
              pulumi.all([backup.memberKey, backup.repositoryPublicKey, backup.s3Keys]).apply(([key, peer, s3]) =>
                JSON.stringify({
                  privateKey: key.privateKeyPem,
                  peerPublicKey: peer,
                  config: renderMemberConfig(backup.spec, member.name, s3),
                }),
              ),
            ),
          },
          [install],
        )
      : undefined;
    const start = steps(
      "start",
      {
        file: "patroni-start.sh",
        script: renderScript("patroni-start", {
          MEMBER: member.name,
          ROLE: member.role,
          REST_URL: restUrl,
          PG_PORT: member.postgres.port,
          SOCKET_DIR,
          TIMEOUT: args.timeout ?? 300,
        }),
      },
      [configure, ...(backupStep ? [backupStep] : []), ...(args.startAfter ?? [])],
    );
    steps(
      "stop",
      {
        file: "patroni-stop.sh",
        deleteFile: "patroni-stop.sh",
        onDelete: renderScript("patroni-stop", {
          MEMBER: member.name,
          ROLE: member.role,
          REST_URL: restUrl,
          LEADER: plan.patroni.leader.name,
          LEADER_REST_URL: plan.patroni.leader.restUrl,
          CONFIG_PATH: PATRONI_CONFIG_PATH,
          DATA_DIR: pg.dataDir,
          PURGE: plan.purgeOnDestroy,
        }),
      },
      [start],
    );

    this.memberName = member.name;
    this.configured = configure;
    this.backupStep = backupStep;
    this.role = member.role;
    this.restUrl = restUrl;
    this.registerOutputs({ memberName: this.memberName, role: this.role, restUrl });
  }
}
