/**
 * What the fault scenarios do to a local stack's containers, and how they read its state: through
 * `docker` on the stack's own containers and network only. Everything here is asynchronous, so
 * that the load client running in the same process is never held up.
 */
import { execFile } from "child_process";
import { TestStack } from "../../test/e2e/stack";
import { PATRONI_CONFIG_PATH } from "../../configs/patroni";
import { SOURCE_CLIENT_ENV } from "../../configs/tls";
import { renderSwitchoverCommand } from "../../configs/restApi";
import { statsUrl } from "../../configs/haproxy";
import { holdSeconds, withPoolsHeld } from "../../cli/pools";

export const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

export function container(stack: TestStack, host: string): string {
  return `${stack.prefix}-${host}`;
}

function docker(args: string[], timeoutS = 60): Promise<{ ok: boolean; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile("docker", args, { encoding: "utf8", timeout: timeoutS * 1000 }, (error, stdout, stderr) =>
      resolve({ ok: !error, out: (stdout ?? "").trim(), err: (stderr ?? "").trim() }),
    );
  });
}

/** Run a shell script on a host; throws with its stderr when it fails. */
export async function exec(stack: TestStack, host: string, script: string, timeoutS = 60): Promise<string> {
  const r = await docker(["exec", container(stack, host), "bash", "-c", `${SOURCE_CLIENT_ENV}\n${script}`], timeoutS);
  if (!r.ok) throw new Error(`on ${host}: ${script.split("\n")[0]}: ${r.err || r.out}`);
  return r.out;
}

export async function running(stack: TestStack, host: string): Promise<boolean> {
  return (await docker(["inspect", "-f", "{{.State.Running}}", container(stack, host)])).out === "true";
}

export const killHost = (stack: TestStack, host: string) => docker(["kill", container(stack, host)]);
export const startHost = (stack: TestStack, host: string) => docker(["start", container(stack, host)]);
export const disconnect = (stack: TestStack, host: string) =>
  docker(["network", "disconnect", "--force", stack.prefix, container(stack, host)]);
export const reconnect = (stack: TestStack, host: string) =>
  docker(["network", "connect", "--ip", stack.addresses[host], stack.prefix, container(stack, host)]);

export interface Member {
  Member: string;
  Host: string;
  Role: string;
  State: string;
  TL?: number;
}

const PATRONICTL = `patronictl -c ${PATRONI_CONFIG_PATH}`;

/** `patronictl list` from the first Patroni host that answers, or undefined. */
export async function members(stack: TestStack, skip: string[] = []): Promise<Member[] | undefined> {
  for (const host of patroniHosts(stack).filter((h) => !skip.includes(h))) {
    const r = await docker(["exec", container(stack, host), "bash", "-c", `${PATRONICTL} list -f json`], 20);
    if (r.ok) {
      try {
        return JSON.parse(r.out) as Member[];
      } catch {
        continue;
      }
    }
  }
  return undefined;
}

export function patroniHosts(stack: TestStack): string[] {
  return stack.patroniHosts;
}

export async function leader(stack: TestStack, skip: string[] = []): Promise<string | undefined> {
  return (await members(stack, skip))?.find((m) => m.Role === "Leader" && m.State === "running")?.Member;
}

/** The postmaster's pid on a host (from its pid file). */
export function postmasterPid(stack: TestStack, host: string): Promise<string> {
  return exec(stack, host, `head -1 ${stack.dataDir}/postmaster.pid`);
}

/** Change one DCS setting now (as `patronictl edit-config -s` would), e.g. failsafe_mode=false. */
export async function setDcs(stack: TestStack, key: string, value: string): Promise<void> {
  const host = patroniHosts(stack)[0];
  const up = (await running(stack, host)) ? host : (patroniHosts(stack)[1] ?? host);
  await exec(stack, up, `${PATRONICTL} edit-config --force -s ${key}=${value} >/dev/null`);
}

export interface Health {
  ok: boolean;
  leader?: string;
  timeline?: number;
  detail: string;
}

/**
 * The after-conditions of every scenario: exactly one running leader, every other member a
 * replica on the leader's timeline, and the leader streaming to all of them.
 */
