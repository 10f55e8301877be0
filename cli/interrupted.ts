/**
 * Recovery from a Pulumi CLI that was killed in the middle of an `up` or a `destroy`.
 *
 * The CLI records an operation as pending before it asks a provider to carry it out, and clears it
 * when the provider answers. A CLI killed in between leaves the pending operation in the state,
 * and the next run only warns about it and forgets it. For a pending create that is a leak: the
 * provider may well have created the object (a local host's container, its network), which the
 * next run then tries to create again under the same name, and fails. Every other kind of object
 * here is a remote step that is safe to run again, so forgetting it is right.
 *
 *   ts-node cli/interrupted.ts orphans <export.json     the Docker objects to remove, one
 *                                                       "container NAME" / "network NAME" a line
 *   ts-node cli/interrupted.ts cleared <export.json     the same export without its pending
 *                                                       operations, for `pulumi stack import`;
 *                                                       exits 3, printing nothing, when it has none
 */
import * as fs from "fs";

/** The parts of `pulumi stack export`'s output read here. */
export interface StackExport {
  version: number;
  deployment: {
    resources?: { urn: string; type: string; id?: string; inputs?: Record<string, unknown> }[];
    pending_operations?: PendingOperation[];
    [key: string]: unknown;
  };
}

export interface PendingOperation {
  type: string; // "creating", "updating", "deleting", "reading", "importing"
  resource: { urn: string; type: string; inputs?: Record<string, unknown> };
}

export interface Orphan {
  kind: "container" | "network";
  name: string;
}

/** The Docker object types a local stack creates by name, in the order they must be removed. */
const DOCKER_KINDS: Record<string, Orphan["kind"]> = {
  "docker:index/container:Container": "container",
  "docker:index/network:Network": "network",
};

/**
 * The Docker objects whose creation was interrupted: named by a pending create and held by no
 * resource the state records (a name the state holds is a live host and is never touched).
 * Containers come first: a network cannot be removed while a container is attached to it.
 */
export function orphans(exported: StackExport): Orphan[] {
  const held = new Set(
    (exported.deployment.resources ?? [])
      .filter((r) => DOCKER_KINDS[r.type] && typeof r.inputs?.name === "string")
      .map((r) => `${DOCKER_KINDS[r.type]} ${String(r.inputs?.name)}`),
  );
  const found: Orphan[] = [];
  for (const op of exported.deployment.pending_operations ?? []) {
    const kind = DOCKER_KINDS[op.resource.type];
    const name = op.resource.inputs?.name;
    if (op.type !== "creating" || !kind || typeof name !== "string" || name === "") continue;
    if (held.has(`${kind} ${name}`)) continue;
    if (!found.some((o) => o.kind === kind && o.name === name)) found.push({ kind, name });
  }
  const rank = (o: Orphan) => (o.kind === "container" ? 0 : 1);
  return found.sort((a, b) => rank(a) - rank(b));
}

/** The export with no pending operations: what the next run would do after its warning. */
export function cleared(exported: StackExport): StackExport {
  const deployment = { ...exported.deployment };
  delete deployment.pending_operations;
  return { ...exported, deployment };
}

if (require.main === module) {
  const what = process.argv[2];
  if (what !== "orphans" && what !== "cleared") {
    console.error("usage: cli/interrupted.ts orphans|cleared <export.json");
    process.exit(2);
  }
  const exported = JSON.parse(fs.readFileSync(0, "utf8")) as StackExport;
  if (what === "orphans") for (const o of orphans(exported)) console.log(`${o.kind} ${o.name}`);
  else if ((exported.deployment.pending_operations ?? []).length === 0) process.exit(3);
  else process.stdout.write(JSON.stringify(cleared(exported)));
}
