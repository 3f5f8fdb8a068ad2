// VenaPath pages work without this file; with it, time-window clocks tick and htmx
// requests carry the CSRF token. No inline script anywhere (the CSP forbids it).
(function () {
  "use strict";

  function hoursOf(value, unit) { return unit === "d" ? value * 24 : value; }

  function describe(hours) {
    var total = Math.round(Math.abs(hours) * 60);
    var h = Math.floor(total / 60), m = total % 60;
    return (h ? h + " h " : "") + m + " min";
  }

  function tick() {
    var clocks = document.querySelectorAll(".clock[data-elapsed]");
    var now = Date.now();
    clocks.forEach(function (el) {
      var at = Date.parse(el.dataset.at);
      if (isNaN(at)) { return; }
      var unit = el.dataset.unit;
      var elapsed = hoursOf(parseFloat(el.dataset.elapsed), unit) + (now - at) / 3600000;
      var limit = hoursOf(parseFloat(el.dataset.limit), unit);
      var left = limit - elapsed;
      if (el.dataset.bound === "lower") {
        el.textContent = left > 0 ? "not before: " + describe(left) + " to go" : "window open (" + describe(-left) + " since)";
      } else {
        el.textContent = left > 0 ? describe(left) + " left" : "passed " + describe(-left) + " ago";
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 30000);
    var meta = document.querySelector('meta[name="csrf-token"]');
    document.body.addEventListener("htmx:configRequest", function (event) {
      if (meta) { event.detail.headers["X-CSRF-Token"] = meta.content; }
    });
    document.body.addEventListener("htmx:afterSwap", tick);
  });
})();
