/** The bus password: the configured secret, or a generated one that stays until `rotation` changes. */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { GENERATED_PASSWORD_LENGTH } from "../contract/defaults";

export interface PasswordArgs {
  /** A fixed bus password (a secret); when absent one is generated. */
  busPassword?: pulumi.Input<string>;
  /** Changing this generates a new password (only when busPassword is absent). */
  rotation: string;
}

/**
 * The contract's generated-password shape: GENERATED_PASSWORD_LENGTH letters and digits (upper,
 * lower and numeric are the provider's defaults), which contract's HostPassword accepts and which
 * need no quoting in a shell-sourced env file.
 */
function generatorArgs(rotation: string): random.RandomPasswordArgs {
  return {
    length: GENERATED_PASSWORD_LENGTH,
    special: false,
    minUpper: 1,
    minLower: 1,
    minNumeric: 1,
    keepers: { rotation },
  };
}

/** Always a secret, whichever way it came. */
export function busPassword(name: string, args: PasswordArgs, opts: pulumi.CustomResourceOptions): pulumi.Output<string> {
  return pulumi.secret(args.busPassword ?? new random.RandomPassword(`${name}-password`, generatorArgs(args.rotation), opts).result);
}
