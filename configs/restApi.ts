/**
 * Requests to Patroni's REST API as shell commands run on a member's host (the e2e suite and the
 * chaos harness use them, as the stop step does in bash): the basic-auth credentials are read from
 * patroni.yml on the host and handed to curl's `--config` on stdin, never on a command line.
 */
import { PATRONI_CONFIG_PATH } from "./patroni";
import { shq } from "./scripts";

/** The `user = "name:password"` line for curl's config, from patroni.yml's restapi.authentication. */
function authConfig(configPath: string): string {
  const read =
    "import sys, yaml; a = yaml.safe_load(open(sys.argv[1]))['restapi']['authentication']; " +
    "print('user = \"%s:%s\"' % (a['username'], a['password']))";
  return `python3 -c ${shq(read)} ${shq(configPath)}`;
}

/**
 * A planned switchover from `leader` to `candidate` through the REST API at `restUrl`; a refusal
 * fails the command with Patroni's answer (e.g. "candidate name does not match") on its output.
 */
export function renderSwitchoverCommand(
  restUrl: string,
  leader: string,
  candidate: string,
  configPath = PATRONI_CONFIG_PATH,
): string {
  const body = JSON.stringify({ leader, candidate });
  return `${authConfig(configPath)} | curl -sS --fail-with-body -m 60 -X POST --config - -d ${shq(body)} ${shq(`${restUrl}/switchover`)}`;
}
