/**
 * The direct runner's end of a program (runner/settle.ts): work the program opened and closed
 * leaves nothing pending, so the run ends when the program does.
 */
import { AddressInfo } from "net";
import * as tls from "tls";
import { issueCertificate } from "../../components/tlsProvider";
import { trackProgram } from "../../runner/settle";

describe("the direct runner's program tracker", () => {
  it("does not wait for a TLS connection the program has closed", async () => {
    const ca = await issueCertificate({ commonName: "test CA", dns: [], ip: [], validityDays: 1 });
    const cert = await issueCertificate({
      commonName: "localhost",
      dns: ["localhost"],
      ip: ["127.0.0.1"],
      validityDays: 1,
      issuer: ca,
    });
    const server = tls.createServer({ cert: cert.certificate, key: cert.privateKey }, (s) => s.end("hello"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const tracker = trackProgram();
    try {
      // As the drift reader does: one verified TLS exchange from inside the program.
      const got = await tracker.run(
        () =>
          new Promise<string>((resolve, reject) => {
            const socket = tls.connect({ host: "127.0.0.1", port, ca: ca.certificate });
            let data = "";
            socket.on("data", (d: Buffer) => (data += d.toString()));
            socket.on("end", () => {
              socket.destroy();
              resolve(data);
            });
            socket.on("error", reject);
          }),
      );
      expect(got).toBe("hello");
      const outcome = await Promise.race([
        tracker.settled(),
        new Promise((resolve) => setTimeout(() => resolve("still waiting after 5 s"), 5000).unref()),
      ]);
      expect(outcome).toBe("settled");
    } finally {
      tracker.dispose();
      server.close();
    }
  });
});
