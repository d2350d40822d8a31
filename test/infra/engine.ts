/**
 * The Pulumi engine's plan for one resource, as `pulumi up` makes it against the previous state:
 * ignoreChanges first (an ignored property keeps its recorded value), then the provider's diff of the new
 * inputs against what it stored (the API's read-back), and a replacement when a changed property is one
 * the provider cannot update in place. The ForceNew fields are the Terraform provider's schemas
 * (terraform-provider-digitalocean: droplet, volume, volume_attachment, reserved_ip(_assignment), ssh_key,
 * record, spaces_bucket; terraform-provider-random: random_password, random_id) and pulumi-command's
 * replaceOnChanges (`triggers`). A protected resource is never deleted or replaced: the engine stops
 * with an error instead.
 */

export type Op = "create" | "same" | "update" | "replace";

export interface StateEntry {
  type: string;
  id: string;
  /** The inputs the engine recorded (ignored properties keep their old value). */
  inputs: Record<string, unknown>;
  /** What the provider stored: the API's read-back and computed outputs. */
  outputs: Record<string, unknown>;
  protect: boolean;
  /** The logical names of the resources it depends on (dependsOn and the inputs it takes from them). */
  dependencies: string[];
  /** Per input property, the logical names of the resources its value comes from. */
  propertyDependencies: Record<string, string[]>;
  /** The logical name of the resource it is deleted with, or "". */
  deletedWith: string;
}

/** The stack's state, by logical name. */
export type StackState = Record<string, StateEntry>;

/** Per resource type, the input properties whose change forces a new resource. */
const FORCE_NEW: Record<string, string[]> = {
  "digitalocean:index/droplet:Droplet": ["image", "region", "sshKeys", "userData", "monitoring", "dropletAgent", "vpcUuid", "publicNetworking"],
  "digitalocean:index/volume:Volume": ["region", "name", "description", "snapshotId", "initialFilesystemType", "initialFilesystemLabel"],
  "digitalocean:index/volumeAttachment:VolumeAttachment": ["dropletId", "volumeId"],
  "digitalocean:index/reservedIp:ReservedIp": ["region"],
  "digitalocean:index/reservedIpAssignment:ReservedIpAssignment": ["ipAddress", "dropletId"],
  "digitalocean:index/sshKey:SshKey": ["publicKey"],
  "digitalocean:index/dnsRecord:DnsRecord": ["type", "domain"],
  "digitalocean:index/uptimeCheck:UptimeCheck": [],
  "digitalocean:index/tag:Tag": ["name"],
  "random:index/randomPassword:RandomPassword": [
    "length",
    "special",
    "upper",
    "lower",
    "numeric",
    "minUpper",
    "minLower",
    "minNumeric",
    "minSpecial",
    "overrideSpecial",
    "keepers",
  ],
  "digitalocean:index/spacesBucket:SpacesBucket": ["name", "region"],
  "random:index/randomId:RandomId": ["byteLength", "keepers", "prefix"],
  "command:remote:Command": ["triggers"],
  "command:remote:CopyToRemote": ["triggers"],
};

