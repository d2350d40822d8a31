/**
 * The DigitalOcean project that groups the bus's droplet and data volume in the control panel. Not the
 * reserved IP: the API reads its URN back as do:floatingip:..., unlike the do:reservedip:... the provider
 * sends, so every later `pulumi up` would try to move it again and fail (412).
 */
import * as digitalocean from "@pulumi/digitalocean";
import type * as pulumi from "@pulumi/pulumi";
import type { HostConfig } from "../provision/config";
import { busUrlOf } from "../provision/credentials";

interface ProjectArgs {
  host: HostConfig;
  /** The DigitalOcean URNs of what the project holds. */
  resources: pulumi.Input<string>[];
}

export function project(name: string, { host, resources }: ProjectArgs, opts: pulumi.CustomResourceOptions): void {
  new digitalocean.Project(
    `${name}-project`,
    {
      name: host.fqdn,
      description: `claude-bus message bus at ${busUrlOf(host)}`,
      purpose: "Service or API",
      environment: "Production",
      resources,
    },
    opts,
  );
}
