/**
 * What the shell scripts need to know of a stack file, read by the one stack-file reader.
 *
 *   ts-node cli/stack-info.ts <dir> <stack> suite     (prints the local hosts' suite, or nothing)
 */
import { localSuite, readStackFile } from "../settings/stackFile";

const [dir, stack, what] = process.argv.slice(2);
if (!dir || !stack || what !== "suite") {
  console.error("usage: cli/stack-info.ts <dir> <stack> suite");
  process.exit(2);
}
try {
  const suite = localSuite(readStackFile(dir, stack));
  if (suite) console.log(suite);
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
