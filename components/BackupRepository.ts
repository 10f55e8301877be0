/**
 * The backup repository host (pgBackRest): its pgbackrest.conf with every member, the SSH trust
 * with the members, the schedule's systemd timers, and the cluster's stanza: created and checked
 * once the cluster archives to it, with the first full backup taken at deploy (a second up takes
 * none). Destroy stops the schedule and keeps the repository unless `backup.onDestroy: purge`.
 */
import * as pulumi from "@pulumi/pulumi";
import { BackupSpec } from "../plan";
import {
  BACKUP_TYPES,
  LOG_PATH,
  PGBACKREST_CONFIG_PATH,
  PGBACKREST_LEGACY_CONFIG_PATH,
  renderRepositoryConfig,
  renderScheduleUnits,
  REPOSITORY_HOME,
  REPOSITORY_USER,
  S3Keys,
  scheduleUnitName,
} from "../configs/pgbackrest";
import { renderScript } from "../configs/scripts";
import { HostAccess } from "./hostAccess";
import { lifecycleSteps } from "./RemoteScript";
import { OnDestroyNote } from "./OnDestroyNote";
import { SshKeyPair } from "./sshKey";

export interface BackupRepositoryArgs {
  spec: BackupSpec;
  access: HostAccess;
  /** The repository user's SSH key, and the public key the members' postgres user holds. */
  repositoryKey: pulumi.Output<SshKeyPair>;
  memberPublicKey: pulumi.Output<string>;
  s3Keys?: pulumi.Output<S3Keys>;
  /** Changes when a member host is replaced: its host key is scanned again. */
  memberIdentities?: pulumi.Input<string>;
  /** What must be done before the stanza is created (the leader, the members' pgBackRest, the DCS). */
  stanzaAfter: pulumi.Resource[];
}

export class BackupRepository extends pulumi.ComponentResource {
  readonly stanza: string;

  constructor(name: string, args: BackupRepositoryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("patroni-stack:backup:BackupRepository", name, {}, opts);
    const { spec, access } = args;
    const units = renderScheduleUnits(spec);
    const unitNames = Object.keys(units);
    const timers = BACKUP_TYPES.filter((t) => spec.schedule[t] !== undefined).map(
      (t) => `${scheduleUnitName(spec.stanza, t)}.timer`,
    );
    const staleTimers = BACKUP_TYPES.filter((t) => spec.schedule[t] === undefined).map(
      (t) => `${scheduleUnitName(spec.stanza, t)}.timer`,
    );

    const steps = lifecycleSteps(this, name, spec.host, access);
    const configure = steps("configure", {
      file: "pgbackrest-repository.sh",
      script: renderScript("pgbackrest-repository", {
        REPO_USER: REPOSITORY_USER,
        REPO_HOME: REPOSITORY_HOME,
        REPO_TYPE: spec.repository.type,
        REPO_PATH: spec.repository.path,
        MEMBERS: spec.members.map((m) => m.address),
        CONFIG_PATH: PGBACKREST_CONFIG_PATH,
        LEGACY_CONFIG_PATH: PGBACKREST_LEGACY_CONFIG_PATH,
        LOG_PATH,
        UNIT_NAMES: unitNames,
        UNIT_TEXTS: unitNames.map((u) => units[u]),
      }),
      shows: renderRepositoryConfig(spec),
      runsAfter: args.memberIdentities,
      stdin: pulumi.secret(
        pulumi.all([args.repositoryKey, args.memberPublicKey, args.s3Keys]).apply(([key, peer, s3]) =>
          JSON.stringify({
            privateKey: key.privateKeyPem,
            peerPublicKey: peer,
            config: renderRepositoryConfig(spec, s3),
          }),
        ),
      ),
    });
    steps(
      "stanza",
      {
        file: "pgbackrest-stanza.sh",
        script: renderScript("pgbackrest-stanza", {
          STANZA: spec.stanza,
          REPO_USER: REPOSITORY_USER,
          TIMERS: timers,
          STALE_TIMERS: staleTimers,
        }),
        onDelete: renderScript("pgbackrest-stanza-delete", {
          STANZA: spec.stanza,
          REPO_USER: REPOSITORY_USER,
          REPO_PATH: spec.repository.path,
          PURGE: spec.purge,
          UNIT_NAMES: unitNames,
        }),
      },
      [configure, ...args.stanzaAfter],
    );
    // What a destroy does to the repository, in the words a destroy's preview lists.
    new OnDestroyNote(`${name}-${spec.purge ? "purged" : "kept"}-on-destroy`, { parent: this });

    this.stanza = spec.stanza;
    this.registerOutputs({ stanza: this.stanza });
  }
}
