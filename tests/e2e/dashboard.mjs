// End-to-end test of `latentlab serve`, `train --dashboard` and `report` in headless Chromium
// (Debian's chromium, driven by playwright-core from npm; both installed by scripts/deps.sh).
//
//   node tests/e2e/dashboard.mjs <latentlab executable> <a PNG grid> <output folder>
//
// 1. serve a temporary runs folder: the run is listed, its curve gains a point within seconds of a
//    line being appended to metrics.jsonl, its image grid shows and a new epoch's grid appears, two
//    runs overlay on the comparison chart, a half-written line and a deleted run are survived;
// 2. the report of a run draws one chart per metric group with no network;
// 3. `train --dashboard`: the page follows a real training run as its epochs end.
// Screenshots go to the output folder. Exits non-zero with the failed step named.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [exe, samplePng, outDir] = process.argv.slice(2);
if (!exe || !samplePng || !outDir) {
  console.error('usage: node dashboard.mjs <latentlab executable> <a PNG grid> <output folder>');
  process.exit(2);
}
const chromiumPath = process.env.LATENTLAB_CHROMIUM || '/usr/bin/chromium';
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.error('playwright-core is not installed in tests/e2e/node_modules; run `bash scripts/deps.sh`');
  process.exit(1);
}
if (!fs.existsSync(chromiumPath)) {
  console.error(`Chromium not found at ${chromiumPath}; run \`bash scripts/deps.sh\` (apt package chromium) or set LATENTLAB_CHROMIUM`);
  process.exit(1);
}

const started = Date.now();
const log = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${msg}`);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latentlab-e2e-'));
fs.mkdirSync(outDir, { recursive: true });
const children = [];
let browser;

async function step(name, fn) {
  try {
    const r = await fn();
    log(`ok: ${name}`);
    return r;
  } catch (e) {
    console.error(`FAILED: ${name}\n${e.stack || e}`);
    await cleanup();
    process.exit(1);
  }
}

// Resolves once `c` has exited; SIGKILL after `ms`.
function exited(c, ms) {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    const timer = setTimeout(() => c.kill('SIGKILL'), ms);
    c.on('exit', () => { clearTimeout(timer); resolve(); });
  });
}

async function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null && !c.killed) c.kill('SIGTERM');
  // a stopped training run still writes its checkpoint into tmp: wait for every child before removing it
  await Promise.all(children.map((c) => exited(c, 15000)));
  if (browser) await browser.close().catch(() => {});
  fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 5 });
}

// Starts latentlab with `args` and resolves with the dashboard URL it prints.
function startLatentlab(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no dashboard URL after 60 s; stderr:\n${err}`)), 60000);
    child.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/dashboard of .* at (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve({ url: m[1], child, stderr: () => err }); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`latentlab ${args[0]} exited with ${code}:\n${err}`)); });
  });
}

function metricLine(epoch) {
  return JSON.stringify({ epoch, train_loss: 200 / epoch, test_loss: 190 / epoch, test_kl: 20 + epoch }) + '\n';
}

function makeRun(runs, name, epochs) {
  const dir = path.join(runs, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model: 'vae', dataset: 'mnist', epochs: 5 }));
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), Array.from({ length: epochs }, (_, i) => metricLine(i + 1)).join(''));
  for (let e = 1; e <= epochs; e++) fs.copyFileSync(samplePng, path.join(dir, `samples-${e}.png`));
  return dir;
}

const runs = path.join(tmp, 'runs');
const demo = makeRun(runs, 'demo', 2);
makeRun(runs, 'other', 4);
const errors = [];

browser = await step('launch headless Chromium', () =>
  chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] }));
const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });

// ---- 1. latentlab serve ------------------------------------------------------------------------
const serve = await step('latentlab serve starts and prints its URL', () =>
  startLatentlab(['serve', '--runs', runs, '--port', '0']));
