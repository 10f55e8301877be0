/**
 * What the repository holds, as `ctl backups` and `ctl list` show it, and what a restore may
 * target: pure functions over `pgbackrest info --output=json` (and `pg_stat_archiver`), so that
 * the window and the refusals are unit-tested without a cluster.
 */
import { renderTable } from "./table";

/** One backup of `pgbackrest info --output=json` (the fields used here). */
export interface BackupEntry {
  label: string;
  type: "full" | "diff" | "incr";
  error?: boolean;
  archive: { start: string | null; stop: string | null };
  info: { size: number; repository: { size: number; delta: number } };
  lsn?: { start: string; stop: string };
  prior: string | null;
  timestamp: { start: number; stop: number };
}

/** One stanza of `pgbackrest info --output=json`. */
export interface StanzaInfo {
  name: string;
  status: { code: number; message: string };
  archive: { id: string; min: string | null; max: string | null }[];
  backup: BackupEntry[];
}

/** `pg_stat_archiver` of the primary (times as PostgreSQL prints them, or null). */
export interface ArchiverState {
  archived_count: number;
  last_archived_wal: string | null;
  last_archived_time: string | null;
  failed_count: number;
  last_failed_wal: string | null;
  last_failed_time: string | null;
}

/** What `restore --to` accepts. */
export type RestoreTarget =
  { kind: "latest" } | { kind: "time"; time: Date } | { kind: "lsn"; lsn: string } | { kind: "name"; name: string };

const LSN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i;

/**
 * `latest`, an LSN (`0/5000028`), a time (ISO 8601 or `YYYY-MM-DD HH:MM:SS[+zz]`; a time without
 * a zone is read as UTC), or the name of a restore point (`pg_create_restore_point`).
 */
export function parseRestoreTarget(text: string): RestoreTarget {
  const t = text.trim();
  if (!t) throw new Error("--to needs a target: a time, an LSN, a restore point's name, or latest");
  if (t === "latest") return { kind: "latest" };
  if (LSN.test(t)) return { kind: "lsn", lsn: t.toUpperCase() };
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const iso = t.replace(" ", "T");
    const zoned = /(Z|[+-]\d{2}(:?\d{2})?)$/.test(iso) ? iso : `${iso}Z`;
    const time = new Date(zoned.replace(/([+-]\d{2})$/, "$1:00"));
    if (Number.isNaN(time.getTime())) {
      throw new Error(`'${t}' is not a time: write it as 2026-12-03T10:15:00Z or '2026-12-03 10:15:00+00'`);
    }
    return { kind: "time", time };
  }
  if (!/^[\w.-]+$/.test(t)) throw new Error(`'${t}' is not a time, an LSN or a restore point's name`);
  return { kind: "name", name: t };
}

