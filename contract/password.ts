/** Bus passwords: what a credential may hold, what the host accepts, and how new ones are made. */
import { randomInt } from "node:crypto";
import { z } from "zod";
import { GENERATED_PASSWORD_LENGTH } from "./defaults";

/**
 * Any password a client may be given (a seed-era bus may have its own): no whitespace, which no
 * env file, curl config or Basic-auth header could carry unquoted.
 */
export const PasswordText = z.string().min(1, "must not be empty").regex(/^\S+$/, "must not contain whitespace");

/**
 * Characters of a password the deployment sets: it travels on stdin into the service's
 * env file, a curl config and the clients' shell-sourced env file, and needs quoting in none of them
 * (no '~', which bash expands, no '!', '*', quotes, '$' or backslash).
 */
export const HOST_PASSWORD_CHARS = "A-Za-z0-9._+/=@%,:-";
export const HOST_PASSWORD_MIN = GENERATED_PASSWORD_LENGTH;
export const HOST_PASSWORD_MAX = 128;
/** The same rule as one anchored regex source, for bash's `=~` in the host steps. */
export const HOST_PASSWORD_REGEX = `^[${HOST_PASSWORD_CHARS}]{${HOST_PASSWORD_MIN},${HOST_PASSWORD_MAX}}$`;
export const HOST_PASSWORD_RULE = `must be ${HOST_PASSWORD_MIN}-${HOST_PASSWORD_MAX} characters from ${HOST_PASSWORD_CHARS}`;

export const HostPassword = z.string().regex(new RegExp(HOST_PASSWORD_REGEX), HOST_PASSWORD_RULE);

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Random alphanumerics (the seed's 28-character shape): valid under every rule above. */
export function generatePassword(length = GENERATED_PASSWORD_LENGTH): string {
  let out = "";
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

/** An invite code: four groups of five letters and digits (~119 bits), safe to read out for its short life. */
export function generateInviteCode(): string {
  return Array.from({ length: 4 }, () => generatePassword(5)).join("-");
}
