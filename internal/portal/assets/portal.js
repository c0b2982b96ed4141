// The Webhooks page: it shows and changes webhooks through the management
// API with the session's cookie, so the API's rules are the page's. Text
// from the server only ever enters the page as text (textContent), never
// as markup.
"use strict";

const $ = (sel) => document.querySelector(sel);

// el makes an element with properties and children (strings become text).
function el(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children) {
    if (c !== null && c !== undefined) e.append(c);
  }
  return e;
}

// call sends a request to the API and returns {ok, status, data}; data is
// the JSON answer, a problem document when not ok.
async function call(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    notice("The server did not answer; check your connection and try again.", true);
    return { ok: false, status: 0, data: {} };
  }
  let data = {};
  if (res.status !== 204) {
    try {
      data = await res.json();
    } catch (e) {
      data = { detail: "the server's answer was not JSON (" + res.status + ")" };
    }
  }
  if (res.status === 401) {
    stopPolling();
    notice("Your session has ended. Open the Webhooks page again from the app.", true);
  }
  if (res.status === 403) stopPolling();
  return { ok: res.ok, status: res.status, data };
}

// setText changes an element's text only when it differs, so that a
// selection in it survives a refresh that changed nothing.
function setText(e, text) {
  if (e.textContent !== text) e.textContent = text;
}

function notice(text, isError) {
  const n = $("#notice");
  n.textContent = text;
  n.className = isError ? "error-notice" : "ok-notice";
  n.hidden = !text;
}

function when(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString();
}

function show(view) {
  notice("");
  for (const id of ["#list-view", "#form-view", "#secret-view", "#logs-view"]) {
    $(id).hidden = id !== view;
  }
  if (view !== "#logs-view") stopPolling();
}

// ---- the list

let webhooks = [];
let moreCursor = null; // where the next page of webhooks starts; null at the end

// The list shows a page of webhooks at a time; "Show more webhooks" adds the
// next. A refresh after an action asks again for as many as are shown (up
// to 100, the API's most for one request), so that rows paged in stay.
const listPage = 20;

// loadList fills the list afresh, or adds the next page (more); grow
// shows that many more rows than now (a webhook just created, which comes
// last).
async function loadList(more, grow) {
  const q = new URLSearchParams({ limit: String(more ? listPage : Math.min(100, Math.max(listPage, webhooks.length + (grow || 0)))) });
  if (more && moreCursor) q.set("cursor", moreCursor);
  const res = await call("GET", "/v1/webhooks?" + q);
  if (!res.ok) {
    notice(res.data.detail || "Could not load the webhooks.", true);
    return;
  }
  webhooks = more ? webhooks.concat(res.data.data) : res.data.data;
  moreCursor = res.data.nextCursor;
  renderList();
}

// showMore adds the next page and puts the focus on the first webhook it
// added, whose row a screen reader then reads; the button goes at the end.
async function showMore() {
  const before = webhooks.length;
  await loadList(true);
  const first = webhooks[before];
  if (first) focusRow(first.id, "View Logs");
}

function renderList() {
  const body = $("#webhooks tbody");
  body.replaceChildren();
  $("#empty").hidden = webhooks.length > 0;
  $("#webhooks").hidden = webhooks.length === 0;
  $("#more-webhooks").hidden = !moreCursor;
  $("#list-count").hidden = !moreCursor;
  setText($("#list-count"), "Showing the first " + webhooks.length + " webhooks.");
  for (const w of webhooks) {
    const h = w.health || {};
    const status = w.enabled
      ? el("span", { className: "badge ok" }, "Enabled")
      : el("span", { className: "badge off", title: w.disabledReason || "" }, "Disabled"); // the reason is in the banner below
    const rate = h.successRate24h === null || h.successRate24h === undefined ? "—" : h.successRate24h + " % of " + h.attempts24h + " attempt" + (h.attempts24h === 1 ? "" : "s");
    // One line a webhook: its view, and the rest in a menu.
    const actions = el("div", { className: "row-actions" },
      button("View Logs", () => openLogs(w)),
      menu("Actions", "Actions for “" + w.name + "”", [
        ["Edit", () => openForm(w)],
        ["Test", () => openLogs(w, true)],
        [w.enabled ? "Disable" : "Enable", () => setEnabled(w, !w.enabled)],
        ["Rotate secret", () => rotate(w)],
        ["Delete", () => remove(w), "danger"],
      ]));
    const tr = el("tr", { className: "webhook" },
      el("td", { className: "name" }, el("span", { className: "label" }, "Name"), w.name),
      el("td", { className: "url" }, el("span", { className: "label" }, "Endpoint"), w.url),
      el("td", { className: "events" }, el("span", { className: "label" }, "Events"), w.events.map((e) => e === "*" ? "All events" : e).join(", "),
        w.filter || w.changedColumns ? el("span", { className: "filtered", title: filterSummary(w) }, " · filtered") : null),
      el("td", { className: "status" }, el("span", { className: "label" }, "Status"), status),
      el("td", { className: "rate" }, el("span", { className: "label" }, "Success (24 h)"), rate),
      el("td", { className: "last" }, el("span", { className: "label" }, "Last delivery"), when(h.lastAttemptAt)),
      el("td", {}, actions));
    tr.dataset.id = w.id;
    body.append(tr);
    const banner = trouble(w);
    if (banner) body.append(el("tr", { className: "trouble" }, el("td", { colSpan: 7 }, banner)));
  }
}

