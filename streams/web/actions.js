/*
  opvangwacht status page: acting on an alert (acknowledge, silence) and looking into it (its
  history, its CAP message). Served by the worker at /actions.js, included by index.html with one
  <script src> line; it needs nothing of that page but the container #oncall (made here if it is
  missing) and the data-alert-id attribute on each alert, which it finds by watching the page.

  The API token is asked once per browser session and kept in sessionStorage (gone when the tab
  closes; never in the page, never in localStorage or a cookie). Without it the page stays read
  only: history and CAP message for everyone, the buttons only after logging in.
  Every value from the API goes into the page as text, never as HTML; styles through the CSSOM
  (the page's Content-Security-Policy allows no style attributes).
*/
"use strict";

(() => {
  const TOKEN_KEY = "opvangwacht.token";
  const NAME_KEY = "opvangwacht.name";
  const DURATIONS = [["1 uur", 1], ["4 uur", 4], ["24 uur", 24], ["7 dagen", 168]];
  const HISTORY_LABELS = {
    change: "wijziging", routed: "verzonden naar", attempt: "poging", ack: "bevestigd",
    escalation: "opgeschaald", "delivery-report": "afleverbericht", dead: "opgegeven",
  };
  const when = new Intl.DateTimeFormat("nl-NL", {
    day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
    timeZone: "Europe/Amsterdam",
  });
  const store = window.sessionStorage;
  /** Alert ids whose history is open, and the last message per alert: both outlive the
   * page's re-render every 30 s, and so do silence forms being filled in. A form, once opened,
   * is the one copy of what was chosen and typed until it is sent or cancelled: the element
   * itself is moved into the re-rendered alert (never made again from a copy, never a second
   * one), kept aside while its alert is not on the page or not to be silenced, and a rebuild of
   * the buttons after reading the silences leaves it where it is. */
  const openHistory = new Set();
  const messages = new Map();
  const forms = new Map();
  let silences = [];
  /** The silences read that counts: a read started later makes an earlier one stale, whatever
   * order their answers arrive in (two re-renders shortly after each other). */
  let generation = 0;
  let inFlight = 0;
  /** The field of a silence form the person is working in, and where the cursor is in it. Moving
   * the form (the page replaced its alert) takes the focus away; once the form is back on the
   * page the field gets it back, cursor and all, unless the person went somewhere else. */
  let working = null;
  const cursors = new WeakMap();

  const STYLE = {
    bar: {
      gridColumn: "1 / -1", display: "flex", flexWrap: "wrap", gap: "0.4rem",
      alignItems: "center", marginTop: "0.3rem",
    },
    button: {
      minHeight: "2.4rem", padding: "0.3rem 0.8rem", font: "inherit", fontSize: "0.95rem",
      color: "var(--text)", background: "var(--panel)", border: "1px solid var(--muted)",
      borderRadius: "4px", cursor: "pointer",
    },
    link: { color: "var(--info)", padding: "0.3rem 0.2rem", fontSize: "0.95rem" },
    input: {
      minHeight: "2.4rem", font: "inherit", fontSize: "0.95rem", color: "var(--text)",
      background: "var(--bg)", border: "1px solid var(--line)", padding: "0.3rem 0.5rem",
      flex: "1 1 10rem", minWidth: "0", maxWidth: "100%",
    },
    // At most the screen's width, also while the page around it is wider than a phone.
    form: {
      display: "flex", flexWrap: "wrap", gap: "0.4rem", alignItems: "center",
      flexBasis: "100%", maxWidth: "min(100%, calc(100vw - 3rem))",
    },
    note: { color: "var(--muted)", fontSize: "0.9rem", flexBasis: "100%" },
    panel: {
      gridColumn: "1 / -1", margin: "0.3rem 0 0", padding: "0.5rem 0.7rem 0.5rem 1.6rem",
      background: "var(--bg)", fontSize: "0.9rem", overflowWrap: "anywhere",
    },
    login: {
      display: "flex", flexWrap: "wrap", gap: "0.4rem", alignItems: "center",
      padding: "0.6rem 0.9rem", marginBottom: "0.6rem", background: "var(--panel)",
      maxWidth: "min(100%, calc(100vw - 3rem))",
    },
  };

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "style") Object.assign(node.style, value);
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const token = () => store.getItem(TOKEN_KEY);
  const who = () => store.getItem(NAME_KEY) || "";

  async function call(method, path, body, given) {
    const headers = { Accept: "application/json" };
    const bearer = given || token();
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method, headers, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const reason = typeof data === "string" ? data : (data && data.error) || "";
      const error = new Error(reason || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function failure(error) {
    if (error.status === 401) {
      store.removeItem(TOKEN_KEY);
      renderLogin();
      decorateAll(true);
      return "Het token is niet (meer) geldig: log opnieuw in.";
    }
    return `Mislukt: ${error.message || error}`;
  }

  function refreshPage() {
    if (typeof window.load === "function") window.load();
  }

  // ------------------------------------------------------------------ log-in

  function container() {
    let box = document.getElementById("oncall");
    if (!box) {
      box = h("div", { id: "oncall" });
      const list = document.getElementById("alerts");
      if (list && list.parentNode) list.parentNode.insertBefore(box, list);
      else document.body.prepend(box);
    }
    return box;
  }

  function renderLogin(message) {
    const box = container();
    if (token()) {
      box.replaceChildren(h("div", { style: STYLE.login, id: "oncall-session" },
        h("span", {}, `Ingelogd als ${who()}: bevestigen en stilzetten kan.`),
        h("button", { type: "button", id: "oncall-logout", style: STYLE.button, onclick: () => {
          store.removeItem(TOKEN_KEY);
          forms.clear();
          working = null;
          renderLogin("Uitgelogd.");
          decorateAll(true);
        } }, "Uitloggen"),
        message ? h("span", { role: "status", style: STYLE.note }, message) : null));
      return;
    }
    const name = h("input", {
      id: "oncall-name", type: "text", placeholder: "Uw naam", autocomplete: "name",
      maxlength: "200", required: true, "aria-label": "Uw naam", style: STYLE.input,
    });
    name.value = who();
    const secret = h("input", {
      id: "oncall-token", type: "password", placeholder: "API-token", autocomplete: "off",
      required: true, "aria-label": "API-token", style: STYLE.input,
    });
    const status = h("span", { role: "status", id: "oncall-login-status", style: STYLE.note },
      message || "Log in met het API-token om meldingen te bevestigen of stil te zetten.");
    const form = h("form", { id: "oncall-login", style: STYLE.login, onsubmit: async (event) => {
      event.preventDefault();
      const given = secret.value.trim();
      const person = name.value.trim();
      if (!given || !person) {
        status.textContent = "Vul uw naam en het API-token in.";
        return;
      }
      status.textContent = "Controleren…";
      try {
        await call("GET", "api/session", undefined, given);
      } catch (error) {
        status.textContent = error.status === 401
          ? "Dat token klopt niet." : `Inloggen mislukt: ${error.message || error}`;
        secret.value = "";
        return;
      }
      store.setItem(TOKEN_KEY, given);
      store.setItem(NAME_KEY, person);
      renderLogin();
      decorateAll(true);
      loadSilences();
    } }, name, secret,
    h("button", { type: "submit", id: "oncall-login-button", style: STYLE.button }, "Inloggen"),
    status);
    box.replaceChildren(form);
  }

  // ------------------------------------------------------------------ per alert

  function say(alertId, text) {
    messages.set(alertId, text);
    for (const node of document.querySelectorAll(".oncall-message")) {
      if (node.dataset.for === alertId) node.textContent = text;
    }
  }

  function silenceOf(alertId) {
    const now = Date.now();
    return silences.find((s) => s.status && s.status.state === "active"
      && new Date(s.endsAt).getTime() > now
      && s.matchers.length === 1 && s.matchers[0].name === "alert_id"
      && s.matchers[0].value === alertId && !s.matchers[0].isRegex && s.matchers[0].isEqual);
  }

  async function acknowledge(alertId) {
    say(alertId, "Bevestigen…");
    try {
      await call("POST", `api/alerts/${encodeURIComponent(alertId)}/ack`,
        { by: who(), comment: "bevestigd op de statuspagina" });
      say(alertId, `Bevestigd door ${who()}.`);
      refreshPage();
    } catch (error) {
      say(alertId, failure(error));
    }
  }

  /** True once the silence is made; on a failure the form stays as it is, to send again. */
  async function silence(alertId, hours, reason) {
    const start = new Date();
    const end = new Date(start.getTime() + hours * 3600 * 1000);
    say(alertId, "Stilzetten…");
    try {
      await call("POST", "api/v2/silences", {
        matchers: [{ name: "alert_id", value: alertId, isRegex: false, isEqual: true }],
        startsAt: start.toISOString(), endsAt: end.toISOString(),
        createdBy: who(), comment: reason,
      });
    } catch (error) {
      say(alertId, failure(error));
      return false;
    }
    say(alertId, `Stil tot ${when.format(end)}.`);
    return true;
  }

  async function unsilence(alertId, silenceId) {
    try {
      await call("DELETE", `api/v2/silence/${encodeURIComponent(silenceId)}`);
    } catch (error) {
      say(alertId, failure(error));
      return;
    }
    say(alertId, "Niet meer stil.");
    await loadSilences();
  }

  /** The silence form for ``alertId``, kept in ``forms`` until it is sent or cancelled. */
  function silenceForm(alertId) {
    const hours = h("select", { "aria-label": "Hoe lang", class: "oncall-duration",
      style: { ...STYLE.input, flex: "0 1 8rem" } },
    DURATIONS.map(([label, value]) => h("option", { value: String(value) }, label)));
    const reason = h("input", { type: "text", class: "oncall-reason", placeholder: "Reden",
      maxlength: "1000", required: true, "aria-label": "Reden", style: STYLE.input });
    const send = h("button", { type: "submit", class: "oncall-silence-submit",
      style: STYLE.button }, "Stilzetten");
    const close = () => {
      forms.delete(alertId);
      if (working && form.contains(working)) working = null;
      form.remove();
    };
    const form = h("form", { class: "oncall-silence-form", style: STYLE.form,
      onsubmit: async (event) => {
        event.preventDefault();
        if (send.disabled) return;
        if (!reason.value.trim()) {
          say(alertId, "Geef een reden op.");
          return;
        }
        send.disabled = true;
        const made = await silence(alertId, Number(hours.value), reason.value.trim());
        send.disabled = false;
        if (!made) return;
        close();
        await loadSilences();
      } },
    hours, reason, send,
    h("button", { type: "button", style: STYLE.button, onclick: close }, "Annuleren"));
    forms.set(alertId, form);
    return form;
  }

  /** Put the kept silence form of ``alertId`` (if any) in ``bar`` when the alert can be silenced
   * from it, else keep it aside; a form that is no longer kept leaves the bar. */
  function placeForm(bar, alertId) {
    const form = forms.get(alertId);
    for (const other of bar.querySelectorAll(":scope > .oncall-silence-form")) {
      if (other !== form) other.remove();
    }
    if (!form) return;
    if (token() && bar.querySelector(":scope > .oncall-silence")) {
      if (form.parentNode !== bar) bar.append(form);
    } else if (form.isConnected) {
      form.remove();
    }
  }

  document.addEventListener("focusin", (event) => {
    const inForm = event.target instanceof Element && event.target.closest(".oncall-silence-form");
    working = inForm ? event.target : null;
  });
  document.addEventListener("focusout", (event) => {
    const field = event.target;
    if (field !== working) return;
    if (field instanceof HTMLInputElement && field.type === "text") {
      cursors.set(field, [field.selectionStart, field.selectionEnd, field.selectionDirection]);
    }
    // Removing the form from the page fires focusout too, while the field is still in it: only a
    // field that is on the page after this event and without the focus was left by the person.
    queueMicrotask(() => {
      if (working === field && field.isConnected && document.activeElement !== field) {
        working = null;
      }
    });
  });

  /** Give the field the person was working in its focus and cursor back, once its form is on
   * the page again; not when the focus is somewhere else now. */
  function restoreFocus() {
    const field = working;
    if (!field || !field.isConnected || document.activeElement === field) return;
    if (document.activeElement && document.activeElement !== document.body) return;
    field.focus({ preventScroll: true });
    const cursor = cursors.get(field);
    if (cursor) field.setSelectionRange(...cursor);
  }

  async function fillHistory(alertId, panel) {
    panel.replaceChildren(h("li", {}, "Laden…"));
    try {
      const body = await call("GET", `api/alerts/${encodeURIComponent(alertId)}/history`);
      const entries = (body && body.history) || [];
      if (!entries.length) {
        panel.replaceChildren(h("li", {}, "Nog niets vastgelegd."));
        return;
      }
      panel.replaceChildren(...entries.map((entry) => {
        const time = entry.time ? when.format(new Date(entry.time)) : "";
        const event = entry.event || {};
        const detail = [
          entry.by, entry.receiver, entry.status || event.status,
          event.revision ? `wijziging ${event.revision}` : null, entry.comment, entry.error,
        ].filter((part) => part !== null && part !== undefined && part !== "").join(" · ");
        return h("li", { class: "oncall-history-entry" },
          h("strong", {}, `${time} ${HISTORY_LABELS[entry.type] || entry.type || ""}`),
          detail ? ` ${detail}` : "");
      }));
    } catch (error) {
      panel.replaceChildren(h("li", {}, `Geschiedenis niet te laden: ${error.message || error}`));
    }
  }

  /** The buttons that depend on the log-in and the silences, before the message; rebuilt only
   * when what they show changes, so a rebuild takes no tap and no form away for nothing. */
  function fillBar(bar, alertId) {
    const quiet = token() ? silenceOf(alertId) : null;
    const state = JSON.stringify([!!token(), quiet ? [quiet.id, quiet.endsAt] : null]);
    if (bar.dataset.state !== state) {
      bar.dataset.state = state;
      const old = ":scope > .oncall-ack, :scope > .oncall-silence, :scope > .oncall-unsilence";
      bar.querySelectorAll(old).forEach((node) => node.remove());
      const controls = [];
      if (token()) {
        controls.push(h("button", { type: "button", class: "oncall-ack", style: STYLE.button,
          onclick: () => acknowledge(alertId) }, "Bevestigen"));
        if (quiet) {
          const until = when.format(new Date(quiet.endsAt));
          controls.push(h("button", { type: "button", class: "oncall-unsilence",
            style: STYLE.button, onclick: () => unsilence(alertId, quiet.id) },
          `Stil tot ${until}: opheffen`));
        } else {
          controls.push(h("button", { type: "button", class: "oncall-silence", style: STYLE.button,
            onclick: () => {
              const form = forms.get(alertId) || silenceForm(alertId);
              placeForm(bar, alertId);
              form.querySelector(".oncall-reason").focus();
            } }, "Stilzetten"));
        }
      }
      bar.querySelector(":scope > .oncall-message").before(...controls);
    }
    placeForm(bar, alertId);
  }

  function decorate(item) {
    const alertId = item.dataset.alertId;
    const panel = h("ol", { class: "oncall-history", "data-for": alertId, style: STYLE.panel });
    panel.hidden = !openHistory.has(alertId);
    const bar = h("div", { class: "oncall-actions", "data-for": alertId, style: STYLE.bar },
      h("button", { type: "button", class: "oncall-history-button", style: STYLE.button,
        "aria-expanded": String(!panel.hidden), onclick: (event) => {
          panel.hidden = !panel.hidden;
          event.currentTarget.setAttribute("aria-expanded", String(!panel.hidden));
          if (panel.hidden) openHistory.delete(alertId);
          else {
            openHistory.add(alertId);
            fillHistory(alertId, panel);
          }
        } }, "Geschiedenis"),
      h("a", { class: "oncall-cap", href: `api/cap/${encodeURIComponent(alertId)}`,
        target: "_blank", rel: "noopener", style: STYLE.link }, "CAP-bericht"),
      h("span", { class: "oncall-message", "data-for": alertId, role: "status",
        style: STYLE.note }, messages.get(alertId) || ""));
    fillBar(bar, alertId);
    item.append(bar, panel);
    if (!panel.hidden) fillHistory(alertId, panel);
  }

  /** Give every alert the page has newly drawn its buttons; ``again``: bring those of the alerts
   * already done up to date too (after a log-in or out, after reading the silences). */
  function decorateAll(again) {
    for (const item of document.querySelectorAll("[data-alert-id]")) {
      const bar = item.querySelector(":scope > .oncall-actions");
      if (!bar) decorate(item);
      else if (again) fillBar(bar, item.dataset.alertId);
    }
    restoreFocus();
  }

  async function loadSilences() {
    const mine = ++generation;
    inFlight += 1;
    document.body.dataset.silencesPending = String(inFlight);
    let found = null;
    try {
      found = await call("GET", "api/v2/silences");
    } catch (_) {
      found = null;
    }
    inFlight -= 1;
    document.body.dataset.silencesPending = String(inFlight);
    // An answer to a read that a later one overtook is dropped: the later one's answer counts,
    // also when it arrived first.
    if (mine !== generation) return;
    silences = Array.isArray(found) ? found : [];
    decorateAll(true);
    // How often the newest silences were read and the bars brought up to date: a reader (a test)
    // can wait for the update that follows a re-render before it taps.
    const read = Number(document.body.dataset.silencesRead || 0) + 1;
    document.body.dataset.silencesRead = String(read);
  }

  let pending = false;
  new MutationObserver(() => {
    if (pending) return;
    pending = true;
    queueMicrotask(() => {
      pending = false;
      if (document.querySelector("[data-alert-id]:not(:has(> .oncall-actions))")) {
        decorateAll(false);
        if (token()) loadSilences();
      }
    });
  }).observe(document.body, { childList: true, subtree: true });

  renderLogin();
  decorateAll(false);
  if (token()) loadSilences();
})();
