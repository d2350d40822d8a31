/**
 * The bus's HTTP API as the app uses it: same origin, the session cookie (HttpOnly: this script never
 * sees it), JSON in and out. A 401 means the session ended: the app goes back to signing in.
 */
export interface Attachment {
  sha256: string;
  name: string;
  size: number;
}

export interface Message {
  id: string;
  ts: string;
  from: string;
  to: string;
  body: string;
  tags: string[];
  read_by: string[];
  thread?: string;
  reply_to?: string;
  attachments?: Attachment[];
  verified?: true;
}

export interface Session {
  name: string;
  kind: "machine" | "person" | "team";
  admin?: boolean;
  expires: string;
}

export interface Page {
  messages: Message[];
  more?: boolean;
  before?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let signedOut: () => void = () => undefined;

/** What to do when the bus says the session is over. */
export function onSignedOut(handler: () => void): void {
  signedOut = handler;
}

export type Query = Record<string, string | number | undefined>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== "") params.set(key, String(value));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** One request; the bus's `{"error"}` text becomes the ApiError's message. */
export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  options: { signal?: AbortSignal; quiet401?: boolean; headers?: Record<string, string> } = {},
): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { ...(body !== undefined && { "content-type": "application/json" }), ...options.headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: options.signal,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = {};
  }
  if (!res.ok) {
    if (res.status === 401 && !options.quiet401) signedOut();
    const error = (json as { error?: unknown }).error;
    throw new ApiError(res.status, typeof error === "string" ? error : `${res.status} ${res.statusText}`);
  }
  return json as T;
}

/** Every page of a listing (oldest first, `since` as the cursor), at most `maxPages` of them. */
export async function allMessages(query: Query, maxPages = 10): Promise<Message[]> {
  const out: Message[] = [];
  let since = query.since;
  for (let page = 0; page < maxPages; page++) {
    const answer = await api<Page>("GET", withQuery("/messages", { ...query, since, limit: 500 }));
    out.push(...answer.messages);
    if (!answer.more || answer.messages.length === 0) break;
    since = answer.messages[answer.messages.length - 1]!.id;
  }
  return out;
}

export const fileUrl = (a: Attachment) => withQuery(`/files/${a.sha256}`, { name: a.name });
