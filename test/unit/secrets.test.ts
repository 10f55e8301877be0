/**
 * Secret config values in the Pulumi CLI's passphrase format: the direct runner decrypts them and
 * hands them to the program as secrets, and `scripts/stack.sh secret` writes them.
 */
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { configPassphrase, PassphraseCrypter } from "../../settings/secrets";
import { readStackFile, setStackSecret } from "../../settings/stackFile";

const ROOT = path.resolve(__dirname, "..", "..");
// The passphrase salt of the Pulumi CLI's own passphrase tests, made for the passphrase "password".
const CLI_SALT = "v1:fozI5u6B030=:v1:F+6ZduKKd8G0/V7L:PGMFeIzwobWRKmEAzUdaQHqC5mMRIQ==";

describe("the passphrase crypter", () => {
  it("accepts the Pulumi CLI's salt with its passphrase and refuses another passphrase", () => {
    expect(() => PassphraseCrypter.fromSalt(CLI_SALT, "password")).not.toThrow();
    expect(() => PassphraseCrypter.fromSalt(CLI_SALT, "password123")).toThrow(/incorrect passphrase/);
  });

  it("decrypts what it encrypted, with a new nonce each time, and refuses a tampered value", () => {
    const { crypter, salt } = PassphraseCrypter.create("pass");
    const again = PassphraseCrypter.fromSalt(salt, "pass");
    const a = crypter.encrypt("s3-secret-key");
    expect(a).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(a).not.toBe(crypter.encrypt("s3-secret-key"));
    expect(again.decrypt(a)).toBe("s3-secret-key");
    const [v, nonce, body] = a.split(":");
    const flipped = Buffer.from(body, "base64");
    flipped[0] ^= 1;
    expect(() => again.decrypt(`${v}:${nonce}:${flipped.toString("base64")}`)).toThrow(/does not decrypt/);
  });

  it("finds the passphrase as Pulumi does: the variable as it is, else the file without white space around it", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "patroni-stack-pass-")), "passphrase");
    fs.writeFileSync(file, " from-file\n");
    expect(configPassphrase({ PULUMI_CONFIG_PASSPHRASE: "", PULUMI_CONFIG_PASSPHRASE_FILE: file })).toBe("");
    expect(configPassphrase({ PULUMI_CONFIG_PASSPHRASE_FILE: file })).toBe("from-file");
    expect(() => configPassphrase({})).toThrow(/PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE/);
  });
});

describe("a stack file's secrets", () => {
  let dir: string;
  const env = { PULUMI_CONFIG_PASSPHRASE: "e2e" };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "patroni-stack-secrets-"));
    fs.writeFileSync(path.join(dir, "Pulumi.unit.yaml"), "# the unit stack\nconfig:\n  patroni-stack:plain: 1\n");
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: patroni-stack\nruntime: nodejs\n");
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("are written encrypted with one salt, the file's comment kept, and read back decrypted", () => {
    setStackSecret(dir, "unit", "backupS3AccessKey", "AKIA-1", env);
    setStackSecret(dir, "unit", "backupS3SecretKey", "very secret", env);
    const text = fs.readFileSync(path.join(dir, "Pulumi.unit.yaml"), "utf8");
    expect(text).toMatch(/^# the unit stack/);
    expect(text).not.toMatch(/AKIA-1|very secret/);
    const doc = parse(text) as { encryptionsalt: string; config: Record<string, { secure: string }> };
    expect(doc.config["patroni-stack:backupS3AccessKey"].secure).toMatch(/^v1:/);
    expect(text.match(/encryptionsalt/g)).toHaveLength(1);

    const secretKeys: string[] = [];
    expect(readStackFile(dir, "unit", { secrets: "decrypt", secretKeys, env })).toEqual({
      "patroni-stack:plain": "1",
      "patroni-stack:backupS3AccessKey": "AKIA-1",
      "patroni-stack:backupS3SecretKey": "very secret",
    });
    expect(secretKeys).toEqual(["patroni-stack:backupS3AccessKey", "patroni-stack:backupS3SecretKey"]);
    const skipped: string[] = [];
    expect(readStackFile(dir, "unit", { secrets: "skip", secretKeys: skipped })).toEqual({
      "patroni-stack:plain": "1",
    });
    expect(skipped).toHaveLength(2);
    expect(() => readStackFile(dir, "unit")).toThrow(/backupS3AccessKey is an encrypted secret/);
  });

  it("are refused with another passphrase, and a bad key name is refused before anything is written", () => {
    setStackSecret(dir, "unit", "token", "x", env);
    expect(() =>
      readStackFile(dir, "unit", { secrets: "decrypt", env: { PULUMI_CONFIG_PASSPHRASE: "other" } }),
    ).toThrow(/incorrect passphrase/);
    expect(() => setStackSecret(dir, "unit", "token", "y", { PULUMI_CONFIG_PASSPHRASE: "other" })).toThrow(
      /incorrect passphrase/,
    );
    const before = fs.readFileSync(path.join(dir, "Pulumi.unit.yaml"), "utf8");
    expect(() => setStackSecret(dir, "unit", "bad key", "y", env)).toThrow(/config key name/);
    expect(fs.readFileSync(path.join(dir, "Pulumi.unit.yaml"), "utf8")).toBe(before);
  });
});

