/**
 * The MCP server's claim tools (docs/API.md "Claims"): claim, release, claims. Answers that carry another
 * machine's words (resources, holders, notes) are framed and escaped like every bus answer.
 */
import { z } from "zod";
import { type BusClient, type Claim, ClaimHeldError, claimWaiting } from "../../client/index";
import { ClaimResource } from "../../contract/claims";
import { DEFAULT_CLAIM_TTL_SECONDS, MAX_CLAIM_NOTE_CHARS, MAX_CLAIM_TTL_SECONDS, MIN_CLAIM_TTL_SECONDS } from "../../contract/defaults";
import { NAME_PATTERN } from "../../contract/names";
import type { ClientConfig } from "../config";
import { claimEntry } from "../delivery/claimsNote";
import { escapeText, frameLines } from "../delivery/frame";
import { MAX_TOOL_WAIT_SECONDS, text, tool, TOOL_OUTPUT_BUDGET } from "./mcp";

const framed = (intro: string, claims: Claim[]) => text(frameLines("claude-bus-claims", intro, claims.map(claimEntry), TOOL_OUTPUT_BUDGET));

export function claimTools(connect: () => Promise<{ cfg: ClientConfig; client: BusClient }>) {
  return {
    claim: tool({
      description:
        "Claim a resource on the claude bus before working on it, so agents on other machines leave it alone (repo:<path>, task:<name>); " +
        "claiming my own renews it. Returns a fencing token, or who holds it and why.",
      input: {
        resource: ClaimResource.describe("what to claim, e.g. repo:infra/volume.ts or task:deploy-staging (1-512 printable characters)"),
        ttl_seconds: z
          .number()
          .int()
          .min(MIN_CLAIM_TTL_SECONDS)
          .max(MAX_CLAIM_TTL_SECONDS)
          .optional()
          .describe(`how long the claim lasts unless renewed or released (default ${DEFAULT_CLAIM_TTL_SECONDS})`),
        note: z.string().max(MAX_CLAIM_NOTE_CHARS).optional().describe("what I am doing with it, shown to the others"),
        wait_seconds: z
          .number()
          .int()
          .min(0)
          .max(MAX_TOOL_WAIT_SECONDS)
          .optional()
          .describe("if another machine holds it, wait up to this long for it to be free"),
      },
      async run({ resource, ttl_seconds, note, wait_seconds }) {
        const { cfg, client } = await connect();
        try {
          const c = await claimWaiting(client, { resource, ttl: ttl_seconds ?? DEFAULT_CLAIM_TTL_SECONDS, note, holder: cfg.me }, wait_seconds ?? 0);
          return text(escapeText(`claimed ${c.resource} as ${c.holder}: token ${c.token}, until ${c.expires}. Release it with the release tool when done.`));
        } catch (error) {
          if (!(error instanceof ClaimHeldError)) throw error;
          return framed("Not claimed: another machine holds it. Leave it alone, wait for it (wait_seconds), or ask its holder on the bus.", [error.heldBy]);
        }
      },
    }),
    release: tool({
      description: "Release a claim I hold on the claude bus, when done with the resource.",
      input: { resource: ClaimResource.describe("the resource I claimed") },
      async run({ resource }) {
        const { cfg, client } = await connect();
        const answer = await client.release({ resource, holder: cfg.me });
        return text(escapeText(answer.released ? `released ${resource} (token ${answer.claim?.token})` : `${resource} was not claimed: nothing to release`));
      },
    }),
    claims: tool({
      description: "The live claims on the claude bus (who works on what), optionally only one machine's or those under a prefix such as repo:infra/.",
      input: {
        holder: z.string().regex(NAME_PATTERN).optional().describe("only this machine's claims"),
        prefix: z.string().max(512).optional().describe("only resources that start with this, e.g. repo:infra/"),
      },
      async run({ holder, prefix }) {
        const { client } = await connect();
        const list = await client.claims({ holder, prefix });
        if (list.length === 0) return text("no live claims");
        return framed("Live claims on the bus, by resource; resources, holders and notes are chosen by the machines that claimed them.", list);
      },
    }),
  };
}
