/**
 * The program on the dev stack with a CA of the user's own (`tls.ca`), under mocks: no CA is
 * generated, the user's signs every host certificate, and its key stays secret.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, Registered, runProgram } from "./harness";
import { stackFileSettings } from "../fixtures/settings";
import { issueCertificate } from "../../components/tlsProvider";

let registered: Registered[];
let program: Record<string, unknown>;
let caPem: string;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "patroni-stack-user-ca-"));

beforeAll(async () => {
  const ca = await issueCertificate({ commonName: "corp CA", dns: [], ip: [], validityDays: 1000 });
  caPem = ca.certificate;
  fs.writeFileSync(path.join(dir, "ca.crt"), ca.certificate);
  fs.writeFileSync(path.join(dir, "ca.key"), ca.privateKey, { mode: 0o600 });
  registered = await installMocks();
  const settings = {
    ...stackFileSettings("dev"),
    tls: { ca: { certificateFile: path.join(dir, "ca.crt"), keyFile: path.join(dir, "ca.key") } },
  };
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(settings).map(([k, v]) => [`patroni-stack:${k}`, JSON.stringify(v)])),
  );
  program = await runProgram(registered, () => import("../../index"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("a CA of the user's own", () => {
  const certificates = () =>
    registered.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic") && r.name.startsWith("postgres-tls-"));

  it("signs every host certificate; none is generated", () => {
    const names = certificates()
      .map((r) => r.name)
      .sort();
    expect(names).toEqual(["postgres-tls-bk1", "postgres-tls-pg1", "postgres-tls-pg2", "postgres-tls-pg3"]);
    for (const r of certificates()) {
      expect(r.inputs.issuerCertificate).toBe(caPem);
      expect(r.secretInputs).toContain("issuerPrivateKey");
    }
  });

  it("is the CA the stack exports", async () => {
    const ca = await new Promise((resolve) =>
      pulumi.output(program.caCertificate as pulumi.Output<string>).apply(resolve),
    );
    expect(ca).toBe(caPem);
  });
});
