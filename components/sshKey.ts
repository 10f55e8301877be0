/**
 * An ed25519 SSH key pair derived from 32 random bytes (a @pulumi/random secret), so that a local
 * stack gets its own key without any extra provider. Pure: the same seed gives the same keys.
 */
import * as crypto from "crypto";

export interface SshKeyPair {
  /** PKCS#8 PEM, accepted by @pulumi/command's SSH client. */
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
    privateKeyPem: key.export({ format: "pem", type: "pkcs8" }).toString(),
    publicKey: `ssh-ed25519 ${blob.toString("base64")} ${comment}`,
  };
}
