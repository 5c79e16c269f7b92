// The gateway's JSON API, as the pages use it.
//
// Every call goes to the same origin (the gateway serves these files), so the
// session cookie that names this browser's holds travels with it. A refused
// call throws an ApiError carrying the engine's code (HELD, CONFLICT, ...)
// and a message that says what to do next; a network failure throws one with
// code "NETWORK". Nothing of the visitor's data is ever put in a URL.

const JSON_TYPE = "application/json";

export class ApiError extends Error {
  constructor(status, code, detail, field, retryAfter) {
    super(detail || code);
    this.status = status;
    this.code = code;
    this.detail = detail || "";
    this.field = field || "";
    this.retryAfter = retryAfter || 0;
  }
}

// A bearer token set by the site's sign-in (OIDC); optional.
export function authToken() {
  try {
    return sessionStorage.getItem("bookd.token") || "";
  } catch {
    return "";
  }
}

export function setAuthToken(token) {
  try {
    if (token) sessionStorage.setItem("bookd.token", token);
    else sessionStorage.removeItem("bookd.token");
  } catch {
    /* storage disabled: the token lives only as long as the page */
  }
}

// The claims of a JWT, read without verifying (the gateway verifies); used
// only to show the signed-in email.
export function tokenClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch {
    return null;
  }
}

const CODES_FROM_STATUS = {
  400: "BAD_REQUEST",
  401: "UNAUTHENTICATED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  409: "CONFLICT",
  413: "TOO_LARGE",
  422: "CLOSED",
  429: "LIMIT",
  500: "INTERNAL",
  503: "UNAVAILABLE",
};

export async function call(method, path, body, headers = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  const token = authToken();
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = JSON_TYPE;
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, "NETWORK", "");
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const p = data || {};
    const code = p.code || CODES_FROM_STATUS[res.status] || "INTERNAL";
    const retry = parseInt(res.headers.get("Retry-After") || "0", 10) || 0;
    throw new ApiError(res.status, code, p.detail || p.title || "", p.field, retry);
  }
  return data;
}

export const get = (path) => call("GET", path);
export const put = (path, body) => call("PUT", path, body);
export const post = (path, body, headers) => call("POST", path, body, headers);
export const del = (path) => call("DELETE", path, {});

const q = (params) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") s.set(k, String(v));
  return s.toString();
};
const enc = encodeURIComponent;

// Lists come back either bare or wrapped ({resources: [...]}); accept both.
function listOf(data, key) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data[key])) return data[key];
  return [];
}

export async function resources() {
  return listOf(await get("/v1/resources"), "resources");
}

export async function eventTypes() {
  return listOf(await get("/v1/event-types"), "event_types");
}

// {"YYYY-MM-DD": true|false} for the days from..to (inclusive).
export async function month(resource, params) {
  const data = await get(`/v1/resources/${enc(resource)}/month?${q(params)}`);
  const days = data && typeof data.days === "object" && data.days ? data.days : data;
  const out = {};
  if (Array.isArray(days)) {
    for (const d of days) {
      if (typeof d === "string") out[d] = true;
      else if (d && d.date) out[d.date] = d.available !== undefined ? !!d.available : !!d.has_slots || !!d.free;
    }
  } else if (days) {
    for (const [k, v] of Object.entries(days)) if (/^\d{4}-\d{2}-\d{2}$/.test(k)) out[k] = !!v;
  }
  return out;
}

// An instant as Unix seconds, from the forms the API may use.
export function unix(v) {
  if (typeof v === "number") return v;
  if (typeof v === "string") return /^\d+$/.test(v) ? Number(v) : Math.floor(Date.parse(v) / 1000);
  if (v && typeof v === "object") return unix(v.unix ?? v.ts ?? v.epoch ?? v.iso);
  return NaN;
}

