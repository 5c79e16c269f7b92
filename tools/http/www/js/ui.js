// Small DOM helpers shared by the pages. Text from the API (titles, names,
// notes) is only ever set through textContent, never parsed as HTML.

import { zoneName, longDate, span, daysLater, clock } from "./time.js";

export const $ = (sel, root = document) => root.querySelector(sel);

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

// Show one of the page's steps and hide the others.
export function showStep(id) {
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== id;
  const loading = $("#loading");
  if (loading) loading.hidden = true;
}

export function say(text) {
  const live = $("#live");
  if (!live) return;
  live.textContent = "";
  // A fresh text node after a tick makes screen readers announce repeats.
  setTimeout(() => (live.textContent = text), 50);
}

export function notice(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}

// A definition list describing a booking or a chosen time.
export function summary(node, { title, where, start, end, zone, status, who }) {
  node.textContent = "";
  const dl = el("dl");
  const row = (k, v) => {
    if (v) dl.append(el("dt", { text: k }), el("dd", { text: v }));
  };
  row("What", title);
  row("Where", where);
  const later = daysLater(start, end, zone);
  if (later > 0) {
    row("From", `${longDate(start, zone)}, ${clock(start, zone)}`);
    row("Until", `${longDate(end, zone)}, ${clock(end, zone)}`);
    row("Length", `${later + 1} days (runs past midnight)`);
  } else {
    row("When", `${longDate(start, zone)}, ${span(start, end, zone)}`);
  }
  row("Time zone", zoneName(zone, start));
  row("Status", status);
  row("Booked by", who);
  node.append(dl);
}

export const STATUS_WORDS = {
  pending: "Request received, waiting for the studio to confirm",
  confirmed: "Confirmed",
  declined: "Declined",
  cancelled: "Cancelled",
  completed: "Completed",
  no_show: "Marked as not attended",
};

// Fill the zone picker and keep it in step with the chosen zone.
export function zonePicker(select, nameNode, zone, zones, onChange) {
  select.textContent = "";
  for (const z of zones) select.append(el("option", { value: z, text: z.replace(/_/g, " ") }));
  if (!zones.includes(zone)) select.prepend(el("option", { value: zone, text: zone }));
  select.value = zone;
  nameNode.textContent = zoneName(zone);
  select.addEventListener("change", () => {
    nameNode.textContent = zoneName(select.value);
    onChange(select.value);
  });
}