/** Sets (lists whose order the API does not keep) compare by their members. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return JSON.stringify(v.map(canonical).sort());
  if (typeof v === "object" && v !== null) {
    return JSON.stringify(
      Object.fromEntries(
        Object.entries(v)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, x]) => [k, canonical(x)]),
      ),
    );
  }
  return JSON.stringify(v);
}

export function plan(
  type: string,
  name: string,
  newInputs: Record<string, unknown>,
  before: StateEntry | undefined,
  ignoreChanges: string[],
): { op: Op; inputs: Record<string, unknown>; errors: string[] } {
  if (!before) return { op: "create", inputs: newInputs, errors: [] };
  const inputs = { ...newInputs };
  for (const key of ignoreChanges) {
    if (key in before.inputs) inputs[key] = before.inputs[key];
    else delete inputs[key];
  }
  if (!type.includes(":index/") && !type.startsWith("command:")) return { op: "same", inputs, errors: [] }; // a component
  const changed = Object.keys(inputs).filter((key) => canonical(inputs[key]) !== canonical(before.outputs[key]));
  const errors: string[] = [];
  if (type === "digitalocean:index/volume:Volume" && Number(inputs.size) < Number(before.outputs.size)) {
    errors.push(`${name}: volumes \`size\` can only be expanded and not shrunk`);
  }
  if (changed.length === 0) return { op: "same", inputs, errors };
  const replaces = changed.some((key) => (FORCE_NEW[type] ?? []).includes(key));
  if (replaces && before.protect) {
    errors.push(`${name}: unable to replace resource as it is currently marked for protection (changed: ${changed.join(", ")})`);
  }
  return { op: replaces ? "replace" : "update", inputs, errors };
}

/** What `pulumi up` deletes: the previous state's resources the program no longer registers. */
export function planDeletes(previous: StackState, registered: Set<string>): { deleted: string[]; errors: string[] } {
  const deleted = Object.keys(previous).filter((name) => !registered.has(name));
  return { deleted, errors: destroyErrors(previous, deleted) };
}

/** `pulumi destroy`: everything goes, except that a protected resource stops it. */
export function planDestroy(state: StackState): string[] {
  return destroyErrors(state, Object.keys(state));
}

function destroyErrors(state: StackState, names: string[]): string[] {
  return names.filter((name) => state[name].protect).map((name) => `${name}: unable to delete resource as it is currently marked for protection`);
}

/** One resource of a run as the step executor sees it. */
export interface Planned {
  name: string;
  op: Op;
  deleteBeforeReplace: boolean;
}

/**
 * The engine's steps for a run, in an order it may execute them in, as `create X`, `update X`, `delete X`
 * (the old resource; its provider's delete runs) and `skip delete X` (deletedWith a resource deleted in
 * the same run: its delete is not called). `resources` come in registration order, a topological order:
 * a resource is registered only once what it depends on is done. A replacement creates the new resource
 * and deletes the old one after every create, dependents first. With deleteBeforeReplace the old one goes
 * first, and before it its dependent replacements, dependents first: as the engine's
 * calculateDependentReplacements does, each resource of the previous state that depends on it
 * (transitively) and has a replace-on-change input whose value comes from a resource in that set.
 */
export function executionOrder(resources: Planned[], previous: StackState, deleted: string[]): string[] {
  const steps: string[] = [];
  const replaced = new Set(resources.filter((r) => r.op === "replace").map((r) => r.name));
  const leaving = new Set([...replaced, ...deleted]);
  const gone = new Set<string>();
  const stateOrder = Object.keys(previous);
  const remove = (name: string) => {
    if (gone.has(name)) return;
    gone.add(name);
    const { deletedWith } = previous[name];
    steps.push(deletedWith && leaving.has(deletedWith) ? `skip delete ${name}` : `delete ${name}`);
  };
  const dependentReplacements = (root: string): string[] => {
    const dependents = new Set([root]);
    const replaceSet = new Set([root]);
    for (const name of stateOrder) {
      const { type, dependencies, propertyDependencies } = previous[name];
      if (!dependencies.some((d) => dependents.has(d))) continue;
      dependents.add(name);
      const fromReplaced = Object.keys(propertyDependencies).filter((key) => propertyDependencies[key].some((d) => replaceSet.has(d)));
      if (fromReplaced.some((key) => (FORCE_NEW[type] ?? []).includes(key))) replaceSet.add(name);
    }
    replaceSet.delete(root);
    return [...replaceSet];
  };
  for (const r of resources) {
    if (r.op === "create" || r.op === "update") steps.push(`${r.op} ${r.name}`);
    if (r.op !== "replace") continue;
    if (r.deleteBeforeReplace) {
      for (const name of dependentReplacements(r.name).reverse()) remove(name);
      remove(r.name);
    }
    steps.push(`create ${r.name}`);
  }
  for (const name of [...stateOrder].reverse()) if (leaving.has(name)) remove(name);
  return steps;
}
