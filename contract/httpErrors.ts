/**
 * Every HTTP error the bus answers, in one table (as ntfy's server/errors.go): the service answers
 * them itself, and the nginx site answers its own (413, 429, 5xx when the service is away) from the
 * same table, so a client sees one JSON shape whichever layer answered.
 * The body is always `{"error": "<text>"}`, with the text made more precise where the service knows more.
 */
export interface HttpErrorKind {
  status: number;
  /** The general text; an answer may replace it with a more precise one about the same error. */
  text: string;
}

export const HTTP_ERRORS = {
  badRequest: { status: 400, text: "bad request" },
  httpVersion: { status: 400, text: "unsupported HTTP version: use HTTP/1.1, or HTTP/2 over TLS" },
  unauthorized: { status: 401, text: "authentication required: wrong or missing credential" },
  forbidden: { status: 403, text: "this credential may not do that" },
  inviteRejected: { status: 403, text: "the invite code is unknown, used or expired" },
  crossOrigin: { status: 403, text: "cross_origin: a request signed in by the session cookie must come from the bus's own page (its Origin header)" },
  notFound: { status: 404, text: "no such route" },
  methodNotAllowed: { status: 405, text: "method not allowed" },
  requestTimeout: { status: 408, text: "the request did not arrive in time" },
  conflict: { status: 409, text: "that conflicts with the bus's current state" },
  claimHeld: { status: 409, text: "that resource is claimed by another holder" },
  gone: { status: 410, text: "that file is gone: it expired or was deleted" },
  lengthRequired: { status: 411, text: "Content-Length is required" },
  tooLarge: { status: 413, text: "request body too large" },
  uriTooLong: { status: 414, text: "the request's URL is too long" },
  unsupportedMediaType: { status: 415, text: "Content-Type must be application/json" },
  rangeNotSatisfiable: { status: 416, text: "the requested range is not within the file" },
  expectationFailed: { status: 417, text: "unsupported Expect header: only 100-continue is understood" },
  idempotencyConflict: { status: 422, text: "this Idempotency-Key was used for another message" },
  rateLimited: { status: 429, text: "too many requests, slow down" },
  headersTooLarge: { status: 431, text: "the request's headers are too large" },
  internal: { status: 500, text: "internal error" },
  badGateway: { status: 502, text: "bus service unavailable" },
  serviceUnavailable: { status: 503, text: "bus service unavailable" },
  storageUnavailable: { status: 503, text: "storage unavailable, nothing was stored" },
  gatewayTimeout: { status: 504, text: "bus service timed out" },
  insufficientStorage: { status: 507, text: "the bus's file storage limit is reached, nothing was stored" },
  claimsFull: { status: 507, text: "the bus holds the most live claims it keeps: release some, or wait for some to expire" },
} as const satisfies Record<string, HttpErrorKind>;

export type HttpErrorName = keyof typeof HTTP_ERRORS;

/** The realm of the Basic-auth challenge every 401 carries. */
export const AUTH_REALM = "claude-bus";

/** The error body, newline-terminated like every JSON answer (a curl without `| jq` ends its line). */
export function errorBody(text: string): string {
  return `${JSON.stringify({ error: text })}\n`;
}
