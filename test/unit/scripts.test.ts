/**
 * The remote scripts' OS-family logic, run for real in bash with a fake /etc/os-release and stub
 * package managers on PATH (RHEL hosts are not available here; their path is exercised this way).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderScript } from "../../configs/scripts";

const RELEASES: Record<string, string> = {
  debian: 'ID=debian\nVERSION_ID="12"',
  ubuntu: 'ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"',
  rocky: 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"',
  centos7: 'ID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"',
  alpine: "ID=alpine",
};

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "patroni-stack-scripts-"));
  fs.mkdirSync(path.join(dir, "bin"));
  // Stub package tools record their arguments; rpm says nothing is installed.
  for (const tool of ["dnf", "yum", "apt-get", "flock"]) {
    fs.writeFileSync(path.join(dir, "bin", tool), `#!/bin/sh\necho "${tool} $*" >> "${dir}/calls"\n`, { mode: 0o755 });
  }
  fs.writeFileSync(path.join(dir, "bin", "rpm"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "bin", "dpkg-query"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
  for (const [name, text] of Object.entries(RELEASES)) fs.writeFileSync(path.join(dir, name), `${text}\n`);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Run the prelude and a snippet with the fake release file and stubs first on PATH. */
function bash(release: string, snippet: string) {
  const prelude = renderScript("haproxy-stop", {}).split("\n# Stop HAProxy")[0];
  const script = `${prelude}\nexport PATH=${dir}/bin:$PATH\n${snippet}`;
  fs.rmSync(path.join(dir, "calls"), { force: true });
  const r = spawnSync("bash", ["-c", script], { env: { ...process.env, OS_RELEASE: path.join(dir, release) } });
  const calls = fs.existsSync(path.join(dir, "calls")) ? fs.readFileSync(path.join(dir, "calls"), "utf8") : "";
  return { status: r.status, stdout: r.stdout.toString().trim(), stderr: r.stderr.toString(), calls };
}

describe("OS family detection", () => {
  it.each([
    ["debian", "debian"],
    ["ubuntu", "debian"],
    ["rocky", "rhel"],
    ["centos7", "rhel"],
  ])("%s is %s", (release, family) => {
    expect(bash(release, "os_family").stdout).toBe(family);
  });

  it("rejects an unsupported OS with a clear message", () => {
    const r = bash("alpine", "os_family");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unsupported OS 'alpine': use Debian\/Ubuntu \(apt\) or RHEL/);
  });
});

describe("package installation", () => {
  it("uses dnf on RHEL-family hosts", () => {
    const r = bash("rocky", "pkg_install rhel postgresql15-server patroni");
    expect(r.status).toBe(0);
    expect(r.calls).toContain("dnf install -y -q postgresql15-server patroni");
  });

  it("falls back to yum where dnf is missing (CentOS 7)", () => {
    fs.renameSync(path.join(dir, "bin", "dnf"), path.join(dir, "dnf.off"));
    try {
      const r = bash("centos7", "pkg_install rhel etcd");
      expect(r.calls).toContain("yum install -y -q etcd");
    } finally {
      fs.renameSync(path.join(dir, "dnf.off"), path.join(dir, "bin", "dnf"));
    }
  });

  it("uses apt-get on Debian-family hosts, without starting the packages' services", () => {
    const policy = path.join(dir, "policy-rc.d");
    // The stub apt-get records whether the deny-all policy is in place while it runs.
    const r = bash(
      "debian",
      `POLICY_RC_D=${policy}; apt-get() { cat "${policy}" >> "${dir}/calls"; command apt-get "$@"; }\npkg_install debian haproxy`,
    );
    expect(r.status).toBe(0);
    expect(r.calls).toContain("exit 101");
    expect(r.calls).toMatch(/apt-get -y -q -o DPkg::Lock::Timeout=600 .* install --no-install-recommends haproxy/);
    expect(fs.existsSync(policy)).toBe(false);
  });
});

