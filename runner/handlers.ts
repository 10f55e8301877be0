/**
 * How the direct runner creates and deletes each resource type the program uses, with the same
 * inputs and outputs as the Pulumi providers: remote commands and copies over `ssh`, random values
 * from the OS, Docker objects through the `docker` CLI.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import Module from "module";
import * as os from "os";
import * as path from "path";
import { run, runOk } from "./exec";
import { shq } from "../configs/scripts";

type Inputs = Record<string, unknown>;
type Outputs = Record<string, unknown>;

export interface Handler {
  create(name: string, inputs: Inputs, previous?: Outputs): Promise<Outputs>;
  /** An in-place change; without it a change runs `create` again with the new inputs. */
  update?(name: string, inputs: Inputs, previous: Outputs): Promise<Outputs>;
  /** Whether the object still exists (a changed digest re-creates it anyway). */
  exists?(name: string, inputs: Inputs, outputs: Outputs): Promise<boolean>;
  delete?(name: string, inputs: Inputs, outputs: Outputs): Promise<void>;
  /** The provider's own diff (dynamic providers): false keeps the resource as it is. */
  changed?(inputs: Inputs, previous: Outputs): Promise<boolean>;
  /** Something besides the inputs changed (an image's build context): update although they did not. */
  stale?(inputs: Inputs, previous: Outputs): Promise<boolean>;
}

interface Connection {
  host: string;
  port?: number;
  user?: string;
  privateKey?: string;
  password?: string;
  dialErrorLimit?: number;
}

async function withKeyFile<T>(conn: Connection, fn: (keyFile: string) => Promise<T>): Promise<T> {
  if (!conn.privateKey) throw new Error("the direct runner connects with SSH keys only (no password)");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "patroni-stack-ssh-"));
  const keyFile = path.join(dir, "key");
  fs.writeFileSync(keyFile, conn.privateKey.endsWith("\n") ? conn.privateKey : `${conn.privateKey}\n`, { mode: 0o600 });
  try {
    return await fn(keyFile);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Run a command on the host as the provider does (the login shell runs the text). */
async function ssh(name: string, conn: Connection, commandText: string, stdin?: string) {
  return withKeyFile(conn, async (keyFile) => {
    const args = [
      ...["-i", keyFile, "-p", String(conn.port ?? 22), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"],
      ...["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"],
      `${conn.user ?? "root"}@${conn.host}`,
      commandText,
    ];
    const attempts = Math.max(conn.dialErrorLimit ?? 10, 1);
    for (let i = 1; ; i++) {
      const r = await run("ssh", args, { input: stdin, prefix: `  ${name}: ` });
      // 255: ssh itself failed (host still booting, connection refused).
      if (r.code === 255 && i < attempts && !r.stdout) {
        await new Promise((res) => setTimeout(res, 2000));
        continue;
      }
      if (r.code !== 0) throw new Error(`${name}: remote command failed (exit ${r.code})\n${r.stderr.slice(-3000)}`);
      return r;
    }
  });
}

async function runCommand(name: string, inputs: Inputs, text: string | undefined): Promise<Outputs> {
  if (text === undefined) return { stdout: "", stderr: "" };
  const r = await ssh(name, inputs.connection as Connection, text, inputs.stdin as string | undefined);
  return { stdout: r.stdout.trimEnd(), stderr: r.stderr.trimEnd() };
}

const command: Handler = {
  create: (name, inputs) => runCommand(name, inputs, inputs.create as string | undefined),
  // As the provider does: an update runs `update` when it is set, else the new `create`.
  update: (name, inputs) => runCommand(name, inputs, (inputs.update ?? inputs.create) as string | undefined),
  async delete(name, inputs) {
    const del = inputs.delete as string | undefined;
    if (del !== undefined) await ssh(name, inputs.connection as Connection, del);
  },
};

const copyToRemote: Handler = {
  async create(name, inputs) {
    const source = inputs.source as { text?: Promise<string> | string };
    const text = await source.text;
    if (text === undefined) throw new Error(`${name}: only string assets are supported`);
    const remotePath = String(inputs.remotePath);
    const quoted = shq(remotePath);
    await ssh(name, inputs.connection as Connection, `mkdir -p "$(dirname ${quoted})" && cat > ${quoted}`, text);
    return {};
  },
};

const randomPassword: Handler = {
  async create(_name, inputs, previous) {
    if (previous?.result) return previous;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const length = Number(inputs.length ?? 16);
    // A uniform choice of each character (no modulo bias).
    return { result: Array.from({ length }, () => alphabet[crypto.randomInt(alphabet.length)]).join("") };
  },
};

const randomBytes: Handler = {
  async create(_name, inputs, previous) {
    if (previous?.base64) return previous;
    const bytes = crypto.randomBytes(Number(inputs.length));
    return { base64: bytes.toString("base64"), hex: bytes.toString("hex") };
  },
};

const docker = (args: string[], quiet = true) => runOk("docker", args, { quiet, prefix: "  docker: " });

const network: Handler = {
  async create(_name, inputs) {
    const name = String(inputs.name);
    const ipam = (inputs.ipamConfigs as { subnet: string }[] | undefined) ?? [];
    const existing = await run("docker", ["network", "inspect", name], { quiet: true });
    if (existing.code !== 0) {
      await docker([
        "network",
        "create",
        "--driver",
        String(inputs.driver ?? "bridge"),
        ...ipam.flatMap((c) => ["--subnet", c.subnet]),
        name,
      ]);
    }
    return { name };
  },
  async exists(_name, inputs) {
    return (await run("docker", ["network", "inspect", String(inputs.name)], { quiet: true })).code === 0;
  },
  async delete(_name, inputs) {
    await run("docker", ["network", "rm", String(inputs.name)], { quiet: true });
  },
};

interface ImageBuild {
  context: string;
  dockerfile?: string;
  args?: Record<string, string>;
  platform?: string;
  builderVersion?: string;
}

/**
 * A digest of an image's build context (every file's path, mode and content), as the docker
 * provider keeps one: a changed Dockerfile or file in the context rebuilds the image.
 */
export function contextDigest(context: string): string {
  const hash = crypto.createHash("sha256");
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      const rel = path.relative(context, full);
      if (entry.isDirectory()) {
        hash.update(`d ${rel}\0`);
        walk(full);
      } else if (entry.isSymbolicLink()) {
        hash.update(`l ${rel} ${fs.readlinkSync(full)}\0`);
      } else {
        hash.update(`f ${rel} ${(fs.statSync(full).mode & 0o777).toString(8)}\0`);
        hash.update(fs.readFileSync(full));
      }
    }
  };
  walk(context);
  return hash.digest("hex");
}

