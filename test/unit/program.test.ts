/**
 * The whole program on the default (dev) stack, under mocks: local Docker hosts are created with
 * the flags systemd needs, publish only on 127.0.0.1, get the stack's SSH key, and every remote
 * step waits for its host's container.
 */
import * as pulumi from "@pulumi/pulumi";
import { installMocks, Registered, runProgram } from "./harness";
import { stackFileSettings } from "../fixtures/settings";

let registered: Registered[];
let program: Record<string, unknown>;

beforeAll(async () => {
  registered = await installMocks();
  const config = Object.fromEntries(
    Object.entries(stackFileSettings("dev")).map(([k, v]) => [`patroni-stack:${k}`, JSON.stringify(v)]),
  );
  pulumi.runtime.setAllConfig(config);
  program = await runProgram(registered, () => import("../../index"));
});

const ofType = (t: string) => registered.filter((r) => r.type === t).sort((a, b) => a.name.localeCompare(b.name));
const plain = (v: unknown): unknown => {
  const o = v as Record<string, unknown> | undefined;
  return o && typeof o === "object" && "value" in o && Object.keys(o).length === 2 ? o.value : v;
};

describe("local hosts", () => {
  it("creates one network on the configured subnet", () => {
    const [net] = ofType("docker:index/network:Network");
    expect(net.inputs).toMatchObject({ name: "patroni-stack-unit", ipamConfigs: [{ subnet: "10.213.7.0/24" }] });
  });

  it("installs every role's packages in the image, none of them twice", () => {
    const [image] = ofType("docker:index/image:Image");
    const packages = String((image.inputs.build as { args: Record<string, string> }).args.INSTALL_PACKAGES).split(" ");
    expect(packages).toEqual(
      expect.arrayContaining(["postgresql-17", "patroni", "etcd-server", "haproxy", "keepalived"]),
    );
    expect(new Set(packages).size).toBe(packages.length);
  });

  it("builds the host image locally without pushing it", () => {
    const [image] = ofType("docker:index/image:Image");
    expect(image.inputs).toMatchObject({
      imageName: expect.stringMatching(/^patroni-stack\/host:trixie-[0-9a-f]{10}$/),
      skipPush: true,
      build: { builderVersion: "BuilderV1", args: { BASE_IMAGE: "patroni-stack/debian:trixie" } },
    });
  });

  it("runs systemd in each container with the flags that work without --privileged", () => {
    const containers = ofType("docker:index/container:Container");
    expect(containers.map((c) => c.inputs.hostname).sort()).toEqual(["bk1", "pg1", "pg2", "pg3"]);
    for (const c of containers) {
      // keepalived on the routers (pg1, pg2) adds the virtual IP: it needs NET_ADMIN there only.
      const router = ["pg1", "pg2"].includes(c.inputs.hostname as string);
      expect(c.inputs).toMatchObject({
        command: ["/sbin/init"],
        stopSignal: "SIGRTMIN+3",
        // The provider reads capabilities back with the prefix: without it a refresh replaces the host.
        capabilities: { adds: router ? ["CAP_NET_ADMIN", "CAP_SYS_ADMIN"] : ["CAP_SYS_ADMIN"] },
        securityOpts: ["seccomp=unconfined"],
        cgroupnsMode: "host",
      });
      expect(c.inputs.privileged).toBeUndefined();
    }
  });

  it("publishes SSH of every host and the client ports of the first router on 127.0.0.1 only", () => {
    const ports = Object.fromEntries(
      ofType("docker:index/container:Container").map((c) => [c.inputs.hostname, c.inputs.ports as unknown[]]),
    );
    expect(ports.pg1).toEqual([
      { internal: 22, external: 2201, ip: "127.0.0.1" },
      { internal: 5000, external: 5000, ip: "127.0.0.1" },
      { internal: 5001, external: 5001, ip: "127.0.0.1" },
      { internal: 7000, external: 7000, ip: "127.0.0.1" },
      { internal: 5002, external: 5002, ip: "127.0.0.1" },
      { internal: 5003, external: 5003, ip: "127.0.0.1" },
    ]);
    expect(ports.pg2).toEqual([{ internal: 22, external: 2202, ip: "127.0.0.1" }]);
    expect(ports.bk1).toEqual([{ internal: 22, external: 2204, ip: "127.0.0.1" }]);
  });

  it("authorizes the stack's generated SSH key", () => {
    for (const c of ofType("docker:index/container:Container")) {
      const [upload] = c.inputs.uploads as { file: string; content: unknown }[];
      expect(upload.file).toBe("/root/.ssh/authorized_keys");
      expect(String(plain(upload.content))).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+ patroni-stack-unit$/);
    }
  });

  it("runs the image by name, and a rebuilt image replaces no host", () => {
    const [image] = ofType("docker:index/image:Image");
    expect(image.inputs).toMatchObject({ build: { platform: "linux/amd64" } });
    for (const c of ofType("docker:index/container:Container")) {
      expect(c.inputs.image).toBe(image.inputs.imageName);
      expect(c.ignoreChanges).toEqual(["image"]);
    }
  });

  it("ties every remote step to its host: a replaced container sets the new one up, old steps deleted first", () => {
    const containers = ofType("docker:index/container:Container");
    const byPort = new Map(containers.map((c) => [(c.inputs.ports as { external: number }[])[0].external, c.urn]));
    const steps = registered.filter((r) => r.type.startsWith("command:remote:"));
    expect(steps.length).toBeGreaterThan(40);
    for (const step of steps) {
      const port = (plain(step.inputs.connection) as { port: number }).port;
      expect(step.propertyDependencies.triggers).toEqual([byPort.get(port)]);
      expect(step.inputs.triggers).toEqual([`${containers.find((c) => c.urn === byPort.get(port))?.name}-id`]);
      expect(step.deleteBeforeReplace).toBe(true);
    }
  });

  it("makes every remote step wait for its host's container, and only the backup's SSH trust for its peers'", () => {
    const containers = new Map(ofType("docker:index/container:Container").map((c) => [c.urn, c]));
    const byPort = new Map(
      [...containers.values()].map((c) => [(c.inputs.ports as { external: number }[])[0].external, c.urn]),
    );
    for (const cmd of registered.filter((r) => r.type.startsWith("command:remote:"))) {
      const own = byPort.get((plain(cmd.inputs.connection) as { port: number }).port);
      const waited = cmd.dependencies.filter((d) => containers.has(d));
      expect(waited).toContain(own);
      // The repository scans every member's host key, each member the repository's.
      const peers = /-backup-configure-run$/.test(cmd.name) ? 4 : /-pgbackrest-run$/.test(cmd.name) ? 2 : 1;
      expect({ step: cmd.name, containers: waited.length }).toEqual({ step: cmd.name, containers: peers });
    }
  });
});

