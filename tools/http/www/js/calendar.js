// A month calendar that marks the days with free starts.
//
// A table of day buttons, Monday first. Days without a free start are
// disabled in look but stay focusable so the keyboard can move across them;
// arrow keys move by day and week, Page Up/Down by month, Home/End to the
// week's ends (the ARIA date-grid pattern, one tab stop for the grid).
// loadMonth(from, to) returns {"YYYY-MM-DD": bool}; a failed load shows its
// message and keeps the previous marks.

import { addDays, addMonths, dateLabel, monthEnd, monthStart, today, weekday } from "./time.js";

export class Calendar {
  constructor(root, { loadMonth, onPick, zone, explain }) {
    this.root = root;
    this.loadMonth = loadMonth;
    this.onPick = onPick;
    this.explain = explain;
    this.zone = zone;
    this.days = {};
    this.selected = "";
    this.focusDate = today(zone);
    this.month = monthStart(this.focusDate);
    this.loadSeq = 0;
    root.classList.add("calendar");
    root.innerHTML = `
      <div class="cal-head">
        <button type="button" class="cal-prev" aria-label="Previous month">‹</button>
        <h3 class="cal-month" aria-live="polite"></h3>
        <button type="button" class="cal-next" aria-label="Next month">›</button>
      </div>
      <p class="cal-error error" role="alert" hidden></p>
      <table role="grid">
        <thead><tr></tr></thead>
        <tbody></tbody>
      </table>
      <p class="cal-key muted"><span class="dot" aria-hidden="true"></span> has free times</p>`;
    const head = root.querySelector("thead tr");
    for (let i = 0; i < 7; i++) {
      const d = addDays("2024-01-01", i); // a Monday
      const th = document.createElement("th");
      th.scope = "col";
      th.abbr = dateLabel(d, { weekday: "long" });
      th.textContent = dateLabel(d, { weekday: "short" });
      head.append(th);
    }
    root.querySelector(".cal-prev").addEventListener("click", () => this.show(addMonths(this.month, -1)));
    root.querySelector(".cal-next").addEventListener("click", () => this.show(addMonths(this.month, 1)));
    root.querySelector("tbody").addEventListener("keydown", (e) => this.key(e));
    root.querySelector("tbody").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-date]");
      if (b) this.pick(b.dataset.date);
    });
  }

  setZone(zone) {
    this.zone = zone;
  }

  async show(month, focus = false) {
    this.month = monthStart(month);
    if (this.focusDate.slice(0, 7) !== this.month.slice(0, 7)) this.focusDate = this.month;
    this.render();
    await this.reload();
    if (focus) this.focusButton();
  }

  async reload() {
    const seq = ++this.loadSeq;
    const err = this.root.querySelector(".cal-error");
    const from = this.month;
    const to = monthEnd(this.month);
    const first = today(this.zone);
    try {
      const days = await this.loadMonth(from < first ? first : from, to);
      if (seq !== this.loadSeq) return;
      this.days = days;
      err.hidden = true;
    } catch (e) {
      if (seq !== this.loadSeq) return;
      err.textContent = `Could not load which days are free. ${this.explain(e)}`;
      err.hidden = false;
    }
    this.render();
  }

  // The first day of this month with a free start, if any.
  firstFree() {
    const end = monthEnd(this.month);
    for (let d = this.month; d <= end; d = addDays(d, 1)) if (this.days[d]) return d;
    return "";
  }

  render() {
    this.root.querySelector(".cal-month").textContent = dateLabel(this.month, { month: "long", year: "numeric" });
    const prev = this.root.querySelector(".cal-prev");
    prev.disabled = this.month <= monthStart(today(this.zone));
    const body = this.root.querySelector("tbody");
    const hadFocus = body.contains(document.activeElement);
    body.textContent = "";
    const end = monthEnd(this.month);
    const first = today(this.zone);
    let row = document.createElement("tr");
    for (let i = 1; i < weekday(this.month); i++) row.append(document.createElement("td"));
    for (let d = this.month; d <= end; d = addDays(d, 1)) {
      const td = document.createElement("td");
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.date = d;
      b.textContent = String(Number(d.slice(8)));
      const free = !!this.days[d] && d >= first;
      b.className = free ? "day free" : "day";
      if (!free) b.setAttribute("aria-disabled", "true");
      if (d === this.selected) b.setAttribute("aria-pressed", "true");
      if (d === first) b.setAttribute("aria-current", "date");
      b.setAttribute("aria-label", `${dateLabel(d)}${free ? ", free times" : ", nothing free"}`);
      b.tabIndex = d === this.focusDate ? 0 : -1;
      td.append(b);
      row.append(td);
      if (weekday(d) === 7) {
        body.append(row);
        row = document.createElement("tr");
      }
    }
    if (row.children.length) body.append(row);
    if (!body.querySelector('button[tabindex="0"]')) {
      const b = body.querySelector("button");
      if (b) b.tabIndex = 0;
    }
    if (hadFocus) this.focusButton();
  }

  focusButton() {
    const b = this.root.querySelector(`button[data-date="${this.focusDate}"]`);
    if (b) b.focus();
  }

  pick(date) {
    this.focusDate = date;
    if (!this.days[date] || date < today(this.zone)) {
      this.render();
      this.focusButton();
      return;
    }
    this.selected = date;
    this.render();
    this.onPick(date);
  }

  select(date) {
    this.selected = date;
    this.focusDate = date;
    if (date.slice(0, 7) !== this.month.slice(0, 7)) this.show(date);
    else this.render();
  }

  key(e) {
    const b = e.target.closest("button[data-date]");
    if (!b) return;
    const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7 };
    let next = "";
    if (e.key in moves) next = addDays(b.dataset.date, moves[e.key]);
    else if (e.key === "Home") next = addDays(b.dataset.date, 1 - weekday(b.dataset.date));
    else if (e.key === "End") next = addDays(b.dataset.date, 7 - weekday(b.dataset.date));
    else if (e.key === "PageUp") next = addMonths(b.dataset.date, -1);
    else if (e.key === "PageDown") next = addMonths(b.dataset.date, 1);
    else return;
    e.preventDefault();
    if (next < today(this.zone)) next = today(this.zone);
    this.focusDate = next;
    if (next.slice(0, 7) !== this.month.slice(0, 7)) this.show(next, true);
    else {
      this.render();
      this.focusButton();
    }
  }
}
