/**
 * The declared dynamic configuration against the one the running cluster holds: what differs,
 * what each difference will do (taken from the server's `pg_settings`, not from a fixed list) and
 * which declared parameters PostgreSQL would refuse. Pure functions: the reading is done elsewhere.
 */
import { DynamicConfig, ParameterValue } from "./dcs";

/** One row of `pg_settings`, as the server reports it. */
export interface PgSetting {
  name: string;
  context: string;
  vartype: string;
  unit: string | null;
  min_val: string | null;
  max_val: string | null;
  enumvals: string[] | null;
}

/**
 * The part of a dynamic configuration the stack manages, in one comparable spelling: every value
 * as PostgreSQL would print it (`true` and `on` are the same), parameter names in lower case.
 */
export interface ComparableConfig {
  settings: Record<string, string>;
  parameters: Record<string, string>;
}

export interface DcsDifference {
  /** `ttl`, `postgresql.use_pg_rewind` or `postgresql.parameters.<name>`. */
  path: string;
  /** Undefined: not set. */
  live?: string;
  declared?: string;
}

/** PostgreSQL's spelling of a value, as the apply step compares them. */
export function normalizeValue(v: unknown): string {
  if (typeof v === "boolean") return v ? "on" : "off";
  const s = String(v).trim().toLowerCase();
  return s === "true" ? "on" : s === "false" ? "off" : s;
}

const sorted = (r: Record<string, string>) =>
  Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)));

/** The settings path of Patroni's `postgresql.recovery_conf` entries (compared verbatim: commands). */
const RECOVERY = "postgresql.recovery_conf.";

/** The declared configuration in its comparable form. */
export function comparableDeclared(declared: DynamicConfig): ComparableConfig {
  const { postgresql, ...top } = declared;
  const settings: Record<string, string> = {};
  for (const [k, v] of Object.entries(top)) settings[k] = normalizeValue(v);
  settings["postgresql.use_pg_rewind"] = normalizeValue(postgresql.use_pg_rewind);
  settings["postgresql.use_slots"] = normalizeValue(postgresql.use_slots);
  for (const [k, v] of Object.entries(postgresql.recovery_conf ?? {})) settings[`${RECOVERY}${k}`] = v;
  const parameters: Record<string, string> = {};
  for (const [k, v] of Object.entries(postgresql.parameters)) parameters[k.toLowerCase()] = normalizeValue(v);
  return { settings: sorted(settings), parameters: sorted(parameters) };
}

/**
 * The live configuration (Patroni's `GET /config`) in the same form: the settings the stack
 * declares, and every PostgreSQL parameter it holds (one the stack does not declare is drift too).
 */
export function comparableLive(live: Record<string, unknown>, declared: ComparableConfig): ComparableConfig {
  const pg = (live.postgresql ?? {}) as Record<string, unknown>;
  const settings: Record<string, string> = {};
  for (const key of Object.keys(declared.settings)) {
    if (key.startsWith(RECOVERY)) continue;
    const value = key.startsWith("postgresql.") ? pg[key.slice("postgresql.".length)] : live[key];
    if (value !== undefined && value !== null) settings[key] = normalizeValue(value);
  }
  // Every recovery setting the cluster holds: one the stack does not declare is drift too.
  for (const [k, v] of Object.entries((pg.recovery_conf ?? {}) as Record<string, unknown>)) {
    if (v !== undefined && v !== null) settings[`${RECOVERY}${k}`] = String(v);
  }
  const parameters: Record<string, string> = {};
  for (const [k, v] of Object.entries((pg.parameters ?? {}) as Record<string, unknown>)) {
    if (v !== undefined && v !== null) parameters[k.toLowerCase()] = normalizeValue(v);
  }
  return { settings: sorted(settings), parameters: sorted(parameters) };
}

/** Every key whose live value is not the declared one. */
export function dcsDifferences(live: ComparableConfig, declared: ComparableConfig): DcsDifference[] {
  const out: DcsDifference[] = [];
  for (const [group, prefix] of [
    ["settings", ""],
    ["parameters", "postgresql.parameters."],
  ] as const) {
    const l = live[group];
    const d = declared[group];
    for (const key of [...new Set([...Object.keys(d), ...Object.keys(l)])].sort()) {
      if (l[key] !== d[key]) out.push({ path: `${prefix}${key}`, live: l[key], declared: d[key] });
    }
  }
  return out;
}

/** What applying a parameter change does, from its `pg_settings.context`. */
export function effectOf(setting: PgSetting | undefined): string {
  if (!setting) return "restart or reload, as its library says once it is loaded";
  switch (setting.context) {
    case "postmaster":
      return "restart (context postmaster)";
    case "sighup":
      return "reload (context sighup)";
    case "backend":
    case "superuser-backend":
      return `reload; new sessions only (context ${setting.context})`;
    default:
      return `reload (context ${setting.context})`;
  }
}

/** One line per difference: live and declared value, and what applying it does. */
export function describeDifferences(differences: DcsDifference[], settings: PgSetting[]): string[] {
  const byName = new Map(settings.map((s) => [s.name.toLowerCase(), s]));
  return differences.map((d) => {
    const param = d.path.startsWith("postgresql.parameters.")
      ? d.path.slice("postgresql.parameters.".length)
      : undefined;
    const effect = param === undefined ? "Patroni setting, applied at its next loop" : effectOf(byName.get(param));
    const declared = d.declared === undefined ? "not set (reset to the default)" : d.declared;
    return `${d.path}: live ${d.live ?? "not set"}, declared ${declared}: ${effect}`;
  });
}

