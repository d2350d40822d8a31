/** Signing in and out: the bus keeps the session; the browser keeps only its HttpOnly cookie, never a secret. */
import { api, type Session } from "./api";

export const currentSession = () => api<Session>("GET", "/session", undefined, { quiet401: true });

export const signIn = (name: string, secret: string) => api<Session>("POST", "/session", { name, secret }, { quiet401: true });

export const signOut = () => api<unknown>("DELETE", "/session", undefined, { quiet401: true });

export interface Enrolled extends Session {
  pass: string;
}

export const enroll = (code: string) => api<Enrolled>("POST", "/session/enroll", { code }, { quiet401: true });

/** An invite link's code (`/#join=CODE`), taken out of the address bar at once so it is not kept in history. */
export function takeJoinCode(): string | null {
  const match = /^#join=([^&]+)$/.exec(location.hash);
  if (!match) return null;
  history.replaceState(null, "", location.pathname + location.search);
  return decodeURIComponent(match[1]!);
}