// trouble is the banner of a webhook that is disabled or failing: since
// when, the last error, and for a disabled one a button to enable it.
function trouble(w) {
  const h = w.health || {};
  const error = h.lastError ? " Last error: " + h.lastError + "." : "";
  if (!w.enabled) {
    const failing = w.failingSince ? " Its endpoint had been failing since " + when(w.failingSince) + "." : "";
    return el("div", { className: "banner off", role: "note" },
      el("strong", {}, "“" + w.name + "” is disabled"), " since " + when(w.disabledAt) + (w.disabledReason ? ": " + w.disabledReason : "") + "." + failing + error + " It gets no deliveries until enabled. ",
      button("Enable “" + w.name + "”", () => setEnabled(w, true), "primary"));
  }
  if (w.failingSince) {
    const n = h.failuresSinceSuccess ? " (" + h.failuresSinceSuccess + " failed attempt" + (h.failuresSinceSuccess === 1 ? "" : "s") + " since the last success)" : "";
    return el("div", { className: "banner warn", role: "note" },
      el("strong", {}, "“" + w.name + "” is failing"), " since " + when(w.failingSince) + n + "." + error + " Deliveries are retried. ",
      button("View its logs", () => openLogs(w)));
  }
  return null;
}

// filterSummary says in a line what a webhook's filters let through.
function filterSummary(w) {
  const parts = [];
  if (w.filter) parts.push("payload matches " + JSON.stringify(w.filter));
  if (w.changedColumns) parts.push("updates change " + w.changedColumns.join(" or "));
  return "Sent when the " + parts.join(", and ");
}

let menus = 0;

// menu is a button that opens a list of actions, as the ARIA menu button
// pattern has it: Enter, Space or ArrowDown opens it on its first item
// (ArrowUp on its last), the arrows, Home and End move, Escape closes it
// back on its button, and Tab or a click elsewhere closes it.
function menu(label, name, items) {
  const id = "menu-" + ++menus;
  const list = el("div", { role: "menu", id, className: "menu-list", hidden: true });
  const toggle = el("button", { type: "button", className: "menu-button" }, label);
  toggle.setAttribute("aria-haspopup", "menu");
  toggle.setAttribute("aria-expanded", "false");
  toggle.setAttribute("aria-controls", id);
  toggle.setAttribute("aria-label", name);
  const entries = items.map(([text, action, className]) => {
    const b = el("button", { type: "button", tabIndex: -1, className: className || "" }, text);
    b.setAttribute("role", "menuitem");
    b.addEventListener("click", () => {
      close(false);
      action();
    });
    return b;
  });
  list.append(...entries);
  const open = (i) => {
    list.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    entries[i].focus();
  };
  const close = (refocus) => {
    list.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    if (refocus) toggle.focus();
  };
  toggle.addEventListener("click", () => (list.hidden ? open(0) : close(true)));
  toggle.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      open(e.key === "ArrowDown" ? 0 : entries.length - 1);
    }
  });
  list.addEventListener("keydown", (e) => {
    const i = entries.indexOf(document.activeElement);
    const moves = { ArrowDown: i + 1, ArrowUp: i - 1 + entries.length, Home: 0, End: entries.length - 1 };
    if (e.key in moves) {
      e.preventDefault();
      entries[moves[e.key] % entries.length].focus();
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      close(true);
    } else if (e.key === "Tab") {
      close(false);
    }
  });
  list.addEventListener("focusout", (e) => {
    if (!list.contains(e.relatedTarget) && e.relatedTarget !== toggle) close(false);
  });
  return el("div", { className: "menu" }, toggle, list);
}

function button(text, onclick, className) {
  const b = el("button", { type: "button", className: className || "" }, text);
  b.addEventListener("click", onclick);
  return b;
}

// focusRow puts the focus on a button of a webhook's row, by its text, or
// on Create when the row is gone: after an action the keyboard goes on
// from where it was, not from the top of the page.
function focusRow(id, label) {
  const tr = id && document.querySelector('tr.webhook[data-id="' + CSS.escape(id) + '"]');
  let b = tr && [...tr.querySelectorAll("button")].find((x) => x.textContent === label);
  if (b && b.getAttribute("role") === "menuitem") b = tr.querySelector(".menu-button"); // the menu is closed
  (b || $("#create")).focus();
}

async function setEnabled(w, enabled) {
  const res = await call("POST", "/v1/webhooks/" + encodeURIComponent(w.id) + (enabled ? "/enable" : "/disable"), {});
  if (!res.ok) return notice(res.data.detail, true);
  await loadList();
  notice((enabled ? "Enabled " : "Disabled ") + w.name + ".");
  focusRow(w.id, enabled ? "Disable" : "Enable");
}

async function rotate(w) {
  if (!(await confirmed("Rotate the signing secret of “" + w.name + "”? The current secret keeps signing, beside the new one, for 24 hours.", "Rotate"))) return;
  const res = await call("POST", "/v1/webhooks/" + encodeURIComponent(w.id) + "/secret/rotate", {});
  if (!res.ok) return notice(res.data.detail, true);
  showSecret(res.data.secret, "The new secret of “" + w.name + "”. Copy it now: it is shown only here. The previous one signs too until " + when(res.data.previousExpiresAt) + ".",
    () => focusRow(w.id, "Rotate secret"));
}

async function remove(w) {
  if (!(await confirmed("Delete the webhook “" + w.name + "”? Its deliveries stop at once, and this cannot be undone.", "Delete"))) return;
  const res = await call("DELETE", "/v1/webhooks/" + encodeURIComponent(w.id));
  if (!res.ok) return notice(res.data.detail, true);
  await loadList();
  notice("Deleted " + w.name + ".");
  $("#create").focus();
}

