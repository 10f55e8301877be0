/** How components reach a host: an SSH connection for @pulumi/command. */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";

export type Connection = pulumi.Input<command.types.input.remote.ConnectionArgs>;

/** How the steps of one host reach it, and what identifies the host itself. */
export interface HostAccess {
  connection: Connection;
  /**
   * Changes when the host is replaced (a local container's id). Every step on the host carries
   * it as a trigger, so a new host is set up from scratch under either engine, each old step's
   * delete running first. Real hosts have none: they are not replaced by the program.
   */
  identity?: pulumi.Input<string>;
  /** What every step on the host waits for (the host's packages, installed once for all roles). */
  after?: pulumi.Resource[];
}

/** Inputs and options that bind a remote resource to its host (see `HostAccess.identity`). */
export function boundTo(access: HostAccess) {
  return {
    inputs: { connection: access.connection, ...(access.identity ? { triggers: [access.identity] } : {}) },
    options: { deleteBeforeReplace: true },
  };
}

/** Where SSH reaches a host; `host` may wait on another resource (a container). */
export interface SshTarget {
  host: pulumi.Input<string>;
  port: number;
  user: string;
}

export interface SshCredentials {
  privateKey?: pulumi.Input<string>;
  password?: pulumi.Input<string>;
}

/** A connection that waits for a host that is still booting (about five minutes). */
export function sshConnection(endpoint: SshTarget, creds: SshCredentials): Connection {
  return pulumi.secret({
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    privateKey: creds.privateKey,
    password: creds.password,
    dialErrorLimit: 30,
    perDialTimeout: 10,
  });
}
