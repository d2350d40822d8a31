/** Host configs shared by the provision tests (example.com only: no real names). */
import { type HostConfigInput, parseHostConfig } from "../../provision/config";

export const MINIMAL: HostConfigInput = { domain: "example.com", acmeEmail: "ops@example.com" };
export const ED25519_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGhTR0y7mYq3X4z1w2mKqJ7vC0bVd3aY8kQfR1nH2sTu alice@laptop";
export const TEST_PEM = "-----BEGIN CERTIFICATE-----\nMIIBdummyPEMbody\n-----END CERTIFICATE-----\n";
export const BUNDLE_SHA = "ab".repeat(32);

export const cfgOf = (extra: Partial<HostConfigInput> = {}) => parseHostConfig({ ...MINIMAL, ...extra });

/** The one config the golden files (test/provision/golden/) are rendered from: every optional piece present. */
export const GOLDEN_CFG = () =>
  cfgOf({
    acmeCaBundle: TEST_PEM,
    clientSshKeys: [ED25519_KEY],
    sharedDir: { maxAgeDays: 30 },
    rootSshKeys: [ED25519_KEY],
    volume: { device: "/dev/disk/by-id/scsi-0DO_Volume_claude-bus-prod" },
    publicIpv4: "203.0.113.10",
    backups: { keep: 30, hourUtc: 4 },
  });
