import { parse } from "ini";
import { RawSettings, resolveSettings } from "../../settings";
import { calendarProblem } from "../../settings/calendar";
import { planCluster } from "../../plan";
import {
  archiveParameters,
  recoveryConf,
  renderMemberConfig,
  renderRepositoryConfig,
  renderScheduleUnits,
  replicaMethods,
} from "../../configs/pgbackrest";
import {
  BackupEntry,
  StanzaInfo,
  chooseBackupSet,
  formatTargetTime,
  parseRestoreTarget,
  renderArchiverState,
  renderBackupInfo,
  renderLastBackup,
  restorableWindow,
} from "../../configs/backupInfo";
import { comparableDeclared, comparableLive, dcsDifferences } from "../../configs/dcsDiff";
import { renderDynamicConfig } from "../../configs/dcs";
import { configProblems, threeNodeSettings, withKey } from "../fixtures/settings";

type Raw = RawSettings & Record<string, unknown>;

/** Three members and a fourth host, bk1, holding the repository. */
function withBackupHost(): Raw {
  const raw = threeNodeSettings() as Raw;
  raw.hosts.push({ name: "bk1", address: "10.0.0.14" });
  (raw.roles as Record<string, string[]>).backup = ["bk1"];
  return raw;
}

const problemsOf = configProblems;

const planOf = (raw: Raw, creds: Parameters<typeof resolveSettings>[1] = withKey) =>
  planCluster(resolveSettings(raw, creds));

function backupSpecOf(raw: Raw, creds: Parameters<typeof resolveSettings>[1] = withKey) {
  const spec = planOf(raw, creds).backup;
  if (!spec) throw new Error("no backup spec");
  return spec;
}

describe("backup settings", () => {
  it("turns backups on with roles.backup alone, with the documented defaults", () => {
    const b = planOf(withBackupHost()).backup;
    expect(b).toMatchObject({
      host: { name: "bk1", address: "10.0.0.14" },
      stanza: "postgres",
      repository: { type: "host", path: "/var/lib/pgbackrest" },
      retention: { full: 2, diff: 6 },
      schedule: { full: "Sun *-*-* 01:00:00", diff: "Mon..Sat *-*-* 01:00:00" },
      compress: "zst",
      purge: false,
    });
    expect(b?.members.map((m) => m.name)).toEqual(["pg1", "pg2", "pg3"]);
  });

  it("leaves backups off without roles.backup", () => {
    expect(planOf(threeNodeSettings() as Raw).backup).toBeUndefined();
  });

  it("installs pgBackRest on the repository host and the members, not on a router-only host", () => {
    const raw = withBackupHost();
    raw.hosts.push({ name: "lb1", address: "10.0.0.20" });
    raw.roles.haproxy = ["lb1"];
    const pkgs = Object.fromEntries(planOf(raw).hostPackages.map((h) => [h.host.name, h.packages.debian]));
    for (const h of ["pg1", "pg2", "pg3", "bk1"]) expect(pkgs[h]).toContain("pgbackrest");
    expect(pkgs.lb1).not.toContain("pgbackrest");
  });

  it.each([
    [
      "a repository host nobody declared",
      (r: Raw) => ((r.roles as Record<string, string[]>).backup = ["nas"]),
      /roles\.backup\[0\]: unknown host 'nas'/,
    ],
    [
      "a repository on a Patroni member",
      (r: Raw) => ((r.roles as Record<string, string[]>).backup = ["pg3"]),
      /roles\.backup\[0\]: 'pg3' is a Patroni member.*allowMemberHost/,
    ],
    ["two repository hosts", (r: Raw) => ((r.roles as Record<string, string[]>).backup = ["bk1", "pg1"]), /one host/],
    ["a retention of 0", (r: Raw) => (r.backup = { retention: { full: 0 } }), /retention\.full: .*at least 1/],
    [
      "a schedule systemd would not take",
      (r: Raw) => (r.backup = { schedule: { full: "Sunday 25:00" } }),
      /schedule\.full: 'Sunday 25:00' is not a systemd calendar event/,
    ],
    [
      "an s3 repository without its bucket",
      (r: Raw) => (r.backup = { repository: { type: "s3" } }),
      /backup\.repository\.s3: repository type s3 needs its bucket/,
    ],
    [
      "an s3 repository without its keys",
      (r: Raw) => (r.backup = { repository: { type: "s3", s3: { bucket: "pg-backups", endpoint: "s3.example" } } }),
      /backupS3AccessKey: .*--secret/,
    ],
    [
      "an s3 block on a host repository",
      (r: Raw) => (r.backup = { repository: { s3: { bucket: "pg-backups", endpoint: "s3.example" } } }),
      /only read when backup\.repository\.type is s3/,
    ],
    [
      "an archive_command of one's own",
      (r: Raw) => (r.postgresql = { parameters: { archive_command: "cp %p /mnt/%f" } }),
      /parameters\.archive_command: is managed by the stack while roles\.backup is set/,
    ],
    [
      "an unknown backup key",
      (r: Raw) => ((r as Record<string, unknown>).backup = { retension: { full: 3 } }),
      /backup: .*retension/,
    ],
  ])("refuses %s, naming the key", (_what, mutate, expected) => {
    const raw = withBackupHost();
    mutate(raw);
    const problems = problemsOf(raw);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join("\n")).toMatch(expected);
  });

  it("refuses backup settings without a repository host", () => {
    const raw = threeNodeSettings() as Raw;
    raw.backup = { retention: { full: 3 } };
    expect(problemsOf(raw)).toEqual([expect.stringMatching(/^patroni-stack:backup: .*roles\.backup/)]);
  });

  it("takes a member as repository host when asked to, and an s3 repository with its keys", () => {
    const member = withBackupHost();
    (member.roles as Record<string, string[]>).backup = ["pg3"];
    member.backup = { allowMemberHost: true };
    expect(problemsOf(member)).toEqual([]);
    const s3 = withBackupHost();
    s3.backup = { repository: { type: "s3", s3: { bucket: "pg-backups", endpoint: "minio:9000" } } };
    expect(problemsOf(s3, { ...withKey, s3Keys: true })).toEqual([]);
  });
});

