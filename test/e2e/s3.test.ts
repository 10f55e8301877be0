/**
 * Backups to an S3-compatible repository, end to end: a small stack (one member, a backup host)
 * whose members push WAL straight to a bucket and whose backup host backs up into it, against a
 * local S3 server (s3rver, over HTTPS with a certificate made for the test) that only the Docker
 * bridge's gateway address serves. The S3 keys are secrets in the stack's config, set as a user
 * sets them (`scripts/stack.sh secret`), which either engine decrypts.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import {
  ctlOk,
  makeStack,
  marksAroundTarget,
  onHost,
  oneMemberWithBackup,
  psql,
  removeStack,
  runStack,
  setSecretConfig,
  sh,
  type TestStack,
} from "./stack";

jest.setTimeout(20 * 60 * 1000);

const BUCKET = "pgbackrest";
const selected = (process.env.E2E_TOPOLOGIES ?? "dev,seed").split(",").map((t) => t.trim());
const runs = selected.includes("dev");

/** A port nothing listens on at the address, for the server to take. */
function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, address, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Whether the server accepts a connection now. */
function accepts(address: string, port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = net.connect(port, address, () => {
      socket.end();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Wait (up to 30 s) until the server accepts connections. */
async function listening(address: string, port: number): Promise<void> {
  let up = await accepts(address, port);
  for (let i = 1; i < 60 && !up; i++) {
    await new Promise((r) => setTimeout(r, 500));
    up = await accepts(address, port);
  }
  if (!up) throw new Error(`s3rver did not listen on ${address}:${port}`);
}

(runs ? describe : describe.skip)("an S3 repository (s3rver on the Docker bridge's gateway)", () => {
  let stack: TestStack;
  // Its own process: the tests block this one's event loop while ctl and psql run.
  let server: ChildProcess | undefined;
  let dir: string;
  const gateway = () =>
    sh("docker", ["network", "inspect", "bridge", "-f", "{{(index .IPAM.Config 0).Gateway}}"]).trim();

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "patroni-stack-s3-"));
    const address = gateway();
    // A throwaway certificate for the server's address (pgBackRest runs with verifyTls false).
    const made = spawnSync(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"],
        ...["-subj", `/CN=${address}`, "-addext", `subjectAltName=IP:${address}`],
        ...["-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem")],
      ],
      { encoding: "utf8" },
    );
    if (made.status !== 0) throw new Error(`openssl: ${made.stderr}`);
    const port = await freePort(address);
    fs.mkdirSync(path.join(dir, "data"));
    server = spawn(
      path.join(__dirname, "..", "..", "node_modules", ".bin", "s3rver"),
      [
        ...["-d", path.join(dir, "data"), "-a", address, "-p", String(port), "--silent"],
        ...["--key", path.join(dir, "key.pem"), "--cert", path.join(dir, "cert.pem")],
        ...["--configure-bucket", BUCKET],
      ],
      { stdio: "ignore" },
    );
    await listening(address, port);
    stack = makeStack("dev", 10, {
      kind: "s3",
      overrides: {
        ...oneMemberWithBackup("s1", "sbk"),
        backup: {
          repository: {
            type: "s3",
            path: "/patroni-stack",
            s3: { bucket: BUCKET, endpoint: `${address}:${port}`, uriStyle: "path", verifyTls: false },
          },
        },
      },
    });
    // s3rver's own credentials, as secrets of the stack.
    setSecretConfig(stack, "backupS3AccessKey", "S3RVER");
    setSecretConfig(stack, "backupS3SecretKey", "S3RVER");
  });

  afterAll(async () => {
    if (stack) {
      await runStack(stack, "down");
      removeStack(stack);
    }
    server?.kill();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("deploys with the first full backup in the bucket, and restores to a point in time from it", async () => {
    const up = await runStack(stack, "up");
    if (up.code !== 0) throw new Error(`up failed:\n${up.output.slice(-3000)}`);
    // The backup and the WAL are objects in the bucket, under the repository's path.
    const stored = path.join(dir, "data", BUCKET);
    const files = (sub: string) =>
      fs.existsSync(path.join(stored, sub)) ? fs.readdirSync(path.join(stored, sub), { recursive: true }) : [];
    expect(files("patroni-stack/backup/postgres").some((f) => /F\/backup\.manifest/.test(String(f)))).toBe(true);
    expect(ctlOk(stack, "backups")).toMatch(/\d{8}-\d{6}F\s+full/);
    // The member's pgbackrest.conf holds the keys: readable by root and postgres only.
    expect(onHost(stack, "s1", "stat -c '%a %U:%G' /etc/pgbackrest/pgbackrest.conf")).toBe("640 root:postgres");

    // Exactly the rows written before the target come back from the bucket.
    const target = await marksAroundTarget(stack, "marks");
    expect(ctlOk(stack, "restore", "--to", target, "--yes")).toMatch(/restored to .*: s1 leads/);
    expect(psql(stack, stack.rwPort, "select count(*), max(id) from marks")).toBe("150|150");
    // WAL of the new timeline reaches the bucket too.
    const segment = psql(stack, stack.rwPort, "select pg_walfile_name(pg_switch_wal())");
    const archived = () =>
      files("patroni-stack/archive/postgres").some((f) => path.basename(String(f)).startsWith(segment));
    for (let i = 0; i < 60 && !archived(); i++) await new Promise((res) => setTimeout(res, 1000));
    expect(archived()).toBe(true);
  });
});
