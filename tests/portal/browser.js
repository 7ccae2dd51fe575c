'use strict';
// Shared set-up of the portal's browser tests: Debian's Chromium driven by playwright-core (pinned in
// portal/package.json), a real `./iris serve` (tests/compat/iris-server.js), screenshots on failure.
const fs = require('node:fs');
const path = require('node:path');
const { startIris, ROOT } = require('../compat/iris-server');

const CHROMIUM = process.env.IRIS_CHROMIUM || '/usr/bin/chromium';
const SCREENSHOTS = path.join(ROOT, 'artifacts/portal-screenshots');
const PHOTOS = path.join(ROOT, 'artifacts/photos');

function playwright() {
  const local = path.join(ROOT, 'portal/node_modules/playwright-core');
  if (!fs.existsSync(local)) throw new Error('playwright-core is missing: run `npm ci` in portal/ (run-tests does)');
  return require(local);
}

async function launch() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (run-tests does)`);
  return playwright().chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** Runs body(page); on failure saves a full-page screenshot named after the test, then rethrows. */
async function withScreenshot(page, name, body) {
  try {
    return await body();
  } catch (error) {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    const file = path.join(SCREENSHOTS, name.replace(/[^a-z0-9-]+/gi, '-') + '.png');
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    error.message += `\n(screenshot: ${path.relative(ROOT, file)})`;
    throw error;
  }
}

/**
 * Distinct views of one photograph (crops at several places and scales, some mirrored), as JPEG bytes, drawn by the
 * browser's own canvas: enough labelled examples per subject for a 5-fold evaluation (10 per concept at least).
 */
async function photoViews(page, file, count) {
  const base64 = fs.readFileSync(path.join(PHOTOS, file)).toString('base64');
  const type = file.endsWith('.png') ? 'image/png' : 'image/jpeg';
  const views = await page.evaluate(async ({ base64, type, count }) => {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type }));
    const out = [];
    for (let i = 0; i < count; i++) {
      const scale = 1 - 0.4 * ((i % 4) / 3); // view 0 is the whole photograph
      const w = Math.round(bitmap.width * scale);
      const h = Math.round(bitmap.height * scale);
      const x = Math.round((bitmap.width - w) * ((i * 7) % 5) / 4);
      const y = Math.round((bitmap.height - h) * ((i * 3) % 5) / 4);
      const canvas = new OffscreenCanvas(256, Math.round((256 * h) / w));
      const ctx = canvas.getContext('2d');
      if (i % 2 === 1) {
        ctx.translate(canvas.width, 0);
        ctx.scale(-1, 1);
      }
      ctx.drawImage(bitmap, x, y, w, h, 0, 0, canvas.width, canvas.height);
      const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.9 });
      const buffer = new Uint8Array(await blob.arrayBuffer());
      let s = '';
      for (const b of buffer) s += String.fromCharCode(b);
      out.push(btoa(s));
    }
    return out;
  }, { base64, type, count });
  return views.map((v) => Buffer.from(v, 'base64'));
}

/** Calls Iris' REST API directly (to check what the portal shows against the server's own answer). */
async function rest(iris, method, route, body) {
  const response = await fetch(iris.restBase + route, {
    method,
    headers: { Authorization: `Key ${iris.pat}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { http: response.status, json: await response.json() };
}

module.exports = { startIris, launch, withScreenshot, photoViews, rest, ROOT, PHOTOS, SCREENSHOTS };
