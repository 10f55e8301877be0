/**
 * patroni-stack ctl: the field guide's day-2 procedures (switchover, history, restarts, pause and
 * reinit) as commands on a stack's cluster. It reads the stack file, so there is no address or
 * password to type, and reaches the hosts with `docker exec` (local stacks) or SSH as the stack's
 * SSH user (real hosts; your SSH agent or keys).
 *
 *   STACK=dev npm run ctl -- <verb> [arguments]        or   make ctl ARGS="<verb> [arguments]"
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import { renderMemberTable } from "../configs/memberTable";
import { backupStatus, runBackupVerb, BACKUP_VERBS, BACKUP_USAGE } from "./backup";
import { clientFiles } from "./connection";
import {
  clusterView,
  CtlError,
  currentLeader,
  flag,
  loadStack,
  member,
  onHost,
  option,
  patronictl,
  runOnHost,
  Stack,
} from "./stack";
import { holdSeconds, poolCommand, renderPoolReport, withPoolsHeld, PoolHold } from "./pools";
import { statsUrl } from "../configs/haproxy";

const USAGE = `usage: STACK=<stack> npm run ctl -- <verb> [arguments]   (STACK defaults to dev)

  list                          members, roles, states, timelines and lag (patronictl list)
  history                       the timeline history: every failover and switchover
  show-config                   the dynamic configuration in the DCS
  switchover [--candidate M] [--scheduled TIME]
                                planned switchover from the current leader (to M, or the healthiest replica);
                                transaction pools hold their clients meanwhile (PAUSE ... RESUME)
  pool                          each router's pools: clients, servers, waits (SHOW POOLS, SHOW STATS)
  failover --candidate M        make M the leader now (also when the leader is down)
  restart [M...] [--pending]    restart PostgreSQL through Patroni (all members, or M; --pending: only those waiting)
  reload [M...]                 reload the members' configuration
  pause | resume                stop / restore automatic failover (maintenance mode)
  reinit M                      rebuild replica M from the leader (e.g. after its data directory was damaged)
  psql [--ro] [--direct] [-- PSQL ARGS]
                                psql on the read-write port (or --ro), pooled or --direct to PostgreSQL
                                through HAProxy, with the stack's credentials
  logs M [patroni|postgresql|etcd|haproxy] [--lines N]
                                the last lines of a service's log on member host M
${BACKUP_USAGE}`;

const LOG_UNITS: Record<string, string> = {
  patroni: "patroni",
  postgresql: "patroni",
  etcd: "etcd",
  haproxy: "haproxy",
};

function run(verb: string | undefined, args: string[]): number | Promise<number> {
  if (!verb || verb === "help" || verb === "--help") {
    console.log(USAGE);
    return verb ? 0 : 2;
  }
  const stack = loadStack();
  const scope = stack.plan.patroni.scope;
  switch (verb) {
    case "list": {
      const view = clusterView(stack);
      process.stdout.write(renderMemberTable(view));
      process.stdout.write(backupStatus(stack, view));
      return 0;
    }
    case "history":
    case "show-config":
      patronictl(stack, [verb]);
      return 0;
    case "switchover": {
      const candidate = option(args, "--candidate");
      if (candidate) member(stack, candidate);
      const scheduled = option(args, "--scheduled");
      const leader = currentLeader(stack);
      if (candidate === leader) throw new CtlError(`${candidate} is the leader already`);
      const switchover = () =>
        patronictl(stack, [
          "switchover",
          scope,
          "--leader",
          leader,
          ...(candidate ? ["--candidate", candidate] : []),
          ...(scheduled ? ["--scheduled", scheduled] : []),
          "--force",
        ]);
      // Transaction pools hold their clients through it (a scheduled one happens later, unheld).
      if (!holdsClients(stack) || scheduled) {
        switchover();
        return 0;
      }
      return withPoolsHeld(runOnHost(stack), poolHold(stack), async () => {
        switchover();
        return currentLeader(stack);
      }).then((t) => {
        const s = holdSeconds(t);
        console.log(
          `clients of the pools were held for ${s.held} s (pause ${s.pause} s, switchover ${s.move} s, until the new primary took writes through every router ${s.resume} s), none dropped`,
        );
        return 0;
      });
    }
    case "pool": {
      const pgbouncer = stack.plan.pgbouncer;
      if (!pgbouncer) throw new CtlError(`stack ${stack.name} has no pools (pgbouncer.enabled is false)`);
      const run = runOnHost(stack);
      return Promise.all(
        stack.plan.routers.flatMap((r) =>
          pgbouncer.pools.map(async (p) => {
            const [pools, stats] = await Promise.all(
              ["SHOW POOLS", "SHOW STATS"].map((c) => run(r.name, poolCommand(p.name, c, "-q --csv"), 30)),
            );
            return renderPoolReport(r.name, p.name, pools, stats);
          }),
        ),
      ).then((reports) => {
        process.stdout.write(reports.join("\n"));
        return 0;
      });
    }
    case "failover": {
      const candidate = option(args, "--candidate");
      if (!candidate) throw new CtlError("failover needs --candidate M (the member to promote)");
      member(stack, candidate);
      patronictl(stack, ["failover", scope, "--candidate", candidate, "--force"]);
      return 0;
    }
    case "restart":
    case "reload": {
      const pending = verb === "restart" && flag(args, "--pending");
      args.forEach((m) => member(stack, m));
      patronictl(stack, [verb, scope, ...args, ...(pending ? ["--pending"] : []), "--force"]);
      return 0;
    }
    case "pause":
    case "resume":
      patronictl(stack, [verb, scope, "--wait"]);
      return 0;
    case "reinit": {
      const [name] = args;
      if (!name) throw new CtlError("reinit needs the member to rebuild: reinit M");
      member(stack, name);
      if (name === currentLeader(stack)) {
        throw new CtlError(`${name} is the leader: switch over first (npm run ctl -- switchover), then reinit it`);
      }
      patronictl(stack, ["reinit", scope, name, "--force", "--wait"]);
      return 0;
    }
    case "psql": {
      const ro = flag(args, "--ro");
      const direct = flag(args, "--direct");
      const dash = args.indexOf("--");
      const extra = dash >= 0 ? args.slice(dash + 1) : args;
      const files = clientFiles(stack.dir, stack.name);
      const pgpass = files.pgpass;
      if (!fs.existsSync(pgpass)) {
        throw new CtlError(
          `no credentials for stack ${stack.name} (${pgpass}): \`make up STACK=${stack.name}\` writes them`,
        );
      }
      const c = stack.plan.client;
      const rwPort = direct ? (c.directReadWritePort ?? c.readWritePort) : c.readWritePort;
      const roPort = direct ? (c.directReadOnlyPort ?? c.readOnlyPort) : c.readOnlyPort;
      const r = spawnSync(
        "psql",
        ["-h", c.host, "-p", String(ro ? roPort : rwPort), "-U", "postgres", "-d", "postgres", ...extra],
        {
          stdio: "inherit",
          env: {
            ...process.env,
            PGPASSFILE: pgpass,
            // A TLS stack: verify the server against the stack's CA.
            ...(stack.plan.tls ? { PGSSLMODE: "verify-full", PGSSLROOTCERT: files.ca } : {}),
          },
        },
      );
      return r.status ?? 1;
    }
    case "logs": {
      const lines = option(args, "--lines") ?? "100";
      const [name, service = "patroni"] = args;
      if (!name) throw new CtlError("logs needs a member host: logs M [patroni|postgresql|etcd|haproxy]");
      const host = stack.plan.hosts.find((h) => h.name === name);
      if (!host)
        throw new CtlError(
          `no host '${name}' in stack ${stack.name}: its hosts are ${stack.plan.hosts.map((h) => h.name).join(", ")}`,
        );
      const unit = LOG_UNITS[service];
      if (!unit) throw new CtlError(`unknown service '${service}': use ${Object.keys(LOG_UNITS).join(", ")}`);
      const r = onHost(stack, host, ["journalctl", "-u", unit, "-n", lines, "--no-pager", "-o", "short-iso"], {
        stdio: ["ignore", "inherit", "inherit"],
      });
      return r.status ?? 1;
    }
    default:
      if (BACKUP_VERBS.includes(verb)) return runBackupVerb(stack, verb, args);
      throw new CtlError(`unknown verb '${verb}'\n\n${USAGE}`);
  }
}

if (require.main === module) {
  const [verb, ...args] = process.argv.slice(2);
  Promise.resolve()
    .then(() => run(verb, args))
    .then(
      (code) => process.exit(code),
      (e: unknown) => {
        console.error(`ctl: ${(e as Error).message}`);
        process.exit(e instanceof CtlError ? 1 : 3);
      },
    );
}

/** Whether a switchover holds the clients: transaction pools can, session pools cannot. */
function holdsClients(stack: Stack): boolean {
  return stack.plan.pgbouncer?.poolMode === "transaction";
}

function poolHold(stack: Stack): PoolHold {
  const h = stack.plan.haproxy;
  return {
    routers: stack.plan.routers.map((r) => r.name),
    statsUrl: statsUrl("127.0.0.1", h.statsPort, !!stack.plan.tls),
  };
}
