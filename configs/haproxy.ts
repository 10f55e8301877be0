/**
 * haproxy.cfg: a read-write listener on Patroni's `/primary`, a read-only listener balanced over
 * `/replica` (the clients' ports, or the direct ports behind PgBouncer's pools), and a stats page. Sections are data; `renderHaproxyConfig` only formats them.
 */
import { HaproxySettings, RouterSpec } from "../plan";
import { CA_PATH, HAPROXY_PEM_PATH } from "./tls";

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

/**
 * The REST API check of one server: over TLS it verifies the member's certificate against the
 * stack's CA and its name (never `verify none`).
 */
export function checkOptions(member: { name: string; restUrl: string }): string {
  const url = new URL(member.restUrl);
  const tls =
    url.protocol === "https:" ? ` check-ssl verify required ca-file ${CA_PATH} verifyhost ${member.name}` : "";
  return `check port ${url.port}${tls}`;
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
          `server ${b.name} ${b.postgres.address}:${b.postgres.port} maxconn ${h.serverMaxconn} ${checkOptions(b)}`,
      ),
    ],
  };
}

export function haproxySections(router: RouterSpec, h: HaproxySettings, tls: boolean): Section[] {
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
      lines: [
        "mode http",
        `bind *:${h.statsPort}${tls ? ` ssl crt ${HAPROXY_PEM_PATH}` : ""}`,
        "stats enable",
        "stats uri /",
        "stats refresh 5s",
      ],
    },
    listener(READ_WRITE_LISTENER, router.listeners.readWrite, "/primary", h, router),
    listener(READ_ONLY_LISTENER, router.listeners.readOnly, "/replica", h, router),
  ];
}

/** The stats page's URL (TLS when the stack has it). */
export function statsUrl(host: string, port: number, tls: boolean): string {
  return `${tls ? "https" : "http"}://${host}:${port}/`;
}

export function renderHaproxyConfig(router: RouterSpec, haproxy: HaproxySettings, tls: boolean): string {
  const body = haproxySections(router, haproxy, tls)
    .map((s) => [s.header, ...s.lines.map((l) => `    ${l}`)].join("\n"))
    .join("\n\n");
  return `# HAProxy on ${router.name}: managed by patroni-stack, changes are overwritten\n${body}\n`;
}

/** Each server's status (`UP`, `DOWN`, `MAINT`...) in LISTENER, from the stats page's CSV (by its header). */
export function serverStates(csv: string, listener: string): Record<string, string> {
  const [header, ...rows] = csv.trim().split("\n");
  const columns = header.replace(/^#\s*/, "").split(",");
  const [px, sv, status] = ["pxname", "svname", "status"].map((c) => columns.indexOf(c));
  if (px < 0 || sv < 0 || status < 0) throw new Error("not HAProxy's stats CSV (no pxname, svname, status)");
  return Object.fromEntries(
    rows
      .map((r) => r.split(","))
      .filter((f) => f[px] === listener && f[sv] !== "FRONTEND" && f[sv] !== "BACKEND")
      .map((f) => [f[sv], f[status]]),
  );
}
