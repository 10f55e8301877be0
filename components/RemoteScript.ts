/**
 * One lifecycle step on one host: upload a rendered script to the host's stage directory and run
 * it as root. The command text carries the script's digest, so a changed script runs again on the
 * next `pulumi up` (an update, not a replacement), and an unchanged one does not.
 */
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { HostSpec } from "../plan";
import { Connection } from "./connection";

export interface RemoteScriptArgs {
  host: HostSpec;
  connection: Connection;
  /** File name under the host's stage directory, e.g. `etcd-install.sh`. */
  file: string;
  /** Run on create and whenever the script changes. */
  script?: string;
  /** Secret input for `script` (never put on a command line). */
  stdin?: pulumi.Input<string>;
  /** Run when the step is destroyed (the script is uploaded beside the create script). */
  onDelete?: string;
  deleteFile?: string;
}

function resourceList(deps: pulumi.ResourceOptions["dependsOn"]): pulumi.Input<pulumi.Resource>[] {
  if (deps === undefined) return [];
  return Array.isArray(deps) ? deps : [deps as pulumi.Input<pulumi.Resource>];
}

const digest = (text: string) => crypto.createHash("sha256").update(text).digest("hex").slice(0, 16);

export class RemoteScript extends pulumi.ComponentResource {
  readonly command: command.remote.Command;

  constructor(name: string, args: RemoteScriptArgs, opts?: pulumi.ComponentResourceOptions) {
    super("patroni-stack:remote:RemoteScript", name, {}, opts);
    const { host, connection } = args;
    const sudo = host.ssh.sudo ? "sudo -n " : "";
    const uploads: pulumi.Resource[] = [];
    const upload = (suffix: string, file: string, text: string): string => {
      const remotePath = `${host.stageDir}/${file}`;
      uploads.push(
        new command.remote.CopyToRemote(
          `${name}-${suffix}`,
          { connection, remotePath, source: new pulumi.asset.StringAsset(text) },
          { parent: this },
        ),
      );
      return remotePath;
    };

    let create: string | undefined;
    if (args.script !== undefined) {
      const path = upload("upload", args.file, args.script);
      create = `${sudo}bash ${path} # patroni-stack script ${digest(args.script)}`;
    }
    let del: string | undefined;
    if (args.onDelete !== undefined) {
      const path = upload("upload-delete", args.deleteFile ?? args.file.replace(/\.sh$/, "-delete.sh"), args.onDelete);
      del =
        `if [ -f ${path} ]; then ${sudo}bash ${path}; ` +
        `else echo "patroni-stack: ${path} is gone; nothing to undo"; fi # ${digest(args.onDelete)}`;
    }

    this.command = new command.remote.Command(
      `${name}-run`,
      { connection, create, delete: del, stdin: args.stdin, addPreviousOutputInEnv: false },
      {
        parent: this,
        // The component's own dependencies are repeated on the command so that the engine's
        // graph (and so the destroy order) holds them on the resource that does the work.
        dependsOn: [...uploads, ...resourceList(opts?.dependsOn)],
        additionalSecretOutputs: args.stdin ? ["stdin"] : [],
      },
    );
    this.registerOutputs({ stdout: this.command.stdout });
  }
}

export type StepArgs = Omit<RemoteScriptArgs, "host" | "connection">;

/** The phases of one component on one host, as children named `${name}-${phase}`. */
export function lifecycleSteps(parent: pulumi.Resource, name: string, host: HostSpec, connection: Connection) {
  return (phase: string, args: StepArgs, dependsOn: pulumi.Resource[] = []) =>
    new RemoteScript(`${name}-${phase}`, { host, connection, ...args }, { parent, dependsOn });
}
