/**
 * Writes a stack's pgpass file and prints how to connect, from the stack's outputs. Used after
 * `up` by both engines: the direct runner calls it in-process, scripts/stack.sh pipes
 * `pulumi stack output --json --show-secrets` into it.
 *
 *   ts-node cli/connection.ts <stack> [project-dir] < outputs.json
 */
import * as fs from "fs";
import * as path from "path";
import { ClientUrls, OPTIONAL_CLIENT_URLS, renderConnectionHints, renderPgpass } from "../configs/pgpass";

/** A stack's client files under the project `dir`: its pgpass file and its CA's certificate. */
export function clientFiles(dir: string, stack: string): { pgpass: string; ca: string } {
  const base = path.join(dir, ".pulumi-state", stack);
  return { pgpass: `${base}.pgpass`, ca: `${base}.ca.crt` };
}

/**
 * Write `.pulumi-state/<stack>.pgpass` (mode 0600) under `dir`, and the CA's certificate next to
 * it on a TLS stack; undefined when the outputs lack URLs.
 */
export function writeClientFiles(dir: string, stack: string, outputs: Record<string, unknown>): string | undefined {
  const { readWriteUrl, readOnlyUrl, caCertificate } = outputs;
  if (typeof readWriteUrl !== "string" || typeof readOnlyUrl !== "string") return undefined;
  const optional = (v: unknown) => (typeof v === "string" ? v : undefined);
  const files = clientFiles(dir, stack);
  const file = files.pgpass;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  if (typeof caCertificate === "string") fs.writeFileSync(files.ca, caCertificate, { mode: 0o644 });
  else fs.rmSync(files.ca, { force: true });
  const urls: ClientUrls = {
    readWriteUrl,
    readOnlyUrl,
    ...Object.fromEntries(OPTIONAL_CLIENT_URLS.map((k) => [k, optional(outputs[k])])),
  };
  fs.writeFileSync(file, renderPgpass(urls), { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return file;
}

/** Both steps, and the hints printed on stdout (paths relative to `cwd`, where the user is). */
export function announce(dir: string, stack: string, outputs: Record<string, unknown>, cwd = process.cwd()): void {
  const file = writeClientFiles(dir, stack, outputs);
  if (!file) return;
  const urls = outputs as unknown as ClientUrls;
  const stats = typeof outputs.statsUrl === "string" ? outputs.statsUrl : undefined;
  const shown = (f: string) => {
    const relative = path.relative(cwd, f);
    return relative.startsWith("..") ? f : relative;
  };
  const ca = typeof outputs.caCertificate === "string" ? shown(clientFiles(dir, stack).ca) : undefined;
  console.log(`\n${renderConnectionHints(urls, shown(file), stats, ca)}`);
}

if (require.main === module) {
  const stack = process.argv[2];
  if (!stack) {
    console.error("usage: cli/connection.ts <stack> [project-dir] < outputs.json");
    process.exit(2);
  }
  const outputs = JSON.parse(fs.readFileSync(0, "utf8")) as Record<string, unknown>;
  announce(path.resolve(process.argv[3] ?? path.join(__dirname, "..")), stack, outputs);
}
