// The manage page, /booking/{ref}: the booking, its history, cancel with a
// reason, and reschedule by picking a new time from the same live day view.
// A reschedule is one request: if the new time is taken, the gateway refuses
// it and the booking keeps its old time, which the page says.

import * as api from "./api.js";
import { Calendar } from "./calendar.js";
import { DayView } from "./dayview.js";
import { Hold } from "./hold.js";
import { allZones, clock, dateLabel, localDate, longDate, minutesLabel, monthStart, savedZone, saveZone, span } from "./time.js";
import { $, el, notice, say, showStep, summary, zonePicker, STATUS_WORDS } from "./ui.js";

const CHANGEABLE = new Set(["pending", "confirmed"]);

export async function startManage(ref) {
  const s = { ref, zone: savedZone(), b: null, types: new Map(), resources: new Map(), choice: null, date: "" };
  document.title = "Your booking";

  const day = new DayView($("#r-day"), { onChoose: (slot) => choose(slot), live: say });
  const hold = new Hold({ onLost: (reason, h) => lost(reason, h) });
  window.addEventListener("pagehide", () => hold.releaseOnExit());
  const cal = new Calendar($("#r-calendar"), {
    zone: s.zone,
    explain: api.explain,
    loadMonth: (from, to) => api.month(resourceOf(), { from, to, duration: params().duration, tz: s.zone }),
    onPick: (date) => pickDate(date),
  });

  zonePicker($("#tz"), $("#tz-name"), s.zone, allZones(), (z) => {
    s.zone = z;
    saveZone(z);
    cal.setZone(z);
    render();
    if (!$("#reschedule").hidden && s.date) pickDate(s.date);
  });

  try {
    const [types, resources] = await Promise.all([api.eventTypes().catch(() => []), api.resources().catch(() => [])]);
    for (const t of types) s.types.set(t.id, t);
    for (const r of resources) s.resources.set(r.id, r);
    s.b = api.bookingOf(await api.booking(ref));
  } catch (e) {
    showStep("step-manage");
    $("#manage-actions").hidden = true;
    notice(
      $("#manage-msg"),
      e.code === "NOT_FOUND"
        ? "No booking has this reference. Check that the link is complete (copy it from your email again), or contact the studio."
        : `Your booking could not be loaded. ${api.explain(e)}`
    );
    return;
  }
  showStep("step-manage");
  render();
  $("#manage-title").focus();

  function resourceOf() {
    const r = (s.b.resources || [])[0];
    return typeof r === "string" ? r : r ? r.id : "";
  }
  function times() {
    return { start: api.unix(s.b.start_unix ?? s.b.start), end: api.unix(s.b.end_unix ?? s.b.end) };
  }
  function params() {
    const { start, end } = times();
    const p = { duration: Math.round((end - start) / 60), tz: s.zone };
    if (s.b.event_type) p.event_type = s.b.event_type;
    return p;
  }

  function render() {
    const b = s.b;
    const { start, end } = times();
    const t = s.types.get(b.event_type);
    const ids = (b.resources || []).map((r) => (typeof r === "string" ? r : r.id));
    summary($("#manage-summary"), {
      title: t ? t.title : b.event_type || "Booking",
      where: ids.map((r) => (s.resources.get(r) ? s.resources.get(r).name || r : r)).join(", "),
      start,
      end,
      zone: s.zone,
      status: STATUS_WORDS[b.status] || b.status,
      who: b.booker ? [b.booker.name, b.booker.email].filter(Boolean).join(", ") : "",
    });
    const open = CHANGEABLE.has(b.status) && end > Date.now() / 1000;
    $("#manage-actions").hidden = !open;
    if (!open) {
      $("#cancel-form").hidden = true;
      $("#reschedule").hidden = true;
    }
    const list = $("#manage-history");
    list.textContent = "";
    for (const h of b.history || []) {
      const at = Math.floor((h.at_ms || 0) / 1000);
      const words = h.from ? `${STATUS_WORDS[h.from] || h.from} → ${STATUS_WORDS[h.to] || h.to}` : `Booked (${STATUS_WORDS[h.to] || h.to})`;
      const li = el("li", {}, el("time", { datetime: new Date(at * 1000).toISOString(), text: `${longDate(at, s.zone)}, ${clock(at, s.zone)}` }), el("span", { text: ` ${words}` }));
      if (h.reason) li.append(el("span", { class: "muted", text: ` — “${h.reason}”` }));
      list.append(li);
    }
    if (!list.children.length) list.append(el("li", { class: "muted", text: "No changes yet." }));
  }

  $("#m-cancel").addEventListener("click", () => {
    hold.release();
    s.choice = null;
    $("#reschedule").hidden = true;
    day.clear();
    $("#cancel-form").hidden = false;
    $("#c-reason").focus();
  });
  $("#c-keep").addEventListener("click", () => {
    $("#cancel-form").hidden = true;
    $("#m-cancel").focus();
  });
  $("#cancel-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const btn = $("#c-confirm");
    btn.disabled = true;
    try {
      s.b = api.bookingOf(await api.cancel(ref, $("#c-reason").value.trim()));
      $("#cancel-form").hidden = true;
      notice($("#manage-msg"), "Your booking is cancelled and the time is free again.");
      render();
      $("#manage-msg").tabIndex = -1;
      $("#manage-msg").focus();
    } catch (err) {
      notice($("#manage-msg"), `The booking was not cancelled. ${api.explain(err)}`);
    } finally {
      btn.disabled = false;
    }
  });

  $("#m-reschedule").addEventListener("click", async () => {
    $("#cancel-form").hidden = true;
    $("#reschedule").hidden = false;
    $("#r-confirm").hidden = true;
    const { start } = times();
    const from = localDate(Math.max(start, Date.now() / 1000), s.zone);
    s.date = from;
    cal.select(from);
    await cal.show(monthStart(from));
    pickDate(cal.days[from] ? from : cal.firstFree() || from);
    $("#r-calendar button[tabindex='0']")?.focus();
  });
  $("#r-stop").addEventListener("click", () => {
    s.choice = null;
    hold.release();
    $("#reschedule").hidden = true;
    day.clear();
    $("#m-reschedule").focus();
  });

  function pickDate(date) {
    s.date = date;
    cal.select(date);
    $("#r-day-title").textContent = dateLabel(date);
    day.show([resourceOf()], date, params(), s.zone);
  }

  // Choosing a new time holds it, as in the booker, so nobody takes it
  // while the booker confirms; the booking's own hold does not block the
  // move.
  async function choose(slot) {
    notice($("#r-notice"), "");
    day.setEnabled(false);
    try {
      await hold.take(resourceOf(), slot.start, slot.end);
    } catch (err) {
      refused(`Your booking keeps its current time. ${api.explain(err, clock(slot.start, s.zone))}`);
      return;
    } finally {
      day.setEnabled(true);
    }
    s.choice = slot;
    day.setSelected(slot.start);
    $("#r-choice").textContent = `New time: ${longDate(slot.start, s.zone)}, ${span(slot.start, slot.end, s.zone)} (${minutesLabel(Math.round((slot.end - slot.start) / 60))}), held for you.`;
    $("#r-confirm").hidden = false;
    $("#r-go").focus();
  }

  function refused(text) {
    s.choice = null;
    day.setSelected(null);
    $("#r-confirm").hidden = true;
    notice($("#r-notice"), text);
    day.refresh();
    $("#r-notice").tabIndex = -1;
    $("#r-notice").focus();
  }

  function lost(reason, h) {
    const what = clock(h.start, s.zone);
    refused(
      reason === "expired"
        ? `Your hold on ${what} ran out. Your booking keeps its current time; pick the new time again.`
        : `${what} is no longer held for you: someone else has it now. Your booking keeps its current time; pick another.`
    );
  }

  $("#r-go").addEventListener("click", async () => {
    const c = s.choice;
    if (!c) return;
    const btn = $("#r-go");
    btn.disabled = true;
    try {
      s.b = api.bookingOf(await api.reschedule(ref, c.start, c.end));
      hold.release();
      s.choice = null;
      $("#reschedule").hidden = true;
      day.clear();
      render();
      notice($("#manage-msg"), `Your booking is moved to ${longDate(c.start, s.zone)}, ${span(c.start, c.end, s.zone)}.`);
      $("#manage-msg").tabIndex = -1;
      $("#manage-msg").focus();
    } catch (err) {
      hold.release();
      refused(`Your booking keeps its current time. ${api.explain(err, clock(c.start, s.zone))}`);
    } finally {
      btn.disabled = false;
    }
  });
}