describe("the direct runner with a secret in the stack's config", () => {
  it("runs the program with the value decrypted and marked secret; without the passphrase it stops", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "patroni-stack-secret-run-"));
    try {
      const main = path.relative(dir, path.join(ROOT, "test", "fixtures", "secrets"));
      fs.writeFileSync(path.join(dir, "Pulumi.yaml"), stringify({ name: "secrets", runtime: "nodejs", main }));
      fs.writeFileSync(path.join(dir, "Pulumi.unit.yaml"), stringify({ config: {} }));
      // As a user sets it: the value on the standard input of `scripts/stack.sh secret`.
      const env = { ...process.env, PATRONI_STACK_DIR: dir, PULUMI_CONFIG_PASSPHRASE: "e2e" };
      const set = spawnSync(path.join(ROOT, "scripts", "stack.sh"), ["secret", "token", "unit"], {
        env,
        input: "tok-123\n",
        encoding: "utf8",
      });
      expect(set.stderr).toMatch(/token: set \(encrypted\)/);
      expect(set.status).toBe(0);
      const text = fs.readFileSync(path.join(dir, "Pulumi.unit.yaml"), "utf8");
      expect(text).toMatch(/secrets:token:\n\s+secure: v1:/);
      expect(text).not.toMatch(/tok-123/);

      const run = (passphrase?: string) => {
        const rest = { ...process.env };
        delete rest.PULUMI_CONFIG_PASSPHRASE;
        delete rest.PULUMI_CONFIG_PASSPHRASE_FILE;
        return spawnSync(
          path.join(ROOT, "node_modules", ".bin", "ts-node"),
          ["--swc", path.join(ROOT, "runner", "cli.ts"), "up", "unit", "--workdir", dir],
          {
            encoding: "utf8",
            env: passphrase === undefined ? rest : { ...rest, PULUMI_CONFIG_PASSPHRASE: passphrase },
          },
        );
      };
      const refused = run();
      expect(refused.status).toBe(1);
      expect(refused.stderr).toMatch(/no passphrase is set/);
      const r = run("e2e");
      expect(`${r.stdout}${r.stderr}`).not.toMatch(/tok-123/);
      expect(r.status).toBe(0);
      const outputs = JSON.parse(
        fs.readFileSync(path.join(dir, ".pulumi-state", "direct", "unit.outputs.json"), "utf8"),
      ) as Record<string, unknown>;
      expect(outputs).toEqual({
        length: 7,
        digest: crypto.createHash("sha256").update("tok-123").digest("hex"),
        markedSecret: true,
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
