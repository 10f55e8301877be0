/**
 * An ed25519 SSH key pair derived from 32 random bytes (a @pulumi/random secret), so that a local
 * stack gets its own key without any extra provider. Pure: the same seed gives the same keys.
 */
import * as crypto from "crypto";

export interface SshKeyPair {
  /** OpenSSH format, accepted by @pulumi/command's SSH client and by `ssh -i`. */
  privateKeyPem: string;
  /** One `authorized_keys` line. */
  publicKey: string;
}

const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

function sshString(data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

/** The `openssh-key-v1` container for one unencrypted ed25519 key. */
function opensshPrivateKey(seed: Buffer, pub: Buffer, comment: string): string {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const keyType = sshString(Buffer.from("ssh-ed25519"));
  const publicBlob = Buffer.concat([keyType, sshString(pub)]);
  const check = crypto.createHash("sha256").update(seed).digest().subarray(0, 4);
  let priv = Buffer.concat([
    check,
    check,
    keyType,
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(Buffer.from(comment)),
  ]);
  const pad = (8 - (priv.length % 8)) % 8;
  priv = Buffer.concat([priv, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from("openssh-key-v1\0", "binary"),
    sshString(Buffer.from("none")),
    sshString(Buffer.from("none")),
    sshString(Buffer.alloc(0)),
    u32(1),
    sshString(publicBlob),
    sshString(priv),
  ]);
  const lines = body.toString("base64").match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

export function ed25519KeyPair(seed: Buffer, comment = "patroni-stack"): SshKeyPair {
  if (seed.length !== 32) throw new Error(`an ed25519 seed has 32 bytes, got ${seed.length}`);
  const key = crypto.createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: "der",
    type: "pkcs8",
  });
  const spki = crypto.createPublicKey(key).export({ format: "der", type: "spki" });
  const raw = spki.subarray(spki.length - 32);
  const blob = Buffer.concat([sshString(Buffer.from("ssh-ed25519")), sshString(raw)]);
  return {
    privateKeyPem: opensshPrivateKey(seed, raw, comment),
    publicKey: `ssh-ed25519 ${blob.toString("base64")} ${comment}`,
  };
}
