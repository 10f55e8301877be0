/** The client-side files and hints of a stack: a pgpass file for psql through the routers. */

export interface ClientUrls {
  readWriteUrl: string;
  readOnlyUrl: string;
  /** Local stacks with a virtual IP: the loopback ports, next to the VIP. */
  loopbackReadWriteUrl?: string;
  loopbackReadOnlyUrl?: string;
  /** HAProxy's direct ports beside PgBouncer's pools (sessions, administration). */
  directReadWriteUrl?: string;
  directReadOnlyUrl?: string;
  loopbackDirectReadWriteUrl?: string;
  loopbackDirectReadOnlyUrl?: string;
}

/** The names of the optional URLs, as the stack exports them. */
export const OPTIONAL_CLIENT_URLS = [
  "loopbackReadWriteUrl",
  "loopbackReadOnlyUrl",
  "directReadWriteUrl",
  "directReadOnlyUrl",
  "loopbackDirectReadWriteUrl",
  "loopbackDirectReadOnlyUrl",
] as const;

const escape = (s: string) => s.replace(/\\/g, "\\\\").replace(/:/g, "\\:");

/** One pgpass line; `*` matches any host or port. */
export function pgpassLine(host: string, port: number | "*", user: string, password: string): string {
  return `${host}:${port}:*:${escape(user)}:${escape(password)}`;
}

/** One pgpass line per HAProxy endpoint (`host:port:*:user:password`), from the stack's secret URLs. */
export function renderPgpass(urls: ClientUrls): string {
  const all = [urls.readWriteUrl, urls.readOnlyUrl, ...OPTIONAL_CLIENT_URLS.map((k) => urls[k])];
  const lines = all
    .filter((u): u is string => typeof u === "string")
    .map((u) => {
      const url = new URL(u);
      const user = decodeURIComponent(url.username);
      const password = decodeURIComponent(url.password);
      return pgpassLine(url.hostname, Number(url.port), user, password);
    });
  return `${lines.join("\n")}\n`;
}

/**
 * How to connect, for people: psql commands that read the password from `pgpassFile` and, on a
 * TLS stack, verify the server against the stack's CA in `caFile`.
 */
export function renderConnectionHints(
  urls: ClientUrls,
  pgpassFile: string,
  statsUrl?: string,
  caFile?: string,
): string {
  const rw = new URL(urls.readWriteUrl);
  const ro = new URL(urls.readOnlyUrl);
  const verify = caFile ? `PGSSLMODE=verify-full PGSSLROOTCERT=${caFile} ` : "";
  const psql = (u: URL) =>
    `PGPASSFILE=${pgpassFile} ${verify}psql -h ${u.hostname} -p ${u.port} -U ${decodeURIComponent(u.username)} postgres`;
  const loopback =
    urls.loopbackReadWriteUrl && urls.loopbackReadOnlyUrl
      ? [
          "or through the first router's ports on this machine:",
          `  read-write: ${psql(new URL(urls.loopbackReadWriteUrl))}`,
          `  read-only:  ${psql(new URL(urls.loopbackReadOnlyUrl))}`,
        ]
      : [];
  const through = urls.directReadWriteUrl ? "PgBouncer's pools" : "HAProxy";
  const direct =
    urls.directReadWriteUrl && urls.directReadOnlyUrl
      ? [
          `  sessions straight to PostgreSQL (administration, tools that need a session):`,
          `    read-write: ${psql(new URL(urls.directReadWriteUrl))}`,
          `    read-only:  ${psql(new URL(urls.directReadOnlyUrl))}`,
        ]
      : [];
  return [
    urls.loopbackReadWriteUrl
      ? `The cluster is up. Connect through ${through} on the virtual IP ${rw.hostname}:`
      : `The cluster is up. Connect through ${through}:`,
    `  read-write: ${psql(rw)}`,
    `  read-only:  ${psql(ro)}`,
    ...direct,
    ...(statsUrl ? [`  stats:      ${caFile ? `curl --cacert ${caFile} ${statsUrl}` : statsUrl}`] : []),
    ...loopback,
  ].join("\n");
}

/** The password a pgpass file holds for `host:port` and `user` (the inverse of `renderPgpass`). */
export function pgpassPassword(text: string, host: string, port: number, user: string): string | undefined {
  for (const line of text.split("\n")) {
    const parts = splitPgpass(line);
    if (parts.length !== 5) continue;
    const [h, p, , u, password] = parts;
    if ((h === "*" || h === host) && (p === "*" || p === String(port)) && (u === "*" || u === user)) return password;
  }
  return undefined;
}

function splitPgpass(line: string): string[] {
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < line.length; i++) {
    if (line[i] === "\\" && i + 1 < line.length) cur += line[++i];
    else if (line[i] === ":") {
      parts.push(cur);
      cur = "";
    } else cur += line[i];
  }
  return line.length > 0 ? [...parts, cur] : [];
}
