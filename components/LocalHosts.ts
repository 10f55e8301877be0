/**
 * Local Docker containers that act as plain Linux hosts: systemd as PID 1 and key-only sshd.
 * The cluster components reach them exactly as they reach real hosts: over SSH, through ports
 * published on 127.0.0.1.
 */
import * as crypto from "crypto";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as random from "@pulumi/random";
import { Settings } from "../settings";
import { ClusterPlan } from "../plan";
import { HostAccess, sshConnection } from "./hostAccess";
import { ed25519KeyPair } from "./sshKey";

export type LocalSettings = NonNullable<Settings["local"]>;

export interface LocalHostsArgs {
  plan: ClusterPlan;
  local: LocalSettings;
  /** Prefix of Docker object names, unique per stack (e.g. `patroni-stack-dev`). */
  prefix: string;
}

/** The platform Docker builds the hosts' image for: this machine's. */
export function dockerPlatform(arch: string = process.arch): string {
  const names: Record<string, string> = { x64: "linux/amd64", arm64: "linux/arm64" };
  const platform = names[arch];
  if (!platform) throw new Error(`local hosts need an amd64 or arm64 machine, not ${arch}`);
  return platform;
}

/**
 * Names of the image the hosts run; the base image is made by scripts/base-image.sh. An image
 * with packages installed is named after its package set, so stacks that need the same packages
 * share it and a different set is a different image.
 */
export function hostImageNames(suite: string, packages: string[] = []) {
  const set = packages.length
    ? `-${crypto.createHash("sha256").update(packages.join(" ")).digest("hex").slice(0, 10)}`
    : "";
  return { base: `patroni-stack/debian:${suite}`, host: `patroni-stack/host:${suite}${set}` };
}

export class LocalHosts extends pulumi.ComponentResource {
  readonly hosts: Record<string, HostAccess>;
  readonly privateKey: pulumi.Output<string>;
  readonly networkName: pulumi.Output<string>;

  constructor(name: string, args: LocalHostsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("patroni-stack:local:LocalHosts", name, {}, opts);
    const { plan, local, prefix } = args;
    const images = hostImageNames(local.suite, plan.imagePackages);

    const seed = new random.RandomBytes(`${name}-ssh-key-seed`, { length: 32 }, { parent: this });
    const keys = seed.base64.apply((b64) => ed25519KeyPair(Buffer.from(b64, "base64"), prefix));
    const privateKey = pulumi.secret(keys.privateKeyPem);

    const network = new docker.Network(
      `${name}-network`,
      { name: prefix, driver: "bridge", ipamConfigs: [{ subnet: local.subnet }] },
      { parent: this },
    );
    const context = path.join(__dirname, "..", "hosts");
    const image = new docker.Image(
      `${name}-image`,
      {
        imageName: images.host,
        skipPush: true,
        build: {
          context,
          dockerfile: path.join(context, "Dockerfile"),
          args: { BASE_IMAGE: images.base, INSTALL_PACKAGES: plan.imagePackages.join(" ") },
          builderVersion: "BuilderV1",
          platform: dockerPlatform(),
        },
      },
      { parent: this },
    );

    const vipHolder = (host: string) => plan.vip?.routers.some((r) => r.name === host) ?? false;
    this.hosts = {};
    for (const host of plan.hosts) {
      const container = new docker.Container(
        `${name}-${host.name}`,
        {
          name: `${prefix}-${host.name}`,
          hostname: host.name,
          // The name, not the build's digest: a rebuilt image does not replace running hosts
          // (ignoreChanges below), under either engine. Replace a host on purpose with
          // `pulumi up --replace <container urn>` (or by removing its container).
          image: image.imageName,
          command: ["/sbin/init"],
          stopSignal: "SIGRTMIN+3",
          // As the provider reads them back; keepalived needs NET_ADMIN to add the virtual IP.
          capabilities: { adds: vipHolder(host.name) ? ["CAP_NET_ADMIN", "CAP_SYS_ADMIN"] : ["CAP_SYS_ADMIN"] },
          securityOpts: ["seccomp=unconfined"],
          cgroupnsMode: "host",
          volumes: [{ hostPath: "/sys/fs/cgroup", containerPath: "/sys/fs/cgroup", readOnly: false }],
          tmpfs: { "/run": "rw", "/run/lock": "rw", "/tmp": "rw,exec" },
          networksAdvanced: [{ name: network.name, ipv4Address: host.address }],
          ports: host.published.map((p) => ({ ...p, ip: "127.0.0.1" })),
          uploads: [{ file: "/root/.ssh/authorized_keys", content: keys.publicKey, permissions: "0600" }],
          // Created once sshd runs, so that no step on the host starts by retrying its connection.
          healthcheck: { tests: ["CMD", "test", "-e", "/run/sshd.pid"], interval: "1s", timeout: "5s", retries: 120 },
          wait: true,
          waitTimeout: 120,
          mustRun: true,
          destroyGraceSeconds: 20,
        },
        { parent: this, ignoreChanges: ["image"] },
      );
      this.hosts[host.name] = {
        connection: sshConnection(host.ssh, { privateKey }),
        identity: container.id,
      };
    }

    this.privateKey = privateKey;
    this.networkName = network.name;
    this.registerOutputs({ networkName: this.networkName });
  }
}
