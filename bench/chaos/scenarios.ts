/**
 * The fault scenarios: the field guide's failure tests (§4.5) and the ones a user of an HA stack
 * asks about next. Each one breaks something while the load client runs, ends the fault, and
 * leaves the cluster to recover by itself.
 */
import { poolUnit } from "../../configs/pgbouncer";
import { TestStack } from "../../test/e2e/stack";
import {
  clientRouter,
  disconnect,
  exec,
  killHost,
  leader,
  members,
  postmasterPid,
  reconnect,
  running,
  setDcs,
  settle,
  sleep,
  startHost,
  switchover,
} from "./cluster";

/** Marks on the client's clock, drawn on the timeline. */
export interface Marks {
  faultStart(): void;
  faultEnd(): void;
  /** A new leader was seen (for the detection / promotion / routing breakdown). */
  leaderChanged(): void;
}

export interface Scenario {
  id: string;
  title: string;
  /** The repository stack it runs on. */
  topology: "dev" | "seed";
  /** Part of the short run `make test` does. */
  smoke?: boolean;
  /** Only on a stack with PgBouncer's pools (skipped, and said so, on one without). */
  pooledOnly?: boolean;
  /** Put the cluster in the shape the scenario needs (before the client starts). */
  prepare?(stack: TestStack): Promise<void>;
  /** Break, wait, end the fault; returns facts worth recording (e.g. the victim). */
  run(stack: TestStack, marks: Marks): Promise<Record<string, string>>;
  /** Undo what `prepare` changed (after measuring). */
  restore?(stack: TestStack): Promise<void>;
  /** Seconds to keep measuring after the fault ends, before checking the after-conditions. */
  observe: number;
}

const current = async (stack: TestStack): Promise<string> => {
  const l = await leader(stack);
  if (!l) throw new Error("no running leader");
  return l;
};

const replicaOf = async (stack: TestStack, avoid: string[] = []): Promise<string> => {
  const l = await current(stack);
  const r = stack.patroniHosts.find((h) => h !== l && !avoid.includes(h));
  if (!r) throw new Error("no replica to use");
  return r;
};

/**
 * Move the leader off the router clients go through (the VIP's holder), so that losing the
 * leader's host is not also losing the clients' router.
 */
async function leaderAwayFromRouters(stack: TestStack): Promise<void> {
  const l = await current(stack);
  const router = await clientRouter(stack);
  if (l !== router) return;
  // In synchronous mode only the synchronous standby may take over.
  const list = (await members(stack)) ?? [];
  const sync = list.find((m) => m.Role === "Sync Standby" && m.Member !== router)?.Member;
  const to =
    sync ??
    stack.patroniHosts.find((h) => h !== l && !stack.routers.includes(h)) ??
    stack.patroniHosts.find((h) => h !== l && h !== router);
  if (!to) throw new Error("no Patroni member apart from the clients' router");
  await switchover(stack, l, to);
  await waitFor(async () => (await leader(stack)) === to, 60);
  await settle(stack, 120);
}

async function waitFor(cond: () => Promise<boolean>, timeoutS: number): Promise<boolean> {
  const until = Date.now() + timeoutS * 1000;
  while (Date.now() < until) {
    if (await cond()) return true;
    await sleep(0.5);
  }
  return false;
}

/** Wait until a running leader other than `old` is seen (from the hosts other than `old`). */
async function newLeader(stack: TestStack, old: string, marks: Marks, timeoutS: number): Promise<string> {
  let seen: string | undefined;
  await waitFor(async () => {
    seen = await leader(stack, [old]);
    return seen !== undefined && seen !== old;
  }, timeoutS);
  if (seen && seen !== old) marks.leaderChanged();
  return seen ?? "none";
}

const killMain = (unit: string) => `kill -9 "$(systemctl show -p MainPID --value ${unit})"`;

function kill9Patroni(role: "leader" | "replica"): Scenario {
  return {
    id: `${role}-patroni-kill`,
    title: `kill -9 Patroni on the ${role}`,
    topology: "dev",
    observe: role === "leader" ? 25 : 10,
    async run(stack, marks) {
      const victim = role === "leader" ? await current(stack) : await replicaOf(stack);
      marks.faultStart();
      await exec(stack, victim, killMain("patroni"));
      marks.faultEnd();
      return { victim };
    },
  };
}

function kill9Postgres(role: "leader" | "replica", smoke = false): Scenario {
  return {
    id: `${role}-postgres-kill`,
    title: `kill -9 PostgreSQL on the ${role}`,
    topology: "dev",
    smoke,
    observe: 10,
    async run(stack, marks) {
      const victim = role === "leader" ? await current(stack) : await replicaOf(stack);
      const pid = await postmasterPid(stack, victim);
      marks.faultStart();
      await exec(stack, victim, `kill -9 ${pid}`);
      marks.faultEnd();
      return { victim };
    },
  };
}

function etcdAllDown(failsafe: boolean): Scenario {
  return {
    id: `etcd-all-down-failsafe-${failsafe ? "on" : "off"}`,
    title: `every etcd member down 40 s, failsafe_mode ${failsafe ? "on" : "off"}`,
    topology: "dev",
    observe: 10,
    async prepare(stack) {
      await setDcs(stack, "failsafe_mode", String(failsafe));
      await sleep(3);
    },
    async run(stack, marks) {
      marks.faultStart();
      await Promise.all(stack.etcdHosts.map((h) => exec(stack, h, "systemctl stop etcd")));
      await sleep(40);
      await Promise.all(stack.etcdHosts.map((h) => exec(stack, h, "systemctl start --no-block etcd")));
      marks.faultEnd();
      return { members: stack.etcdHosts.join(" ") };
    },
    async restore(stack) {
      await setDcs(stack, "failsafe_mode", "true");
    },
  };
}

