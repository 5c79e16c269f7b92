// The live day list: start times of one local day, in time order, with other
// people's holds inline as "reserved", kept current from the gateway's
// Server-Sent Events stream.
//
// One stream per resource shown, up to MAX_STREAMS (the "any free one"
// choice shows several and merges them: a start is available if any resource
// has it free); further resources are re-read every POLL_MS. A change
// event re-reads the day and the list is reconciled in place: buttons are
// kept by start time, so nothing flickers and the keyboard focus stays put.
// Reserved starts stay buttons: someone else's hold may lapse, and choosing
// one asks for it (the answer says whether it is still taken).
// Changes are announced in a polite live region. When the stream breaks,
// EventSource reconnects by itself and the day is re-read on reconnect;
// while it stays down, the day is re-read every POLL_MS.

import * as api from "./api.js";
import { clock, daysLater, addDays, shortDate } from "./time.js";

const POLL_MS = 10000;
// A browser keeps at most six HTTP/1.1 connections to one host, and each
// stream holds one open: follow at most this many resources live per page.
export const MAX_STREAMS = 3;

export class DayView {
  constructor(root, { onChoose, live }) {
    this.root = root;
    this.onChoose = onChoose;
    this.live = live;
    this.resources = [];
    this.date = "";
    this.params = {};
    this.zone = "UTC";
    this.slots = [];
    this.selected = null;
    this.streams = [];
    this.retries = [];
    this.loading = null;
    this.dirty = false;
    this.poller = 0;
    this.enabled = true;
    root.classList.add("dayview");
    root.innerHTML = `<p class="day-empty muted"></p><ul class="slots" aria-describedby=""></ul>`;
    this.list = root.querySelector("ul");
    this.empty = root.querySelector(".day-empty");
    this.empty.textContent = "Pick a day to see its times.";
    this.list.addEventListener("click", (e) => {
      const b = e.target.closest("button[data-start]");
      if (!b || !this.enabled) return;
      const slot = this.slots.find((s) => String(s.start) === b.dataset.start);
      if (slot) this.onChoose(slot);
    });
  }

  // Show a day: resources is a list of ids (merged), params the day query.
  show(resources, date, params, zone) {
    const streamsChange = resources.join(",") !== this.resources.join(",") || date !== this.date;
    this.resources = resources;
    this.date = date;
    this.params = params;
    this.zone = zone;
    if (streamsChange) this.openStreams();
    this.slots = [];
    this.list.textContent = "";
    this.empty.textContent = "Loading the times…";
    this.empty.hidden = false;
    return this.refresh();
  }

  clear() {
    this.closeStreams();
    this.resources = [];
    this.date = "";
    this.slots = [];
    this.list.textContent = "";
    this.empty.textContent = "Pick a day to see its times.";
    this.empty.hidden = false;
  }

  setSelected(start) {
    this.selected = start;
    this.render(false);
  }

  setEnabled(on) {
    this.enabled = on;
  }

  openStreams() {
    this.closeStreams();
    if (!this.date || typeof EventSource === "undefined") return;
    this.resources.slice(0, MAX_STREAMS).forEach((r, i) => this.follow(r, i, 0));
    this.updatePolling();
  }

  // Follow one resource's days. EventSource reconnects by itself after a
  // dropped connection, but gives up on an answer that is not a stream
  // (429 when too many are open, 503): then try again later, backing off.
  follow(r, i, failures) {
    // A local day can touch two of the resource's days; watch around it.
    const from = addDays(this.date, -1);
    const to = addDays(this.date, 1);
    const es = new EventSource(`/v1/stream?resource=${encodeURIComponent(r)}&from=${from}&to=${to}`);
    let broken = false;
    const changed = () => this.refresh();
    es.addEventListener("slots", changed);
    es.addEventListener("holds", changed);
    es.addEventListener("resync", changed);
    es.onmessage = changed;
    es.onopen = () => {
      failures = 0;
      if (broken) {
        broken = false;
        this.refresh();
      }
      this.updatePolling();
    };
    es.onerror = () => {
      broken = true;
      this.updatePolling();
      if (es.readyState !== EventSource.CLOSED) return;
      const wait = Math.min(60000, 2000 * 2 ** Math.min(failures, 5));
      this.retries[i] = setTimeout(() => {
        if (this.streams[i] !== es) return;
        this.follow(r, i, failures + 1);
        this.refresh();
      }, wait);
    };
    this.streams[i] = es;
  }

  closeStreams() {
    for (const es of this.streams) es.close();
    for (const t of this.retries) clearTimeout(t);
    this.streams = [];
    this.retries = [];
    this.updatePolling();
  }