// [{start, end, state}] in time order; state is available, reserved or mine.
export async function day(resource, date, params) {
  const data = await get(`/v1/resources/${enc(resource)}/days/${enc(date)}?${q(params)}`);
  const raw = listOf(data, "slots");
  const minutes = Number(params.duration) || 0;
  return raw
    .map((s) => {
      const start = unix(s.start_unix ?? s.start);
      let end = unix(s.end_unix ?? s.end);
      if (!Number.isFinite(end)) end = start + minutes * 60;
      let state = s.state || (s.reserved ? "reserved" : "available");
      if (s.mine) state = "mine";
      return { start, end, state };
    })
    .filter((s) => Number.isFinite(s.start))
    .sort((a, b) => a.start - b.start);
}

export const hold = (resource, start, end) => put(`/v1/holds/${enc(resource)}`, { start, end });
export const release = (resource) => del(`/v1/holds/${enc(resource)}`);

// Release without waiting, surviving the page being closed.
export function releaseOnExit(resource) {
  const headers = { "Content-Type": JSON_TYPE };
  const token = authToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    fetch(`/v1/holds/${enc(resource)}`, { method: "DELETE", headers, body: "{}", keepalive: true, credentials: "same-origin" });
  } catch {
    /* the hold lapses at its TTL anyway */
  }
}

export const book = (body, key) => post("/v1/bookings", body, { "Idempotency-Key": key });
export const booking = (ref) => get(`/v1/bookings/${enc(ref)}`);
export const cancel = (ref, reason) => post(`/v1/bookings/${enc(ref)}/cancel`, reason ? { reason } : {});
export const reschedule = (ref, start, end) => post(`/v1/bookings/${enc(ref)}/reschedule`, { start, end });

// Unwrap {booking: {...}} replies.
export function bookingOf(data) {
  return data && data.booking && typeof data.booking === "object" ? data.booking : data;
}

// What to tell the visitor, in words, with the next step.
export function explain(err, what = "this time") {
  if (!(err instanceof ApiError)) return "Something went wrong in this page. Reload it and try again.";
  switch (err.code) {
    case "HELD":
      return `Someone else is holding ${what} right now. Pick another time, or try this one again in a few minutes.`;
    case "CONFLICT":
      return `${cap(what)} has just been booked by someone else. Pick another time from the list.`;
    case "CLOSED":
      return `${cap(what)} is outside the opening hours. Pick another time from the list.`;
    case "OUT_OF_RANGE":
      return `${cap(what)} can no longer be booked (too soon or too far ahead). Pick another time.`;
    case "INACTIVE":
      return "This is not taking bookings at the moment. Choose something else or come back later.";
    case "LIMIT":
      if (err.field === "end")
        return `${cap(what)} is longer than can be held while you fill in the form. Choose a shorter length, or contact the studio to book it.`;
      return `Too many attempts in a short time. Wait ${err.retryAfter > 1 ? `${err.retryAfter} seconds` : err.retryAfter === 1 ? "a second" : "a few seconds"}, then try again.`;
    case "UNAUTHENTICATED":
      return "You need to sign in before booking. Sign in, then send the form again.";
    case "FORBIDDEN":
      return "You are not allowed to do this. Sign in with an account that may, or ask the studio.";
    case "NOT_FOUND":
      return "This was not found: it may have been removed. Go back to the start and pick again.";
    case "INVALID_STATE":
      return "This booking can no longer be changed in this way. Reload the page to see its current state.";
    case "BAD_REQUEST":
      return `Something in the request was not accepted${err.field ? ` (${err.field})` : ""}: ${err.detail || "check your entries"}. Correct it and try again.`;
    case "TOO_LARGE":
      return "What you entered is too long. Shorten the notes and try again.";
    case "UNAVAILABLE":
    case "NETWORK":
      return "The booking service cannot be reached right now. Check your connection and try again in a moment.";
    default:
      return "The booking service had a problem. Try again in a moment; if it keeps happening, contact the studio.";
  }
}

function cap(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