const image: Handler = {
  async stale(inputs, previous) {
    return previous.contextDigest !== contextDigest((inputs.build as ImageBuild).context);
  },
  async create(name, inputs) {
    const build = inputs.build as ImageBuild;
    if (build.platform && build.platform !== `linux/${process.arch === "x64" ? "amd64" : process.arch}`) {
      throw new Error(`${name}: the direct runner builds for this machine only, not ${build.platform}`);
    }
    const imageName = String(inputs.imageName);
    const args = ["build", "-t", imageName, "-f", build.dockerfile ?? path.join(build.context, "Dockerfile")];
    for (const [k, v] of Object.entries(build.args ?? {})) args.push("--build-arg", `${k}=${v}`);
    args.push(build.context);
    const digest = contextDigest(build.context);
    await runOk("docker", args, { prefix: `  ${name}: `, env: { ...process.env, DOCKER_BUILDKIT: "0" } });
    return { imageName, baseImageName: imageName, contextDigest: digest };
  },
  async exists(_name, inputs) {
    return (await run("docker", ["image", "inspect", String(inputs.imageName)], { quiet: true })).code === 0;
  },
};

interface ContainerInputs {
  name: string;
  hostname?: string;
  image: string;
  command?: string[];
  stopSignal?: string;
  capabilities?: { adds?: string[] };
  securityOpts?: string[];
  cgroupnsMode?: string;
  volumes?: { hostPath: string; containerPath: string; readOnly?: boolean }[];
  tmpfs?: Record<string, string>;
  networksAdvanced?: { name: string; ipv4Address?: string }[];
  ports?: { internal: number; external: number; ip?: string }[];
  uploads?: { file: string; content?: string; permissions?: string }[];
  healthcheck?: { tests?: string[]; interval?: string; timeout?: string; retries?: number };
  wait?: boolean;
  waitTimeout?: number;
}

/** Docker's health check flags for `docker create`, from the provider's `healthcheck` input. */
function healthFlags(h: ContainerInputs["healthcheck"]): string[] {
  if (!h?.tests?.length) return [];
  const [kind, ...rest] = h.tests;
  if (kind !== "CMD" && kind !== "CMD-SHELL") throw new Error(`healthcheck.tests must start with CMD or CMD-SHELL`);
  // CMD's arguments run without a shell: quote each for the shell docker runs CMD-SHELL through.
  const cmd = kind === "CMD-SHELL" ? rest.join(" ") : rest.map(shq).join(" ");
  const flags = ["--health-cmd", cmd];
  if (h.interval) flags.push("--health-interval", h.interval);
  if (h.timeout) flags.push("--health-timeout", h.timeout);
  if (h.retries !== undefined) flags.push("--health-retries", String(h.retries));
  return flags;
}