// confirmed asks in a modal dialog, which keeps the keyboard's focus.
function confirmed(text, action) {
  const d = $("#confirm");
  $("#confirm-text").textContent = text;
  $("#confirm-ok").textContent = action;
  d.returnValue = "";
  return new Promise((resolve) => {
    // A close event is dispatched later than the close itself: one that
    // arrives while the dialog is open again is of the previous question.
    const onClose = () => {
      if (d.open) return;
      d.removeEventListener("close", onClose);
      resolve(d.returnValue === "ok");
    };
    d.addEventListener("close", onClose);
    d.showModal();
  });
}

// ---- create and edit

let catalogue = [];
let editing = null;
let filterShown = ""; // the filter's text as the form showed it
let formShown = ""; // the whole form as it was opened, to ask before discarding changes

function formState() {
  return JSON.stringify([$("#f-name").value, $("#f-url").value, $("#f-description").value, chosenEvents(),
    $("#f-filter").value, $("#f-changedColumns").value, $("#f-ordered").checked]);
}

// closeForm goes back to the list, asking first when the form was changed
// (ask: Escape, which is easily pressed by mistake), and puts the focus
// where the form was opened from.
async function closeForm(ask) {
  if (ask && formState() !== formShown && !(await confirmed("Discard your changes to " + (editing ? "“" + editing.name + "”" : "the new webhook") + "?", "Discard"))) {
    return;
  }
  show("#list-view");
  focusRow(editing && editing.id, "Edit");
}

// fieldError shows a message beside a field of the form.
function fieldError(field, message) {
  const slot = $("#err-" + field) || $("#err-form");
  slot.textContent = (slot.textContent ? slot.textContent + " " : "") + message;
  const input = $("#f-" + field);
  if (input) input.setAttribute("aria-invalid", "true");
  return input;
}

// readFilter reads the filter textarea: null when empty, the object when
// it is one, undefined (with the error shown) when it is not.
function readFilter() {
  const text = $("#f-filter").value.trim();
  if (text === "") return null;
  let v;
  try {
    v = JSON.parse(text);
  } catch (e) {
    fieldError("filter", "is not valid JSON: " + e.message);
    return undefined;
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    fieldError("filter", "must be a JSON object of conditions, such as {\"tickerSymbol\": \"KO\"}");
    return undefined;
  }
  return v;
}

function readColumns() {
  const list = $("#f-changedColumns").value.split(",").map((c) => c.trim()).filter((c) => c !== "");
  return list.length ? list : null;
}

async function loadCatalogue() {
  const res = await call("GET", "/v1/event-types");
  if (!res.ok) return;
  catalogue = res.data.data.map((t) => t.name);
  const groups = new Map();
  for (const name of catalogue) {
    const resource = name.slice(0, name.indexOf("."));
    if (!groups.has(resource)) groups.set(resource, []);
    groups.get(resource).push(name);
  }
  const box = $("#ev-groups");
  box.replaceChildren();
  for (const [resource, names] of groups) {
    // Events about webhooks are not among "All events": they are asked for
    // by name, and go to owners' and admins' webhooks only.
    const system = resource === "webhook" || resource === "message";
    const all = el("input", { type: "checkbox", value: resource + ".*", className: "ev-group" });
    const items = names.map((n) => el("label", {}, el("input", { type: "checkbox", value: n, className: "ev-type" }), " " + n));
    all.addEventListener("change", syncEvents);
    box.append(el("fieldset", { className: system ? "ev ev-system" : "ev" },
      el("legend", {}, system ? "About " + resource + "s (owners and admins)" : resource.replaceAll("_", " ")),
      el("label", { className: "all" }, all, " All " + resource.replaceAll("_", " ") + " events"),
      ...items,
      fieldsOf(names[0])));
  }
  const filter = $("#filter-type");
  filter.replaceChildren(filter.firstElementChild, ...catalogue.map((n) => el("option", { value: n }, n)));
}

// fieldsOf is a resource's entry of the catalogue: opened, it lists the
// fields its events' payloads carry, with their types, from the schema the
// API derives from the table.
function fieldsOf(eventType) {
  const list = el("dl", { className: "schema" });
  const d = el("details", { className: "fields" }, el("summary", {}, "Payload fields"), list);
  d.addEventListener("toggle", async () => {
    if (!d.open || list.childElementCount) return;
    const res = await call("GET", "/v1/event-types/" + encodeURIComponent(eventType));
    if (!res.ok) {
      list.replaceChildren(el("dd", {}, res.data.detail || "Could not load the fields."));
      return;
    }
    const payload = res.data.schema.properties.payload;
    const nodes = [];
    for (const [key, field] of Object.entries(payload.properties)) {
      nodes.push(el("dt", {}, el("code", {}, key)), el("dd", {}, typeOf(field)));
    }
    list.replaceChildren(...nodes);
    d.append(el("p", { className: "hint" }, "Schema version " + res.data.version + ". GET /v1/event-types/" + eventType + " gives the JSON Schema of the whole message."));
  });
  return d;
}

// typeOf says a field's JSON type in words, and the column's type.
function typeOf(field) {
  const kinds = [];
  const add = (s) => {
    if (s.anyOf) return s.anyOf.forEach(add);
    if (s.enum) return kinds.push(s.enum.join(" / "));
    const types = [].concat(s.type || "any JSON");
    for (const t of types) kinds.push(t === "string" && s.format ? s.format : t === "array" ? "array" : t);
  };
  add(field);
  return kinds.join(" or ") + " — " + field.description;
}

