/**
 * Drift: the declared dynamic configuration against the live one, what each difference does
 * (from pg_settings.context), refusals of values PostgreSQL would not take, and the dynamic
 * provider's rule for when the engine plans a change.
 */
import { renderDynamicConfig } from "../../configs/dcs";
import {
  comparableDeclared,
  comparableLive,
  dcsDifferences,
  dcsPatch,
  stablePatchText,
  describeDifferences,
  parameterProblems,
  PgSetting,
} from "../../configs/dcsDiff";
import { DYNAMIC_CONFIG_PROVIDER } from "../../components/DynamicConfigState";
import { resolveSettings } from "../../settings";
import { planCluster } from "../../plan";
import { threeNodeSettings, withKey } from "../fixtures/settings";

const setting = (name: string, context: string, more: Partial<PgSetting> = {}): PgSetting => ({
  name,
  context,
  vartype: "string",
  unit: null,
  min_val: null,
  max_val: null,
  enumvals: null,
  ...more,
});

const SETTINGS: PgSetting[] = [
  setting("shared_buffers", "postmaster", { vartype: "integer", unit: "8kB", min_val: "16", max_val: "1073741823" }),
  setting("work_mem", "user", { vartype: "integer", unit: "kB", min_val: "64", max_val: "2147483647" }),
  setting("log_min_duration_statement", "superuser", {
    vartype: "integer",
    unit: "ms",
    min_val: "-1",
    max_val: "2147483647",
  }),
  setting("pg_stat_statements.max", "postmaster", { vartype: "integer", min_val: "100", max_val: "1073741823" }),
  setting("wal_level", "postmaster", { vartype: "enum", enumvals: ["minimal", "replica", "logical"] }),
  setting("hot_standby", "postmaster", { vartype: "bool" }),
  setting("checkpoint_timeout", "sighup", { vartype: "integer", unit: "s", min_val: "30", max_val: "86400" }),
  setting("block_size", "internal", { vartype: "integer" }),
];

const dcs = planCluster(resolveSettings(threeNodeSettings(), withKey)).patroni.dcs;
const declaredConfig = renderDynamicConfig({ ...dcs, parameters: { ...dcs.parameters, work_mem: "8MB" } });
const declared = comparableDeclared(declaredConfig);
/** The live config as Patroni's GET /config returns it, with some keys changed. */
const live = (parameters: Record<string, unknown>, top: Record<string, unknown> = {}) =>
  comparableLive(
    {
      ...JSON.parse(JSON.stringify(declaredConfig)),
      ...top,
      postgresql: {
        ...declaredConfig.postgresql,
        parameters: { ...declaredConfig.postgresql.parameters, ...parameters },
      },
    },
    declared,
  );

describe("differences between the live and the declared configuration", () => {
  it("finds none when the cluster holds what is declared, whatever the spelling", () => {
    const spelled = live({ work_mem: "8mb", MAX_WAL_SENDERS: undefined });
    expect(dcsDifferences(live({}), declared)).toEqual([]);
    expect(dcsDifferences(live({}, { synchronous_mode: "false" }), declared)).toEqual([]);
    expect(spelled.parameters.work_mem).toBe("8mb");
    expect(dcsDifferences(spelled, declared)).toEqual([]);
  });

  it("reports a value changed behind the stack's back with both values", () => {
    const diffs = dcsDifferences(live({ log_min_duration_statement: 9999 }, { ttl: 45 }), declared);
    expect(diffs).toEqual([
      { path: "ttl", live: "45", declared: String(dcs.ttl) },
      { path: "postgresql.parameters.log_min_duration_statement", live: "9999", declared: undefined },
    ]);
  });

  it("reports a declared parameter missing from the cluster", () => {
    const l = live({});
    delete l.parameters.work_mem;
    expect(dcsDifferences(l, declared)).toEqual([
      { path: "postgresql.parameters.work_mem", live: undefined, declared: "8mb" },
    ]);
  });
});

describe("what a difference does, from pg_settings.context", () => {
  const line = (path: string, l?: string, d?: string) =>
    describeDifferences([{ path: `postgresql.parameters.${path}`, live: l, declared: d }], SETTINGS)[0];

  it("asks for a restart for a postmaster parameter, also one of a loaded library", () => {
    expect(line("shared_buffers", "128mb", "256mb")).toBe(
      "postgresql.parameters.shared_buffers: live 128mb, declared 256mb: restart (context postmaster)",
    );
    expect(line("pg_stat_statements.max", "5000", "10000")).toMatch(/restart \(context postmaster\)$/);
  });

  it("reloads the others", () => {
    expect(line("checkpoint_timeout", "5min", "10min")).toMatch(/: reload \(context sighup\)$/);
    expect(line("work_mem", "4mb", "8mb")).toMatch(/: reload \(context user\)$/);
  });

  it("says so when PostgreSQL does not know the parameter yet (library not loaded)", () => {
    expect(line("auto_explain.log_min_duration", undefined, "1s")).toMatch(
      /live not set, declared 1s: restart or reload, as its library says once it is loaded$/,
    );
  });

  it("names a reset and a Patroni setting", () => {
    expect(line("log_min_duration_statement", "9999")).toMatch(/declared not set \(reset to the default\): reload/);
    expect(describeDifferences([{ path: "ttl", live: "45", declared: "20" }], SETTINGS)[0]).toBe(
      "ttl: live 45, declared 20: Patroni setting, applied at its next loop",
    );
  });
});