export async function health(stack: TestStack): Promise<Health> {
  const list = await members(stack);
  if (!list) return { ok: false, detail: "no member answers patronictl" };
  const leaders = list.filter((m) => m.Role === "Leader");
  if (leaders.length !== 1 || leaders[0].State !== "running") {
    return { ok: false, detail: `leaders: ${leaders.map((m) => `${m.Member}(${m.State})`).join(", ") || "none"}` };
  }
  const lead = leaders[0];
  const others = list.filter((m) => m !== lead);
  if (list.length !== stack.hostsRunningPatroni) {
    return { ok: false, leader: lead.Member, detail: `${list.length} of ${stack.hostsRunningPatroni} members listed` };
  }
  const behind = others.filter((m) => !["running", "streaming"].includes(m.State) || m.TL !== lead.TL);
  if (behind.length > 0) {
    return {
      ok: false,
      leader: lead.Member,
      detail: `not on timeline ${lead.TL}: ${behind.map((m) => `${m.Member}(${m.State}, TL ${m.TL ?? "?"})`).join(", ")}`,
    };
  }
  let streaming = -1;
  try {
    streaming = Number(
      await exec(
        stack,
        lead.Member,
        `runuser -u postgres -- psql -X -At -h /var/run/postgresql -p ${stack.pgPort} -c "select count(*) from pg_stat_replication where state = 'streaming'"`,
        20,
      ),
    );
  } catch {
    /* reported below */
  }
  if (streaming !== others.length) {
    return { ok: false, leader: lead.Member, detail: `${streaming} of ${others.length} replicas streaming` };
  }
  return { ok: true, leader: lead.Member, timeline: lead.TL, detail: "one leader, every replica streaming" };
}

/** Wait until `health` holds (at most `timeoutS`); returns the last reading and how long it took. */
export async function settle(stack: TestStack, timeoutS: number): Promise<Health & { seconds: number }> {
  const start = Date.now();
  let h = await health(stack);
  while (!h.ok && (Date.now() - start) / 1000 < timeoutS) {
    await sleep(1);
    h = await health(stack);
  }
  return { ...h, seconds: (Date.now() - start) / 1000 };
}

/**
 * A planned switchover through Patroni's REST API, with the credentials in patroni.yml on the
 * host; on a stack with transaction pools, with their clients held as `ctl switchover` does.
 */
export async function switchover(stack: TestStack, from: string, to: string): Promise<Record<string, string>> {
  const move = async () => {
    await exec(stack, from, renderSwitchoverCommand(stack.restUrls[from], from, to));
    return to;
  };
  if (!stack.pooled) {
    await move();
    return {};
  }
  const run = (host: string, command: string, timeoutS: number) => exec(stack, host, command, timeoutS);
  const t = await withPoolsHeld(
    run,
    { routers: stack.routers, statsUrl: statsUrl("127.0.0.1", stack.routerPorts.stats, stack.tls) },
    move,
    to,
  );
  const s = holdSeconds(t);
  return { held_s: s.held, hold_pause_s: s.pause, hold_switchover_s: s.move, hold_resume_s: s.resume };
}

/** The router clients reach: the holder of the virtual IP, or the first router without one. */
export async function clientRouter(stack: TestStack): Promise<string> {
  const vip = stack.vip;
  if (!vip) return stack.routers[0];
  for (const r of stack.routers) {
    const held = await docker(["exec", container(stack, r), "ip", "-o", "-4", "addr", "show"], 10);
    if (held.ok && held.out.includes(` ${vip}/`)) return r;
  }
  throw new Error(`no router holds the virtual IP ${vip}`);
}

/**
 * Rebuild the members that did not come back by themselves (`patronictl reinit`), so that the
 * next scenario starts from a healthy cluster; returns the members rebuilt.
 */
export async function reinitBroken(stack: TestStack): Promise<string[]> {
  const list = await members(stack);
  if (!list) return [];
  const lead = list.find((m) => m.Role === "Leader" && m.State === "running");
  if (!lead) return [];
  const broken = list.filter((m) => m !== lead && (!["running", "streaming"].includes(m.State) || m.TL !== lead.TL));
  for (const m of broken) {
    await exec(stack, lead.Member, `${PATRONICTL} reinit --force --wait postgres ${m.Member} >/dev/null`, 300).catch(
      () => undefined,
    );
  }
  return broken.map((m) => m.Member);
}
