// Entry point of index.html: /booking/{ref} opens the manage page, every
// other path the booker. The ref is the only visitor data a URL ever holds.

import { startBooker } from "./booker.js";
import { startManage } from "./manage.js";

const m = location.pathname.match(/^\/booking\/([A-Za-z0-9_-]{8,128})\/?$/);
if (m) startManage(m[1]);
else if (location.pathname.startsWith("/booking/")) {
  document.getElementById("loading").hidden = true;
  const p = document.getElementById("page-error");
  p.textContent = "This booking link is not complete. Copy the whole link from your email, or contact the studio.";
  p.hidden = false;
} else startBooker();