describe("rendered RHEL settings", () => {
  it("installs PGDG package names and links the PGDG binary directory", () => {
    const text = renderScript("patroni-install", { PACKAGES_RHEL: ["postgresql15-server", "patroni", "patroni-etcd"] });
    expect(text).toContain("PACKAGES_RHEL=('postgresql15-server' 'patroni' 'patroni-etcd')");
    expect(text).toContain("bin_dir=/usr/pgsql-$PG_VERSION/bin");
    expect(text).toContain("distro_service=postgresql-$PG_VERSION");
  });
});

describe("the transport check before anything on a host changes", () => {
  // A stub systemctl: the units named in ACTIVE are running; etcd at ETCD's version (none: no
  // etcd); a service's configuration naming a certificate when `named`.
  const check = (
    want: string,
    recorded: string | undefined,
    active: string,
    opts: { etcd?: string; named?: boolean } = {},
  ) => {
    const file = path.join(dir, "transport");
    const config = path.join(dir, "patroni.yml");
    fs.rmSync(file, { force: true });
    fs.writeFileSync(config, opts.named ? "certfile: /etc/patroni-stack/tls/postgres.crt\n" : "listen: 8008\n");
    if (recorded !== undefined) fs.writeFileSync(file, `${recorded}\n`);
    const r = bash(
      "debian",
      [
        `systemctl() { [ "$1" = is-active ] && [[ " ${active} " == *" $3 "* ]]; }`,
        opts.etcd ? `etcd() { echo "etcd Version: ${opts.etcd}"; }` : "etcd() { return 127; }",
        `PATRONI_STACK_TLS_DIR=/etc/patroni-stack/tls; PATRONI_STACK_SERVICE_CONFIGS=(${dir}/none ${config})`,
        `transport_unchanged ${want} ${file}`,
      ].join("\n"),
    );
    return { ...r, recorded: fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim() : undefined };
  };

  it("marks a running host in plain text that the stack now wants in TLS as switching", () => {
    const r = check("tls", "plain", "etcd patroni");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/etcd patroni on this host switch from plain text to TLS in this up/);
    expect(r.recorded).toBe("plain-to-tls");
  });

  it("switches with etcd 3.5, and refuses before marking the host with etcd 3.4", () => {
    expect(check("tls", "plain", "etcd", { etcd: "3.5.16" }).recorded).toBe("plain-to-tls");
    const r = check("tls", "plain", "etcd patroni", { etcd: "3.4.23" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/runs etcd 3\.4\.23: etcd before 3\.5 cannot serve plain text and TLS on one client port/);
    expect(r.recorded).toBe("plain");
  });

  it("goes back to plain text from a switch that stopped before any service moved to TLS", () => {
    const r = check("plain", "plain-to-tls", "etcd haproxy");
    expect(r.status).toBe(0);
    expect(r.recorded).toBe("plain");
  });

  it("goes on with a switch that an earlier up left half way", () => {
    const r = check("tls", "plain-to-tls", "patroni");
    expect(r.status).toBe(0);
    expect(r.recorded).toBe("plain-to-tls");
  });

  it("refuses to turn TLS off in the middle of a switch", () => {
    const r = check("plain", "plain-to-tls", "etcd", { named: true });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/etcd on this host run with tls, the stack now asks for plain/);
    expect(r.recorded).toBe("plain-to-tls");
  });

  it("refuses to turn TLS off for a running router", () => {
    const r = check("plain", "tls", "haproxy");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/haproxy on this host run with tls, the stack now asks for plain.*back to true/);
  });

  it.each([
    ["a new host", "tls", undefined, "", "tls"],
    ["the same transport", "tls", "tls", "etcd patroni haproxy", "tls"],
    ["a host with nothing running (after a destroy)", "plain", "tls", "keepalived", "plain"],
    ["a host with nothing running after a switch left half way", "tls", "plain-to-tls", "", "tls"],
  ])("records the transport of %s", (_what, want, recorded, active, after) => {
    const r = check(want, recorded, active);
    expect(r.status).toBe(0);
    expect(r.recorded).toBe(after);
  });
});
