// The admin page: pending requests to confirm or decline, today's and
// upcoming bookings per resource with their transitions, and a live day grid
// per resource showing booked, held and closed quarters.
//
// Every call carries the staff member's bearer token (pasted once, kept in
// sessionStorage for the tab); the gateway checks the admin claim and
// answers 401/403 otherwise, which sends the page back to sign-in.

import * as api from "./api.js";
import { addDays, allZones, clock, savedZone, saveZone, shortDate, span, today } from "./time.js";
import { $, el, notice, say, zonePicker, STATUS_WORDS } from "./ui.js";
import { MAX_STREAMS } from "./dayview.js";

const UPCOMING_DAYS = 14;
const s = { zone: savedZone(), resources: [], date: "", streams: [], timer: 0 };

const enc = encodeURIComponent;
const listBookings = async (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const data = await api.get(`/v1/admin/bookings?${q}`);
  return Array.isArray(data) ? data : (data && data.bookings) || [];
};
const VERBS = { confirmed: "confirm", declined: "decline", completed: "complete", no_show: "no-show", cancelled: "cancel" };
const transition = (b, to, reason) => api.post(`/v1/admin/bookings/${enc(b.id)}/${VERBS[to]}`, reason ? { reason } : {});

const startOf = (b) => api.unix(b.start_unix ?? b.start);
const endOf = (b) => api.unix(b.end_unix ?? b.end);
const resourcesOf = (b) => (b.resources || []).map((r) => (typeof r === "string" ? r : r.id));
const nameOf = (id) => {
  const r = s.resources.find((x) => x.id === id);
  return r ? r.name || r.id : id;
};

zonePicker($("#tz"), $("#tz-name"), s.zone, allZones(), (z) => {
  s.zone = z;
  saveZone(z);
  refresh();
});

$("#signin-form").addEventListener("submit", (e) => {
  e.preventDefault();
  api.setAuthToken($("#token").value.trim());
  $("#token").value = "";
  start();
});
$("#signout").addEventListener("click", () => {
  api.setAuthToken("");
  stopLive();
  showSignin("");
});
$("#grid-date").addEventListener("change", () => {
  if (/^\d{4}-\d{2}-\d{2}$/.test($("#grid-date").value)) {
    s.date = $("#grid-date").value;
    openLive();
    grid();
  }
});

start();

function showSignin(message) {
  $("#board").hidden = true;
  $("#signin").hidden = false;
  notice($("#page-error"), message);
  $("#token").focus();
}

async function start() {
  notice($("#page-error"), "");
  try {
    s.resources = await api.resources();
    await listBookings({ limit: 1 });
  } catch (e) {
    if (e.code === "UNAUTHENTICATED" || e.code === "FORBIDDEN") {
      showSignin(
        api.authToken()
          ? "This token does not give access to the admin page (it may have expired or lack the admin claim). Sign in again, or ask for admin rights."
          : ""
      );
      return;
    }
    notice($("#page-error"), `The bookings could not be loaded. ${api.explain(e)}`);
    return;
  }
  $("#signin").hidden = true;
  $("#board").hidden = false;
  s.date = s.date || today(s.zone);
  $("#grid-date").value = s.date;
  openLive();
  await refresh();
  $("#board-title").focus();
}

async function refresh() {
  await Promise.all([pending(), upcoming(), grid()]);
}

function openLive() {
  stopLive();
  if (typeof EventSource === "undefined") return;
  const from = addDays(s.date, -1);
  const to = addDays(s.date, UPCOMING_DAYS);
  for (const r of s.resources.slice(0, MAX_STREAMS)) {
    const es = new EventSource(`/v1/stream?resource=${enc(r.id)}&from=${from}&to=${to}`);
    const changed = () => soon();
    es.addEventListener("slots", changed);
    es.addEventListener("holds", changed);
    es.onmessage = changed;
    s.streams.push(es);
  }
  // Re-read now and then too: for the resources beyond the streams, and in
  // case a stream was refused (too many open) and is not coming back.
  s.poll = setInterval(() => soon(), 15000);
}

function stopLive() {
  for (const es of s.streams) es.close();
  s.streams = [];
  clearInterval(s.poll);
}

// Coalesce bursts of changes into one re-read.
function soon() {
  clearTimeout(s.timer);
  s.timer = setTimeout(refresh, 100);
}

function bookingRow(b, actions) {
  const start = startOf(b);
  const end = endOf(b);
  const who = b.booker ? [b.booker.name, b.booker.email, b.booker.phone].filter(Boolean).join(" · ") : "";
  const tr = el(
    "tr",
    {},
    el("td", { text: `${shortDate(start, s.zone)} ${span(start, end, s.zone)}` }),
    el("td", { text: resourcesOf(b).map(nameOf).join(", ") }),
    el("td", {}, el("span", { text: who }), b.booker && b.booker.notes ? el("div", { class: "muted", text: b.booker.notes }) : null),
    el("td", { text: STATUS_WORDS[b.status] || b.status })
  );
  const td = el("td", { class: "acts" });
  for (const [to, label] of actions) {
    const when = `${shortDate(start, s.zone)} ${clock(start, s.zone)}`;
    const btn = el("button", { type: "button", "aria-label": `${label}: ${who || "booking"} ${when}`, text: label });
    btn.addEventListener("click", () => act(b, to, label, td, btn));
    td.append(btn);
  }
  tr.append(td);
  return tr;
}

