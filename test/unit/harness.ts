/**
 * Unit-test harness: Pulumi mocks that record every registered resource with its parent, its
 * dependencies as the SDK sends them to the engine, and which inputs are secret.
 */
import * as pulumi from "@pulumi/pulumi";
import { trackProgram } from "../../runner/settle";

export interface Registered {
  type: string;
  name: string;
  urn: string;
  parent: string;
  dependencies: string[];
  inputs: Record<string, unknown>;
  secretInputs: string[];
  ignoreChanges: string[];
  deleteBeforeReplace: boolean;
  /** The resources each input's value comes from. */
  propertyDependencies: Record<string, string[]>;
}

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Values the mocked random provider returns; tests look for them where they must not be. */
export const mockPassword = (name: string) => `pw-${name.replace(/[^a-z0-9]/gi, "")}-Zq7`;

function mockState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case "random:index/randomPassword:RandomPassword":
      return { ...inputs, result: mockPassword(name) };
    case "random:index/randomBytes:RandomBytes":
      return { ...inputs, base64: Buffer.alloc(32, 7).toString("base64"), hex: "07".repeat(32) };
    case "docker:index/image:Image":
      return { ...inputs, repoDigest: "" };
    case "command:remote:Command":
      return { ...inputs, stdout: "", stderr: "" };
    default:
      return inputs;
  }
}

interface MonitorLike {
  registerResource(req: RegisterRequest, cb: (err: unknown, resp: unknown) => void): unknown;
}
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getIgnorechangesList(): string[];
  getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
  getDeletebeforereplace(): boolean;
  getPropertydependenciesMap(): { forEach(cb: (v: { getUrnsList(): string[] }, k: string) => void): void };
}

/** Install mocks; returns the list that fills as resources register. */
export async function installMocks(): Promise<Registered[]> {
  const registered: Registered[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => ({ id: `${args.name}-id`, state: mockState(args.type, args.name, args.inputs) }),
      call: (args) => {
        throw new Error(`unexpected invoke ${args.token}`);
      },
    },
    "patroni-stack",
    "unit",
    false,
  );
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const settings = require("@pulumi/pulumi/runtime/settings") as { getMonitor(): MonitorLike };
  const monitor = settings.getMonitor();
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    const object = req.getObject()?.toJavaScript() ?? {};
    const secretInputs = Object.entries(object)
      .filter(([, v]) => typeof v === "object" && v !== null && Object.values(v).includes(SECRET_SIG))
      .map(([k]) => k);
    const propertyDependencies: Record<string, string[]> = {};
    req.getPropertydependenciesMap().forEach((v, k) => (propertyDependencies[k] = v.getUrnsList()));
    return original(req, (err, resp) => {
      if (!err) {
        const urn = (resp as { getUrn(): string }).getUrn();
        registered.push({
          type: req.getType(),
          name: req.getName(),
          urn,
          parent: req.getParent(),
          dependencies: req.getDependenciesList(),
          inputs: object,
          ignoreChanges: req.getIgnorechangesList(),
          deleteBeforeReplace: req.getDeletebeforereplace(),
          propertyDependencies,
          secretInputs,
        });
      }
      cb(err, resp);
    });
  };
  return registered;
}

/**
 * Run a program (constructing resources, or importing index.ts) and wait until it has registered
 * everything: the direct runner's own signal (the SDK's outstanding registrations, and the handles
 * the program keeps open), so a slow `apply` cannot end the wait early.
 */
export async function runProgram<T>(registered: Registered[], program: () => T): Promise<Awaited<T>> {
  const tracker = trackProgram();
  try {
    const result = await tracker.run(program);
    await tracker.settled(() => registered.length);
    return result;
  } finally {
    tracker.dispose();
  }
}