/** As the provider's `wait`: until the container reports healthy, or fail after the timeout. */
async function waitHealthy(name: string, container: string, timeoutSeconds: number): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const r = await run("docker", ["inspect", "-f", "{{.State.Health.Status}}", container], { quiet: true });
    const status = r.stdout.trim();
    if (status === "healthy") return;
    if (status === "unhealthy" || Date.now() > deadline) {
      throw new Error(`${name}: container ${container} did not become healthy within ${timeoutSeconds} s (${status})`);
    }
    await new Promise((res) => setTimeout(res, 100));
  }
}

const container: Handler = {
  async create(name, raw) {
    const c = raw as unknown as ContainerInputs;
    await run("docker", ["rm", "-f", c.name], { quiet: true });
    const args = ["create", "--name", c.name];
    if (c.hostname) args.push("--hostname", c.hostname);
    for (const cap of c.capabilities?.adds ?? []) args.push("--cap-add", cap);
    for (const opt of c.securityOpts ?? []) args.push("--security-opt", opt);
    if (c.cgroupnsMode) args.push(`--cgroupns=${c.cgroupnsMode}`);
    for (const v of c.volumes ?? []) args.push("-v", `${v.hostPath}:${v.containerPath}:${v.readOnly ? "ro" : "rw"}`);
    for (const [p, o] of Object.entries(c.tmpfs ?? {})) args.push("--tmpfs", o ? `${p}:${o}` : p);
    const [net, ...more] = c.networksAdvanced ?? [];
    if (net) args.push("--network", net.name, ...(net.ipv4Address ? ["--ip", net.ipv4Address] : []));
    if (more.length) throw new Error(`${name}: one network per container is supported`);
    for (const p of c.ports ?? []) args.push("-p", `${p.ip ? `${p.ip}:` : ""}${p.external}:${p.internal}`);
    if (c.stopSignal) args.push("--stop-signal", c.stopSignal);
    args.push(...healthFlags(c.healthcheck));
    if (c.wait && !c.healthcheck?.tests?.length) throw new Error(`${name}: wait needs a healthcheck`);
    args.push(c.image, ...(c.command ?? []));
    const id = (await docker(args)).stdout.trim();
    for (const u of c.uploads ?? []) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "patroni-stack-upload-"));
      const file = path.join(dir, "f");
      fs.writeFileSync(file, u.content ?? "", { mode: parseInt(u.permissions ?? "0644", 8) });
      try {
        await docker(["cp", file, `${c.name}:${u.file}`]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    await docker(["start", c.name]);
    if (c.wait) await waitHealthy(name, c.name, c.waitTimeout ?? 60);
    return { id, name: c.name };
  },
  async exists(_name, inputs) {
    const r = await run("docker", ["inspect", "-f", "{{.State.Running}}", String(inputs.name)], { quiet: true });
    return r.code === 0 && r.stdout.trim() === "true";
  },
  async delete(_name, inputs) {
    // As the provider does: the container gets destroyGraceSeconds to stop (systemd stops its
    // services in order), then it is removed.
    const grace = Number(inputs.destroyGraceSeconds ?? 0);
    if (grace > 0) await run("docker", ["stop", "-t", String(grace), String(inputs.name)], { quiet: true });
    await run("docker", ["rm", "-f", String(inputs.name)], { quiet: true });
  },
};

interface DynamicProvider {
  diff?(id: string, olds: Outputs, news: Inputs): Promise<{ changes?: boolean; replaces?: string[] }>;
  create(inputs: Inputs): Promise<{ id: string; outs?: Outputs }>;
  update?(id: string, olds: Outputs, news: Inputs): Promise<{ outs?: Outputs }>;
  delete?(id: string, props: Outputs): Promise<void>;
}

/**
 * A dynamic resource's provider, from the text Pulumi serialized into its `__provider` input,
 * loaded as Pulumi's dynamic provider host loads it (a module whose `handler()` returns it).
 */
