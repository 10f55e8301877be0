/**
 * What the shell scripts need to know of a stack file, read by the one stack-file reader.
 *
 *   ts-node cli/stack-info.ts <dir> <stack> suite            (prints the local hosts' suite, or nothing)
 *   ts-node cli/stack-info.ts <dir> <stack> pulumi-project   (writes the project the Pulumi CLI runs
 *                                                             in and prints its directory)
 */
import { localSuite, readStackFile, writePulumiProject } from "../settings/stackFile";

const [dir, stack, what] = process.argv.slice(2);
if (!dir || !stack || (what !== "suite" && what !== "pulumi-project")) {
  console.error("usage: cli/stack-info.ts <dir> <stack> suite|pulumi-project");
  process.exit(2);
}
try {
  if (what === "pulumi-project") {
    console.log(writePulumiProject(dir, stack));
  } else {
    const suite = localSuite(readStackFile(dir, stack, { secrets: "skip" }));
    if (suite) console.log(suite);
  }
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
