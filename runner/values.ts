/**
 * Input values as the runner sees them on the wire: secrets are wrapped in a signature object.
 * `deserialize` unwraps them for execution; `describeChange` shows a preview's differences.
 */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Undo the wire encoding of inputs (secrets) before a handler uses them. */
export function deserialize(value: unknown): Record<string, unknown> {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
      const o = v as Record<string, unknown>;
      if (Object.values(o).includes(SECRET_SIG) && "value" in o) return walk(o.value);
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return walk(value) as Record<string, unknown>;
}

/** A structured value as `path: value` lines (objects) or one line per element (arrays). */
function flatten(v: unknown, prefix = ""): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => flatten(x, prefix ? `${prefix}[${i}]` : ""));
  if (v && typeof v === "object") {
    return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => flatten(x, prefix ? `${prefix}.${k}` : k));
  }
  return [prefix ? `${prefix}: ${JSON.stringify(v)}` : String(v)];
}

/**
 * Lines of text inputs (uploaded scripts) and of structured inputs that a change removes and adds;
 * secrets only by name.
 */
export function describeChange(before: Record<string, unknown>, after: Record<string, unknown>): string {
  const out: string[] = [];
  const text = (v: unknown): string | undefined => {
    if (typeof v === "string") return v;
    if (v && typeof v === "object" && typeof (v as { text?: unknown }).text === "string")
      return (v as { text: string }).text;
    if (v === null || v === undefined || typeof v === "object") return flatten(v ?? []).join("\n");
    return undefined;
  };
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = before[key];
    const b = after[key];
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    const isSecret = (v: unknown) => JSON.stringify(v ?? null).includes(SECRET_SIG);
    if (isSecret(a) || isSecret(b)) {
      out.push(`    ${key}: [secret] changed`);
      continue;
    }
    const [ta, tb] = [text(a), text(b)];
    if (ta === undefined || tb === undefined) {
      out.push(`    ${key} changed`);
      continue;
    }
    const [la, lb] = [ta.split("\n"), tb.split("\n")];
    const removed = la.filter((l) => !lb.includes(l));
    const added = lb.filter((l) => !la.includes(l));
    if (removed.length + added.length === 0) continue;
    out.push(`    ${key}:`, ...removed.map((l) => `      - ${l}`), ...added.map((l) => `      + ${l}`));
  }
  return out.length ? `${out.join("\n")}\n` : "";
}
