// Live updates without reloading: every element with data-live="URL" is
// refreshed from that URL (an HTML fragment of this console, escaped by the
// server) every few seconds. Nothing else runs on the page.
"use strict";
(function () {
  var PERIOD_MS = 5000;
  function refresh(el) {
    fetch(el.getAttribute("data-live"), {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { el.innerHTML = html; el.removeAttribute("data-stale"); })
      .catch(function () { el.setAttribute("data-stale", "1"); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var live = document.querySelectorAll("[data-live]");
    if (!live.length) { return; }
    setInterval(function () { live.forEach(refresh); }, PERIOD_MS);
  });
})();
