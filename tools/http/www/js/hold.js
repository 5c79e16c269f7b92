// The visitor's hold on the time they chose, kept alive while the form is
// open.
//
// take() asks the gateway for the hold (it belongs to this browser's session
// cookie) and then renews it every half TTL. The TTL is learned from the
// first answer (expires_at_ms minus now, or ttl_ms when the gateway says
// it). A renewal refused with HELD or CONFLICT, or no successful renewal
// before the last known expiry (the network is gone, the tab was frozen),
// means the hold is lost: onLost(reason) is called once and the timers
// stop. release() drops it at the gateway; releaseOnExit() does so from a
// page that is going away.

import * as api from "./api.js";

export class Hold {
  constructor({ onLost, onStatus }) {
    this.onLost = onLost;
    this.onStatus = onStatus;
    this.current = null;
    this.timer = 0;
    this.ticker = 0;
  }

  get active() {
    return this.current;
  }

  async take(resource, start, end) {
    if (this.current && this.current.resource !== resource) await this.release();
    this.stop();
    const reply = await api.hold(resource, start, end);
    const now = Date.now();
    const ttl = ttlOf(reply, now);
    this.current = { resource, start, end, ttl, expiresAt: now + ttl, failing: false };
    this.schedule();
    return this.current;
  }

  schedule() {
    const h = this.current;
    this.timer = setTimeout(() => this.renew(), Math.max(250, h.ttl / 2));
    if (!this.ticker) this.ticker = setInterval(() => this.tick(), 500);
    this.status();
  }

  async renew() {
    const h = this.current;
    if (!h) return;
    try {
      const reply = await api.hold(h.resource, h.start, h.end);
      if (this.current !== h) return;
      const now = Date.now();
      h.ttl = ttlOf(reply, now, h.ttl);
      h.expiresAt = now + h.ttl;
      h.failing = false;
      this.timer = setTimeout(() => this.renew(), Math.max(250, h.ttl / 2));
    } catch (e) {
      if (this.current !== h) return;
      if (e.code === "HELD" || e.code === "CONFLICT" || e.code === "CLOSED" || e.code === "OUT_OF_RANGE" || e.code === "INACTIVE") {
        this.lose(e.code === "HELD" ? "taken" : "gone");
        return;
      }
      h.failing = true;
      this.timer = setTimeout(() => this.renew(), 1000);
    }
    this.status();
  }

  tick() {
    const h = this.current;
    if (!h) return;
    if (Date.now() >= h.expiresAt) this.lose("expired");
    else if (h.failing) this.status();
  }

  status() {
    const h = this.current;
    if (h && this.onStatus) this.onStatus(h, Math.max(0, Math.ceil((h.expiresAt - Date.now()) / 1000)));
  }

  lose(reason) {
    const h = this.current;
    this.stop();
    this.current = null;
    if (h) this.onLost(reason, h);
  }

  stop() {
    clearTimeout(this.timer);
    clearInterval(this.ticker);
    this.timer = 0;
    this.ticker = 0;
  }

  // The hold was turned into a booking: stop renewing, nothing to release.
  forget() {
    this.stop();
    this.current = null;
  }

  async release() {
    const h = this.current;
    this.stop();
    this.current = null;
    if (!h) return;
    try {
      await api.release(h.resource);
    } catch {
      /* it lapses at its TTL */
    }
  }

  releaseOnExit() {
    const h = this.current;
    this.stop();
    this.current = null;
    if (h) api.releaseOnExit(h.resource);
  }
}

function ttlOf(reply, now, fallback = 10000) {
  if (reply && Number.isFinite(reply.ttl_ms) && reply.ttl_ms > 0) return reply.ttl_ms;
  const exp = reply && (reply.expires_at_ms ?? (Number.isFinite(reply.expires_at) ? reply.expires_at * 1000 : undefined));
  if (Number.isFinite(exp) && exp > now) return Math.min(exp - now, 3600000);
  return fallback;
}
