/** Signing in with a name and secret, and redeeming an invite link (its secret shown once). */
import type { Session } from "./api";
import { el, field, replace, status } from "./dom";
import { enroll, signIn } from "./session";

export function signInView(root: HTMLElement, signedIn: (s: Session) => void, note = ""): void {
  const name = el("input", { name: "username", id: "signin-name", autocomplete: "username", required: true, spellcheck: "false", autocapitalize: "none" });
  const secret = el("input", { type: "password", name: "password", id: "signin-secret", autocomplete: "current-password", required: true });
  const say = status(note);
  const submit = el("button", { type: "submit", class: "primary" }, "Sign in");
  const form = el(
    "form",
    { class: "signin", "aria-label": "sign in" },
    field("Name", name),
    field("Secret", secret, "your own, or the team password with the team's user name"),
    el("div", { class: "actions" }, submit),
    say,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    submit.disabled = true;
    try {
      const session = await signIn(name.value.trim(), secret.value);
      secret.value = "";
      signedIn(session);
    } catch (error) {
      say.textContent = `not signed in: ${(error as Error).message}`;
      secret.value = "";
      secret.focus();
    } finally {
      submit.disabled = false;
    }
  });
  replace(root, el("main", { class: "narrow" }, el("h1", {}, "claude-bus"), form));
  name.focus();
}

export function joinView(root: HTMLElement, code: string, signedIn: (s: Session) => void): void {
  const say = status();
  const join = el("button", { type: "button", class: "primary" }, "Join");
  const box = el(
    "main",
    { class: "narrow" },
    el("h1", {}, "claude-bus"),
    el("h2", {}, "You were invited"),
    el("p", {}, "Joining uses up this invite and gives you your own secret."),
    join,
    say,
  );
  join.addEventListener("click", async () => {
    join.disabled = true;
    try {
      const enrolled = await enroll(code);
      const next = el("button", { type: "button", class: "primary", onclick: () => signedIn(enrolled) }, "I saved it: go to the inbox");
      replace(
        box,
        el("h1", {}, "claude-bus"),
        el("h2", { tabindex: "-1" }, `Welcome, ${enrolled.name}`),
        el("p", {}, "Your secret, shown this once. Keep it in your password manager: you sign in with your name and it."),
        el(
          "dl",
          {},
          el("dt", {}, "Name"),
          el("dd", {}, el("code", { class: "enrolled-name" }, enrolled.name)),
          el("dt", {}, "Secret"),
          el("dd", {}, el("code", { class: "enrolled-secret" }, enrolled.pass)),
        ),
        next,
      );
      next.focus();
    } catch (error) {
      say.textContent = `could not join: ${(error as Error).message}`;
      join.disabled = false;
    }
  });
  replace(root, box);
  join.focus();
}