// syncEvents checks and locks what a wider choice already includes.
function syncEvents(e) {
  // Unchecking a wider choice unchecks what it had checked.
  const source = e && e.target;
  if (source && !source.checked) {
    if (source.id === "ev-all") {
      for (const b of document.querySelectorAll(".ev:not(.ev-system) input")) b.checked = false;
    } else if (source.classList.contains("ev-group")) {
      for (const b of source.closest(".ev").querySelectorAll(".ev-type")) b.checked = false;
    }
  }
  for (const g of document.querySelectorAll(".ev")) {
    const everything = $("#ev-all").checked && !g.classList.contains("ev-system");
    const all = g.querySelector(".ev-group");
    if (everything) all.checked = true;
    all.disabled = everything;
    for (const t of g.querySelectorAll(".ev-type")) {
      if (all.checked) t.checked = true;
      t.disabled = all.checked;
    }
  }
}

function chosenEvents() {
  const everything = $("#ev-all").checked;
  const out = everything ? ["*"] : [];
  for (const g of document.querySelectorAll(everything ? ".ev-system" : ".ev")) {
    const all = g.querySelector(".ev-group");
    if (all.checked) {
      out.push(all.value);
      continue;
    }
    for (const t of g.querySelectorAll(".ev-type")) if (t.checked) out.push(t.value);
  }
  return out;
}

function setEvents(events) {
  $("#ev-all").checked = events.includes("*");
  for (const box of document.querySelectorAll(".ev-group, .ev-type")) {
    box.checked = events.includes(box.value);
  }
  syncEvents();
}

function clearErrors() {
  for (const e of document.querySelectorAll("#webhook-form .error")) e.textContent = "";
  for (const e of document.querySelectorAll("#webhook-form [aria-invalid]")) e.removeAttribute("aria-invalid");
}

function openForm(w) {
  editing = w || null;
  clearErrors();
  $("#form-title").textContent = w ? "Edit " + w.name : "Create Webhook";
  $("#f-name").value = w ? w.name : "";
  $("#f-url").value = w ? w.url : "";
  $("#f-description").value = w ? w.description : "";
  $("#f-filter").value = w && w.filter ? JSON.stringify(w.filter, null, 2) : "";
  $("#f-changedColumns").value = w && w.changedColumns ? w.changedColumns.join(", ") : "";
  $("#f-ordered").checked = !!(w && w.ordered);
  filterShown = $("#f-filter").value;
  setEvents(w ? w.events : []);
  formShown = formState();
  show("#form-view");
  $("#f-name").focus();
}