/** The leader lost (host killed, or cut off from the network) until a new leader is seen, then back. */
function leaderLost(
  how: { id: string; title: string; cut: typeof killHost; restore: typeof startHost },
  sync: boolean,
  smoke = false,
): Scenario {
  return {
    id: `${how.id}${sync ? "-sync" : ""}`,
    title: `${how.title}${sync ? ", synchronous_mode on" : ""}`,
    topology: "dev",
    smoke,
    observe: 5,
    async prepare(stack) {
      if (sync) await syncOn(stack);
      await leaderAwayFromRouters(stack);
    },
    async run(stack, marks) {
      const victim = await current(stack);
      marks.faultStart();
      await how.cut(stack, victim);
      const next = await newLeader(stack, victim, marks, 120);
      await sleep(5);
      await how.restore(stack, victim);
      marks.faultEnd();
      return { victim, newLeader: next };
    },
    restore: sync ? syncOff : undefined,
  };
}

const HOST_LOST = {
  id: "leader-host-lost",
  title: "the leader's host lost (container killed), then started again",
  cut: killHost,
  restore: startHost,
};
const PARTITIONED = {
  id: "leader-partitioned",
  title: "the leader cut off from the network, then reconnected",
  cut: disconnect,
  restore: reconnect,
};
const hostLost = (sync: boolean, smoke = false) => leaderLost(HOST_LOST, sync, smoke);
const partitioned = (sync: boolean) => leaderLost(PARTITIONED, sync);

async function syncOn(stack: TestStack): Promise<void> {
  await setDcs(stack, "synchronous_mode", "true");
  await waitFor(async () => ((await members(stack)) ?? []).some((m) => m.Role === "Sync Standby"), 60);
}

async function syncOff(stack: TestStack): Promise<void> {
  await setDcs(stack, "synchronous_mode", "false");
  await sleep(3);
}

export const SCENARIOS: Scenario[] = [
  kill9Patroni("replica"),
  kill9Patroni("leader"),
  kill9Postgres("replica"),
  kill9Postgres("leader", true),
  etcdAllDown(false),
  etcdAllDown(true),
  {
    id: "etcd-member-lost",
    title: "one etcd member lost 30 s (quorum kept)",
    topology: "dev",
    observe: 5,
    async run(stack, marks) {
      const l = await current(stack);
      const victim = stack.etcdHosts.find((h) => h !== l) as string;
      marks.faultStart();
      await exec(stack, victim, `${killMain("etcd")}; systemctl stop etcd`);
      await sleep(30);
      await exec(stack, victim, "systemctl start --no-block etcd");
      marks.faultEnd();
      return { victim };
    },
  },
  hostLost(false, true),
  {
    id: "switchover",
    title: "a planned switchover under load",
    topology: "dev",
    smoke: true,
    observe: 5,
    async run(stack, marks) {
      const from = await current(stack);
      const to = await replicaOf(stack);
      marks.faultStart();
      const hold = await switchover(stack, from, to);
      await newLeader(stack, from, marks, 60);
      marks.faultEnd();
      return { from, to, ...hold };
    },
  },
  {
    id: "pool-kill",
    title: "kill -9 the read-write pool's PgBouncer on the router clients use (the VIP's holder)",
    topology: "dev",
    smoke: true,
    pooledOnly: true,
    observe: 10,
    async run(stack, marks) {
      const victim = await clientRouter(stack);
      marks.faultStart();
      await exec(stack, victim, killMain(poolUnit("rw")));
      marks.faultEnd();
      return { victim };
    },
  },
  {
    id: "router-host-lost",
    title: "the host of the router clients use (the VIP's holder) lost 20 s, then started again",
    topology: "dev",
    smoke: true,
    observe: 5,
    prepare: leaderAwayFromRouters,
    async run(stack, marks) {
      const victim = await clientRouter(stack);
      marks.faultStart();
      await killHost(stack, victim);
      await sleep(20);
      await startHost(stack, victim);
      marks.faultEnd();
      return { victim };
    },
  },
  hostLost(true),
  // Last: on Patroni before 3.0.3 (Debian bookworm) a returning partitioned leader can take the
  // leader key back (see README, "Known issues"), which the scenarios after it would inherit.
  partitioned(false),
  partitioned(true),
  {
    id: "single-etcd-outage",
    title: "the guide's single etcd killed, the leader's PostgreSQL killed during the outage, etcd back (§4.5.5)",
    topology: "seed",
    observe: 10,
    async run(stack, marks) {
      const etcd = stack.etcdHosts[0];
      const l = await current(stack);
      const pid = await postmasterPid(stack, l);
      marks.faultStart();
      await exec(stack, etcd, `${killMain("etcd")}; systemctl stop etcd`);
      await sleep(5);
      await exec(stack, l, `kill -9 ${pid}`);
      await sleep(25);
      await exec(stack, etcd, "systemctl start --no-block etcd");
      marks.faultEnd();
      return { etcd, leader: l };
    },
  },
];

/** Is every host of the stack's containers running (a scenario may have left one stopped)? */
export async function stoppedHosts(stack: TestStack): Promise<string[]> {
  const up = await Promise.all(stack.hosts.map((h) => running(stack, h)));
  return stack.hosts.filter((_, i) => !up[i]);
}