describe("stack outputs", () => {
  it("exports connection strings as secrets and the topology in plain text", async () => {
    const value = async <T>(o: unknown) => {
      const out = pulumi.output(o as pulumi.Input<T>);
      const secret = await pulumi.isSecret(out);
      const v = await new Promise<T>((resolve) => out.apply((x) => resolve(x as T)));
      return { v, secret };
    };
    const rw = await value<string>(program.readWriteUrl);
    expect(rw.secret).toBe(true);
    // The virtual IP is the endpoint; pg1's ports on loopback stay as a convenience.
    expect(rw.v).toMatch(/^postgresql:\/\/postgres:.+@10\.213\.7\.100:5000\/postgres\?sslmode=verify-full$/);
    expect((await value<string>(program.readOnlyUrl)).v).toMatch(/@10\.213\.7\.100:5001\//);
    expect(program.statsUrl).toBe("https://10.213.7.100:7000/");
    expect(program.virtualIp).toBe("10.213.7.100");
    const loopback = await value<string>(program.loopbackReadWriteUrl);
    expect(loopback.secret).toBe(true);
    expect(loopback.v).toMatch(/@127\.0\.0\.1:5000\/postgres\?sslmode=verify-full$/);
    expect(program.leader).toBe("pg1");
    expect(program.members).toEqual([
      { name: "pg1", address: "10.213.7.11", role: "leader" },
      { name: "pg2", address: "10.213.7.12", role: "replica" },
      { name: "pg3", address: "10.213.7.13", role: "replica" },
    ]);
  });
});