const MEMORY_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };
const TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };
const BOOLEANS = new Set(["on", "off", "true", "false", "yes", "no", "1", "0"]);

/** A number in the setting's own unit (`8kB`, `ms`, ...), or an error text. */
function inBaseUnit(value: string, setting: PgSetting): number | string {
  const m = /^(-?[0-9]+(?:\.[0-9]+)?)\s*([a-z]*)$/i.exec(value.trim());
  if (!m) return "not a number";
  const n = Number(m[1]);
  const unit = m[2].toLowerCase();
  if (!unit) return n;
  const base = /^([0-9]*)(.*)$/.exec((setting.unit ?? "").toLowerCase()) as RegExpExecArray;
  const baseFactor = Number(base[1] || 1);
  const baseUnit = base[2];
  const table = baseUnit in MEMORY_UNITS ? MEMORY_UNITS : baseUnit in TIME_UNITS ? TIME_UNITS : undefined;
  if (!table) return `takes no unit (got '${m[2]}')`;
  if (!(unit in table)) return `unit '${m[2]}' is not one of ${Object.keys(table).join(", ")}`;
  return (n * table[unit]) / (table[baseUnit] * baseFactor);
}

/**
 * Declared parameters PostgreSQL would refuse: unknown names (except `library.name` ones of a
 * library that is not loaded yet), values outside a setting's range or enum, and read-only ones.
 */
export function parameterProblems(parameters: Record<string, ParameterValue>, settings: PgSetting[]): string[] {
  const byName = new Map(settings.map((s) => [s.name.toLowerCase(), s]));
  const problems: string[] = [];
  for (const [name, raw] of Object.entries(parameters)) {
    const s = byName.get(name.toLowerCase());
    const value = normalizeValue(raw);
    if (!s) {
      if (!name.includes(".")) problems.push(`${name}: PostgreSQL has no parameter of that name`);
      continue;
    }
    if (s.context === "internal") {
      problems.push(`${name}: read-only (context internal), it cannot be set`);
      continue;
    }
    if (s.vartype === "bool" && !BOOLEANS.has(value)) problems.push(`${name}: '${raw}' is not a boolean (on or off)`);
    if (s.vartype === "enum" && s.enumvals && !s.enumvals.map((e) => e.toLowerCase()).includes(value)) {
      problems.push(`${name}: '${raw}' is not one of ${s.enumvals.join(", ")}`);
    }
    if (s.vartype === "integer" || s.vartype === "real") {
      const n = inBaseUnit(String(raw), s);
      if (typeof n === "string") {
        problems.push(`${name}: '${raw}' ${n}`);
      } else if ((s.min_val !== null && n < Number(s.min_val)) || (s.max_val !== null && n > Number(s.max_val))) {
        problems.push(`${name}: '${raw}' is outside ${s.min_val}..${s.max_val}${s.unit ? ` (in ${s.unit})` : ""}`);
      }
    }
  }
  return problems;
}

/**
 * The one PATCH /config that brings the cluster to the declared configuration, built from the
 * same differences the preview shows (`dcsDifferences`): a changed key takes its declared value,
 * a parameter the cluster holds and the stack does not declare is reset (null, named as the
 * cluster spells it). With no live configuration (the cluster could not be read) it is the whole
 * declared configuration, which Patroni applies as a no-op where nothing differs.
 */
export function dcsPatch(live: Record<string, unknown> | null, declared: DynamicConfig): Record<string, unknown> {
  const { postgresql, ...top } = declared;
  if (!live) return JSON.parse(JSON.stringify(declared)) as Record<string, unknown>;
  const differences = dcsDifferences(comparableLive(live, comparableDeclared(declared)), comparableDeclared(declared));
  const liveParameters = (((live.postgresql ?? {}) as Record<string, unknown>).parameters ?? {}) as Record<
    string,
    unknown
  >;
  const spelled = (lower: string, names: string[]) => names.find((n) => n.toLowerCase() === lower) ?? lower;
  const patch: Record<string, unknown> = {};
  const pg: Record<string, unknown> = {};
  const parameters: Record<string, ParameterValue | null> = {};
  const recovery: Record<string, string | null> = {};
  for (const d of differences) {
    if (d.path.startsWith(RECOVERY)) {
      recovery[d.path.slice(RECOVERY.length)] = d.declared ?? null;
      continue;
    }
    if (d.path.startsWith("postgresql.parameters.")) {
      const lower = d.path.slice("postgresql.parameters.".length);
      const name = spelled(lower, Object.keys(postgresql.parameters));
      if (d.declared === undefined) parameters[spelled(lower, Object.keys(liveParameters))] = null;
      else parameters[name] = postgresql.parameters[name];
    } else if (d.path.startsWith("postgresql.")) {
      const key = d.path.slice("postgresql.".length) as "use_pg_rewind" | "use_slots";
      pg[key] = postgresql[key];
    } else {
      patch[d.path] = top[d.path as keyof typeof top];
    }
  }
  if (Object.keys(parameters).length > 0) pg.parameters = parameters;
  if (Object.keys(recovery).length > 0) pg.recovery_conf = recovery;
  if (Object.keys(pg).length > 0) patch.postgresql = pg;
  return patch;
}

/** A patch as stable text (sorted keys): equal patches are equal strings. */
export function stablePatchText(patch: Record<string, unknown>): string {
  const sort = (v: unknown): unknown =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v as object)
            .sort()
            .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
        )
      : v;
  return JSON.stringify(sort(patch));
}
