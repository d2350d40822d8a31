const UNITS = ["KiB", "MiB", "GiB", "TiB"];

/** 812 B, 1.2 KiB, 34 MiB: a size a person reads at a glance (the CLI, the hooks and the web app alike). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 9.95 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`;
}
