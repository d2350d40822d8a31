/**
 * The one secret the host steps receive, on stdin only: the service's credentials env file, rendered by
 * the contract's writer. The same text is the client's ~/.secrets/claude-bus.env (the stack's clientEnv).
 */
import { renderEnvFile } from "../contract/envFile";
import type { HostConfig } from "./config";

export const busUrlOf = (cfg: HostConfig): string => `https://${cfg.fqdn}`;

export function credentialsEnv(cfg: HostConfig, password: string): string {
  return renderEnvFile({ BUS_USER: cfg.busUser, BUS_PASS: password, BUS_URL: busUrlOf(cfg) });
}
