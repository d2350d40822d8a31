/** The web inbox's entry: an invite link redeems, a live session opens the inbox, anything else signs in. */
import type { Session } from "./api";
import { startApp } from "./app";
import { el, replace } from "./dom";
import { currentSession, takeJoinCode } from "./session";
import { joinView, signInView } from "./signInView";

const root = document.getElementById("app")!;

function open(session: Session): void {
  startApp(root, session, signIn).catch((error: Error) => replace(root, el("p", { role: "alert" }, `the inbox could not load: ${error.message}`)));
}

function signIn(note = ""): void {
  signInView(root, open, note);
}

const code = takeJoinCode();
if (code) joinView(root, code, open);
else currentSession().then(open, () => signIn());