  // Poll only while some stream is down, or when there are more resources
  // than streams.
  updatePolling() {
    const need =
      this.date &&
      (this.resources.length > this.streams.length || this.streams.some((es) => es.readyState !== EventSource.OPEN));
    if (need && !this.poller) this.poller = setInterval(() => this.refresh(), POLL_MS);
    if (!need && this.poller) {
      clearInterval(this.poller);
      this.poller = 0;
    }
  }

  // Re-read the day; calls that arrive during a read coalesce into one more.
  async refresh() {
    if (!this.date) return;
    if (this.loading) {
      this.dirty = true;
      return this.loading;
    }
    this.loading = this.load();
    try {
      await this.loading;
    } finally {
      this.loading = null;
    }
    if (this.dirty) {
      this.dirty = false;
      return this.refresh();
    }
  }

  async load() {
    const key = `${this.resources.join(",")}|${this.date}|${JSON.stringify(this.params)}`;
    let lists;
    try {
      lists = await Promise.all(
        this.resources.map((r) => api.day(r, this.date, this.params).then((slots) => ({ r, slots })))
      );
    } catch (e) {
      if (!this.slots.length) {
        this.empty.textContent = `Could not load the times. ${api.explain(e)}`;
        this.empty.hidden = false;
      }
      return;
    }
    if (key !== `${this.resources.join(",")}|${this.date}|${JSON.stringify(this.params)}`) return;
    const merged = new Map();
    const now = Date.now() / 1000;
    for (const { r, slots } of lists) {
      for (const s of slots) {
        if (s.start < now) continue; // today's past starts cannot be booked
        let m = merged.get(s.start);
        if (!m) {
          m = { start: s.start, end: s.end, state: "reserved", free: [], mine: "" };
          merged.set(s.start, m);
        }
        if (s.state === "available") {
          m.free.push(r);
          if (m.state === "reserved") m.state = "available";
        } else if (s.state === "mine") {
          m.mine = r;
          m.state = "mine";
        }
      }
    }
    this.slots = [...merged.values()].sort((a, b) => a.start - b.start);
    this.render(true);
  }

  label(s) {
    const t = clock(s.start, this.zone);
    const later = daysLater(s.start, s.end, this.zone);
    return later > 0 ? `${t} → ${shortDate(s.end, this.zone)} ${clock(s.end, this.zone)}` : t;
  }

  render(announce) {
    const old = new Map();
    for (const li of this.list.children) old.set(li.dataset.start, li);
    const before = new Map([...old].map(([k, li]) => [k, li.dataset.state]));
    const focused = document.activeElement && this.list.contains(document.activeElement) ? document.activeElement : null;
    let focusIndex = -1;
    if (focused) focusIndex = [...this.list.children].indexOf(focused.closest("li"));
    let prev = null;
    const changes = [];
    for (const s of this.slots) {
      const k = String(s.start);
      let state = s.state;
      if (this.selected === s.start && state !== "reserved") state = "mine";
      let li = old.get(k);
      if (!li) {
        li = document.createElement("li");
        li.dataset.start = k;
        li.innerHTML = `<button type="button" class="slot" data-start="${k}"><span class="time"></span><span class="tag"></span></button>`;
      }
      old.delete(k);
      const b = li.firstChild;
      const text = this.label(s);
      if (b.firstChild.textContent !== text) b.firstChild.textContent = text;
      if (li.dataset.state !== state) {
        li.dataset.state = state;
        b.dataset.state = state;
        const tag = state === "reserved" ? "reserved" : state === "mine" ? "your choice" : "";
        b.lastChild.textContent = tag;
        b.setAttribute("aria-pressed", state === "mine" ? "true" : "false");
        const was = before.get(k);
        if (was && was !== state) changes.push(`${text} is now ${state === "reserved" ? "reserved by someone else" : state === "mine" ? "held for you" : "free"}`);
      }
      b.setAttribute(
        "aria-label",
        `${text}${state === "reserved" ? ", reserved by someone else for now" : state === "mine" ? ", your choice" : ""}`
      );
      // Insert or move only when out of place: no re-creation, no flicker.
      const want = prev ? prev.nextSibling : this.list.firstChild;
      if (want !== li) this.list.insertBefore(li, want);
      prev = li;
    }
    for (const li of old.values()) {
      changes.push(`${li.firstChild.firstChild.textContent} is no longer available`);
      li.remove();
    }
    if (focused && !this.list.contains(focused)) {
      const items = this.list.querySelectorAll("button");
      const b = items[Math.min(focusIndex, items.length - 1)];
      if (b) b.focus();
    }
    if (this.slots.length === 0) {
      this.empty.textContent = "No free times on this day. Pick another day in the calendar.";
      this.empty.hidden = false;
    } else {
      this.empty.hidden = true;
    }
    if (announce && changes.length && this.live) {
      this.live(changes.length > 3 ? `${changes.length} times changed on this day.` : `${changes.join(". ")}.`);
    }
  }
}
