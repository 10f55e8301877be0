/**
 * The members of a cluster as `patronictl list` shows them, from Patroni's `GET /cluster` (one
 * HTTP request instead of starting patronictl: `ctl list` answers in well under a second).
 */

/** The parts of `GET /cluster` that the table shows. */
export interface ClusterView {
  scope?: string;
  pause?: boolean;
  members: {
    name: string;
    role: string;
    state: string;
    host?: string;
    timeline?: number;
    /** Replication lag in bytes, or "unknown". */
    lag?: number | string;
  }[];
}

const ROLES: Record<string, string> = {
  leader: "Leader",
  standby_leader: "Standby Leader",
  sync_standby: "Sync Standby",
  quorum_standby: "Quorum Standby",
  replica: "Replica",
};

const lagMb = (lag: number | string | undefined) =>
  lag === undefined ? "" : typeof lag === "number" ? String(Math.round(lag / 1048576)) : lag;

export function renderMemberTable(view: ClusterView): string {
  const header = ["Member", "Host", "Role", "State", "TL", "Lag in MB"];
  const rows = [...view.members]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((m) => [
      m.name,
      m.host ?? "",
      ROLES[m.role] ?? m.role,
      m.state,
      m.timeline === undefined ? "" : String(m.timeline),
      m.role === "leader" ? "" : lagMb(m.lag),
    ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  // Numbers right-aligned, as patronictl does.
  const cell = (v: string, i: number) => (i >= 4 ? v.padStart(widths[i]) : v.padEnd(widths[i]));
  const line = (r: string[]) => `| ${r.map(cell).join(" | ")} |`;
  const rule = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+`;
  const lines = [`+ Cluster: ${view.scope ?? "?"}`, rule, line(header), rule, ...rows.map(line), rule];
  if (view.pause) lines.push(" Maintenance mode: on");
  return `${lines.join("\n")}\n`;
}
