/**
 * Store one secret config value of a stack, encrypted as the Pulumi CLI stores it, so that both
 * engines read it (scripts/stack.sh secret).
 *
 *   ts-node cli/secret.ts <dir> <stack> <key>   < value
 *
 * The value is standard input without one trailing newline (as `pulumi config set` takes it).
 */
import * as fs from "fs";
import { setStackSecret } from "../settings/stackFile";

const [dir, stack, key] = process.argv.slice(2);
if (!dir || !stack || !key) {
  console.error("usage: cli/secret.ts <dir> <stack> <key>  < value");
  process.exit(2);
}
try {
  const value = fs.readFileSync(0, "utf8").replace(/\r?\n$/, "");
  if (value === "") throw new Error(`no value for ${key} on standard input`);
  setStackSecret(dir, stack, key, value);
  console.error(`${key}: set (encrypted) in Pulumi.${stack}.yaml`);
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
