// Time zones and formatting for the pages, all through Intl (no library).
//
// Instants are Unix seconds throughout; a "date" is a "YYYY-MM-DD" local day
// in the visitor's zone. The zone is detected once and may be switched; the
// choice is kept in sessionStorage so the manage page opens in it too.

export function detectedZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

export function savedZone() {
  try {
    const z = sessionStorage.getItem("bookd.tz");
    if (z && validZone(z)) return z;
  } catch {
    /* no storage */
  }
  return detectedZone();
}

export function saveZone(z) {
  try {
    sessionStorage.setItem("bookd.tz", z);
  } catch {
    /* no storage */
  }
}

export function validZone(z) {
  try {
    new Intl.DateTimeFormat("en", { timeZone: z });
    return true;
  } catch {
    return false;
  }
}

export function allZones() {
  try {
    const list = Intl.supportedValuesOf("timeZone");
    if (!list.includes("UTC")) list.push("UTC");
    return list;
  } catch {
    return ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Tokyo"];
  }
}

const cache = new Map();
function fmt(tz, opts) {
  const key = tz + JSON.stringify(opts);
  let f = cache.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(undefined, { timeZone: tz, ...opts });
    cache.set(key, f);
  }
  return f;
}

// "14:00" or "2:00 PM", as the visitor's locale writes times.
export const clock = (t, tz) => fmt(tz, { hour: "numeric", minute: "2-digit" }).format(t * 1000);

// "Tuesday 15 December 2026" in the locale's order.
export const longDate = (t, tz) =>
  fmt(tz, { weekday: "long", day: "numeric", month: "long", year: "numeric" }).format(t * 1000);

export const shortDate = (t, tz) => fmt(tz, { weekday: "short", day: "numeric", month: "short" }).format(t * 1000);

// The zone's name as people read it: "Central European Standard Time".
export function zoneName(tz, t = Date.now() / 1000) {
  const part = fmt(tz, { timeZoneName: "long" })
    .formatToParts(t * 1000)
    .find((p) => p.type === "timeZoneName");
  const offset = fmt(tz, { timeZoneName: "shortOffset" })
    .formatToParts(t * 1000)
    .find((p) => p.type === "timeZoneName");
  return `${part ? part.value : tz}${offset ? ` (${offset.value})` : ""}`;
}

// The local date "YYYY-MM-DD" of an instant in a zone.
export function localDate(t, tz) {
  const p = Object.fromEntries(
    fmt(tz, { year: "numeric", month: "2-digit", day: "2-digit" })
      .formatToParts(t * 1000)
      .map((x) => [x.type, x.value])
  );
  return `${p.year}-${p.month}-${p.day}`;
}

export function today(tz) {
  return localDate(Math.floor(Date.now() / 1000), tz);
}

// Calendar arithmetic on "YYYY-MM-DD" strings, zone-free.
export function addDays(date, n) {
  const [y, m, d] = date.split("-").map(Number);
  const t = new Date(Date.UTC(y, m - 1, d + n));
  return t.toISOString().slice(0, 10);
}

export function monthStart(date) {
  return `${date.slice(0, 7)}-01`;
}

export function addMonths(date, n) {
  const [y, m] = date.split("-").map(Number);
  const t = new Date(Date.UTC(y, m - 1 + n, 1));
  return t.toISOString().slice(0, 10);
}

export function monthEnd(date) {
  return addDays(addMonths(monthStart(date), 1), -1);
}

// ISO weekday of a date, Monday = 1.
export function weekday(date) {
  const [y, m, d] = date.split("-").map(Number);
  return ((new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7) + 1;
}

// A date's name for labels; noon UTC keeps it on the same calendar day.
export function dateLabel(date, opts = { weekday: "long", day: "numeric", month: "long", year: "numeric" }) {
  const [y, m, d] = date.split("-").map(Number);
  return new Intl.DateTimeFormat(undefined, { timeZone: "UTC", ...opts }).format(Date.UTC(y, m - 1, d, 12));
}

// "14:00 – 15:00", or with the dates when the span crosses midnight.
export function span(start, end, tz) {
  const sameDay = localDate(start, tz) === localDate(end - 1, tz);
  if (sameDay) return `${clock(start, tz)} – ${clock(end, tz)}`;
  return `${shortDate(start, tz)} ${clock(start, tz)} – ${shortDate(end, tz)} ${clock(end, tz)}`;
}

// Days a span's end lies after its start's local day (for "+1 day" marks).
export function daysLater(start, end, tz) {
  const a = localDate(start, tz);
  const b = localDate(end - 1, tz);
  let n = 0;
  for (let d = a; d < b && n < 400; d = addDays(d, 1)) n++;
  return n;
}

export function minutesLabel(m) {
  if (m % 1440 === 0) return m === 1440 ? "1 day" : `${m / 1440} days`;
  if (m % 60 === 0) return m === 60 ? "1 hour" : `${m / 60} hours`;
  if (m > 60) return `${Math.floor(m / 60)} h ${m % 60} min`;
  return `${m} min`;
}

// An iCalendar file for one booking (RFC 5545), times in UTC.
export function ics({ uid, start, end, title, location, description, url }) {
  const stamp = (t) => new Date(t * 1000).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const esc = (s) => String(s || "").replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/([,;])/g, "\\$1");
  const fold = (line) => {
    const out = [];
    while (line.length > 73) {
      out.push(line.slice(0, 73));
      line = ` ${line.slice(73)}`;
    }
    out.push(line);
    return out.join("\r\n");
  };
  const lines = [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//bookd//booking page//EN",
    "CALSCALE:GREGORIAN",
    "METHOD:PUBLISH",
    "BEGIN:VEVENT",
    `UID:${esc(uid)}`,
    `DTSTAMP:${stamp(Math.floor(Date.now() / 1000))}`,
    `DTSTART:${stamp(start)}`,
    `DTEND:${stamp(end)}`,
    `SUMMARY:${esc(title)}`,
  ];
  if (location) lines.push(`LOCATION:${esc(location)}`);
  if (description) lines.push(`DESCRIPTION:${esc(description)}`);
  if (url) lines.push(`URL:${url}`);
  lines.push("END:VEVENT", "END:VCALENDAR");
  return lines.map(fold).join("\r\n") + "\r\n";
}