async function save(ev) {
  ev.preventDefault();
  clearErrors();
  const filter = readFilter();
  if (filter === undefined) {
    $("#f-filter").focus();
    return;
  }
  const body = {
    name: $("#f-name").value,
    url: $("#f-url").value,
    description: $("#f-description").value,
    events: chosenEvents(),
    filter,
    changedColumns: readColumns(),
    ordered: $("#f-ordered").checked,
  };
  if (editing) {
    // A change sends only what changed: a rename is not refused for a URL
    // that an older policy allowed.
    for (const k of ["name", "url", "description"]) if (body[k] === editing[k]) delete body[k];
    if ([...body.events].sort().join() === [...editing.events].sort().join()) delete body.events;
    if ($("#f-filter").value === filterShown) delete body.filter;
    if ((body.changedColumns || []).join() === (editing.changedColumns || []).join()) delete body.changedColumns;
    if (body.ordered === editing.ordered) delete body.ordered;
    if (Object.keys(body).length === 0) {
      show("#list-view");
      notice("Nothing changed.");
      focusRow(editing.id, "Edit");
      return;
    }
  }
  const res = editing
    ? await call("PATCH", "/v1/webhooks/" + encodeURIComponent(editing.id), body)
    : await call("POST", "/v1/webhooks", body);
  if (res.status === 401) return; // call() has said the session ended
  if (!res.ok) {
    // The API's own words, beside the field they are about; one about no
    // field of the form (the workspace's quota of webhooks) is said whole,
    // there being nothing to correct.
    const invalid = [];
    const said = [];
    for (const fe of res.data.errors || []) {
      const input = fieldError(fe.field, fe.message);
      if (input) invalid.push(input);
      else said.push(fe.message.charAt(0).toUpperCase() + fe.message.slice(1) + ".");
    }
    if (!res.data.errors) $("#err-form").textContent = res.data.detail || "Could not save.";
    // Said in the live region, and the focus on the first field to correct
    // in the form's order (a fieldset's first box: a fieldset takes none).
    const n = invalid.length;
    if (n) said.push(n + " field" + (n === 1 ? "" : "s") + " to correct, marked below.");
    if (!said.length) said.push(res.data.detail || "the server refused it.");
    notice("Not saved: " + said.join(" "), true);
    invalid.sort((a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
    const first = invalid[0];
    if (first) (first.matches("fieldset") ? first.querySelector("input:not(:disabled)") : first).focus();
    return;
  }
  await loadList(false, editing ? 0 : 1);
  if (editing) {
    show("#list-view");
    notice("Saved " + res.data.name + ".");
    focusRow(editing.id, "Edit");
    return;
  }
  showSecret(res.data.secret, "“" + res.data.name + "” is saved. Copy its signing secret now: it is shown only here.",
    () => focusRow(res.data.id, "Edit"));
}

let afterSecret = null; // where the focus goes when the secret is put away

function showSecret(secret, intro, then) {
  afterSecret = then;
  $("#secret").textContent = secret;
  $("#secret-intro").textContent = intro;
  $("#copy-secret").textContent = "Copy";
  show("#secret-view");
  $("#copy-secret").focus();
}

async function copySecret() {
  try {
    await navigator.clipboard.writeText($("#secret").textContent);
    $("#copy-secret").textContent = "Copied";
  } catch (e) {
    // Without clipboard access, select it for the user to copy.
    const range = document.createRange();
    range.selectNodeContents($("#secret"));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    $("#copy-secret").textContent = "Selected: press Ctrl+C";
  }
}

// ---- logs

let logsOf = null;
let openMessage = null;
let olderCursor = null;
let olderLoaded = false; // the user paged back: polling leaves the list alone
let polling = 0; // the generation of the poller; a new one retires the old
let listSeq = 0; // only the latest request for the list may fill it
let detailSeq = 0; // likewise for the message opened
let listSeen = ""; // the list's last answer, to tell a poll that found something new

function openLogs(w, test) {
  logsOf = w;
  openMessage = null;
  olderCursor = null;
  olderLoaded = false;
  listSeen = "";
  $("#logs-name").textContent = w.name;
  showOverview(w);
  loadChart();
  $("#message-detail").hidden = true;
  $("#messages tbody").replaceChildren();
  $("#older").hidden = true;
  $("#no-messages").hidden = true;
  $("#filters").reset();
  $("#recover-since").value = "";
  $("#attempts tbody").dataset.shown = "";
  replayID = null;
  $("#replay-status").hidden = true;
  loadReplay();
  // A test of the events this webhook takes.
  const takes = (name) => w.events.includes(name) || w.events.includes(name.slice(0, name.indexOf(".")) + ".*") ||
    (w.events.includes("*") && !/^(webhook|message)\./.test(name));
  $("#test-type").replaceChildren(...catalogue.filter(takes).map((n) => el("option", { value: n }, n)));
  show("#logs-view");
  loadMessages();
  startPolling();
  (test ? $("#test-type") : $("#back")).focus();
}

// Polling's pace: every 2 s while deliveries change, twice as long after
// each poll that found nothing new, up to 30 s; none while the tab is
// hidden. An action of the user, or the tab shown again, polls at once.
const pollFastest = 2000;
const pollSlowest = 30000;
let pollDelay = pollFastest;
let pollTimer = null;
let changed = false; // a load since the last poll showed something new

// eventsInWords says a webhook's events as people read them.
function eventsInWords(events) {
  return events.map((e) => e === "*" ? "All events" : e.endsWith(".*") ? "All " + e.slice(0, -2).replaceAll("_", " ") + " events" : e).join(", ");
}

// showOverview fills the top of a webhook's view.
function showOverview(w) {
  setText($("#ov-url"), w.url);
  setText($("#ov-events"), eventsInWords(w.events) + (w.filter || w.changedColumns ? " — " + filterSummary(w).toLowerCase() : ""));
  setText($("#ov-order"), w.ordered ? "In order: the changes of one resource one at a time, in the order they were made" : "In parallel, in any order");
  setText($("#ov-state"), w.enabled ? (w.failingSince ? "Enabled, failing since " + when(w.failingSince) : "Enabled") :
    "Disabled since " + when(w.disabledAt) + (w.disabledReason ? ": " + w.disabledReason : ""));
  $("#ov-secret").textContent = "hidden";
  $("#ov-reveal").textContent = "Reveal";
}

async function toggleSecret() {
  if ($("#ov-reveal").textContent === "Hide") {
    $("#ov-secret").textContent = "hidden";
    $("#ov-reveal").textContent = "Reveal";
    return;
  }
  const res = await call("GET", "/v1/webhooks/" + encodeURIComponent(logsOf.id) + "/secret");
  if (!res.ok) return notice(res.data.detail, true);
  $("#ov-secret").textContent = res.data.secret;
  $("#ov-reveal").textContent = "Hide";
}

const svgNS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const e = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  for (const c of children) e.append(c);
  return e;
}

// loadChart draws the last 24 hours of attempts, an hour a bar, succeeded
// below failed, as inline SVG; each bar says its figures to a pointer and a
// screen reader.
async function loadChart() {
  const w = logsOf;
  const res = await call("GET", "/v1/webhooks/" + encodeURIComponent(w.id) + "/stats");
  if (w !== logsOf || !res.ok) return;
  const hours = res.data.data;
  const seen = JSON.stringify(hours);
  const chart = $("#chart");
  if (chart.dataset.seen === seen) return;
  chart.dataset.seen = seen;
  const top = Math.max(1, ...hours.map((h) => h.attempts));
  const width = 480 / hours.length;
  const height = 100;
  const bars = [];
  hours.forEach((h, i) => {
    const x = i * width + 1;
    const ok = (h.succeeded / top) * height;
    const bad = (h.failed / top) * height;
    const hour = new Date(h.hour).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    bars.push(svg("g", { class: "bar" },
      svg("title", {}, hour + ": " + h.succeeded + " succeeded, " + h.failed + " failed"),
      svg("rect", { class: "ok", x, y: height - ok, width: width - 2, height: ok }),
      svg("rect", { class: "bad", x, y: height - ok - bad, width: width - 2, height: bad })));
  });
  const total = hours.reduce((a, h) => a + h.attempts, 0);
  const failed = hours.reduce((a, h) => a + h.failed, 0);
  const first = new Date(hours[0].hour).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  chart.replaceChildren(
    svg("desc", { id: "chart-desc" }, total + " attempts in the last 24 hours, " + failed + " failed; the tallest hour had " + (top === 1 && total === 0 ? 0 : top) + "."),
    svg("line", { class: "axis", x1: 0, y1: height + 0.5, x2: 480, y2: height + 0.5 }),
    ...bars,
    svg("text", { class: "tick", x: 0, y: height + 18 }, first),
    svg("text", { class: "tick", x: 480, y: height + 18, "text-anchor": "end" }, "now"),
    svg("text", { class: "tick", x: 0, y: 10 }, String(top === 1 && total === 0 ? 0 : top)));
}

// startPolling follows deliveries as they arrive while the log is open: the
// next poll is asked for only once the last one has answered.
function startPolling() {
  const generation = ++polling;
  pollDelay = pollFastest;
  const tick = async () => {
    pollTimer = null;
    if (generation !== polling) return;
    if (document.hidden) return; // visibilitychange polls again
    changed = false;
    if (!olderLoaded) await loadMessages();
    if (openMessage && generation === polling) await loadMessage(openMessage);
    if (generation === polling && replayID && !$("#replay-cancel").hidden) await loadReplay();
    if (changed && generation === polling) await loadChart(); // new deliveries, new figures
    document.body.dataset.polls = String(+(document.body.dataset.polls || 0) + 1); // for the tests
    pollDelay = changed ? pollFastest : Math.min(pollDelay * 2, pollSlowest);
    document.body.dataset.pollDelay = String(pollDelay); // likewise
    if (generation === polling) pollTimer = setTimeout(tick, pollDelay);
  };
  pollNow = () => {
    if (generation !== polling) return;
    pollDelay = pollFastest;
    if (pollTimer !== null) clearTimeout(pollTimer);
    pollTimer = setTimeout(tick, 0);
  };
  pollTimer = setTimeout(tick, pollDelay);
}

let pollNow = () => {};

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) pollNow();
});