function dynamicProvider(inputs: Inputs): DynamicProvider {
  const text = inputs.__provider;
  if (typeof text !== "string") throw new Error("a dynamic resource without its serialized provider");
  type Compilable = Module & { _compile(code: string, filename: string): void };
  const m = new Module("__provider") as Compilable;
  m.filename = path.join(process.cwd(), "__provider.js");
  m.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(process.cwd());
  m._compile(text, m.filename);
  return (m.exports as { handler(): DynamicProvider }).handler();
}

const withoutProvider = (o: Inputs): Inputs =>
  Object.fromEntries(Object.entries(o).filter(([k]) => k !== "__provider"));

/** Dynamic resources: the provider's own check of changes, create, update and delete. */
const dynamic: Handler = {
  async create(_name, inputs) {
    const r = await dynamicProvider(inputs).create(withoutProvider(inputs));
    return { ...inputs, ...(r.outs ?? {}), id: r.id };
  },
  async update(_name, inputs, previous) {
    const p = dynamicProvider(inputs);
    const id = String(previous.id);
    const r = p.update ? await p.update(id, previous, withoutProvider(inputs)) : {};
    return { ...inputs, ...(r.outs ?? {}), id };
  },
  async changed(inputs, previous) {
    const p = dynamicProvider(inputs);
    if (!p.diff) return true;
    return (await p.diff(String(previous.id), previous, withoutProvider(inputs))).changes !== false;
  },
  async delete(_name, inputs, outputs) {
    await dynamicProvider(inputs).delete?.(String(outputs.id), outputs);
  },
};

export const DYNAMIC_TYPE_PREFIX = "pulumi-nodejs:dynamic";

/**
 * What the runner implements of each resource type, as the provider behaves: the inputs it
 * understands (any other input is refused before anything runs), the inputs whose change
 * replaces the resource rather than updating it ("*": every input but those in `updatable`), and
 * whether a replacement deletes the old resource first (the provider's choice; the
 * `deleteBeforeReplace` option asks for it too).
 */
export interface TypeSpec {
  handler: Handler;
  /** "*": whatever the resource declares (dynamic resources). */
  inputs: string[] | "*";
  replaceOn: string[] | "*";
  updatable?: string[];
  deleteBeforeReplace?: boolean;
}

const CONTAINER_INPUTS = [
  "name", "hostname", "image", "command", "stopSignal", "capabilities", "securityOpts", "cgroupnsMode",
  "volumes", "tmpfs", "networksAdvanced", "ports", "uploads", "mustRun", "destroyGraceSeconds",
  "healthcheck", "wait", "waitTimeout",
]; // prettier-ignore

export const TYPES: Record<string, TypeSpec> = {
  "command:remote:Command": {
    handler: command,
    inputs: ["connection", "create", "update", "delete", "stdin", "triggers", "addPreviousOutputInEnv"],
    replaceOn: ["triggers"],
  },
  "command:remote:CopyToRemote": {
    handler: copyToRemote,
    inputs: ["connection", "source", "remotePath", "triggers"],
    replaceOn: ["triggers"],
  },
  "random:index/randomPassword:RandomPassword": {
    handler: randomPassword,
    inputs: ["length", "special", "keepers"],
    replaceOn: "*",
  },
  "random:index/randomBytes:RandomBytes": { handler: randomBytes, inputs: ["length", "keepers"], replaceOn: "*" },
  "docker:index/network:Network": {
    handler: network,
    inputs: ["name", "driver", "ipamConfigs"],
    replaceOn: "*",
    deleteBeforeReplace: true, // a fixed name
  },
  "docker:index/image:Image": {
    handler: image,
    inputs: ["imageName", "skipPush", "build", "buildOnPreview"],
    replaceOn: [],
  },
  "docker:index/container:Container": {
    handler: container,
    inputs: CONTAINER_INPUTS,
    replaceOn: "*",
    updatable: ["mustRun", "destroyGraceSeconds", "wait", "waitTimeout"],
    deleteBeforeReplace: true, // a fixed name
  },
};

/** The runner's rules for a resource type; every dynamic resource is run by its own provider. */
export function typeSpec(type: string): TypeSpec | undefined {
  if (type.startsWith(DYNAMIC_TYPE_PREFIX)) return { handler: dynamic, inputs: "*", replaceOn: [] };
  return TYPES[type];
}

/** The inputs whose change replaces a resource of this type, among those that changed. */
export function replacingKeys(spec: TypeSpec, changed: string[]): string[] {
  if (spec.replaceOn === "*") return changed.filter((k) => !(spec.updatable ?? []).includes(k));
  return changed.filter((k) => (spec.replaceOn as string[]).includes(k));
}