/** An LSN as a number, to compare two. */
export function lsnValue(lsn: string): bigint {
  const [hi, lo] = lsn.split("/");
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

export interface RestorableWindow {
  /** The oldest backup's start: nothing before it can be restored. */
  from: Date;
  /** The newest archived WAL's time (the archiver's), or undefined when unknown. */
  to?: Date;
  oldestBackup: BackupEntry;
  newestWal: string | null;
}

function goodBackups(info: StanzaInfo): BackupEntry[] {
  return info.backup.filter((b) => !b.error).sort((a, b) => a.timestamp.start - b.timestamp.start);
}

/** From the oldest backup's start to the newest archived WAL; undefined when there is no backup. */
export function restorableWindow(info: StanzaInfo, archiver?: ArchiverState): RestorableWindow | undefined {
  const backups = goodBackups(info);
  const oldest = backups[0];
  if (!oldest) return undefined;
  const last = archiver?.last_archived_time ? new Date(archiver.last_archived_time) : undefined;
  const newestWal =
    info.archive
      .map((a) => a.max)
      .filter((m): m is string => !!m)
      .sort()
      .pop() ?? null;
  return { from: new Date(oldest.timestamp.start * 1000), to: last, oldestBackup: oldest, newestWal };
}

/**
 * The backup set a restore to `target` starts from: the newest that ended before it (any for
 * `latest` and a restore point). Throws, with what to do instead, for a target outside the window.
 */
export function chooseBackupSet(info: StanzaInfo, target: RestoreTarget, now: Date = new Date()): BackupEntry {
  const backups = goodBackups(info);
  const window = restorableWindow(info);
  if (!window || backups.length === 0) {
    throw new Error(`the repository holds no backup of stanza ${info.name}: take one first (ctl backup)`);
  }
  const newest = backups[backups.length - 1];
  const range = `${formatTime(window.from)} to now`;
  switch (target.kind) {
    case "latest":
    case "name":
      return newest;
    case "time": {
      if (target.time.getTime() > now.getTime()) {
        throw new Error(`${formatTime(target.time)} is in the future: the restorable window is ${range}`);
      }
      const set = [...backups].reverse().find((b) => b.timestamp.stop * 1000 <= target.time.getTime());
      if (!set) {
        throw new Error(
          `${formatTime(target.time)} is before the end of the oldest backup (${window.oldestBackup.label}, ` +
            `${formatTime(new Date(window.oldestBackup.timestamp.stop * 1000))}): the restorable window is ${range}`,
        );
      }
      return set;
    }
    case "lsn": {
      const want = lsnValue(target.lsn);
      const set = [...backups].reverse().find((b) => b.lsn && lsnValue(b.lsn.stop) <= want);
      if (!set) {
        const first = window.oldestBackup.lsn?.stop ?? "?";
        throw new Error(`LSN ${target.lsn} is before the end of the oldest backup (${first}): choose a later one`);
      }
      return set;
    }
  }
}

/** A restore target's time with its milliseconds, when it has any (`2026-12-03 10:15:00.250+00`). */
export function formatTargetTime(d: Date): string {
  const ms = d.getUTCMilliseconds();
  return ms ? `${d.toISOString().slice(0, 23).replace("T", " ")}+00` : formatTime(d);
}

/** `2026-12-03 10:15:00+00`: pgBackRest's and PostgreSQL's form, in UTC. */
export function formatTime(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace("T", " ")}+00`;
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function formatAge(seconds: number): string {
  if (seconds < 90) return `${Math.max(0, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

/** `ctl backups`: each backup with its type, sizes, duration and WAL range, then the window. */
export function renderBackupInfo(info: StanzaInfo, archiver?: ArchiverState): string {
  const lines = [`stanza ${info.name}: ${info.status.message}`];
  const backups = [...info.backup].sort((a, b) => a.timestamp.start - b.timestamp.start);
  if (backups.length === 0) {
    lines.push("no backup yet: take one with `ctl backup`");
  } else {
    const rows = [["backup", "type", "started", "took", "size", "in repo", "WAL start", "WAL stop", "based on"]];
    for (const b of backups) {
      rows.push([
        b.label + (b.error ? " (error)" : ""),
        b.type,
        formatTime(new Date(b.timestamp.start * 1000)),
        `${b.timestamp.stop - b.timestamp.start} s`,
        formatBytes(b.info.size),
        formatBytes(b.info.repository.delta),
        b.archive.start ?? "-",
        b.archive.stop ?? "-",
        b.prior ?? "-",
      ]);
    }
    lines.push(renderTable(rows));
  }
  const window = restorableWindow(info, archiver);
  if (window) {
    const to = window.to ? formatTime(window.to) : "the newest archived WAL";
    lines.push(`restorable: from ${formatTime(window.from)} to ${to} (WAL up to ${window.newestWal ?? "-"})`);
  }
  if (archiver) lines.push(renderArchiverState(archiver));
  return `${lines.join("\n")}\n`;
}

/**
 * One line on the primary's archiver: what it archived last, and its failures, saying whether it
 * fails now (no WAL archived since the last failure) or failed earlier and archives again (as
 * right after a deploy, whose first WAL is refused until the repository's stanza exists).
 */
export function renderArchiverState(a: ArchiverState, now: Date = new Date()): string {
  const age = (t: string | null) => (t ? `, ${formatAge((now.getTime() - new Date(t).getTime()) / 1000)} ago` : "");
  const last = a.last_archived_wal
    ? `last archived ${a.last_archived_wal}${age(a.last_archived_time)}`
    : "nothing archived yet";
  if (a.failed_count === 0) return `archiver: ${last}, no failure`;
  const lastFailure = `the last ${a.last_failed_wal ?? "?"}${age(a.last_failed_time)}`;
  const recovered =
    a.last_archived_time !== null &&
    a.last_failed_time !== null &&
    new Date(a.last_archived_time).getTime() > new Date(a.last_failed_time).getTime();
  return recovered
    ? `archiver: ${last}; ${a.failed_count} earlier failure(s), ${lastFailure}, archived since`
    : `archiver: FAILING: ${a.failed_count} failure(s), ${lastFailure}; ${last} (see the pgBackRest log on the primary)`;
}

/** One line on the newest backup for `ctl list`. */
export function renderLastBackup(info: StanzaInfo, now: Date = new Date()): string {
  const backups = goodBackups(info);
  const newest = backups[backups.length - 1];
  if (!newest) return `backups: none in stanza ${info.name} yet (ctl backup takes one)`;
  const age = formatAge(now.getTime() / 1000 - newest.timestamp.stop);
  return `backups: last ${newest.type} ${newest.label} ${age} ago, ${backups.length} in the repository`;
}