function table(rows, empty) {
  if (!rows.length) return el("p", { class: "muted", text: empty });
  const t = el(
    "table",
    { class: "admin-table" },
    el("thead", {}, el("tr", {}, ...["When", "Where", "Who", "Status", "Actions"].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ...rows)
  );
  return t;
}

async function act(b, to, label, td, btn) {
  let reason = "";
  if (to === "declined" || to === "cancelled") {
    // Ask for the reason inline; the booker's email quotes it.
    if (!td.querySelector("form")) {
      const id = `reason-${b.id}-${to}`;
      const form = el(
        "form",
        { class: "field" },
        el("label", { for: id, text: `Reason (sent to the booker)` }),
        el("input", { id, maxlength: 500 }),
        el("div", { class: "actions" }, el("button", { type: "submit", class: "danger", text: label }), el("button", { type: "button", text: "Back" }))
      );
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        send(b, to, form.querySelector("input").value.trim(), label, form.querySelector("button"));
      });
      form.querySelector('button[type="button"]').addEventListener("click", () => {
        form.remove();
        btn.focus();
      });
      td.append(form);
      form.querySelector("input").focus();
    }
    return;
  }
  await send(b, to, reason, label, btn);
}

async function send(b, to, reason, label, btn) {
  btn.disabled = true;
  try {
    await transition(b, to, reason);
    notice($("#board-msg"), `${label}: done for ${b.booker ? b.booker.name : "the booking"} (${shortDate(startOf(b), s.zone)} ${clock(startOf(b), s.zone)}).`);
    say($("#board-msg").textContent);
    await refresh();
  } catch (e) {
    btn.disabled = false;
    notice($("#board-msg"), `${label} did not work. ${api.explain(e)}`);
  }
}

async function pending() {
  try {
    const list = await listBookings({ status: "pending", limit: 200 });
    const rows = list
      .sort((x, y) => startOf(x) - startOf(y))
      .map((b) => bookingRow(b, [["confirmed", "Confirm"], ["declined", "Decline"]]));
    $("#pending").replaceChildren(table(rows, "No requests are waiting."));
  } catch (e) {
    $("#pending").replaceChildren(el("p", { class: "error", text: `Could not load the requests. ${api.explain(e)}` }));
  }
}

async function upcoming() {
  const from = Math.floor(Date.parse(`${today(s.zone)}T00:00:00Z`) / 1000) - 86400;
  const to = from + (UPCOMING_DAYS + 2) * 86400;
  try {
    const list = (await listBookings({ from, to, limit: 500 })).filter(
      (b) => (b.status === "confirmed" || b.status === "pending") && endOf(b) > Date.now() / 1000 - 86400
    );
    const parts = [];
    for (const r of s.resources) {
      const mine = list.filter((b) => resourcesOf(b).includes(r.id)).sort((x, y) => startOf(x) - startOf(y));
      const rows = mine.map((b) => {
        const past = endOf(b) <= Date.now() / 1000;
        const acts = b.status === "pending" ? [["confirmed", "Confirm"], ["declined", "Decline"]] : [];
        if (b.status === "confirmed") {
          if (past || startOf(b) <= Date.now() / 1000) acts.push(["completed", "Completed"], ["no_show", "No-show"]);
          acts.push(["cancelled", "Cancel"]);
        }
        return bookingRow(b, acts);
      });
      parts.push(el("h3", { text: r.name || r.id }), table(rows, "Nothing booked in the next two weeks."));
    }
    $("#upcoming").replaceChildren(...parts);
  } catch (e) {
    $("#upcoming").replaceChildren(el("p", { class: "error", text: `Could not load the bookings. ${api.explain(e)}` }));
  }
}

// One row of quarters per resource for the chosen local day, from the
// gateway's grid (the shared pages): open, closed, booked, held, inactive.
const QUARTER_WORDS = { open: "free", closed: "closed", booked: "booked", held: "held", inactive: "inactive" };

async function grid() {
  const date = s.date;
  try {
    const rows = await Promise.all(
      s.resources.map(async (r) => {
        const g = await api.get(`/v1/admin/resources/${enc(r.id)}/grid/${enc(date)}?tz=${enc(s.zone)}`);
        const quarters = ((g && g.quarters) || []).map((q) => ({ start: api.unix(q.start_unix ?? q.start), state: q.state }));
        return { r, quarters };
      })
    );
    if (date !== s.date) return;
    const n = Math.max(1, ...rows.map((x) => x.quarters.length));
    const first = rows.find((x) => x.quarters.length);
    const g = el("div", { class: "qgrid", role: "img", "aria-label": `Quarter-hour grid for ${date}` });
    g.style.gridTemplateColumns = `9rem repeat(${n}, minmax(6px, 1fr))`;
    g.append(el("span", { class: "name" }));
    if (first) for (let i = 0; i < n; i += 4) g.append(el("span", { class: "hour", text: first.quarters[i] ? clock(first.quarters[i].start, s.zone) : "" }));
    for (const { r, quarters } of rows) {
      g.append(el("span", { class: "name", text: r.name || r.id }));
      for (const q of quarters) {
        const word = QUARTER_WORDS[q.state] || q.state;
        g.append(el("span", { class: `q ${q.state}`, "data-state": q.state, title: `${clock(q.start, s.zone)} ${word}` }));
      }
    }
    const text = rows
      .map(({ r, quarters }) => {
        const count = (st) => quarters.filter((q) => q.state === st).length;
        return `${r.name || r.id}: ${count("booked")} booked, ${count("held")} held, ${count("open")} free, ${count("closed")} closed quarters`;
      })
      .join("; ");
    $("#grid").replaceChildren(g, el("p", { class: "visually-hidden", text }));
  } catch (e) {
    $("#grid").replaceChildren(el("p", { class: "error", text: `Could not load the day. ${api.explain(e)}` }));
  }
}
