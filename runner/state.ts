/**
 * The direct runner's state: one JSON file per stack (mode 0600: it holds generated secrets),
 * written after every completed resource so that an interrupted run resumes where it stopped.
 */
import * as fs from "fs";
import * as path from "path";

export interface ResourceState {
  urn: string;
  type: string;
  name: string;
  parent: string;
  dependencies: string[];
  /** The resources each input's value came from (which inputs a replacement reaches). */
  propertyDependencies?: Record<string, string[]>;
  /** Top-level inputs whose change replaces it (`replaceOnChanges`). */
  replaceOnChanges?: string[];
  custom: boolean;
  /** Digest of the inputs that were applied; equal digests mean "no change". */
  digest: string;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
}

export interface StackState {
  stack: string;
  resources: ResourceState[];
}

export class StateFile {
  private readonly byUrn = new Map<string, ResourceState>();

  constructor(
    readonly file: string,
    readonly stack: string,
  ) {
    if (fs.existsSync(file)) {
      const data = JSON.parse(fs.readFileSync(file, "utf8")) as StackState;
      for (const r of data.resources) this.byUrn.set(r.urn, r);
    }
  }

  get(urn: string): ResourceState | undefined {
    return this.byUrn.get(urn);
  }

  all(): ResourceState[] {
    return [...this.byUrn.values()];
  }

  put(r: ResourceState): void {
    this.byUrn.set(r.urn, r);
    this.save();
  }

  remove(urn: string): void {
    this.byUrn.delete(urn);
    this.save();
  }

  private save(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    const data: StackState = { stack: this.stack, resources: this.all() };
    fs.writeFileSync(tmp, JSON.stringify(data, null, 1), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }
}
