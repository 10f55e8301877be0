/** `ctl list`'s table, from Patroni's GET /cluster. */
import { renderMemberTable } from "../../configs/memberTable";

describe("the member table", () => {
  const view = {
    scope: "postgres",
    members: [
      { name: "pg2", role: "replica", state: "streaming", host: "10.0.0.12", timeline: 2, lag: 3 * 1048576 },
      { name: "pg1", role: "leader", state: "running", host: "10.0.0.11", timeline: 2 },
      { name: "pg3", role: "sync_standby", state: "streaming", host: "10.0.0.13", timeline: 2, lag: "unknown" },
    ],
  };

  it("shows each member as patronictl list does, sorted, lag in MB", () => {
    expect(renderMemberTable(view)).toBe(
      [
        "+ Cluster: postgres",
        "+--------+-----------+--------------+-----------+----+-----------+",
        "| Member | Host      | Role         | State     | TL | Lag in MB |",
        "+--------+-----------+--------------+-----------+----+-----------+",
        "| pg1    | 10.0.0.11 | Leader       | running   |  2 |           |",
        "| pg2    | 10.0.0.12 | Replica      | streaming |  2 |         3 |",
        "| pg3    | 10.0.0.13 | Sync Standby | streaming |  2 |   unknown |",
        "+--------+-----------+--------------+-----------+----+-----------+",
        "",
      ].join("\n"),
    );
  });

  it("says when the cluster is in maintenance mode", () => {
    expect(renderMemberTable({ ...view, pause: true })).toMatch(/\n Maintenance mode: on\n$/);
    expect(renderMemberTable(view)).not.toMatch(/Maintenance mode/);
  });
});