await step('it says it listens on 127.0.0.1 only', async () => {
  if (!serve.url.startsWith('http://127.0.0.1:')) throw new Error(`URL ${serve.url}`);
  for (let i = 0; i < 50 && !/127\.0\.0\.1 only/.test(serve.stderr()); i++) await new Promise((r) => setTimeout(r, 100));
  if (!/127\.0\.0\.1 only/.test(serve.stderr())) throw new Error(serve.stderr());
});
await step('the page lists both runs', async () => {
  await page.goto(serve.url);
  await page.locator('#runs tr[data-run="demo"]').waitFor({ timeout: 15000 });
  await page.locator('#runs tr[data-run="other"]').waitFor({ timeout: 15000 });
});
await step('selecting the run draws its curves', async () => {
  await page.locator('#runs tr[data-run="demo"] td:nth-child(2)').click();
  await page.locator('.chart[data-group="loss"][data-points="2"]').waitFor({ timeout: 10000 });
  await page.locator('.chart[data-group="kl"][data-points="2"]').waitFor({ timeout: 10000 });
});
await step('the curve gains a point within 3 s of a metrics line being appended', async () => {
  const t0 = Date.now();
  fs.appendFileSync(path.join(demo, 'metrics.jsonl'), metricLine(3));
  await page.locator('.chart[data-group="loss"][data-points="3"]').waitFor({ timeout: 3000 });
  const drawn = await page.evaluate(() => {
    const c = document.querySelector('.chart[data-group="loss"] canvas');
    return Chart.getChart(c).data.datasets.map((d) => d.data.length);
  });
  if (drawn.join() !== '3,3') throw new Error(`Chart.js holds ${drawn} points`);
  log(`  the point appeared ${Date.now() - t0} ms after the append`);
});
await step('steps.jsonl (train --log-every) draws a loss-per-step chart that follows appended lines', async () => {
  const stepLine = (i) => JSON.stringify({ epoch: 1 + Math.floor((i - 1) / 5), batch: 20 * i, step: 20 * i, d: 1.4 - i / 100, g: 0.7 + i / 100 }) + '\n';
  fs.writeFileSync(path.join(demo, 'steps.jsonl'), [1, 2, 3, 4].map(stepLine).join(''));
  await page.locator('.chart[data-group="steps"][data-points="4"]').waitFor({ timeout: 5000 });
  fs.appendFileSync(path.join(demo, 'steps.jsonl'), stepLine(5));
  await page.locator('.chart[data-group="steps"][data-points="5"]').waitFor({ timeout: 3000 });
  const drawn = await page.evaluate(() => {
    const c = document.querySelector('.chart[data-group="steps"] canvas');
    const ch = Chart.getChart(c);
    return ch.data.datasets.map((d) => `${d.label}:${d.data.length}:${d.data[4].x}`).join() + '|' + ch.options.scales.x.type;
  });
  if (drawn !== 'd:5:100,g:5:100|linear') throw new Error(`the step chart holds ${drawn}`);
});
await step('the image grid is shown, and a new epoch\'s grid appears', async () => {
  await page.waitForFunction(() => [...document.querySelectorAll('img.grid')].some((i) => i.complete && i.naturalWidth > 0),
    null, { timeout: 10000 });
  fs.copyFileSync(samplePng, path.join(demo, 'samples-3.png'));
  await page.locator('figcaption', { hasText: 'samples · epoch 3 (3 of 3)' }).waitFor({ timeout: 5000 });
  await page.waitForFunction(() => [...document.querySelectorAll('img.grid')].every((i) => i.complete && i.naturalWidth > 0),
    null, { timeout: 10000 });
});
await step('two runs overlay on the comparison chart', async () => {
  await page.locator('#runs tr[data-run="demo"] input[type=checkbox]').check();
  await page.locator('#runs tr[data-run="other"] input[type=checkbox]').check();
  await page.locator('#compare-chart[data-runs="2"]').waitFor({ timeout: 10000 });
});
await step('screenshot', () => page.screenshot({ path: path.join(outDir, 'dashboard.png'), fullPage: true }));
await step('a half-written metrics line is left out with a note', async () => {
  fs.appendFileSync(path.join(demo, 'metrics.jsonl'), '{"epoch":4,"train_lo');
  await page.locator('#run-warn', { hasText: '1 line(s) of metrics.jsonl' }).waitFor({ timeout: 5000 });
  await page.locator('.chart[data-group="loss"][data-points="3"]').waitFor({ timeout: 1000 });
});

