"""The page: inline CSS and a small script that records errors and render status in the DOM.

The script lets a headless browser test read the outcome from ``--dump-dom``: errors go
into ``#console-errors`` and each section's status into ``data-rendered``.
"""

from __future__ import annotations

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · {{ snapshot }}</title>
<script>
(function () {
  var errors = [];
  function record(msg) {
    errors.push(String(msg));
    var el = document.getElementById("console-errors");
    if (el) { el.textContent = errors.join("\\n"); el.setAttribute("data-count", errors.length); }
  }
  window.addEventListener("error", function (e) {
    record("error: " + (e.message || (e.target && e.target.tagName) || "unknown"));
  }, true);
  window.addEventListener("unhandledrejection", function (e) { record("rejection: " + e.reason); });
  var origError = console.error;
  console.error = function () {
    record("console.error: " + Array.prototype.join.call(arguments, " "));
    return origError.apply(console, arguments);
  };
  window.__recordError = record;
})();
</script>
<style>
  :root { --ink: #1d2733; --muted: #5d6b7a; --line: #dfe4ea; --accent: #3b6ea5; }
  * { box-sizing: border-box; }
  body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
         margin: 0; background: #f6f8fa; }
  header { background: var(--ink); color: #fff; padding: 18px 32px; }
  header h1 { margin: 0; font-size: 22px; }
  header p { margin: 4px 0 0; color: #c8d1db; }
  nav { padding: 8px 32px; background: #fff; border-bottom: 1px solid var(--line); }
  nav a { margin-right: 14px; color: var(--accent); text-decoration: none; font-size: 14px; }
  main { max-width: 1180px; margin: 0 auto; padding: 16px 32px 48px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
            padding: 16px 22px; margin: 18px 0; }
  section h2 { margin: 0 0 8px; font-size: 18px; }
  .note { color: var(--muted); font-size: 13px; }
  .na { color: #8a5a00; background: #fff6e0; padding: 8px 12px; border-radius: 6px; }
  table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
  th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; }
  th { background: #f0f3f6; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  img.chart { max-width: 100%; height: auto; display: block; margin: 8px 0; }
  .grid { display: flex; flex-wrap: wrap; gap: 12px; }
  .grid > div { flex: 1 1 340px; }
  .badge { display: inline-block; background: #e8eef6; color: var(--accent); border-radius: 10px;
           padding: 1px 8px; font-size: 12px; margin-right: 6px; }
  #console-errors, #render-status { display: none; }
</style>
</head>
<body>
<header>
  <h1>{{ title }}</h1>
  <p>Snapshot {{ snapshot }} · generated {{ generated }} · privacy-safe tables only</p>
</header>
<nav>{% for s in sections %}<a href="#{{ s.id }}">{{ s.title }}</a>{% endfor %}</nav>
<main>
{% for s in sections %}
<section id="{{ s.id }}" class="report-section"
         data-available="{{ 'yes' if s.available else 'no' }}">
  <h2>{{ s.title }}</h2>
  <div class="section-body">{{ s.body | safe }}</div>
</section>
{% endfor %}
</main>
<div id="console-errors" data-count="0"></div>
<div id="render-status"></div>
<script>
window.addEventListener("load", function () {
  var status = [];
  document.querySelectorAll("section.report-section").forEach(function (sec) {
    var body = sec.querySelector(".section-body");
    var imgs = sec.querySelectorAll("img");
    var ok = !!body && body.textContent.trim().length + imgs.length > 0;
    imgs.forEach(function (img) {
      if (!(img.complete && img.naturalWidth > 0)) {
        ok = false;
        window.__recordError("image did not render in #" + sec.id);
      }
    });
    sec.setAttribute("data-rendered", ok ? "yes" : "no");
    status.push(sec.id + "=" + (ok ? "yes" : "no"));
  });
  document.getElementById("render-status").textContent = status.join(" ");
  document.body.setAttribute("data-report-ready", "yes");
});
</script>
</body>
</html>
"""
