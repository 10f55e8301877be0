/** The REST API requests the e2e suite and the chaos harness send from a member's host. */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderSwitchoverCommand } from "../../configs/restApi";

describe("a planned switchover request", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "patroni-stack-rest-"));
    fs.mkdirSync(path.join(dir, "bin"));
    // curl records its arguments and the config it reads on stdin.
    fs.writeFileSync(
      path.join(dir, "bin", "curl"),
      `#!/bin/bash\nprintf '%s\\n' "$@" > "${dir}/argv"\ncat > "${dir}/stdin"\n`,
      { mode: 0o755 },
    );
    fs.writeFileSync(
      path.join(dir, "patroni.yml"),
      'restapi:\n  authentication:\n    username: patroni\n    password: "it\'s s3cret"\n',
    );
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("posts leader and candidate, with the credentials on stdin only", () => {
    const cmd = renderSwitchoverCommand("http://10.0.0.11:8008", "pg1", "pg2", path.join(dir, "patroni.yml"));
    const r = spawnSync("bash", ["-c", cmd], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${dir}/bin:/usr/bin:/bin` },
    });
    expect({ status: r.status, err: r.stderr }).toEqual({ status: 0, err: "" });
    const argv = fs.readFileSync(path.join(dir, "argv"), "utf8").split("\n");
    expect(argv).toEqual(expect.arrayContaining(["-X", "POST", '{"leader":"pg1","candidate":"pg2"}']));
    expect(argv).toContain("http://10.0.0.11:8008/switchover");
    // A refusal fails the command and says why (Patroni's answer), rather than failing silently.
    expect(argv).toEqual(expect.arrayContaining(["-sS", "--fail-with-body"]));
    expect(argv.join(" ")).not.toContain("s3cret");
    expect(fs.readFileSync(path.join(dir, "stdin"), "utf8")).toBe(`user = "patroni:it's s3cret"\n`);
    expect(cmd).not.toContain("s3cret");
  });
});
