/**
 * A load client that measures what a fault costs an application: it writes unique ids at a steady
 * rate through HAProxy's read-write port and reads through the read-only port, reconnecting after
 * every error, and keeps a timeline of every request. Afterwards `verify` compares what the server
 * holds with what was acknowledged: lost writes (acknowledged, absent) and ghost writes (reported
 * failed, present).
 *
 * Bounded: it stops by itself after `maxSeconds` or `maxRequests` per loop, whichever comes first.
 */
import { Client } from "pg";

export interface Endpoint {
  host: string;
  port: number;
  user: string;
  database: string;
  password?: string;
  /** The stack's CA (TLS stacks): the server is verified against it. */
  ca?: string;
  /**
   * Without a CA: TLS when the server offers it, else plain text, unverified (libpq's default
   * `sslmode=prefer`), as an application sees a cluster that switches to TLS under it.
   */
  preferTls?: boolean;
}

/** node-postgres' settings for an endpoint: verified TLS when the stack has a CA. */
export function pgSettings(e: Endpoint, plain = false) {
  const { ca, preferTls, ...rest } = e;
  if (ca) return { ...rest, ssl: { ca } };
  return { ...rest, ...(preferTls && !plain ? { ssl: { rejectUnauthorized: false } } : {}) };
}

export type Kind = "write" | "read";

export interface Sample {
  /** Milliseconds since the client started, when the request was sent. */
  t: number;
  kind: Kind;
  ok: boolean;
  latencyMs: number;
  /** The id a write tried to insert. */
  id?: number;
  error?: string;
}

export interface LoadOptions {
  rw: Endpoint;
  ro?: Endpoint;
  /** Pause between two requests of one loop. */
  intervalMs: number;
  maxSeconds: number;
  maxRequests: number;
  /** A request (or a connection attempt) that takes longer counts as failed. */
  requestTimeoutMs: number;
  /** Tags this run's rows, so that runs never mix. */
  run: string;
}

export interface KindSummary {
  ok: number;
  failed: number;
  /** Longest time between two successful requests (ms), counting from the first one. */
  longestGapMs: number;
  /** When that gap started (ms since the client started). */
  longestGapAt: number;
}

export interface Verdict {
  writes: KindSummary & { lost: number; ghost: number };
  reads: KindSummary;
}

export const PROBE_TABLE = "chaos_probe";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function client(e: Endpoint, timeoutMs: number, plain = false): Client {
  const c = new Client({
    ...pgSettings(e, plain),
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    application_name: "patroni-stack-load",
  });
  c.on("error", () => undefined);
  return c;
}

/** A connected client; with `preferTls`, plain text when the server does not offer TLS. */
async function connect(e: Endpoint, timeoutMs: number): Promise<Client> {
  const c = client(e, timeoutMs);
  try {
    await c.connect();
    return c;
  } catch (err) {
    void c.end().catch(() => undefined);
    if (!e.preferTls || e.ca || !/does not support SSL/i.test((err as Error).message)) throw err;
  }
  const plain = client(e, timeoutMs, true);
  try {
    await plain.connect();
  } catch (err) {
    void plain.end().catch(() => undefined);
    throw err;
  }
  return plain;
}

/** One query on a fresh connection, retried until it succeeds or `deadline` passes. */
export async function queryOnce<T extends Record<string, unknown>>(
  e: Endpoint,
  sql: string,
  params: unknown[] = [],
  deadlineMs = 60_000,
): Promise<T[]> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    let c: Client | undefined;
    try {
      c = await connect(e, 5000);
      const r = await c.query<T>(sql, params);
      return r.rows;
    } catch (err) {
      if (Date.now() > until) throw err;
      await sleep(500);
    } finally {
      void c?.end().catch(() => undefined);
    }
  }
}

/** The probe table, created through the read-write port. */
export async function prepare(e: Endpoint): Promise<void> {
  await queryOnce(
    e,
    `CREATE TABLE IF NOT EXISTS ${PROBE_TABLE} (run text NOT NULL, id bigint NOT NULL, at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run, id))`,
  );
}

export class LoadClient {
  readonly samples: Sample[] = [];
  private readonly started = Date.now();
  private stopped = false;
  private loops: Promise<void>[] = [];

