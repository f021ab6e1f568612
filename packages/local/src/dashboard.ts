/** The local dashboard: one self-contained page over the JSON API. */
export function dashboardHtml(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Reflex — local</title>
<style>
 body{font:14px system-ui,sans-serif;margin:2rem;color:#1b1f24;background:#fafafa}
 h1{font-size:1.3rem} h2{font-size:1.05rem;margin-top:2rem}
 table{border-collapse:collapse;width:100%;background:#fff} td,th{border-bottom:1px solid #e3e3e3;padding:.35rem .5rem;text-align:left;vertical-align:top}
 .SUCCEEDED{color:#1a7f37}.FAILED,.TIMED_OUT,.ABORTED{color:#cf222e}.RUNNING{color:#9a6700}
 code{font-size:12px} .muted{color:#666}
</style></head>
<body>
<h1>Reflex <span class="muted">local mode</span></h1>
<h2>Runbooks</h2><table id="runbooks"><tr><th>name</th><th>risk</th><th>summary</th><th>example</th></tr></table>
<h2>Executions</h2><table id="executions"><tr><th>id</th><th>runbook</th><th>status</th><th>trigger</th><th>started</th><th>summary</th></tr></table>
<h2>Audit</h2><table id="audit"><tr><th>at</th><th>kind</th><th>actor</th><th>reason</th></tr></table>
<script>
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
function fill(id, rows) { const t = document.getElementById(id); t.querySelectorAll("tr:not(:first-child)").forEach((r) => r.remove());
  for (const cells of rows) { const tr = t.insertRow(); for (const c of cells) tr.insertCell().innerHTML = c; } }
async function refresh() {
  const [rb, ex, au] = await Promise.all(["/api/runbooks", "/api/executions?limit=25", "/api/audit?limit=40"].map((u) => fetch(u).then((r) => r.json())));
  fill("runbooks", rb.runbooks.map((r) => [esc(r.name), esc(r.risk), esc(r.summary), "<code>" + esc(JSON.stringify(r.example)) + "</code>"]));
  fill("executions", ex.executions.map((e) => [ "<code>" + esc(e.id) + "</code>", esc(e.runbook) + (e.dryRun ? " (dry-run)" : ""),
    '<span class="' + esc(e.status) + '">' + esc(e.status) + "</span>", esc(e.trigger.kind + (e.trigger.name ? ":" + e.trigger.name : "")),
    esc(e.startedAt), esc(e.result?.summary ?? e.cause ?? "") ]));
  fill("audit", au.entries.map((a) => [esc(a.at), esc(a.kind), esc(a.actor), esc(a.reason)]));
}
refresh(); setInterval(refresh, 3000);
</script></body></html>`;
}
