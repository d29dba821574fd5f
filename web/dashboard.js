// latentlab dashboard: polls the JSON API once a second and redraws only what changed.
// Each metric chart is a <div class="chart" data-group=... data-points=N>; N is the number of
// epochs drawn, which the end-to-end test watches.
'use strict';

const POLL_MS = 1000;
const PALETTE = ['#1e88e5', '#e53935', '#43a047', '#fb8c00', '#8e24aa', '#00acc1', '#6d4c41', '#546e7a'];
const state = {
  runs: [],
  selected: decodeURIComponent((location.hash.match(/^#run=(.*)$/) || [])[1] || '') || null,
  details: new Map(),    // run name -> run_details() JSON
  charts: new Map(),     // metric group -> Chart of the selected run
  imageIndex: new Map(), // image group -> index picked on its slider (absent: follow the newest)
  compare: new Set(JSON.parse(localStorage.getItem('latentlab.compare') || '[]')),
  compareChart: null,
};

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}

function fmt(v) {
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(3) : v.toPrecision(5);
  }
  if (v === null || v === undefined) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

async function getJSON(url) {
  const r = await fetch(url, {cache: 'no-store'});
  if (!r.ok) {
    let msg = 'HTTP ' + r.status;
    try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  return r.json();
}

function fileUrl(run, file, mtime) {
  return 'files/' + encodeURIComponent(run) + '/' + encodeURIComponent(file) + '?v=' + Math.round((mtime || 0) * 1000);
}

function setConn(ok, msg) {
  const c = document.getElementById('conn');
  c.textContent = ok ? 'live · updated ' + new Date().toLocaleTimeString() : 'server unreachable: ' + msg;
  c.classList.toggle('bad', !ok);
}

// Metrics by chart: train_x and test_x share the chart "x".
function metricGroups(metrics) {
  const groups = new Map();
  for (const m of metrics)
    for (const [k, v] of Object.entries(m)) {
      if (k === 'epoch' || (typeof v !== 'number' && v !== null)) continue;
      const g = k.startsWith('train_') ? k.slice(6) : k.startsWith('test_') ? k.slice(5) : k;
      if (!groups.has(g)) groups.set(g, []);
      if (!groups.get(g).includes(k)) groups.get(g).push(k);
    }
  // the loss first, then its terms, then the timings
  const rank = (g) => (g === 'loss' ? 0 : ['seconds', 'images_per_s', 'eval_seconds'].includes(g) ? 2 : 1);
  return new Map([...groups].sort((a, b) => rank(a[0]) - rank(b[0])));
}

function lineOptions(title, linearX) {
  return {
    animation: false, maintainAspectRatio: false, responsive: true,
    plugins: {title: {display: true, text: title}, legend: {labels: {boxWidth: 12}}},
    scales: {x: {type: linearX ? 'linear' : 'category', title: {display: true, text: 'epoch'}}},
  };
}

function table(obj) {
  const t = h('table');
  for (const [k, v] of Object.entries(obj || {})) {
    if (v && typeof v === 'object' && !Array.isArray(v)) t.append(h('tr', {}, h('th', {}, k), h('td', {}, table(v))));
    else t.append(h('tr', {}, h('td', {}, k), h('td', {}, fmt(v))));
  }
  return t;
}

// ---- the run list ----------------------------------------------------------------------------

function renderRuns() {
  const body = document.querySelector('#runs tbody');
  body.replaceChildren(...state.runs.map(r => {
    const box = h('input', {type: 'checkbox', checked: state.compare.has(r.name), title: 'overlay on the comparison chart',
      onclick: e => { e.stopPropagation(); toggleCompare(r.name, e.target.checked); }});
    return h('tr', {'data-run': r.name, class: r.name === state.selected ? 'selected' : '', onclick: () => select(r.name)},
      h('td', {}, box), h('td', {}, r.name), h('td', {}, fmt(r.model)), h('td', {}, fmt(r.dataset)),
      h('td', {class: 'status-' + r.status}, r.status),
      h('td', {}, r.epoch === undefined ? '' : fmt(r.epoch) + (r.epochs ? ' / ' + r.epochs : '')),
      h('td', {}, fmt(r.best_test_loss)));
  }));
  document.getElementById('no-runs').hidden = state.runs.length > 0;
}

function select(name) {
  state.selected = name;
  history.replaceState(null, '', '#run=' + encodeURIComponent(name));
  renderRuns();
  const d = state.details.get(name);
  if (d) renderRun(d);
  poll(true);
}

function toggleCompare(name, on) {
  if (on) state.compare.add(name); else state.compare.delete(name);
  localStorage.setItem('latentlab.compare', JSON.stringify([...state.compare]));
  poll(true);
}

// ---- one run ---------------------------------------------------------------------------------

function skeleton(name) {
  for (const c of state.charts.values()) c.destroy();
  state.charts.clear();
  state.imageIndex.clear();
  const main = document.getElementById('run');
  main.dataset.run = name;
  main.replaceChildren(
    h('h2', {}, name, ' ', h('span', {id: 'run-status', class: 'hint'})),
    h('p', {id: 'run-warn', class: 'warn', hidden: true}),
    h('h3', {}, 'Curves'), h('div', {class: 'charts', id: 'charts'}),
    h('h3', {}, 'Images'), h('div', {class: 'grids', id: 'grids'}),
    h('details', {open: true}, h('summary', {}, 'Evaluation (eval.json)'), h('div', {id: 'eval'})),
    h('details', {}, h('summary', {}, 'Configuration (config.json)'), h('div', {id: 'config'})));
}

function renderCharts(d) {
  const box = document.getElementById('charts');
  box.querySelector('p.hint')?.remove();
  const epochs = d.metrics.map(m => m.epoch ?? null);
  for (const [group, keys] of metricGroups(d.metrics)) {
    const datasets = keys.map((k, i) => ({label: k, data: d.metrics.map(m => (typeof m[k] === 'number' ? m[k] : null)),
      borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length], spanGaps: true, pointRadius: 2}));
    let chart = state.charts.get(group);
    let div = box.querySelector(`.chart[data-group="${CSS.escape(group)}"]`);
    if (!chart) {
      div = h('div', {class: 'chart', 'data-group': group}, h('canvas'));
      box.append(div);
      chart = new Chart(div.firstChild, {type: 'line', data: {labels: epochs, datasets}, options: lineOptions(group, false)});
      state.charts.set(group, chart);
    } else {
      chart.data.labels = epochs;
      chart.data.datasets = datasets;
      chart.update('none');
    }
    div.dataset.points = String(epochs.length);
  }
  renderStepChart(box, d.steps || []);
  if (!d.metrics.length) box.prepend(h('p', {class: 'hint'}, 'No epoch finished yet.'));
}

// Every phase's loss against the step, from steps.jsonl (train --log-every): the seed's plot_every curves.
function renderStepChart(box, steps) {
  if (!steps.length) return;
  const keys = [];
  for (const s of steps)
    for (const [k, v] of Object.entries(s))
      if (!['epoch', 'batch', 'step'].includes(k) && typeof v === 'number' && !keys.includes(k)) keys.push(k);
  const datasets = keys.map((k, i) => ({label: k, borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length],
    pointRadius: 0, borderWidth: 1, data: steps.filter(s => typeof s[k] === 'number').map(s => ({x: s.step, y: s[k]}))}));
  let chart = state.charts.get('(steps)');
  let div = box.querySelector('.chart[data-group="steps"]');
  if (!chart) {
    div = h('div', {class: 'chart', 'data-group': 'steps'}, h('canvas'));
    box.prepend(div);
    const options = lineOptions('loss per step (steps.jsonl)', true);
    options.scales.x.title.text = 'step';
    chart = new Chart(div.firstChild, {type: 'line', data: {datasets}, options});
    state.charts.set('(steps)', chart);
  } else {
    chart.data.datasets = datasets;
    chart.update('none');
  }
  div.dataset.points = String(steps.length);
}

function renderImages(d) {
  const box = document.getElementById('grids');
  const groups = Object.entries(d.images || {});
  if (!groups.length) { box.replaceChildren(h('p', {class: 'hint'}, 'No images yet.')); return; }
  box.replaceChildren(...groups.map(([group, list]) => {
    const pick = state.imageIndex.has(group) ? Math.min(state.imageIndex.get(group), list.length - 1) : list.length - 1;
    const img = h('img', {class: 'grid', alt: group, 'data-group': group});
    const cap = h('figcaption');
    const show = i => {
      const e = list[i];
      img.src = fileUrl(d.name, e.file, e.mtime);
      cap.textContent = `${group} · ${e.epoch === null ? 'latest' : 'epoch ' + e.epoch} (${i + 1} of ${list.length})`;
    };
    show(pick);
    const slider = list.length > 1 ? h('input', {type: 'range', min: 0, max: list.length - 1, value: pick, title: 'history',
      oninput: e => { const i = Number(e.target.value); state.imageIndex.set(group, i); if (i === list.length - 1) state.imageIndex.delete(group); show(i); }}) : null;
    return h('figure', {}, cap, img, slider);
  }));
}

function renderRun(d) {
  const main = document.getElementById('run');
  if (main.dataset.run !== d.name) skeleton(d.name);
  document.getElementById('run-status').textContent =
    `${fmt(d.model)} on ${fmt(d.dataset)} · ${d.status} · epoch ${fmt(d.epoch ?? 0)}${d.epochs ? ' of ' + d.epochs : ''}`;
  const warn = document.getElementById('run-warn');
  warn.hidden = !d.skipped_lines && !d.error && !d.gone;
  warn.textContent = d.gone ? 'This run folder is gone from the runs folder; showing what was last read.'
    : d.error ? d.error : d.skipped_lines ? `${d.skipped_lines} line(s) of metrics.jsonl could not be read and are left out.` : '';
  renderCharts(d);
  renderImages(d);
  document.getElementById('eval').replaceChildren(d.eval ? table(d.eval) : h('p', {class: 'hint'}, 'Not evaluated yet (latentlab eval <run>).'));
  document.getElementById('config').replaceChildren(table(d.config));
}

// ---- several runs on one chart ---------------------------------------------------------------

function renderCompare() {
  const names = [...state.compare].filter(n => state.details.has(n));
  const section = document.getElementById('compare');
  section.hidden = names.length === 0;
  if (!names.length) return;
  const select = document.getElementById('compare-metric');
  const keys = new Set();
  for (const n of names) for (const m of state.details.get(n).metrics)
    for (const [k, v] of Object.entries(m)) if (k !== 'epoch' && typeof v === 'number') keys.add(k);
  const sorted = [...keys].sort();
  const current = select.value || (keys.has('test_loss') ? 'test_loss' : sorted[0]);
  if ([...select.options].map(o => o.value).join() !== sorted.join()) {
    select.replaceChildren(...sorted.map(k => h('option', {value: k}, k)));
  }
  select.value = current;
  const datasets = names.map((n, i) => ({label: n, borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length],
    pointRadius: 2, data: state.details.get(n).metrics.filter(m => typeof m[current] === 'number').map(m => ({x: m.epoch, y: m[current]}))}));
  const div = document.getElementById('compare-chart');
  if (!state.compareChart) {
    state.compareChart = new Chart(div.firstElementChild, {type: 'line', data: {datasets}, options: lineOptions(current, true)});
  } else {
    state.compareChart.data.datasets = datasets;
    state.compareChart.options.plugins.title.text = current;
    state.compareChart.update('none');
  }
  div.dataset.runs = String(names.length);
}

// ---- polling ---------------------------------------------------------------------------------

let timer = null;
let busy = false;
async function poll(now) {
  if (busy) return;
  busy = true;
  clearTimeout(timer);
  try {
    state.runs = await getJSON('api/runs');
    renderRuns();
    const wanted = new Set(state.compare);
    if (state.selected) wanted.add(state.selected);
    for (const name of wanted) {
      const r = state.runs.find(x => x.name === name);
      const old = state.details.get(name);
      if (!r) {
        if (old && !old.gone) { old.gone = true; if (name === state.selected) renderRun(old); }
        continue;
      }
      if (old && old.stamp === r.stamp && !old.gone) continue;
      const d = await getJSON('api/runs/' + encodeURIComponent(name));
      state.details.set(name, d);
      if (name === state.selected) renderRun(d);
    }
    renderCompare();
    setConn(true);
  } catch (e) {
    setConn(false, e.message);
  } finally {
    busy = false;
    timer = setTimeout(poll, POLL_MS);
  }
}

document.getElementById('compare-metric').addEventListener('change', renderCompare);
poll();