function stopPolling() {
  polling++;
}

function filterQuery(cursor) {
  const q = new URLSearchParams({ limit: "50" });
  if ($("#filter-state").value) q.set("status", $("#filter-state").value);
  if ($("#filter-type").value) q.set("eventType", $("#filter-type").value);
  if ($("#filter-since").value) q.set("since", new Date($("#filter-since").value).toISOString());
  if (cursor) q.set("cursor", cursor);
  return q.toString();
}

// loadMessages fills the list: the first page, or the page after cursor.
async function loadMessages(cursor) {
  const w = logsOf;
  const seq = ++listSeq;
  const res = await call("GET", "/v1/webhooks/" + encodeURIComponent(w.id) + "/deliveries?" + filterQuery(cursor));
  if (seq !== listSeq || w !== logsOf) return; // a newer request, or another webhook, took over
  if (!res.ok) return notice(res.data.detail, true);
  const seen = JSON.stringify(res.data);
  if (!cursor && seen !== listSeen) changed = true;
  if (!cursor) listSeen = seen;
  const body = $("#messages tbody");
  if (cursor) {
    for (const m of res.data.data) body.append(messageRow(m));
  } else {
    syncRows(body, res.data.data);
  }
  olderCursor = res.data.nextCursor;
  olderLoaded = !!cursor;
  $("#older").hidden = !olderCursor;
  $("#no-messages").hidden = body.children.length > 0;
}

// syncRows makes the list the page given, updating the rows it already
// has in place: a refresh keeps the focus on an Open button and what is
// selected.
function syncRows(body, messages) {
  const have = new Map([...body.children].map((tr) => [tr.dataset.id, tr]));
  const keep = new Set();
  messages.forEach((m, i) => {
    const fresh = messageRow(m);
    let tr = have.get(m.id);
    if (tr) {
      tr.className = fresh.className;
      for (let c = 0; c < fresh.cells.length - 1; c++) { // the last holds Open
        if (tr.cells[c].textContent !== fresh.cells[c].textContent) tr.replaceChild(fresh.cells[c].cloneNode(true), tr.cells[c]);
      }
    } else {
      tr = fresh;
    }
    keep.add(tr);
    if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
  });
  for (const tr of [...body.children]) if (!keep.has(tr)) tr.remove();
}

function messageRow(m) {
  const open = button("Open", () => loadMessage(m.id));
  const tr = el("tr", { className: "message state-" + m.state },
    el("td", {}, el("span", { className: "label" }, "Time"), when(m.createdAt)),
    el("td", { className: "event" }, el("span", { className: "label" }, "Event"), m.eventType),
    el("td", { className: "state" }, el("span", { className: "label" }, "State"),
      m.waitingBehind ? el("span", { className: "badge waiting" }, "waiting") : el("span", { className: "badge " + m.state }, m.state)),
    el("td", {}, el("span", { className: "label" }, "Attempts"), String(m.attemptCount)),
    el("td", {}, el("span", { className: "label" }, "Last status"),
      m.waitingBehind ? "behind " + m.waitingBehind : m.lastStatusCode ? String(m.lastStatusCode) : m.lastError || "—"),
    el("td", {}, open));
  tr.dataset.id = m.id;
  return tr;
}

