/**
 * One lifecycle step on one host: upload a rendered script to the host's stage directory and run
 * it as root. The command text carries the script's digest, so a changed script runs again on the
 * next `pulumi up` (an update, not a replacement), and an unchanged one does not.
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { HostSpec } from "../plan";
import { renderDeleteCommand, renderRunCommand } from "../configs/scripts";
import { boundTo, HostAccess } from "./hostAccess";

export interface RemoteScriptArgs {
  host: HostSpec;
  access: HostAccess;
  /** File name under the host's stage directory, e.g. `etcd-install.sh`. */
  file: string;
  /** Run on create and whenever the script changes. */
  script?: string;
  /**
   * What the step applies, in plain text without secrets (a rendered config, the desired
   * parameters). It rides in the command as comment lines, so a preview under either engine
   * shows the lines a change adds and removes (Pulumi hides the contents of uploaded assets).
   */
  shows?: string;
  /** Run again whenever this value changes (e.g. the time another resource asked for a run). */
  runsAfter?: pulumi.Input<string>;
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

export class RemoteScript extends pulumi.ComponentResource {
  readonly command: command.remote.Command;

  constructor(name: string, args: RemoteScriptArgs, opts?: pulumi.ComponentResourceOptions) {
    super("patroni-stack:remote:RemoteScript", name, {}, opts);
    const { host } = args;
    const bound = boundTo(args.access);
    const sudo = host.ssh.sudo;
    // A replaceable host keeps its steps' files under a directory named after its identity: an
    // old step's delete that runs after its host was replaced (a refresh found it gone) finds
    // nothing of its own on the new host, and so does nothing there.
    const stageDir: pulumi.Input<string> = args.access.identity
      ? pulumi.interpolate`${host.stageDir}/${pulumi.output(args.access.identity).apply((id) => id.slice(0, 12))}`
      : host.stageDir;
    const uploads: pulumi.Resource[] = [];
    const upload = (suffix: string, file: string, text: string): pulumi.Output<string> => {
      const remotePath = pulumi.interpolate`${stageDir}/${file}`;
      uploads.push(
        new command.remote.CopyToRemote(
          `${name}-${suffix}`,
          { ...bound.inputs, remotePath, source: new pulumi.asset.StringAsset(text) },
          { ...bound.options, parent: this },
        ),
      );
      return remotePath;
    };

    const script = args.script;
    const create =
      script === undefined
        ? undefined
        : pulumi
            .all([upload("upload", args.file, script), args.runsAfter])
            .apply(([path, runsAfter]) => renderRunCommand({ path, sudo, script, shows: args.shows, runsAfter }));
    const onDelete = args.onDelete;
    const del =
      onDelete === undefined
        ? undefined
        : upload("upload-delete", args.deleteFile ?? args.file.replace(/\.sh$/, "-delete.sh"), onDelete).apply((path) =>
            renderDeleteCommand({ path, sudo, script: onDelete }),
          );

    this.command = new command.remote.Command(
      `${name}-run`,
      { ...bound.inputs, create, delete: del, stdin: args.stdin, addPreviousOutputInEnv: false },
      {
        ...bound.options,
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

export type StepArgs = Omit<RemoteScriptArgs, "host" | "access">;

/** The phases of one component on one host, as children named `${name}-${phase}`. */
export function lifecycleSteps(parent: pulumi.Resource, name: string, host: HostSpec, access: HostAccess) {
  return (phase: string, args: StepArgs, dependsOn: pulumi.Resource[] = []) =>
    new RemoteScript(
      `${name}-${phase}`,
      { host, access, ...args },
      { parent, dependsOn: [...(access.after ?? []), ...dependsOn] },
    );
}
