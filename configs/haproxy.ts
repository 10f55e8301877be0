/**
 * haproxy.cfg: a read-write listener on Patroni's `/primary`, a read-only listener balanced over
 * `/replica`, and a stats page. Sections are data; `renderHaproxyConfig` only formats them.
 */
import { HaproxySettings, RouterSpec } from "../plan";

export const HAPROXY_CONFIG_PATH = "/etc/haproxy/haproxy.cfg";
export const READ_WRITE_LISTENER = "postgres_rw";
export const READ_ONLY_LISTENER = "postgres_ro";
/** Server states saved before a reload, so the new process does not start with every server UP. */
export const HAPROXY_STATE_FILE = "/var/lib/haproxy/server-state";
export const HAPROXY_ADMIN_SOCKET = "/run/haproxy/admin.sock";

interface Section {
  header: string;
  lines: string[];
}

function listener(name: string, port: number, check: string, h: HaproxySettings, router: RouterSpec): Section {
  const fastinter = h.check.fastinter ? ` fastinter ${h.check.fastinter}` : "";
  const downinter = h.check.downinter ? ` downinter ${h.check.downinter}` : "";
  return {
    header: `listen ${name}`,
    lines: [
      `bind *:${port}`,
      ...(name === READ_ONLY_LISTENER ? ["balance roundrobin"] : []),
      `option httpchk OPTIONS ${check}`,
      "http-check expect status 200",
      `default-server inter ${h.check.inter}${fastinter}${downinter} fall ${h.check.fall} rise ${h.check.rise} on-marked-down shutdown-sessions`,
      ...router.backends.map(
        (b) =>
          `server ${b.name} ${b.postgres.address}:${b.postgres.port} maxconn ${h.serverMaxconn} check port ${new URL(b.restUrl).port}`,
      ),
    ],
  };
}

export function haproxySections(router: RouterSpec, h: HaproxySettings): Section[] {
  return [
    {
      header: "global",
      lines: [
        `maxconn ${h.maxconn}`,
        "log /dev/log local0",
        `stats socket ${HAPROXY_ADMIN_SOCKET} mode 660 level admin`,
        `server-state-file ${HAPROXY_STATE_FILE}`,
        "user haproxy",
        "group haproxy",
      ],
    },
    {
      header: "defaults",
      lines: [
        "mode tcp",
        "log global",
        "load-server-state-from-file global",
        `retries ${h.retries}`,
        `timeout client ${h.timeouts.client}`,
        `timeout connect ${h.timeouts.connect}`,
        `timeout server ${h.timeouts.server}`,
        `timeout check ${h.timeouts.check}`,
      ],
    },
    {
      header: "listen stats",
      lines: ["mode http", `bind *:${h.statsPort}`, "stats enable", "stats uri /", "stats refresh 5s"],
    },
    listener(READ_WRITE_LISTENER, h.readWritePort, "/primary", h, router),
    listener(READ_ONLY_LISTENER, h.readOnlyPort, "/replica", h, router),
  ];
}

export function renderHaproxyConfig(router: RouterSpec, haproxy: HaproxySettings): string {
  const body = haproxySections(router, haproxy)
    .map((s) => [s.header, ...s.lines.map((l) => `    ${l}`)].join("\n"))
    .join("\n\n");
  return `# HAProxy on ${router.name}: managed by patroni-stack, changes are overwritten\n${body}\n`;
}
