import { parseCsv, renderPoolReport, withPoolsHeld } from "../../cli/pools";
import { serverStates } from "../../configs/haproxy";

const csv = (primary: string) =>
  [
    "# pxname,svname,qcur,status",
    "postgres_rw,FRONTEND,,OPEN",
    ...["pg1", "pg2"].map((m) => `postgres_rw,${m},0,${m === primary ? "UP" : "DOWN"}`),
    "postgres_rw,BACKEND,0,UP",
  ].join("\n");

/**
 * A fake fleet: records each command per router; the stats page shows `primary`, and a
 * connection through HAProxy's direct listener finds it in recovery for `recoveryProbes` probes
 * (a guarded resume then gives up without resuming, as its shell loop does past its deadline).
 */
function fleet(fail?: RegExp, recoveryProbes = 0) {
  const calls: string[] = [];
  const resumed: string[] = [];
  let primary = "pg1";
  let inRecovery = recoveryProbes;
  const run = async (host: string, command: string) => {
    calls.push(`${host}: ${command}`);
    if (fail?.test(command)) throw new Error("refused");
    if (command.includes("POOL_SERVER=1 ") && inRecovery-- > 0) return "";
    if (command.includes("RESUME")) {
      resumed.push(host);
      return "resumed\n";
    }
    return command.includes(";csv") ? csv(primary) : "";
  };
  return { calls, resumed, run, promote: (m: string) => (primary = m) };
}

describe("holding the pools through a switchover", () => {
  const hold = { routers: ["pg1", "pg2"], statsUrl: "https://127.0.0.1:7000/", pools: ["rw"] as const };

  it("pauses every router's pool before the switchover and resumes once HAProxy sends clients to the new primary", async () => {
    const f = fleet();
    const order: string[] = [];
    await withPoolsHeld(f.run, hold, async () => {
      order.push(...f.calls.splice(0));
      f.promote("pg2");
      return "pg2";
    });
    expect(order.sort()).toEqual([
      "pg1: timeout 30 /usr/local/sbin/patroni-stack-pool rw -q -c 'PAUSE'",
      "pg2: timeout 30 /usr/local/sbin/patroni-stack-pool rw -q -c 'PAUSE'",
    ]);
    const after = f.calls.map((c) => c.replace(/^pg\d: /, ""));
    const lastCheck = after.map((c) => c.includes(";csv")).lastIndexOf(true);
    const resumes = after.filter((c) => /-c 'RECONNECT' -c 'RESUME' \|\| true; \} & wait; echo resumed$/.test(c));
    expect(resumes).toHaveLength(2);
    expect(resumes[0]).toMatch(
      /until \[ "\$\(POOL_SERVER=1 .*patroni-stack-pool rw -qAt -c 'SELECT pg_is_in_recovery\(\)' /,
    );
    expect(after.findIndex((c) => c.includes("RESUME"))).toBeGreaterThan(lastCheck);
    expect(f.resumed.sort()).toEqual(["pg1", "pg2"]);
  });

  it("resumes only once a connection the way the pool makes them reaches a primary out of recovery", async () => {
    // Patroni's REST API (and so HAProxy) calls the candidate primary before PostgreSQL leaves
    // recovery: statements resumed then fail as read-only.
    const f = fleet(undefined, 6);
    await withPoolsHeld(f.run, hold, async () => {
      f.calls.splice(0);
      f.promote("pg2");
      return "pg2";
    });
    const probes = f.calls.filter((c) => c.includes("POOL_SERVER=1 "));
    expect(probes).toHaveLength(8); // 6 in recovery, then one per router
    expect(f.resumed.sort()).toEqual(["pg1", "pg2"]);
  });

  it("with the new primary known, resumes as soon as it takes writes, before the switchover call returns", async () => {
    const f = fleet();
    let resumedMeanwhile: string[] = [];
    await withPoolsHeld(
      f.run,
      hold,
      async () => {
        f.promote("pg2");
        await new Promise((r) => setTimeout(r, 1000)); // Patroni's API answers a while after
        resumedMeanwhile = [...f.resumed];
        return "pg2";
      },
      "pg2",
    );
    expect(resumedMeanwhile.sort()).toEqual(["pg1", "pg2"]);
  });

  it("stops watching for the new primary when the switchover fails, and resumes", async () => {
    const f = fleet();
    await expect(
      withPoolsHeld(
        f.run,
        hold,
        async () => {
          await new Promise((r) => setTimeout(r, 300));
          throw new Error("refused by Patroni");
        },
        "pg2",
      ),
    ).rejects.toThrow(/refused by Patroni/);
    const polls = f.calls.length;
    await new Promise((r) => setTimeout(r, 500));
    expect(f.calls.length).toBe(polls);
    expect(f.resumed.sort()).toEqual(["pg1", "pg2"]);
  });

  it("resumes the pools when the switchover fails", async () => {
    const f = fleet();
    await expect(
      withPoolsHeld(f.run, hold, async () => {
        throw new Error("patronictl refused");
      }),
    ).rejects.toThrow(/patronictl refused/);
    expect(f.calls.filter((c) => c.includes("RESUME"))).toHaveLength(2);
  });

  it("says why the routers never resumed: the last resume attempt's error", async () => {
    const f = fleet(/RECONNECT/);
    await expect(
      withPoolsHeld(f.run, { ...hold, routeTimeoutS: 1 }, async () => {
        f.promote("pg2");
        return "pg2";
      }),
    ).rejects.toThrow(
      /does not send read-write clients to pg2, or it takes no writes \(last resume attempt: refused\)/,
    );
  });

  it("switches nothing when a pool cannot pause, and resumes the others", async () => {
    const f = fleet(/PAUSE/);
    let moved = false;
    await expect(
      withPoolsHeld(f.run, hold, async () => {
        moved = true;
        return "pg2";
      }),
    ).rejects.toThrow(/PAUSE of the pools on pg\d did not finish/);
    expect(moved).toBe(false);
    expect(f.calls.filter((c) => c.includes("RESUME"))).toHaveLength(2);
  });
});

describe("reading the pools", () => {
  it("reads HAProxy's server states by the CSV's header", () => {
    expect(serverStates(csv("pg2"), "postgres_rw")).toEqual({ pg1: "DOWN", pg2: "UP" });
  });

  it("shows SHOW POOLS and SHOW STATS as tables, without the admin database", () => {
    const pools =
      "database,user,cl_active,cl_waiting,sv_active,sv_idle,maxwait,pool_mode\npgbouncer,pgbouncer,1,0,0,0,0,statement\npostgres,postgres,500,0,3,17,0,transaction";
    const stats =
      "database,total_xact_count,total_query_count,avg_xact_time,avg_query_time,avg_wait_time\npostgres,1200,1300,250,240,3";
    const text = renderPoolReport("pg1", "rw", pools, stats);
    expect(text).toMatch(/^pg1 rw pool\ndatabase +user +clients active/);
    expect(text).toMatch(/postgres +postgres +500 +0 +3 +17 +0 +transaction/);
    expect(text).not.toMatch(/^pgbouncer/m);
    expect(parseCsv(stats)[0].total_xact_count).toBe("1200");
  });
});