  constructor(private readonly o: LoadOptions) {}

  /** Milliseconds since the client started (for marking a fault on the same clock). */
  now(): number {
    return Date.now() - this.started;
  }

  start(): void {
    this.loops = [this.loop("write", this.o.rw)];
    if (this.o.ro) this.loops.push(this.loop("read", this.o.ro));
  }

  async stop(): Promise<Sample[]> {
    this.stopped = true;
    await Promise.all(this.loops);
    return this.samples.sort((a, b) => a.t - b.t);
  }

  private async loop(kind: Kind, e: Endpoint): Promise<void> {
    const deadline = this.started + this.o.maxSeconds * 1000;
    let client: Client | undefined;
    let seq = 0;
    const drop = () => {
      const c = client;
      client = undefined;
      if (c) void c.end().catch(() => undefined);
    };
    for (let n = 0; n < this.o.maxRequests && !this.stopped && Date.now() < deadline; n++) {
      const sent = Date.now();
      const sample: Sample = { t: sent - this.started, kind, ok: false, latencyMs: 0 };
      try {
        if (!client) client = await connect(e, this.o.requestTimeoutMs);
        if (kind === "write") {
          sample.id = ++seq;
          await client.query(`INSERT INTO ${PROBE_TABLE} (run, id) VALUES ($1, $2)`, [this.o.run, sample.id]);
        } else {
          await client.query("SELECT pg_is_in_recovery()");
        }
        sample.ok = true;
      } catch (err) {
        sample.error = (err as Error).message.slice(0, 120);
        drop();
      }
      sample.latencyMs = Date.now() - sent;
      this.samples.push(sample);
      await sleep(this.o.intervalMs - (Date.now() - sent));
    }
    drop();
  }

  /** Count lost and ghost writes against what the current primary holds (call after recovery). */
  async verify(): Promise<Verdict> {
    const rows = await queryOnce<{ id: string }>(this.o.rw, `SELECT id FROM ${PROBE_TABLE} WHERE run = $1`, [
      this.o.run,
    ]);
    const present = new Set(rows.map((r) => Number(r.id)));
    const writes = this.samples.filter((s) => s.kind === "write");
    return {
      writes: {
        ...summarize(writes),
        lost: writes.filter((s) => s.ok && !present.has(s.id as number)).length,
        ghost: writes.filter((s) => !s.ok && s.id !== undefined && present.has(s.id)).length,
      },
      reads: summarize(this.samples.filter((s) => s.kind === "read")),
    };
  }
}

/** The failed requests, as "write at 12.3 s after 45 ms: <error>" lines (the first `max`), for a report. */
export function failures(samples: Sample[], max = 5): string[] {
  return samples
    .filter((s) => !s.ok)
    .slice(0, max)
    .map((s) => `${s.kind} at ${(s.t / 1000).toFixed(1)} s after ${s.latencyMs} ms: ${s.error ?? "?"}`);
}

/** Successes, failures and the longest gap between two successes (by completion time). */
export function summarize(samples: Sample[]): KindSummary {
  const done = samples
    .filter((s) => s.ok)
    .map((s) => s.t + s.latencyMs)
    .sort((a, b) => a - b);
  let longestGapMs = 0;
  let longestGapAt = 0;
  for (let i = 1; i < done.length; i++) {
    if (done[i] - done[i - 1] > longestGapMs) {
      longestGapMs = done[i] - done[i - 1];
      longestGapAt = done[i - 1];
    }
  }
  return { ok: done.length, failed: samples.length - done.length, longestGapMs, longestGapAt };
}

/**
 * The probe table prepared and a client started that writes every 50 ms through `rw` (2 s
 * request timeout unless told), for at most `maxSeconds`; tagged `<label>-<now>`.
 */
export async function startWriting(
  rw: Endpoint,
  label: string,
  maxSeconds = 300,
  requestTimeoutMs = 2000,
): Promise<LoadClient> {
  await prepare(rw);
  const client = new LoadClient({
    rw,
    intervalMs: 50,
    maxSeconds,
    maxRequests: maxSeconds * 20,
    requestTimeoutMs,
    run: `${label}-${Date.now()}`,
  });
  client.start();
  return client;
}