describe("values PostgreSQL would refuse, found before anything is applied", () => {
  it("accepts valid values in any unit PostgreSQL takes", () => {
    expect(
      parameterProblems(
        {
          shared_buffers: "256MB",
          work_mem: 4096,
          log_min_duration_statement: "-1",
          checkpoint_timeout: "10min",
          wal_level: "Replica",
          hot_standby: true,
          "auto_explain.log_min_duration": "1s",
        },
        SETTINGS,
      ),
    ).toEqual([]);
  });

  it("names each refused parameter and why", () => {
    expect(
      parameterProblems(
        {
          shared_bufers: "256MB",
          work_mem: "12XB",
          checkpoint_timeout: "10s",
          wal_level: "archive",
          hot_standby: "maybe",
          block_size: 4096,
          shared_buffers: "lots",
        },
        SETTINGS,
      ),
    ).toEqual([
      "shared_bufers: PostgreSQL has no parameter of that name",
      "work_mem: '12XB' unit 'XB' is not one of b, kb, mb, gb, tb",
      "checkpoint_timeout: '10s' is outside 30..86400 (in s)",
      "wal_level: 'archive' is not one of minimal, replica, logical",
      "hot_standby: 'maybe' is not a boolean (on or off)",
      "block_size: read-only (context internal), it cannot be set",
      "shared_buffers: 'lots' not a number",
    ]);
  });
});

describe("the patch an up sends", () => {
  const paths = (patch: Record<string, unknown>) => {
    const { postgresql, ...top } = patch as { postgresql?: Record<string, unknown> };
    const { parameters, ...pg } = (postgresql ?? {}) as { parameters?: Record<string, unknown> };
    return [
      ...Object.keys(top),
      ...Object.keys(pg).map((k) => `postgresql.${k}`),
      ...Object.keys(parameters ?? {}).map((k) => `postgresql.parameters.${k.toLowerCase()}`),
    ].sort();
  };
  const raw = (parameters: Record<string, unknown>, top: Record<string, unknown> = {}) => ({
    ...JSON.parse(JSON.stringify(declaredConfig)),
    ...top,
    postgresql: {
      ...declaredConfig.postgresql,
      parameters: { ...declaredConfig.postgresql.parameters, ...parameters },
    },
  });

  it("holds exactly the keys the preview shows as different, with the declared values or a reset", () => {
    const cluster = raw({ Log_Min_Duration_Statement: 9999, work_mem: "4MB" }, { ttl: 45 });
    const patch = dcsPatch(cluster, declaredConfig);
    expect(patch).toEqual({
      ttl: dcs.ttl,
      postgresql: { parameters: { Log_Min_Duration_Statement: null, work_mem: "8MB" } },
    });
    const shown = dcsDifferences(comparableLive(cluster, declared), declared).map((d) => d.path);
    expect(paths(patch)).toEqual([...shown].sort());
  });

  it("is empty when the cluster holds what is declared, whatever the spelling", () => {
    expect(dcsPatch(raw({ WORK_MEM: "8mb", work_mem: undefined }), declaredConfig)).toEqual({});
  });

  it("is the whole declared configuration when the cluster could not be read", () => {
    expect(dcsPatch(null, declaredConfig)).toEqual(JSON.parse(JSON.stringify(declaredConfig)));
  });

  it("has one text per patch, whatever the key order", () => {
    expect(stablePatchText({ b: 1, a: { d: 2, c: null } })).toBe(stablePatchText({ a: { c: null, d: 2 }, b: 1 }));
  });
});

describe("the dynamic provider's plan", () => {
  // The provider object is what Pulumi serializes; its diff decides whether an up changes anything.
  const provider = DYNAMIC_CONFIG_PROVIDER as Required<typeof DYNAMIC_CONFIG_PROVIDER>;
  const d = { settings: { ttl: "20" }, parameters: { work_mem: "8mb" } };
  const diff = async (olds: object, news: object) => (await provider.diff("id", olds, news)).changes;

  it("plans nothing when the cluster holds what is declared, or could not be read", async () => {
    expect(await diff({ declared: d, live: d }, { declared: d, live: d })).toBe(false);
    expect(await diff({ declared: d, live: d }, { declared: d, live: null })).toBe(false);
  });

  it("plans a change for drift and for a declared change", async () => {
    const drifted = { ...d, parameters: { work_mem: "64mb" } };
    expect(await diff({ declared: d, live: d }, { declared: d, live: drifted })).toBe(true);
    expect(await diff({ declared: d, live: d }, { declared: drifted, live: null })).toBe(true);
  });

  it("sends no patch to a cluster it creates, one to a running cluster it adopts", async () => {
    const plan = '{"changes":["ttl: live 45, declared 20"],"patch":{"ttl":20}}';
    const created = await provider.create({ declared: d, live: null, changes: [], plan });
    expect(JSON.parse(String(created.outs?.plan))).toEqual({ changes: [], patch: {} });
    const adopted = await provider.create({ declared: d, live: d, changes: [], plan });
    expect(adopted.outs?.plan).toBe(plan);
  });

  it("records the cluster as repaired after an up, with a new appliedAt", async () => {
    const r = await provider.update("id", { declared: d, live: d }, { declared: d, live: { ...d, settings: {} } });
    expect(r.outs).toEqual(expect.objectContaining({ live: d, changes: [] }));
    expect(typeof r.outs?.appliedAt).toBe("string");
  });
});
