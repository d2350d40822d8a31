/**
 * Who is here: every machine and person with last seen and unread. The team credential or an admin person
 * also invites (the code, the link a person opens, the one command a machine runs) and revokes.
 */
import { api } from "./api";
import { type Ctx, screen, type View } from "./context";
import { el, field, replace, status, visible } from "./dom";
import { when } from "./format";

interface Member {
  name: string;
  kind?: string;
  admin?: boolean;
  last_seen: string | null;
  unread: number;
  credential: { revoked: string | null } | null;
}

interface Roster {
  machines: Member[];
  invites: Array<{ name: string; invited: string; expires: string }>;
}

interface Invite {
  name: string;
  code: string;
  expires: string;
}

const credentialState = (m: Member) => (m.credential === null ? "no credential" : m.credential.revoked ? "revoked" : "active");

export function peopleView(ctx: Ctx): View {
  const table = el("tbody");
  const invites = el("ul", { class: "invites", "aria-label": "pending invites" });
  const say = status("loading…");
  const invited = el("div", { class: "invited", "aria-live": "polite" });

  const load = async () => {
    try {
      const roster = await api<Roster>("GET", "/machines");
      say.textContent = "";
      replace(table, ...roster.machines.map(row));
      replace(
        invites,
        ...roster.invites.map((i) => el("li", {}, el("strong", {}, visible(i.name)), ` invited ${when(i.invited)}, expires ${when(i.expires)}`)),
      );
    } catch (error) {
      say.textContent = `could not load: ${(error as Error).message}`;
    }
  };

  const row = (m: Member) => {
    const state = credentialState(m);
    const actions = el("td", {});
    if (ctx.admin && state === "active" && m.name !== ctx.session.name) {
      const revoke = el("button", { type: "button", class: "danger", "aria-label": `revoke ${visible(m.name)}` }, "Revoke");
      revoke.addEventListener("click", () => {
        // Two steps, both real buttons: no browser dialog, and a keyboard user confirms as easily.
        const confirm = el("button", { type: "button", class: "danger", "aria-label": `confirm revoking ${visible(m.name)}` }, `Revoke ${visible(m.name)} now`);
        const cancel = el("button", { type: "button", onclick: () => replace(actions, revoke) }, "Cancel");
        confirm.addEventListener("click", async () => {
          try {
            await api("POST", `/machines/${encodeURIComponent(m.name)}/revoke`);
            say.textContent = `${visible(m.name)} revoked`;
            await load();
          } catch (error) {
            say.textContent = `not revoked: ${(error as Error).message}`;
          }
        });
        replace(actions, confirm, cancel);
        confirm.focus();
      });
      actions.appendChild(revoke);
    }
    return el(
      "tr",
      { "data-name": m.name },
      el("th", { scope: "row" }, visible(m.name), m.admin ? el("span", { class: "badge" }, "admin") : null),
      el("td", {}, m.kind ?? "machine"),
      el("td", {}, state),
      el("td", {}, when(m.last_seen)),
      el("td", {}, String(m.unread)),
      actions,
    );
  };

  const inviteForm = () => {
    const name = el("input", { name: "name", required: true, autocomplete: "off", spellcheck: "false" });
    const kind = el("select", { name: "kind" }, el("option", { value: "machine" }, "a machine"), el("option", { value: "person" }, "a person"));
    const form = el(
      "form",
      { class: "invite", "aria-label": "invite" },
      field("Name", name),
      field("For", kind),
      el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Invite")),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const invite = await api<Invite>("POST", "/invites", { name: name.value.trim(), ...(kind.value === "person" && { kind: "person" }) });
        const link = `${location.origin}/#join=${encodeURIComponent(invite.code)}`;
        const command = `claude-bus bootstrap --invite ${invite.code} --url ${location.origin}`;
        replace(
          invited,
          el("h3", {}, `Invite for ${visible(invite.name)}`),
          el("p", {}, `Expires ${when(invite.expires)}. Shown once: pass it on now.`),
          el(
            "dl",
            {},
            el("dt", {}, "Code"),
            el("dd", {}, el("code", { class: "invite-code" }, invite.code)),
            el("dt", {}, "Link for a person"),
            el("dd", {}, el("code", { class: "invite-link" }, link)),
            el("dt", {}, "Command for a machine"),
            el("dd", {}, el("code", { class: "invite-command" }, command)),
          ),
        );
        form.reset();
        await load();
      } catch (error) {
        replace(invited, el("p", { role: "alert" }, `not invited: ${(error as Error).message}`));
      }
    });
    return form;
  };

  void load();
  return screen(
    "People and machines",
    "people",
    say,
    el(
      "div",
      { class: "scroll" },
      el(
        "table",
        {},
        el("thead", {}, el("tr", {}, ...["Name", "Kind", "Credential", "Last seen", "Unread", "Actions"].map((h) => el("th", { scope: "col" }, h)))),
        table,
      ),
    ),
    el("h3", {}, "Pending invites"),
    invites,
    ctx.admin ? el("div", {}, el("h3", {}, "Invite"), inviteForm(), invited) : null,
  );
}
