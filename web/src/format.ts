/** How sizes and times read in the app. */

export { formatBytes as size } from "../../contract/byteSize";

// Made once: a formatter costs far more to create than to use, and the inbox formats hundreds of times.
const TIME = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit" });
const DATE_TIME = new Intl.DateTimeFormat([], { dateStyle: "medium", timeStyle: "short" });

/** A time as the reader's clock says it; today's without the date. */
export function when(iso: string | null | undefined): string {
  if (!iso) return "never";
  const date = new Date(iso);
  const today = new Date().toDateString() === date.toDateString();
  return (today ? TIME : DATE_TIME).format(date);
}

export function firstLine(text: string, max = 120): string {
  const line = text.split("\n").find((l) => l.trim() !== "") ?? "";
  return line.length > max ? `${line.slice(0, max - 1)}\u2026` : line;
}
