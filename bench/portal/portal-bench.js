'use strict';
// Portal page-load benchmark (issue 15): Debian's Chromium (playwright-core from portal/) against a real `./iris serve`.
//   1. first page load: the sign-in page from a cold cache (navigation to "/", bundle, first paint, form usable);
//   2. the inputs grid of an app holding 1,000 inputs, shown 1,000 to a page and 48 to a page: time until every card
//      is in the page and the main thread is free, long tasks, and how many thumbnails were fetched (lazy loading:
//      only those near the screen) before and after scrolling to the end;
//   3. in the same run, the API call the grid makes (ListInputs, 1,000 per page) timed from Node, as the baseline.
// Each measure runs RUNS times in a fresh browser context (cold HTTP cache); medians are reported.
// Usage: node bench/portal/portal-bench.js [--inputs 1000] [--runs 5]   (run it with `nice`; writes artifacts/bench/portal.json)
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startIris, ROOT } = require('../../tests/compat/iris-server');

const args = process.argv.slice(2);
const flag = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const INPUTS = flag('--inputs', 1000);
const RUNS = flag('--runs', 5);
const APP = 'bench';
const PHOTOS = path.join(ROOT, 'artifacts/photos');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (x) => Math.round(x);

async function rest(iris, method, route, body) {
  const response = await fetch(iris.restBase + route, {
    method,
    headers: { Authorization: `Key ${iris.pat}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await response.json();
  if (json.status.code !== 10000) throw new Error(`${method} ${route}: ${json.status.code} ${json.status.description} ${json.status.details ?? ''}`);
  return json;
}

/** INPUTS distinct small JPEGs (crops of the package photographs), drawn by Chromium's canvas. */
async function makeImages(page) {
  const sources = ['chelsea.png', 'coffee.png', 'astronaut.png', 'rocket.jpg', 'motorcycle_left.png', 'china.jpg', 'flower.jpg'];
  const photos = sources.map((f) => ({ base64: fs.readFileSync(path.join(PHOTOS, f)).toString('base64'), type: f.endsWith('.png') ? 'image/png' : 'image/jpeg' }));
  return page.evaluate(async ({ photos, count }) => {
    const bitmaps = [];
    for (const p of photos) bitmaps.push(await createImageBitmap(new Blob([Uint8Array.from(atob(p.base64), (c) => c.charCodeAt(0))], { type: p.type })));
    const out = [];
    for (let i = 0; i < count; i++) {
      const bitmap = bitmaps[i % bitmaps.length];
      const k = Math.floor(i / bitmaps.length);
      const scale = 0.5 + 0.5 * ((k % 11) / 10);
      const w = Math.round(bitmap.width * scale);
      const h = Math.round(bitmap.height * scale);
      const x = Math.round((bitmap.width - w) * ((k * 7) % 13) / 12);
      const y = Math.round((bitmap.height - h) * ((k * 5) % 13) / 12);
      const canvas = new OffscreenCanvas(320, Math.round((320 * h) / w));
      canvas.getContext('2d').drawImage(bitmap, x, y, w, h, 0, 0, canvas.width, canvas.height);
      const bytes = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.85 })).arrayBuffer());
      let s = '';
      for (const b of bytes) s += String.fromCharCode(b);
      out.push(btoa(s));
    }
    return out;
  }, { photos, count: INPUTS });
}

async function fillApp(iris, browser) {
  await rest(iris, 'POST', '/v2/users/me/apps', { apps: [{ id: APP, default_workflow: { id: 'Empty', app_id: 'main', user_id: 'clarifai' } }] });
  const page = await browser.newPage();
  const images = await makeImages(page);
  await page.close();
  for (let i = 0; i < images.length; i += 100) {
    await rest(iris, 'POST', `/v2/users/admin/apps/${APP}/inputs`, { inputs: images.slice(i, i + 100).map((base64, j) => ({ id: `in-${String(i + j).padStart(4, '0')}`, data: { image: { base64 } } })) });
  }
  const deadline = Date.now() + 600_000;
  for (;;) {
    const counts = (await rest(iris, 'GET', `/v2/users/admin/apps/${APP}/inputs/status`)).counts;
    if (Number(counts.processed) === INPUTS) return;
    if (Number(counts.errors) > 0) throw new Error(`inputs failed: ${JSON.stringify(counts)}`);
    if (Date.now() > deadline) throw new Error(`not processed in 10 min: ${JSON.stringify(counts)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

// Recorded inside the page: when the sign-in form or the whole grid is in place, then the next free moment of the main
// thread (a frame, then a task); long tasks as they happen.
const PROBE = `
  window.__bench = { longTasks: [] };
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__bench.longTasks.push(e.duration); }).observe({ type: 'longtask', buffered: true });
  const want = () => window.__benchWant;
  new MutationObserver((_, observer) => {
    const w = want();
    if (!w || window.__bench.ready) return;
    if (document.querySelectorAll(w.selector).length >= w.count) {
      window.__bench.ready = performance.now();
      observer.disconnect();
      requestAnimationFrame(() => setTimeout(() => { window.__bench.idle = performance.now(); }, 0));
    }
  }).observe(document, { childList: true, subtree: true });
`;

async function measure(browser, iris, { url, selector, count, signedIn }) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript({ content: `window.__benchWant = ${JSON.stringify({ selector, count })};` + PROBE + (signedIn ? `sessionStorage.setItem('iris.pat', ${JSON.stringify(iris.pat)}); sessionStorage.setItem('iris.user', 'admin');` : '') });
  const page = await context.newPage();
  const thumbs = [];
  page.on('request', (r) => {
    if (/\/hosted\/.*\/small\//.test(r.url())) thumbs.push(r.url());
  });
  await page.goto(iris.restBase + url);
  await page.waitForFunction(() => window.__bench.idle !== undefined, null, { timeout: 60_000 });
  const result = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    const bytes = performance.getEntriesByType('resource').filter((e) => !e.name.includes('/v2/') && !e.name.includes('/hosted/')).reduce((s, e) => s + e.transferSize, nav.transferSize);
    return { domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, fcp: fcp?.startTime, ready: window.__bench.ready, interactive: window.__bench.idle, longTasks: window.__bench.longTasks.reduce((s, d) => s + d, 0), pageBytes: bytes };
  });
  if (selector.includes('card-input')) {
    await page.waitForFunction(() => document.querySelectorAll('.auth-image[data-loaded="true"]').length > 0, null, { timeout: 30_000 });
    await page.waitForTimeout(1500);
    result.thumbnailsFetched = thumbs.length;
    result.thumbnailsVisible = await page.evaluate(() => Array.from(document.querySelectorAll('li.card-input')).filter((li) => li.getBoundingClientRect().top < innerHeight).length);
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await page.waitForTimeout(1500);
    result.thumbnailsAfterScroll = thumbs.length;
  }
  await context.close();
  return result;
}

async function main() {
  const { chromium } = require(path.join(ROOT, 'portal/node_modules/playwright-core'));
  process.env.IRIS_MODELS_DIR = process.env.IRIS_MODELS_DIR || path.join(os.tmpdir(), 'iris-test-models');
  const [iris, browser] = await Promise.all([startIris(), chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] })]);
  try {
    console.error(`filling app ${APP} with ${INPUTS} inputs…`);
    await fillApp(iris, browser);
    const cases = [
      ['first page load (sign-in)', { url: '/', selector: 'input[name="pat"]', count: 1, signedIn: false }],
      [`inputs grid, ${INPUTS} per page`, { url: `/#/apps/${APP}/inputs?per_page=1000`, selector: 'li.card-input', count: Math.min(INPUTS, 1000), signedIn: true }],
      ['inputs grid, 48 per page', { url: `/#/apps/${APP}/inputs`, selector: 'li.card-input', count: Math.min(INPUTS, 48), signedIn: true }],
    ];
    const report = { inputs: INPUTS, runs: RUNS, chromium: browser.version(), cpus: os.cpus().length, load: os.loadavg()[0], cases: {} };
    for (const [name, options] of cases) {
      await measure(browser, iris, options); // warm-up: server-side caches, Chromium's compiler; not counted
      const runs = [];
      for (let i = 0; i < RUNS; i++) runs.push(await measure(browser, iris, options));
      const keys = Object.keys(runs[0]);
      report.cases[name] = Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r[k] ?? 0))]));
      report.cases[name].interactiveMax = Math.max(...runs.map((r) => r.interactive));
      console.error(name, JSON.stringify(report.cases[name]));
    }
    // Baseline: the API call behind the big grid, from Node.
    const api = [];
    for (let i = 0; i < RUNS + 1; i++) {
      const t = performance.now();
      await rest(iris, 'GET', `/v2/users/admin/apps/${APP}/inputs?page=1&per_page=1000`);
      api.push(performance.now() - t);
    }
    report.listInputs1000Ms = median(api.slice(1));
    const grid = report.cases[`inputs grid, ${INPUTS} per page`];
    report.gridOverApi = grid.interactive / report.listInputs1000Ms;

    fs.mkdirSync(path.join(ROOT, 'artifacts/bench'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, 'artifacts/bench/portal.json'), JSON.stringify(report, null, 2));
    console.log(`| case | first paint | DOM ready | all cards / form in page | interactive (median) | interactive (max) | long tasks | thumbnails fetched (visible) | after scrolling to the end |`);
    console.log(`|---|---|---|---|---|---|---|---|---|`);
    for (const [name, r] of Object.entries(report.cases)) {
      console.log(`| ${name} | ${ms(r.fcp)} ms | ${ms(r.domContentLoaded)} ms | ${ms(r.ready)} ms | ${ms(r.interactive)} ms | ${ms(r.interactiveMax)} ms | ${ms(r.longTasks)} ms | ${r.thumbnailsFetched ?? '—'}${r.thumbnailsVisible !== undefined ? ` (${r.thumbnailsVisible})` : ''} | ${r.thumbnailsAfterScroll ?? '—'} |`);
    }
    console.log(`\nListInputs (1,000 per page) from Node: ${ms(report.listInputs1000Ms)} ms; grid interactive ÷ that call: ${report.gridOverApi.toFixed(2)}; page bytes (first load): ${report.cases['first page load (sign-in)'].pageBytes}`);
    console.log(`Chromium ${report.chromium}, ${report.cpus} cores, load average ${report.load.toFixed(1)} at the end of filling.`);
  } finally {
    await browser.close();
    await iris.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