async function loadMessage(id) {
  const w = logsOf;
  const seq = ++detailSeq;
  const res = await call("GET", "/v1/messages/" + encodeURIComponent(id));
  if (seq !== detailSeq || w !== logsOf) return;
  if (!res.ok) return notice(res.data.detail, true);
  const m = res.data;
  const first = openMessage !== id;
  openMessage = id;
  setText($("#md-id"), m.id);
  setText($("#md-summary"), m.eventType + " · " + m.state + " · " + m.attemptCount + " attempt" + (m.attemptCount === 1 ? "" : "s") +
    (m.nextAttemptAt ? " · next attempt " + when(m.nextAttemptAt) : ""));
  // A message waiting to retry can be sent now, once its endpoint is fixed.
  const hadFocus = document.activeElement === $("#retry");
  $("#retry").hidden = !["failed", "cancelled", "retrying"].includes(m.state);
  if (hadFocus && $("#retry").hidden) $("#md-heading").focus(); // Retry goes as the message starts again
  setText($("#retry"), m.state === "retrying" ? "Retry now" : "Retry");
  // On an ordered webhook, the message its resource waits behind can be
  // skipped; one that waits says behind which.
  const skipFocus = document.activeElement === $("#skip");
  $("#skip").hidden = !(logsOf.ordered && ["failed", "retrying"].includes(m.state));
  if (skipFocus && $("#skip").hidden) $("#md-heading").focus();
  $("#md-waiting").hidden = !m.waitingBehind;
  if (m.waitingBehind) {
    setText($("#md-waiting"), "Waits behind " + m.waitingBehind + ", an earlier change of the same " + m.resource.split("/")[0] +
      ": it goes once that one is delivered, or retried or skipped.");
  }
  const body = $("#attempts tbody");
  // Redrawn only when they changed: a refresh keeps what is selected.
  const shown = m.id + JSON.stringify(m.attempts || []);
  if (body.dataset.shown !== shown) {
    body.replaceChildren();
    changed = true;
  }
  for (const a of body.dataset.shown === shown ? [] : m.attempts || []) {
    body.append(el("tr", { className: "attempt " + (a.succeeded ? "ok" : "failed") },
      el("td", {}, String(a.attempt)),
      el("td", {}, el("span", { className: "label" }, "Time"), when(a.startedAt)),
      el("td", { className: "by" }, el("span", { className: "label" }, "Made by"), (a.triggeredBy || "schedule").replace("_", " ")),
      el("td", { className: "code" }, el("span", { className: "label" }, "Status"), a.statusCode ? String(a.statusCode) : "—"),
      el("td", {}, el("span", { className: "label" }, "Latency"), (a.durationMs < 10 ? a.durationMs.toFixed(1) : Math.round(a.durationMs)) + " ms"),
      el("td", { className: "err" }, el("span", { className: "label" }, "Error"), a.errorMessage || a.errorClass || "—"),
      el("td", {}, el("span", { className: "label" }, "Response"), el("code", { className: "excerpt" }, a.responseExcerpt || ""))));
  }
  body.dataset.shown = shown;
  const envelope = m.envelope;
  setText($("#payload"), envelope ? JSON.stringify(envelope, null, 2) : "(the payload is no longer kept)");
  $("#message-detail").hidden = false;
  if (first) $("#md-id").scrollIntoView({ block: "nearest" });
}

async function retry() {
  const res = await call("POST", "/v1/messages/" + encodeURIComponent(openMessage) + "/retry", {});
  if (!res.ok) return notice(res.data.detail, true);
  notice(res.data.state === "retrying" ? "Sending " + openMessage + " now." : "Retrying " + openMessage + ".");
  await loadMessage(openMessage);
  await loadMessages();
  pollNow();
}

async function skip() {
  const id = openMessage;
  if (!(await confirmed("Skip " + id + "? It is not sent (you can still retry it later), and the next change of its resource goes.", "Skip"))) return;
  const res = await call("POST", "/v1/messages/" + encodeURIComponent(id) + "/skip", {});
  if (!res.ok) return notice(res.data.detail, true);
  notice("Skipped " + id + "; the next change of its resource is on its way.");
  $("#md-heading").focus();
  await loadMessage(id);
  await loadMessages();
  pollNow();
}

// ---- replay

let replayID = null; // the replay the view follows

function openReplay() {
  $("#replay-form").reset();
  for (const e of ["since", "until"]) setText($("#err-replay-" + e), "");
  setText($("#replay-count"), "");
  $("#replay-start").disabled = true;
  $("#replay-dialog").showModal();
  $("#replay-since").focus();
}

function replayBody(dryRun) {
  const body = { dryRun };
  if ($("#replay-since").value) body.since = new Date($("#replay-since").value).toISOString();
  if ($("#replay-until").value) body.until = new Date($("#replay-until").value).toISOString();
  return body;
}

// askReplay counts (dryRun) or starts a replay; errors go beside their
// fields.
async function askReplay(dryRun) {
  for (const e of ["since", "until"]) setText($("#err-replay-" + e), "");
  const res = await call("POST", "/v1/webhooks/" + encodeURIComponent(logsOf.id) + "/replay", replayBody(dryRun));
  if (!res.ok) {
    for (const fe of res.data.errors || []) {
      const slot = $("#err-replay-" + fe.field);
      if (slot) slot.textContent = fe.message;
    }
    setText($("#replay-count"), res.data.errors ? "" : res.data.detail);
    $("#replay-start").disabled = true;
    const first = (res.data.errors || []).find((fe) => $("#replay-" + fe.field));
    if (first) $("#replay-" + first.field).focus();
    return null;
  }
  return res.data;
}

async function countReplay() {
  const data = await askReplay(true);
  if (!data) return;
  setText($("#replay-count"), data.events === 0 ? "No events in this range." : data.events + " event" + (data.events === 1 ? "" : "s") + " would be sent.");
  $("#replay-start").disabled = data.events === 0;
  if (data.events > 0) $("#replay-start").focus();
}

