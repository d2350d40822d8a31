/** The DigitalOcean project that groups the bus's droplet and reserved IP in the control panel. */
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
