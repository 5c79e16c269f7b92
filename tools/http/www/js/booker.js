// The booker: what → day → time (held at once) → details → done.
//
// State lives in one object; each step is a section of index.html shown by
// showStep(). Choosing a time takes the hold before the form opens, so the
// visitor never fills in a form for a time someone else has; the hold is
// renewed while the form is open and released on going back, choosing
// another time or leaving the page. The booking request carries an
// Idempotency-Key made when the form opened, so a retried submit (a lost
// answer, a double click) books once.

import * as api from "./api.js";
import { Calendar } from "./calendar.js";
import { DayView } from "./dayview.js";
import { Hold } from "./hold.js";
import { clock, dateLabel, ics, minutesLabel, savedZone, saveZone, allZones, today, monthStart } from "./time.js";
import { $, el, notice, say, showStep, summary, zonePicker, STATUS_WORDS } from "./ui.js";

const EMAIL = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]{2,}$/;
const PHONE = /^\+?[0-9 ()./-]{5,32}$/;

export async function startBooker() {
  const s = {
    types: [],
    resources: new Map(),
    type: null,
    length: 0,
    resource: "", // "" = any free one
    zone: savedZone(),
    date: "",
    chosen: null,
    key: "",
    sending: false,
  };

  const hold = new Hold({
    onLost: (reason, h) => lost(reason, h),
    onStatus: (h, left) => holdStatus(h, left),
  });
  const day = new DayView($("#day"), { onChoose: (slot) => choose(slot), live: say });
  const cal = new Calendar($("#calendar"), {
    zone: s.zone,
    explain: api.explain,
    loadMonth: (from, to) => loadMonth(from, to),
    onPick: (date) => {
      pickDate(date);
      // On a phone the times sit below the calendar: bring them into view.
      if (window.matchMedia("(max-width: 55.99rem)").matches) $("#day-title").scrollIntoView({ block: "start" });
    },
  });

  zonePicker($("#tz"), $("#tz-name"), s.zone, allZones(), (z) => {
    s.zone = z;
    saveZone(z);
    cal.setZone(z);
    cal.show(s.date || today(z));
    if (s.date) showDay();
    if (s.chosen) formSummary();
  });

  window.addEventListener("pagehide", () => hold.releaseOnExit());

  try {
    const [types, resources] = await Promise.all([api.eventTypes(), api.resources()]);
    for (const r of resources) s.resources.set(r.id, r);
    s.types = types.filter((t) => t.active !== false && Array.isArray(t.lengths) && t.lengths.length);
    if (!s.types.length) {
      // No event types configured: offer each resource by the hour.
      s.types = resources.map((r) => ({ id: "", title: r.name || r.id, lengths: [60], resources: [r.id], plain: true }));
    }
  } catch (e) {
    showStep("");
    notice($("#page-error"), `The booking page could not load what can be booked. ${api.explain(e)}`);
    return;
  }
  if (!s.types.length) {
    showStep("");
    notice($("#page-error"), "Nothing can be booked at the moment. Come back later or contact the studio.");
    return;
  }

  renderTypes();
  // Links may name what and when (?event_type=&resource=&date=); never who.
  const want = new URLSearchParams(location.search);
  if (/^\d{4}-\d{2}-\d{2}$/.test(want.get("date") || "") && want.get("date") >= today(s.zone)) s.date = want.get("date");
  const first = s.types.find((t) => t.id && t.id === want.get("event_type")) || s.types[0];
  selectType(first, want.get("resource") || "");
  showStep("step-pick");

  function renderTypes() {
    const list = $("#type-list");
    list.textContent = "";
    s.types.forEach((t, i) => {
      const id = `type-${i}`;
      const input = el("input", { type: "radio", name: "type", id, value: String(i) });
      const lengths = t.lengths.map(minutesLabel).join(", ");
      const label = el("label", { for: id }, el("span", { class: "title", text: t.title || t.id }), el("span", { class: "muted", text: lengths }));
      if (t.requires_confirmation) label.append(el("span", { class: "muted", text: "Confirmed by the studio after you ask" }));
      input.addEventListener("change", () => selectType(t, ""));
      list.append(el("div", { class: "choice" }, input, label));
    });
    $("#types").hidden = s.types.length < 2 && !!s.types[0].plain;
  }

  function selectType(t, resource) {
    s.type = t;
    const i = s.types.indexOf(t);
    const radio = $(`#type-${i}`);
    if (radio) radio.checked = true;
    s.length = t.lengths.includes(s.length) ? s.length : t.lengths[0];
    // Lengths
    const ll = $("#length-list");
    ll.textContent = "";
    t.lengths.forEach((m, j) => {
      const id = `len-${j}`;
      const input = el("input", { type: "radio", name: "length", id, value: String(m) });
      input.checked = m === s.length;
      input.addEventListener("change", () => {
        s.length = m;
        refreshAll();
      });
      ll.append(el("div", { class: "choice" }, input, el("label", { for: id, text: minutesLabel(m) })));
    });
    $("#lengths").hidden = t.lengths.length < 2;
    // Resources
    // Standalone resources are what is booked; add-ons (standalone: false)
    // are extras offered on the form and booked together with it.
    const linked = (t.resources || []).filter((r) => s.resources.has(r) && s.resources.get(r).standalone !== false);
    const sel = $("#resource");
    sel.textContent = "";
    if (linked.length > 1) {
      sel.append(el("option", { value: "", text: "Any free one" }));
      for (const r of linked) sel.append(el("option", { value: r, text: s.resources.get(r).name || r }));
    }
    s.resource = linked.length === 1 ? linked[0] : linked.includes(resource) ? resource : "";
    sel.value = s.resource;
    sel.onchange = () => {
      s.resource = sel.value;
      refreshAll();
    };
    $("#resource-row").hidden = linked.length < 2;
    refreshAll();
  }

  function candidates() {
    if (s.resource) return [s.resource];
    return (s.type.resources || []).filter((r) => s.resources.has(r) && s.resources.get(r).standalone !== false);
  }

  function addons() {
    return (s.type.resources || []).filter((r) => s.resources.has(r) && s.resources.get(r).standalone === false);
  }

  // The extras of the event type, each offered when free at the chosen time.
  async function renderExtras() {
    const list = addons();
    const box = $("#extras");
    const holder = $("#extra-list");
    holder.textContent = "";
    box.hidden = list.length === 0;
    const c = s.chosen;
    for (const [i, r] of list.entries()) {
      const id = `extra-${i}`;
      const input = el("input", { type: "checkbox", id, value: r, disabled: true });
      const note = el("span", { class: "muted", text: " (checking…)" });
      holder.append(el("div", { class: "check" }, input, el("label", { for: id, text: s.resources.get(r).name || r }), note));
      api
        .day(r, s.date, { duration: s.length, tz: s.zone })
        .then((slots) => {
          if (s.chosen !== c) return;
          const free = slots.some((x) => x.start === c.start && x.state !== "reserved");
          input.disabled = !free;
          note.textContent = free ? "" : " (not free at this time)";
        })
        .catch(() => {
          note.textContent = " (could not check; it can be added by the studio later)";
        });
    }
  }

  function dayParams() {
    const p = { duration: s.length, tz: s.zone };
    if (s.type.id) p.event_type = s.type.id;
    return p;
  }

  async function loadMonth(from, to) {
    // The month asks by length only (answered from the shared pages); the
    // event type's own rules apply in the day list.
    const maps = await Promise.all(candidates().map((r) => api.month(r, { from, to, duration: s.length, tz: s.zone })));
    const out = {};
    for (const m of maps) for (const [d, v] of Object.entries(m)) out[d] = out[d] || v;
    // Today counts only while a start is still ahead.
    const now = today(s.zone);
    if (out[now]) {
      const lists = await Promise.all(candidates().map((r) => api.day(r, now, dayParams())));
      const ahead = Date.now() / 1000;
      out[now] = lists.some((l) => l.some((x) => x.start >= ahead));
    }
    return out;
  }

  async function refreshAll() {
    if (!candidates().length) {
      notice($("#notice"), "This cannot be booked online right now. Choose something else, or contact the studio.");
      day.clear();
      return;
    }
    notice($("#notice"), "");
    const month = s.date ? monthStart(s.date) : monthStart(today(s.zone));
    await cal.show(month);
    if (!s.date || !cal.days[s.date]) {
      const d = cal.firstFree() || (await nextFreeMonth());
      if (d) {
        cal.select(d);
        pickDate(d);
        return;
      }
      s.date = "";
      day.clear();
      $("#day-title").textContent = "No free days in the next months";
      return;
    }
    cal.select(s.date);
    showDay();
  }

  // Look a few months ahead for the first free day.
  async function nextFreeMonth() {
    for (let i = 0; i < 3; i++) {
      await cal.show(nextMonth(cal.month));
      const d = cal.firstFree();
      if (d) return d;
    }
    return "";
  }

  function nextMonth(m) {
    const [y, mo] = m.split("-").map(Number);
    return mo === 12 ? `${y + 1}-01-01` : `${y}-${String(mo + 1).padStart(2, "0")}-01`;
  }

  function pickDate(date) {
    s.date = date;
    showDay();
  }

  function showDay() {
    $("#day-title").textContent = dateLabel(s.date);
    day.setSelected(hold.active ? hold.active.start : null);
    day.show(candidates(), s.date, dayParams(), s.zone);
  }

  async function choose(slot) {
    if (s.sending) return;
    notice($("#notice"), "");
    const what = `${clock(slot.start, s.zone)}`;
    const order = slot.mine ? [slot.mine] : s.resource ? [s.resource] : slot.free.length ? slot.free : candidates();
    day.setEnabled(false);
    let lastErr = null;
    let got = null;
    for (const r of order) {
      try {
        got = await hold.take(r, slot.start, slot.end);
        break;
      } catch (e) {
        lastErr = e;
        if (e.code !== "HELD" && e.code !== "CONFLICT") break;
      }
    }
    day.setEnabled(true);
    if (!got) {
      notice($("#notice"), `You could not have ${what}. ${api.explain(lastErr, what)}`);
      day.setSelected(null);
      day.refresh();
      $("#notice").focus();
      return;
    }
    s.chosen = { resource: got.resource, start: slot.start, end: slot.end };
    s.key = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
    day.setSelected(slot.start);
    openForm();
  }

  function formSummary() {
    const c = s.chosen;
    const r = s.resources.get(c.resource);
    summary($("#form-summary"), {
      title: `${s.type.title || s.type.id} (${minutesLabel(s.length)})`,
      where: r ? r.name || r.id : c.resource,
      start: c.start,
      end: c.end,
      zone: s.zone,
    });
  }

  function openForm() {
    formSummary();
    renderExtras();
    notice($("#form-error"), "");
    for (const p of document.querySelectorAll(".field-error")) notice(p, "");
    for (const i of document.querySelectorAll("#form [aria-invalid]")) i.removeAttribute("aria-invalid");
    const token = api.authToken();
    const claims = token ? api.tokenClaims(token) : null;
    const email = $("#f-email");
    if (claims && claims.email) {
      email.value = claims.email;
      email.readOnly = true;
      $("#h-email").textContent = "From your sign-in; it cannot be changed here.";
    }
    $("#f-submit").textContent = s.type.requires_confirmation ? "Send request" : "Book";
    showStep("step-form");
    $("#form-title").focus();
    say(`${clock(s.chosen.start, s.zone)} is held for you. Fill in your details.`);
  }

  function holdStatus(h, left) {
    const p = $("#hold-status");
    const what = clock(h.start, s.zone);
    if (h.failing) {
      p.className = "hold warn";
      p.textContent = `Cannot reach the booking service to keep ${what} for you. It is released in ${left} s unless the connection comes back.`;
    } else {
      p.className = "hold";
      p.textContent = `${what} is held for you while this form is open (it is released ${Math.round(h.ttl / 1000)} s after you leave this page).`;
    }
  }

  function lost(reason, h) {
    const what = clock(h.start, s.zone);
    let text;
    if (reason === "expired") {
      text = `Your hold on ${what} ran out, so the time was released. It may still be free: pick it again below, or choose another time.`;
    } else if (reason === "taken") {
      text = `${what} is no longer held for you: someone else has it now. Pick another time below.`;
    } else {
      text = `${what} can no longer be booked. Pick another time below.`;
    }
    backToList(text);
  }

  function backToList(text) {
    s.chosen = null;
    s.sending = false;
    day.setSelected(null);
    showStep("step-pick");
    notice($("#notice"), text || "");
    day.refresh();
    if (text) {
      $("#notice").tabIndex = -1;
      $("#notice").focus();
    }
  }

  $("#f-back").addEventListener("click", async () => {
    const start = s.chosen && s.chosen.start;
    await hold.release();
    backToList("");
    const b = start && $(`#day button[data-start="${start}"]`);
    if (b) b.focus();
  });

  function validate() {
    const errors = [];
    const check = (id, ok, message) => {
      const input = $(`#f-${id}`);
      const p = $(`#e-${id}`);
      if (ok) {
        input.removeAttribute("aria-invalid");
        notice(p, "");
      } else {
        input.setAttribute("aria-invalid", "true");
        notice(p, message);
        errors.push(input);
      }
    };
    const name = $("#f-name").value.trim();
    const email = $("#f-email").value.trim();
    const phone = $("#f-phone").value.trim();
    const notes = $("#f-notes").value;
    check("name", name.length > 0 && name.length <= 200, name ? "Shorten the name to 200 characters." : "Enter your name, so the studio knows who is coming.");
    check("email", EMAIL.test(email) && email.length <= 254, email ? "Enter a full email address, like name@example.com." : "Enter your email address: the confirmation goes there.");
    check("phone", !phone || PHONE.test(phone), "Enter a phone number with digits only (spaces, +, - and brackets are fine), or leave it empty.");
    check("notes", notes.length <= 2000, "Shorten the notes to 2000 characters.");
    return errors;
  }

  $("#form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (s.sending || !s.chosen) return;
    const errors = validate();
    if (errors.length) {
      notice($("#form-error"), `Please correct ${errors.length === 1 ? "the field marked below" : `the ${errors.length} fields marked below`}, then send the form again.`);
      errors[0].focus();
      return;
    }
    notice($("#form-error"), "");
    s.sending = true;
    const btn = $("#f-submit");
    btn.disabled = true;
    btn.textContent = "Sending…";
    const c = s.chosen;
    const body = {
      resource: c.resource,
      start: c.start,
      end: c.end,
      timezone: s.zone,
      name: $("#f-name").value.trim(),
      email: $("#f-email").value.trim(),
    };
    const phone = $("#f-phone").value.trim();
    const notes = $("#f-notes").value.trim();
    if (phone) body.phone = phone;
    if (notes) body.notes = notes;
    if (s.type.id) body.event_type = s.type.id;
    const extras = [...document.querySelectorAll("#extra-list input:checked")].map((i) => i.value);
    if (extras.length) {
      delete body.resource;
      body.resources = [c.resource, ...extras];
    }
    try {
      const b = api.bookingOf(await api.book(body, s.key));
      hold.forget();
      s.sending = false;
      done(b, c);
    } catch (err) {
      s.sending = false;
      btn.disabled = false;
      btn.textContent = s.type.requires_confirmation ? "Send request" : "Book";
      const what = clock(c.start, s.zone);
      if (["HELD", "CONFLICT", "CLOSED", "OUT_OF_RANGE", "INACTIVE"].includes(err.code)) {
        hold.release();
        backToList(`Your booking was not made. ${api.explain(err, what)}`);
        return;
      }
      if (err.code === "BAD_REQUEST" && err.field) {
        const f = err.field.replace(/^booker\./, "");
        const input = $(`#f-${f}`);
        if (input) {
          input.setAttribute("aria-invalid", "true");
          notice($(`#e-${f}`), `${err.detail || "This was not accepted."} Correct it and send the form again.`);
          input.focus();
        }
      }
      notice($("#form-error"), `Your booking was not made yet. ${api.explain(err, what)}`);
      if (!err.field) $("#form-error").focus();
    }
  });

  function done(b, chosen) {
    const start = api.unix(b.start_unix ?? b.start) || chosen.start;
    const end = api.unix(b.end_unix ?? b.end) || chosen.end;
    const pending = b.status === "pending";
    const ids = Array.isArray(b.resources) && b.resources.length ? b.resources.map((r) => (typeof r === "string" ? r : r.id)) : [chosen.resource];
    const where = ids.map((r) => (s.resources.get(r) ? s.resources.get(r).name || r : r)).join(", ");
    const title = s.type.title || s.type.id;
    $("#done-title").textContent = pending ? "Request received" : "Booking confirmed";
    $("#done-lead").textContent = pending
      ? `The studio will confirm or decline your request; we email ${b.booker && b.booker.email ? b.booker.email : "you"} either way.`
      : `You are booked. A confirmation is on its way to ${b.booker && b.booker.email ? b.booker.email : "your email"}.`;
    summary($("#done-summary"), { title, where, start, end, zone: s.zone, status: STATUS_WORDS[b.status] || b.status });
    const manage = `${location.origin}/booking/${encodeURIComponent(b.ref)}`;
    $("#done-manage").href = `/booking/${encodeURIComponent(b.ref)}`;
    $("#done-url").value = manage;
    const file = ics({
      uid: `${b.ref}@${location.hostname || "bookd"}`,
      start,
      end,
      title: pending ? `${title} (requested)` : title,
      location: where,
      description: `Manage or cancel: ${manage}`,
      url: manage,
    });
    const a = $("#done-ics");
    if (a.dataset.url) URL.revokeObjectURL(a.dataset.url);
    a.dataset.url = URL.createObjectURL(new Blob([file], { type: "text/calendar" }));
    a.href = a.dataset.url;
    a.download = `booking-${s.date || "time"}.ics`;
    showStep("step-done");
    day.clear();
    $("#done-title").focus();
  }
}