async function startReplay() {
  const data = await askReplay(false);
  if (!data) return;
  $("#replay-dialog").close();
  replayID = data.id;
  notice("Replaying " + data.total + " event" + (data.total === 1 ? "" : "s") + ".");
  showReplay(data);
  $("#replay-open").focus();
  pollNow();
}

function showReplay(r) {
  $("#replay-status").hidden = false;
  const counts = r.sent + " sent, " + r.failed + " failed" + (r.cancelled ? ", " + r.cancelled + " cancelled" : "");
  setText($("#replay-text"), r.state === "running" ? "Replay " + r.id + ": " + counts + " of " + r.total + "; " + r.pending + " under way."
    : "Replay " + r.id + " " + r.state + ": " + counts + " of " + r.total + ".");
  const cancelFocus = document.activeElement === $("#replay-cancel");
  $("#replay-cancel").hidden = r.state !== "running";
  if (cancelFocus && $("#replay-cancel").hidden) $("#replay-open").focus();
}

// loadReplay shows the replay the view follows, or the webhook's latest
// while it runs.
async function loadReplay() {
  const w = logsOf;
  if (!replayID) {
    const res = await call("GET", "/v1/webhooks/" + encodeURIComponent(w.id) + "/replays");
    if (!res.ok || w !== logsOf) return;
    const running = res.data.data.find((r) => r.state === "running");
    if (!running) return;
    replayID = running.id;
  }
  const res = await call("GET", "/v1/replays/" + encodeURIComponent(replayID));
  if (!res.ok || w !== logsOf) return;
  const before = $("#replay-text").textContent;
  showReplay(res.data);
  if ($("#replay-text").textContent !== before) changed = true;
}

async function cancelReplay() {
  const res = await call("POST", "/v1/replays/" + encodeURIComponent(replayID) + "/cancel", {});
  if (!res.ok) return notice(res.data.detail, true);
  notice("Replay cancelled: what it had not sent is not sent.");
  showReplay(res.data);
  pollNow();
}

async function recover() {
  const v = $("#recover-since").value;
  if (!v) return notice("Choose the time to recover failures since.", true);
  const res = await call("POST", "/v1/webhooks/" + encodeURIComponent(logsOf.id) + "/recover", { since: new Date(v).toISOString() });
  if (!res.ok) return notice((res.data.errors || []).map((e) => e.message).join(" ") || res.data.detail, true);
  notice("Sending " + res.data.queued + " failed message" + (res.data.queued === 1 ? "" : "s") + " again" + (res.data.more ? "; recover again for more." : "."));
  await loadMessages();
  pollNow();
}

async function sendTest() {
  const res = await call("POST", "/v1/webhooks/" + encodeURIComponent(logsOf.id) + "/test", { eventType: $("#test-type").value });
  // Over the workspace's rate of tests (429) the API says when the next
  // may go.
  if (!res.ok) return notice("Not sent: " + ((res.data.errors || []).map((e) => e.message).join(" ") || res.data.detail), true);
  notice("Sent a test " + res.data.eventType + " as " + res.data.id + "; its attempt appears below.");
  await loadMessages();
  await loadMessage(res.data.id);
  pollNow();
}

// ---- wiring

document.addEventListener("DOMContentLoaded", async () => {
  if (!$("#list-view")) return; // a guest's page has nothing to load
  $("#create").addEventListener("click", () => openForm(null));
  $("#more-webhooks").addEventListener("click", showMore);
  $("#cancel").addEventListener("click", () => closeForm(false));
  $("#webhook-form").addEventListener("submit", save);
  $("#ev-all").addEventListener("change", syncEvents);
  $("#copy-secret").addEventListener("click", copySecret);
  $("#secret-done").addEventListener("click", () => {
    $("#secret").textContent = "";
    show("#list-view");
    if (afterSecret) afterSecret();
  });
  // The list is shown once it is loaded afresh: shown before, its rows
  // were replaced under whoever went on at once (a row's menu opened in
  // the meantime closed, and the focus left it).
  $("#back").addEventListener("click", async () => {
    await loadList();
    show("#list-view");
    focusRow(logsOf && logsOf.id, "View Logs");
  });
  $("#filters").addEventListener("change", async () => {
    await loadMessages();
    pollNow();
  });
  $("#older").addEventListener("click", () => loadMessages(olderCursor));
  $("#filters").addEventListener("submit", (e) => e.preventDefault());
  $("#retry").addEventListener("click", retry);
  $("#recover").addEventListener("click", recover);
  $("#skip").addEventListener("click", skip);
  $("#replay-open").addEventListener("click", openReplay);
  $("#replay-dry").addEventListener("click", countReplay);
  $("#replay-start").addEventListener("click", startReplay);
  $("#replay-cancel").addEventListener("click", cancelReplay);
  for (const e of ["#replay-since", "#replay-until"]) $(e).addEventListener("input", () => { $("#replay-start").disabled = true; });
  $("#replay-dialog").addEventListener("close", () => { if (document.activeElement === document.body) $("#replay-open").focus(); });
  $("#send-test").addEventListener("click", sendTest);
  $("#ov-reveal").addEventListener("click", toggleSecret);
  $("#ov-rotate").addEventListener("click", () => rotate(logsOf));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("#form-view").hidden && !$("#confirm").open) {
      e.preventDefault(); // else this Escape's close request shuts the question it opens
      closeForm(true);
    }
  });
  await loadCatalogue();
  await loadList();
  document.body.dataset.ready = "true";
});
