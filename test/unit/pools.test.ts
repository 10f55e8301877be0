import { parseCsv, renderPoolReport, withPoolsHeld } from "../../cli/pools";
import { serverStates } from "../../configs/haproxy";

const csv = (primary: string) =>
  [
    "# pxname,svname,qcur,status",
    "postgres_rw,FRONTEND,,OPEN",
    ...["pg1", "pg2"].map((m) => `postgres_rw,${m},0,${m === primary ? "UP" : "DOWN"}`),
    "postgres_rw,BACKEND,0,UP",
  ].join("\n");

/** A fake fleet: records each command per router; the stats page shows `primary`. */
function fleet(fail?: RegExp) {
  const calls: string[] = [];
  let primary = "pg1";
  const run = async (host: string, command: string) => {
    calls.push(`${host}: ${command}`);
    if (fail?.test(command)) throw new Error("refused");
    return command.includes(";csv") ? csv(primary) : "";
  };
  return { calls, run, promote: (m: string) => (primary = m) };
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
    const resumes = after.filter((c) => /RECONNECT'; .*RESUME'$/.test(c));
    expect(resumes).toHaveLength(2);
    expect(after.findIndex((c) => c.includes("RESUME"))).toBeGreaterThan(lastCheck);
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

  it("switches nothing when a pool cannot pause, and resumes the others", async () => {
    const f = fleet(/PAUSE/);
    let moved = false;
    await expect(
      withPoolsHeld(f.run, hold, async () => {
        moved = true;
        return "pg2";
      }),
    ).rejects.toThrow(/PAUSE of the rw pool on pg\d did not finish/);
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
