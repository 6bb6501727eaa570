#include "gateway/ui.h"

namespace funcd::gateway {

std::string_view UiPage() {
  static constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>funcd</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
  h1 { font-size: 1.4rem; }
  table { border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }
  th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; }
  tr.selected { background: #eef4ff; }
  tr { cursor: pointer; }
  textarea, pre { width: 100%; box-sizing: border-box; font-family: monospace; }
  pre { background: #f6f6f6; padding: .6rem; min-height: 3rem; white-space: pre-wrap; }
  .muted { color: #777; }
</style>
</head>
<body>
<h1>funcd functions</h1>
<p class="muted">Namespace <select id="ns"></select> <button id="refresh">Refresh</button></p>
<table>
  <thead><tr><th>Name</th><th>Image</th><th>Replicas</th><th>Ready</th><th>Invocations</th></tr></thead>
  <tbody id="functions"><tr><td colspan="5" class="muted">loading…</td></tr></tbody>
</table>
<h2 id="selected" class="muted">Select a function to invoke it</h2>
<textarea id="body" rows="4" placeholder="request body"></textarea>
<p><button id="invoke" disabled>Invoke</button> <span id="status" class="muted"></span></p>
<pre id="output"></pre>
<script>
const $ = (id) => document.getElementById(id);
let selected = null;
async function api(path) {
  const res = await fetch(path, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(res.status + ' ' + await res.text());
  return res.json();
}
async function loadNamespaces() {
  const names = await api('/system/namespaces');
  $('ns').innerHTML = names.map((n) => `<option>${n}</option>`).join('');
}
async function loadFunctions() {
  const ns = $('ns').value || 'openfaas-fn';
  try {
    const list = await api('/system/functions?namespace=' + encodeURIComponent(ns));
    $('functions').innerHTML = list.length === 0
      ? '<tr><td colspan="5" class="muted">no functions deployed</td></tr>'
      : list.map((f) => `<tr data-name="${f.name}.${f.namespace}"><td>${f.name}</td>` +
          `<td>${f.image}</td><td>${f.replicas || 0}</td><td>${f.availableReplicas || 0}</td>` +
          `<td>${f.invocationCount || 0}</td></tr>`).join('');
    for (const row of $('functions').querySelectorAll('tr[data-name]')) {
      row.onclick = () => {
        selected = row.dataset.name;
        for (const r of $('functions').querySelectorAll('tr')) r.classList.remove('selected');
        row.classList.add('selected');
        $('selected').textContent = 'Invoke ' + selected;
        $('invoke').disabled = false;
      };
    }
  } catch (e) {
    $('functions').innerHTML = `<tr><td colspan="5">${e.message}</td></tr>`;
  }
}
$('refresh').onclick = loadFunctions;
$('ns').onchange = loadFunctions;
$('invoke').onclick = async () => {
  const started = performance.now();
  const res = await fetch('/function/' + selected, { method: 'POST', body: $('body').value });
  $('output').textContent = await res.text();
  $('status').textContent = `${res.status} in ${Math.round(performance.now() - started)} ms`;
  loadFunctions();
};
loadNamespaces().then(loadFunctions).catch((e) => { $('output').textContent = e.message; });
</script>
</body>
</html>
)html";
  return kPage;
}

}  // namespace funcd::gateway
