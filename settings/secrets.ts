/**
 * Secret config values in the format of Pulumi's passphrase secrets provider, so that the direct
 * runner decrypts what `pulumi config set --secret` wrote and the Pulumi CLI decrypts what
 * `scripts/stack.sh secret` wrote.
 *
 * The stack file's `encryptionsalt` is `v1:<salt>:<"pulumi" encrypted>`: the key is PBKDF2-SHA256
 * of the passphrase and the 8-byte salt (1,000,000 rounds, 32 bytes), and decrypting the marker
 * proves the passphrase. Each value is `v1:<nonce>:<ciphertext and tag>`, AES-256-GCM with a
 * 12-byte nonce, base64.
 */
import * as crypto from "crypto";
import * as fs from "fs";

const ROUNDS = 1_000_000;
const MARKER = "pulumi";
const TAG_BYTES = 16;

export class SecretsError extends Error {}

/**
 * The passphrase as Pulumi finds it: `PULUMI_CONFIG_PASSPHRASE` when set (even empty), else the
 * file `PULUMI_CONFIG_PASSPHRASE_FILE` names, without white space around it (the variable is taken
 * as it is).
 */
export function configPassphrase(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PULUMI_CONFIG_PASSPHRASE !== undefined) return env.PULUMI_CONFIG_PASSPHRASE;
  const file = env.PULUMI_CONFIG_PASSPHRASE_FILE;
  if (file) {
    try {
      return fs.readFileSync(file, "utf8").trim();
    } catch (e) {
      throw new SecretsError(`PULUMI_CONFIG_PASSPHRASE_FILE ${file}: ${(e as Error).message}`);
    }
  }
  throw new SecretsError(
    "the stack has secrets and no passphrase is set: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE (scripts/stack.sh sets the checkout's own)",
  );
}

export class PassphraseCrypter {
  private constructor(private readonly key: Buffer) {}

  /** A crypter for a stack with no salt yet: the new salt goes into the stack file. */
  static create(passphrase: string): { crypter: PassphraseCrypter; salt: string } {
    const salt = crypto.randomBytes(8);
    const crypter = new PassphraseCrypter(derive(passphrase, salt));
    return { crypter, salt: `v1:${salt.toString("base64")}:${crypter.encrypt(MARKER)}` };
  }

  /** The crypter of a stack's `encryptionsalt`; a wrong passphrase is refused. */
  static fromSalt(encryptionSalt: string, passphrase: string): PassphraseCrypter {
    const match = /^v1:([^:]+):(v1:[^:]+:[^:]+)$/.exec(encryptionSalt);
    if (!match) throw new SecretsError(`the stack file's encryptionsalt is not Pulumi's passphrase salt (v1:…)`);
    const crypter = new PassphraseCrypter(derive(passphrase, Buffer.from(match[1], "base64")));
    let marker: string | undefined;
    try {
      marker = crypter.decrypt(match[2]);
    } catch {
      marker = undefined;
    }
    if (marker !== MARKER) {
      throw new SecretsError(
        "incorrect passphrase for the stack's secrets: use the PULUMI_CONFIG_PASSPHRASE(_FILE) they were set with",
      );
    }
    return crypter;
  }

  encrypt(plaintext: string): string {
    const nonce = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv("aes-256-gcm", this.key, nonce);
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
    return `v1:${nonce.toString("base64")}:${body.toString("base64")}`;
  }

  decrypt(ciphertext: string): string {
    const parts = ciphertext.split(":");
    if (parts.length !== 3 || parts[0] !== "v1") throw new SecretsError("a secure value is not v1:<nonce>:<data>");
    const body = Buffer.from(parts[2], "base64");
    if (body.length < TAG_BYTES) throw new SecretsError("a secure value is too short");
    const decipher = crypto.createDecipheriv("aes-256-gcm", this.key, Buffer.from(parts[1], "base64"));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString(
        "utf8",
      );
    } catch {
      throw new SecretsError("a secure value does not decrypt with the stack's key");
    }
  }
}

function derive(passphrase: string, salt: Buffer): Buffer {
  return crypto.pbkdf2Sync(passphrase, salt, ROUNDS, 32, "sha256");
}
