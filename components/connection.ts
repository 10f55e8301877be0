/** How components reach a host: an SSH connection for @pulumi/command. */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";

export type Connection = pulumi.Input<command.types.input.remote.ConnectionArgs>;

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
