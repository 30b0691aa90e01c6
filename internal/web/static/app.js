// Draws the remediation curve. Data comes from /api/curve (never from an
// inline script), so the Content-Security-Policy can forbid inline script.
(function () {
  "use strict";
  function draw(el) {
    fetch(el.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("curve: HTTP " + r.status); } return r.json(); })
      .then(function (d) {
        var runs = d.runs || [];
        var xs = [], vul = [], pat = [], und = [], comp = [], pct = [];
        runs.forEach(function (r) {
          xs.push(Date.parse(r.time) / 1000);
          vul.push(r.vulnerable); pat.push(r.patched); und.push(r.undetermined);
          comp.push(r.compromised); pct.push(r.pct_patched);
        });
        var opts = {
          width: Math.max(el.clientWidth, 400), height: 320,
          scales: { x: { time: true }, pct: { range: [0, 100] } },
          series: [
            {},
            { label: "vulnerable", stroke: "#c00", width: 2 },
            { label: "patched", stroke: "#080", width: 2 },
            { label: "undetermined", stroke: "#888" },
            { label: "compromised", stroke: "#a0a" },
            { label: "% patched", stroke: "#00c", scale: "pct", dash: [5, 5] }
          ],
          axes: [{}, { label: "endpoints" }, { scale: "pct", side: 1, label: "% patched", grid: { show: false } }]
        };
        new uPlot(opts, [xs, vul, pat, und, comp, pct], el);
        el.dataset.drawn = String(runs.length);
      })
      .catch(function (e) { el.textContent = String(e.message); });
  }
  function init() {
    var el = document.getElementById("curve");
    if (el && el.dataset.src) { draw(el); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
