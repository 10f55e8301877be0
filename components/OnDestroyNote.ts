/**
 * A resource that does nothing but carry, in its name, what destroying its parent does to data
 * kept outside the hosts (e.g. `dev-backup-kept-on-destroy`): a destroy's preview lists it in
 * words under either engine, where the remote commands' delete scripts are not shown.
 */
import * as pulumi from "@pulumi/pulumi";

export class OnDestroyNote extends pulumi.ComponentResource {
  constructor(name: string, opts?: pulumi.ComponentResourceOptions) {
    super("patroni-stack:note:OnDestroy", name, {}, opts);
    this.registerOutputs({});
  }
}
