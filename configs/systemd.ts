/** systemd units that replace the distributions' own service settings. */

export interface UnitSpec {
  description: string;
  after: string[];
  service: Record<string, string | number>;
}

/** Render a unit file; keys keep the order given. */
export function renderUnit(unit: UnitSpec): string {
  const lines = [
    "# Managed by patroni-stack: changes are overwritten.",
    "[Unit]",
    `Description=${unit.description}`,
    `After=${unit.after.join(" ")}`,
    `Wants=${unit.after.filter((u) => u !== "syslog.target").join(" ")}`,
    "",
    "[Service]",
    ...Object.entries(unit.service).map(([k, v]) => `${k}=${v}`),
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ];
  return lines.join("\n");
}

export function renderEtcdUnit(configPath: string): string {
  return renderUnit({
    description: "etcd key-value store (DCS for Patroni)",
    after: ["network-online.target"],
    service: {
      Type: "notify",
      User: "etcd",
      Group: "etcd",
      ExecStart: `/usr/bin/etcd --config-file ${configPath}`,
      Restart: "on-failure",
      RestartSec: "2s",
      LimitNOFILE: 65536,
      TimeoutStartSec: 0,
    },
  });
}

export function renderPatroniUnit(configPath: string): string {
  return renderUnit({
    description: "Patroni: PostgreSQL high availability",
    after: ["network-online.target"],
    service: {
      Type: "simple",
      User: "postgres",
      Group: "postgres",
      ExecStart: `/usr/bin/patroni ${configPath}`,
      ExecReload: "/bin/kill -HUP $MAINPID",
      // Patroni stops PostgreSQL itself; systemd must not kill the postmaster.
      KillMode: "process",
      Restart: "on-failure",
      RestartSec: "5s",
      TimeoutSec: 30,
    },
  });
}