describe("calendarProblem", () => {
  it.each(["daily", "weekly", "Sun *-*-* 01:00:00", "Mon..Sat *-*-* 01:00:00", "*-*-* 00/6:00", "Mon,Thu 04:30"])(
    "takes %s",
    (expression) => expect(calendarProblem(expression)).toBeUndefined(),
  );

  it.each([
    ["Sun *-*-* 25:00:00", /hour/],
    ["*-*-* 01:61", /minute/],
    ["Funday 01:00", /weekday|Funday/],
    ["*-13-* 01:00", /month/],
    ["every night at one", /expected|not/],
  ])("refuses %s", (expression, why) => expect(calendarProblem(expression)).toMatch(why));
});

describe("pgbackrest.conf", () => {
  const spec = backupSpecOf(withBackupHost());

  it("points a member at the repository host over SSH, with an async queue capped in size", () => {
    const conf = parse(renderMemberConfig(spec, "pg2"));
    expect(conf.global).toMatchObject({
      "repo1-host": "10.0.0.14",
      "repo1-host-user": "pgbackrest",
      "archive-async": "y",
      "archive-push-queue-max": "1GiB",
      "spool-path": "/var/spool/pgbackrest",
      "compress-type": "zst",
    });
    expect(conf.postgres).toEqual({
      "pg1-path": "/data/pg15",
      "pg1-port": "5432",
      "pg1-socket-path": "/var/run/postgresql",
    });
    expect(() => renderMemberConfig(spec, "bk1")).toThrow(/not a member/);
  });

  it("lists every member on the repository host, with its retention", () => {
    const conf = parse(renderRepositoryConfig(spec));
    expect(conf.global).toMatchObject({
      "repo1-path": "/var/lib/pgbackrest",
      "repo1-retention-full": "2",
      "repo1-retention-diff": "6",
      "start-fast": "y",
    });
    expect(conf.postgres).toMatchObject({
      "pg1-host": "10.0.0.11",
      "pg2-host": "10.0.0.12",
      "pg3-host": "10.0.0.13",
      "pg3-host-user": "postgres",
      "pg3-path": "/data/pg15",
    });
    expect(conf.global["repo1-host"]).toBeUndefined();
  });

  it("renders an s3 repository on both sides, its keys only when given", () => {
    const raw = withBackupHost();
    raw.backup = {
      repository: { type: "s3", path: "/prod", s3: { bucket: "pg-backups", endpoint: "minio:9000", uriStyle: "path" } },
    };
    const s3 = backupSpecOf(raw, { ...withKey, s3Keys: true });
    const keys = { accessKey: "AKIA-TEST", secretKey: "s3cr3t" };
    for (const text of [renderRepositoryConfig(s3, keys), renderMemberConfig(s3, "pg1", keys)]) {
      expect(parse(text).global).toMatchObject({
        "repo1-type": "s3",
        "repo1-path": "/prod",
        "repo1-s3-bucket": "pg-backups",
        "repo1-s3-endpoint": "minio:9000",
        "repo1-s3-region": "us-east-1",
        "repo1-s3-uri-style": "path",
        "repo1-s3-verify-tls": "y",
        "repo1-s3-key": "AKIA-TEST",
        "repo1-s3-key-secret": "s3cr3t",
      });
    }
    const preview = renderMemberConfig(s3, "pg1");
    expect(preview).not.toContain("s3cr3t");
    expect(parse(preview).global["repo1-s3-key-secret"]).toBe("(secret)");
    expect(parse(preview).global["repo1-host"]).toBeUndefined();
  });

  it("archives and restores WAL through the stanza, and restores replicas before falling back", () => {
    expect(archiveParameters("postgres", 60)).toEqual({
      archive_mode: "on",
      archive_command: "/usr/bin/pgbackrest --stanza=postgres archive-push %p",
      archive_timeout: 60,
    });
    expect(recoveryConf("postgres").restore_command).toBe('/usr/bin/pgbackrest --stanza=postgres archive-get %f "%p"');
    const methods = replicaMethods({ stanza: "postgres" }, "/data/pg15");
    expect(methods.create_replica_methods).toEqual(["pgbackrest", "basebackup"]);
    expect(methods.pgbackrest).toMatchObject({ keep_data: true, no_params: true });
    // A restore that fails half way leaves an empty data directory for pg_basebackup.
    expect(methods.pgbackrest.command).toMatch(/--type=standby restore \|\| \{ find \/data\/pg15 -mindepth 1 -delete/);
  });

  it("schedules one timer per type it is given", () => {
    const units = renderScheduleUnits({ stanza: "postgres", schedule: { full: "weekly", diff: "daily" } });
    expect(Object.keys(units).sort()).toEqual([
      "pgbackrest-postgres-diff.service",
      "pgbackrest-postgres-diff.timer",
      "pgbackrest-postgres-full.service",
      "pgbackrest-postgres-full.timer",
    ]);
    expect(units["pgbackrest-postgres-full.timer"]).toMatch(/^OnCalendar=weekly$/m);
    expect(units["pgbackrest-postgres-full.timer"]).toMatch(/^Persistent=true$/m);
    expect(units["pgbackrest-postgres-diff.service"]).toMatch(
      /^ExecStart=\/usr\/bin\/pgbackrest --stanza=postgres --type=diff backup$/m,
    );
    expect(units["pgbackrest-postgres-diff.service"]).toMatch(/^User=pgbackrest$/m);
  });
});

describe("the dynamic configuration with backups", () => {
  const plan = planOf(withBackupHost());

  it("carries the archive parameters and the restore command, and a changed restore command is drift", () => {
    const declared = renderDynamicConfig(plan.patroni.dcs);
    expect(declared.postgresql.parameters).toMatchObject({ archive_mode: "on", archive_timeout: 60 });
    expect(declared.postgresql.recovery_conf).toEqual(recoveryConf("postgres"));
    const d = comparableDeclared(declared);
    const same = JSON.parse(JSON.stringify(declared)) as Record<string, unknown>;
    expect(dcsDifferences(comparableLive(same, d), d)).toEqual([]);
    const changed = JSON.parse(JSON.stringify(declared)) as { postgresql: { recovery_conf: Record<string, string> } };
    changed.postgresql.recovery_conf.restore_command = "cp /mnt/%f %p";
    const diffs = dcsDifferences(comparableLive(changed as unknown as Record<string, unknown>, d), d);
    expect(diffs.map((x) => x.path)).toEqual(["postgresql.recovery_conf.restore_command"]);
  });

  it("has no archiving without a repository host", () => {
    const declared = renderDynamicConfig(planOf(threeNodeSettings() as Raw).patroni.dcs);
    expect(declared.postgresql.parameters.archive_mode).toBeUndefined();
    expect(declared.postgresql.recovery_conf).toBeUndefined();
  });
});

function entry(label: string, type: BackupEntry["type"], start: number, stop: number, lsnStop: string): BackupEntry {
  return {
    label,
    type,
    archive: { start: "000000010000000000000002", stop: "000000010000000000000003" },
    info: { size: 31_000_000, repository: { size: 4_000_000, delta: 4_000_000 } },
    lsn: { start: "0/2000028", stop: lsnStop },
    prior: type === "full" ? null : "20261203-100000F",
    timestamp: { start, stop },
  };
}

// 2026-12-03 10:00:00Z and 12:00:00Z
const T10 = Date.UTC(2026, 11, 3, 10) / 1000;
const T12 = Date.UTC(2026, 11, 3, 12) / 1000;
const info: StanzaInfo = {
  name: "postgres",
  status: { code: 0, message: "ok" },
  archive: [{ id: "17-1", min: "000000010000000000000002", max: "000000010000000000000009" }],
  backup: [
    entry("20261203-120000F_20261203-120000D", "diff", T12, T12 + 4, "0/9000050"),
    entry("20261203-100000F", "full", T10, T10 + 30, "0/3000050"),
  ],
};
const NOW = new Date(Date.UTC(2026, 11, 3, 13));

describe("restore targets", () => {
  it("reads latest, LSNs, times with and without a zone, and restore points", () => {
    expect(parseRestoreTarget("latest")).toEqual({ kind: "latest" });
    expect(parseRestoreTarget("0/5000028")).toEqual({ kind: "lsn", lsn: "0/5000028" });
    expect(parseRestoreTarget("1a/ff")).toEqual({ kind: "lsn", lsn: "1A/FF" });
    const utc = Date.UTC(2026, 11, 3, 10, 15);
    expect(parseRestoreTarget("2026-12-03T10:15:00Z")).toEqual({ kind: "time", time: new Date(utc) });
    expect(parseRestoreTarget("2026-12-03 10:15:00")).toEqual({ kind: "time", time: new Date(utc) });
    expect(parseRestoreTarget("2026-12-03 19:15:00+09")).toEqual({ kind: "time", time: new Date(utc) });
    expect(parseRestoreTarget("before-migration")).toEqual({ kind: "name", name: "before-migration" });
  });

  it.each([
    ["", /needs a target/],
    ["2026-13-45 10:00", /not a time/],
    ["drop table; --", /not a time, an LSN or a restore point/],
  ])("refuses %j", (text, why) => expect(() => parseRestoreTarget(text)).toThrow(why));

  it("keeps milliseconds in a time target, and only when it has some", () => {
    expect(formatTargetTime(new Date(Date.UTC(2026, 11, 3, 10, 15, 0, 250)))).toBe("2026-12-03 10:15:00.250+00");
    expect(formatTargetTime(new Date(Date.UTC(2026, 11, 3, 10, 15)))).toBe("2026-12-03 10:15:00+00");
  });

  it("starts from the newest backup that ended before the target", () => {
    const at = (iso: string) => chooseBackupSet(info, parseRestoreTarget(iso), NOW).label;
    expect(at("2026-12-03T11:00:00Z")).toBe("20261203-100000F");
    expect(at("2026-12-03T12:30:00Z")).toBe("20261203-120000F_20261203-120000D");
    expect(chooseBackupSet(info, { kind: "latest" }, NOW).type).toBe("diff");
    expect(chooseBackupSet(info, { kind: "lsn", lsn: "0/5000000" }, NOW).label).toBe("20261203-100000F");
    expect(chooseBackupSet(info, { kind: "lsn", lsn: "0/A000000" }, NOW).type).toBe("diff");
  });

  it("refuses a target before the oldest backup ended, in the future, or with no backup at all", () => {
    expect(() => chooseBackupSet(info, parseRestoreTarget("2026-12-03T10:00:10Z"), NOW)).toThrow(
      /before the end of the oldest backup \(20261203-100000F, 2026-12-03 10:00:30\+00\): the restorable window is 2026-12-03 10:00:00\+00 to now/,
    );
    expect(() => chooseBackupSet(info, parseRestoreTarget("2026-12-04T00:00:00Z"), NOW)).toThrow(/in the future/);
    expect(() => chooseBackupSet(info, { kind: "lsn", lsn: "0/1000000" }, NOW)).toThrow(/LSN 0\/1000000 is before/);
    expect(() => chooseBackupSet({ ...info, backup: [] }, { kind: "latest" }, NOW)).toThrow(/no backup.*ctl backup/);
  });

  it("does not start from a backup that failed", () => {
    const failed = { ...info, backup: [{ ...info.backup[0], error: true }, info.backup[1]] };
    expect(chooseBackupSet(failed, { kind: "latest" }, NOW).type).toBe("full");
  });
});

describe("ctl backups and ctl list", () => {
  const archiver = {
    archived_count: 9,
    last_archived_wal: "000000010000000000000009",
    last_archived_time: "2026-12-03 12:59:30+00",
    failed_count: 0,
    last_failed_wal: null,
    last_failed_time: null,
  };

  it("lists the backups oldest first, then the window and the archiver", () => {
    const text = renderBackupInfo(info, archiver);
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).toBe("stanza postgres: ok");
    expect(lines[1]).toMatch(/^backup\s+type\s+started\s+took\s+size\s+in repo\s+WAL start\s+WAL stop\s+based on$/);
    expect(lines[2]).toMatch(/^20261203-100000F\s+full\s+2026-12-03 10:00:00\+00\s+30 s\s+29\.6 MiB\s+3\.8 MiB/);
    expect(lines[3]).toMatch(/^20261203-120000F_20261203-120000D\s+diff .* 20261203-100000F$/);
    expect(text).toMatch(
      /restorable: from 2026-12-03 10:00:00\+00 to 2026-12-03 12:59:30\+00 \(WAL up to 000000010000000000000009\)/,
    );
    expect(text).toMatch(/archiver: last archived 000000010000000000000009, .* ago, no failure/);
    expect(restorableWindow({ ...info, backup: [] })).toBeUndefined();
    expect(renderBackupInfo({ ...info, backup: [] })).toMatch(/no backup yet/);
  });

  it("shows archiving failures with their count and the last WAL", () => {
    const failing = {
      ...archiver,
      failed_count: 3,
      last_failed_wal: "00000001000000000000000A",
      last_failed_time: "2026-12-03 12:59:50+00",
    };
    expect(renderArchiverState(failing, NOW)).toBe(
      "archiver: FAILING: 3 failure(s), the last 00000001000000000000000A, 10 s ago; last archived 000000010000000000000009, 30 s ago (see the pgBackRest log on the primary)",
    );
  });

  it("tells failures it recovered from (archived since) from failing now", () => {
    const recovered = {
      ...archiver,
      failed_count: 9,
      last_failed_wal: "000000010000000000000001",
      last_failed_time: "2026-12-03 12:59:00+00",
    };
    expect(renderArchiverState(recovered, NOW)).toBe(
      "archiver: last archived 000000010000000000000009, 30 s ago; 9 earlier failure(s), the last 000000010000000000000001, 60 s ago, archived since",
    );
    expect(renderArchiverState({ ...recovered, last_archived_time: null, last_archived_wal: null }, NOW)).toMatch(
      /^archiver: FAILING: 9 failure\(s\), .*; nothing archived yet/,
    );
  });

  it("sums the repository up in one line", () => {
    expect(renderLastBackup(info, NOW)).toBe(
      "backups: last diff 20261203-120000F_20261203-120000D 60 min ago, 2 in the repository",
    );
    expect(renderLastBackup({ ...info, backup: [] }, NOW)).toMatch(/none in stanza postgres/);
  });
});