// ---- 2. the report -----------------------------------------------------------------------------
await step('latentlab report draws one chart per metric group offline', async () => {
  const report = path.join(tmp, 'report.html');
  execFileSync(exe, ['report', demo, '-o', report], { stdio: 'pipe' });
  const rp = await browser.newPage();
  rp.on('pageerror', (e) => errors.push(`report page error: ${e.message}`));
  await rp.route('**/*', (r) => (r.request().url().startsWith('file:') || r.request().url().startsWith('data:') ? r.continue() : r.abort()));
  await rp.goto('file://' + report);
  const charts = await rp.evaluate(() => [...document.querySelectorAll('canvas')].map((c) => Chart.getChart(c).data.datasets.length));
  if (charts.length !== 3) throw new Error(`report has ${charts.length} charts, expected 3 (steps, loss, kl)`);
  const stepChart = await rp.evaluate(() => Chart.getChart(document.querySelector('.chart[data-group="steps"] canvas'))?.data.datasets.map((d) => d.data.length).join());
  if (stepChart !== '5,5') throw new Error(`the report's loss-per-step chart holds ${stepChart}, expected 5,5 (d, g)`);
  const images = await rp.evaluate(() => [...document.images].filter((i) => i.naturalWidth > 0).length);
  if (images !== 3) throw new Error(`report shows ${images} images, expected 3`);
  await rp.screenshot({ path: path.join(outDir, 'report.png'), fullPage: true });
  await rp.close();
});

await step('a run folder deleted while shown leaves the page working', async () => {
  fs.rmSync(demo, { recursive: true, force: true });
  await page.locator('#runs tr[data-run="demo"]').waitFor({ state: 'detached', timeout: 5000 });
  await page.locator('#run-warn', { hasText: 'gone' }).waitFor({ timeout: 5000 });
  await page.locator('#runs tr[data-run="other"]').waitFor({ timeout: 1000 });
});
serve.child.kill('SIGTERM');

// ---- 3. train --dashboard ----------------------------------------------------------------------
const live = path.join(tmp, 'live-runs');
const train = await step('latentlab train --dashboard starts the server beside training', () =>
  startLatentlab(['train', '--model', 'vae', '--epochs', '30', '--train-images', '4000', '--seed', '1', '--threads', '1',
    '--out', path.join(live, 'vae-live'), '--dashboard', '--port', '0']));
await step('the page follows the training run epoch by epoch', async () => {
  await page.goto(train.url + '#run=vae-live');
  await page.waitForFunction(() => Number(document.querySelector('.chart[data-group="loss"]')?.dataset.points) >= 1, null,
    { timeout: 60000 });
  const first = await page.evaluate(() => Number(document.querySelector('.chart[data-group="loss"]').dataset.points));
  await page.waitForFunction((n) => Number(document.querySelector('.chart[data-group="loss"]').dataset.points) > n, first,
    { timeout: 30000 });
  await page.locator('#runs tr[data-run="vae-live"] .status-running').waitFor({ timeout: 5000 });
  await page.waitForFunction(() => [...document.querySelectorAll('img.grid')].some((i) => i.complete && i.naturalWidth > 0),
    null, { timeout: 10000 });
  await page.screenshot({ path: path.join(outDir, 'dashboard-training.png'), fullPage: true });
});
train.child.kill('SIGTERM');

await step('no JavaScript errors on any page', async () => {
  const real = errors.filter((e) => !/Failed to load resource/.test(e) && !/ERR_CONNECTION_REFUSED|Failed to fetch/.test(e));
  if (real.length) throw new Error(real.join('\n'));
});
await cleanup();
log('dashboard end-to-end test passed');
