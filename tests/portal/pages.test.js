'use strict';
// How Iris serves the portal next to the API (Accept negotiation on "/", assets under /portal/, the page when the portal
// is not built), and the portal's other pages in Chromium: keys (secret shown once, works, deleted), datasets and
// versions, workflows run on a photo, deleting an app, and a phone-sized screen.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startIris, launch, withScreenshot, rest, ROOT, PHOTOS } = require('./browser');

const APP = 'portal-pages';
let iris;
let browser;
let page;

before(async () => {
  process.env.IRIS_MODELS_DIR = process.env.IRIS_MODELS_DIR || path.join(os.tmpdir(), 'iris-test-models');
  browser = await launch();
  iris = await startIris();
  const created = await rest(iris, 'POST', '/v2/users/me/apps', { apps: [{ id: APP, default_workflow: { id: 'General', app_id: 'main', user_id: 'clarifai' } }] });
  assert.equal(created.json.status.code, 10000, created.json.status.details);
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(30_000);
  await page.goto(iris.restBase + '/');
  await page.getByLabel('Personal access token').fill(iris.pat);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();
});

after(async () => {
  await browser?.close();
  const result = await iris?.stop();
  assert.equal(result?.code, 0, 'iris exits cleanly on SIGTERM');
});

const step = (name, body) => test(name, () => withScreenshot(page, name, body));

async function get(pathname, headers = {}, method = 'GET') {
  const response = await fetch(iris.restBase + pathname, { method, headers });
  return { response, text: method === 'HEAD' ? '' : await response.text() };
}

test('"/" answers the portal only to a request preferring HTML; API clients keep the API answer', async () => {
  const apiAnswer = (text) => JSON.parse(text).status;
  for (const accept of [undefined, '*/*', 'application/json', 'application/json, text/html;q=0.5']) {
    const { response, text } = await get('/', accept ? { Accept: accept } : {});
    assert.equal(response.status, 404, `Accept ${accept}`);
    assert.equal(response.headers.get('content-type'), 'application/json');
    assert.deepEqual({ ...apiAnswer(text), req_id: undefined }, { code: 11101, description: 'Resource does not exist', details: 'No API route matches GET /. Check the url of your request.', req_id: undefined });
  }
  const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
  const { response, text } = await get('/', { Accept: browserAccept });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/html');
  assert.equal(response.headers.get('cache-control'), 'no-cache');
  assert.match(response.headers.get('content-security-policy'), /^default-src 'self'; /);
  assert.match(text, /<div id="app"><\/div>/);
  const script = /src="(\/portal\/assets\/index-[A-Za-z0-9_-]+\.js)"/.exec(text);
  assert.ok(script, 'the page loads its bundle from /portal/assets/');

  const asset = await get(script[1]);
  assert.equal(asset.response.status, 200);
  assert.equal(asset.response.headers.get('content-type'), 'text/javascript');
  assert.equal(asset.response.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.ok(!/https?:\/\/(?!www\.w3\.org|127\.0\.0\.1|localhost)[a-z0-9.-]+\.[a-z]{2,}\/[^\s"'`]*\.(js|css|woff2?)/i.test(asset.text), 'no CDN script, style or font');

  const head = await get('/', { Accept: browserAccept }, 'HEAD');
  assert.equal(head.response.status, 200);
  assert.equal(head.response.headers.get('content-length'), String(Buffer.byteLength(text)));

  const missing = await get('/portal/assets/nothing-here.js');
  assert.equal(missing.response.status, 404);
  assert.equal(missing.text, 'Not found: /portal/assets/nothing-here.js\n');
  const escape = await get('/portal/..%2F..%2Firis.db');
  assert.equal(escape.response.status, 404);
  assert.doesNotMatch(escape.text, /SQLite/);

  // Other methods on "/" and the API routes are untouched by the portal.
  const post = await fetch(iris.restBase + '/', { method: 'POST', headers: { Accept: browserAccept } });
  assert.equal(post.status, 404);
  assert.equal((await post.json()).status.code, 11101);
  const user = await fetch(iris.restBase + '/v2/users/me', { headers: { Authorization: `Key ${iris.pat}`, Accept: browserAccept } });
  assert.equal((await user.json()).user.id, 'admin');
});

test('without a built portal, a browser gets a page saying how to build it and the API still answers', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'iris-portal-empty-'));
  const saved = process.env.IRIS_PORTAL_DIR;
  process.env.IRIS_PORTAL_DIR = empty;
  let other;
  try {
    other = await startIris();
  } finally {
    if (saved === undefined) delete process.env.IRIS_PORTAL_DIR;
    else process.env.IRIS_PORTAL_DIR = saved;
  }
  try {
    const response = await fetch(other.restBase + '/', { headers: { Accept: 'text/html' } });
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
    const text = await response.text();
    assert.match(text, /<h1>The Iris portal has not been built<\/h1>/);
    assert.ok(text.includes(`IRIS_PORTAL_DIR is <code>${empty}</code>, which has no <code>index.html</code>.`), text);
    assert.match(text, /cd portal &amp;&amp; npm ci &amp;&amp; npm run build/);
    const api = await fetch(other.restBase + '/v2/users/me', { headers: { Authorization: `Key ${other.pat}` } });
    assert.equal((await api.json()).status.code, 10000);
  } finally {
    assert.equal((await other.stop()).code, 0);
    fs.rmSync(empty, { recursive: true, force: true });
  }
});

step('keys: create an app key (secret shown once, it works), list it, delete it', async () => {
  await page.getByRole('link', { name: 'Keys' }).click();
  await page.getByRole('heading', { name: 'Keys', level: 1 }).waitFor();
  await page.getByLabel('App', { exact: true }).locator('option', { hasText: APP }).waitFor({ state: 'attached' });
  await page.getByLabel('App', { exact: true }).selectOption(APP);
  await page.getByLabel('Description').fill('portal test key');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = await page.getByTestId('key-secret').textContent();
  assert.match(secret, /^[0-9a-f]{32}$/);
  assert.match(await page.locator('.secret').textContent(), /Copy this secret now: it is shown only once\./);
  const inputs = await fetch(iris.restBase + '/v2/inputs', { headers: { Authorization: `Key ${secret}` } });
  assert.equal((await inputs.json()).status.code, 10000, 'the new key reaches its app on the short route');

  const row = page.getByRole('table', { name: 'Your keys' }).getByRole('row').filter({ hasText: 'portal test key' });
  await row.waitFor();
  assert.equal(await row.getByRole('cell').nth(1).textContent(), 'API key');
  assert.equal(await row.getByRole('cell').nth(2).textContent(), APP);
  assert.ok(!(await row.textContent()).includes(secret), 'the list never shows the secret');
  await row.getByRole('button', { name: /^Delete key / }).click();
  await page.getByRole('status').filter({ hasText: 'deleted' }).waitFor();
  // The message shows as soon as DELETE answers; the list is re-read after it, so wait for the row to go.
  await row.waitFor({ state: 'detached' });
  assert.equal(await row.count(), 0);
  const refused = await fetch(iris.restBase + '/v2/inputs', { headers: { Authorization: `Key ${secret}` } });
  assert.equal(refused.status, 401);
  assert.equal((await refused.json()).status.code, 11009);
});

step('datasets: create one, add a version, see it listed', async () => {
  await page.goto(`${iris.restBase}/#/apps/${APP}/datasets`);
  await page.getByLabel('Dataset id').fill('holiday');
  await page.getByRole('button', { name: 'Create dataset' }).click();
  assert.equal(await page.getByRole('status').filter({ hasText: 'created' }).textContent(), 'Dataset holiday created.');
  await page.getByRole('button', { name: 'holiday', exact: true }).click();
  const region = page.getByRole('region', { name: 'Dataset holiday' });
  await region.getByText('0 inputs.', { exact: false }).waitFor();
  await region.getByLabel('New version description').fill('first cut');
  await region.getByRole('button', { name: 'Create version' }).click();
  const rows = region.getByRole('table', { name: 'Versions of holiday' }).locator('tbody tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 1);
  assert.equal(await rows.first().locator('td').nth(4).textContent(), 'first cut');
  const versions = await rest(iris, 'GET', `/v2/users/admin/apps/${APP}/datasets/holiday/versions`);
  assert.equal(versions.json.dataset_versions.length, 1);
  assert.equal(await rows.first().locator('td').first().textContent(), versions.json.dataset_versions[0].id);
});

step('workflows: the public ones are listed and General runs on a dropped photo, node by node', async () => {
  await page.goto(`${iris.restBase}/#/apps/${APP}/workflows`);
  const table = page.getByRole('table', { name: 'Workflows' });
  const general = table.getByRole('row').filter({ has: page.getByRole('cell', { name: 'General', exact: true }) });
  await general.waitFor();
  assert.equal(await general.getByRole('cell').nth(1).textContent(), 'clarifai/main');
  await page.getByLabel('Workflow', { exact: true }).selectOption({ label: 'General (clarifai/main)' });
  await page.locator('input[aria-label="File"]').setInputFiles(path.join(PHOTOS, 'chelsea.png'));
  const first = page.getByRole('region', { name: 'Node 1: general-image-recognition' });
  await first.waitFor({ timeout: 120_000 });
  assert.equal((await first.locator('ul.concepts .name').allTextContents())[0], 'cat');
  const second = page.getByRole('region', { name: 'Node 2: general-image-embedding' });
  assert.match(await second.textContent(), /Embedding: 1280 dimensions, starting /);
});

step('dropping files on the upload zone uploads each with its own progress and final status', async () => {
  await page.goto(`${iris.restBase}/#/apps/${APP}/inputs`);
  await page.getByRole('heading', { name: 'Upload' }).waitFor();
  const files = ['chelsea.png', 'coffee.png'].map((name) => ({ name, b64: fs.readFileSync(path.join(PHOTOS, name)).toString('base64') }));
  const transfer = await page.evaluateHandle((files) => {
    const dt = new DataTransfer();
    for (const f of files) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: 'image/png' }));
    return dt;
  }, files);
  await page.getByTestId('upload-drop').dispatchEvent('drop', { dataTransfer: transfer });
  await page.waitForFunction(() => document.querySelector('[data-testid="upload-summary"]')?.textContent === '2 of 2 processed, 0 failed', null, { timeout: 120_000 });
  const items = page.getByRole('list', { name: 'Uploads' }).getByRole('listitem');
  assert.deepEqual((await items.locator('.file').allTextContents()).sort(), ['chelsea.png', 'coffee.png']);
  assert.deepEqual(await items.locator('.state').allTextContents(), ['success', 'success']);
  await page.waitForFunction(() => document.querySelector('[data-testid="input-count"]')?.textContent === '2 inputs (2 processed, 0 failed)');
  const listed = await rest(iris, 'GET', `/v2/users/admin/apps/${APP}/inputs`);
  assert.deepEqual(listed.json.inputs.map((i) => i.data.metadata.filename).sort(), ['chelsea.png', 'coffee.png']);
  assert.deepEqual(listed.json.inputs.map((i) => i.data.concepts ?? []), [[], []], 'files dropped outside a folder get no concept');
});

step("the predict playground draws a segmenter's mask and OCR's text lines over the image", async () => {
  await page.goto(`${iris.restBase}/#/apps/${APP}/predict`);
  const model = page.getByLabel('Model', { exact: true });
  await model.locator('option', { hasText: 'person-segmentation' }).waitFor({ state: 'attached' });
  await model.selectOption({ label: 'person-segmentation (visual-segmenter, clarifai/main)' });
  await page.locator('input[aria-label="File"]').setInputFiles(path.join(PHOTOS, 'astronaut.png'));
  await page.getByRole('region', { name: 'Prediction by person-segmentation' }).waitFor({ timeout: 120_000 });
  const mask = page.locator('svg.regions g.region[data-source="person-segmentation"]');
  assert.equal(await mask.count(), 1);
  assert.equal(await mask.locator('mask image').count(), 1, 'the mask PNG is drawn as an SVG mask');
  assert.match(await mask.locator('mask image').getAttribute('href'), /^data:image\/png;base64,iVBOR/);
  const segmented = await rest(iris, 'POST', '/v2/users/clarifai/apps/main/models/person-segmentation/outputs', {
    inputs: [{ data: { image: { base64: fs.readFileSync(path.join(PHOTOS, 'astronaut.png')).toString('base64') } } }],
  });
  const person = segmented.json.outputs[0].data.regions[0];
  assert.equal(await mask.locator('title').textContent(), `person-segmentation: person ${person.data.concepts[0].value.toFixed(2)}`);

  await model.selectOption({ label: 'ocr-scene-english-paddleocr (visual-detector, clarifai/main)' });
  // A sign the browser paints: two lines of large black words on white.
  const sign = Buffer.from(await page.evaluate(async () => {
    const canvas = new OffscreenCanvas(640, 240);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = 'white';
    ctx.fillRect(0, 0, 640, 240);
    ctx.fillStyle = 'black';
    ctx.font = 'bold 56px sans-serif';
    ctx.fillText('OPEN DAILY', 40, 90);
    ctx.fillText('PORTAL 2026', 40, 190);
    const bytes = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
    let out = '';
    for (const b of bytes) out += String.fromCharCode(b);
    return btoa(out);
  }), 'base64');
  const signFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'iris-portal-sign-')), 'sign.png');
  fs.writeFileSync(signFile, sign);
  const lines = page.locator('svg.regions g.region[data-source="ocr-scene-english-paddleocr"]');
  await page.locator('input[aria-label="File"]').setInputFiles(signFile);
  await page.waitForFunction(() => document.querySelectorAll('svg.regions g.region[data-source="ocr-scene-english-paddleocr"] polygon').length > 0, null, { timeout: 180_000 });
  const direct = await rest(iris, 'POST', '/v2/users/clarifai/apps/main/models/ocr-scene-english-paddleocr/outputs', {
    inputs: [{ data: { image: { base64: sign.toString('base64') } } }],
  });
  fs.rmSync(path.dirname(signFile), { recursive: true, force: true });
  const regions = direct.json.outputs[0].data.regions;
  assert.equal(regions.length, 2, 'two lines of text');
  assert.equal(await lines.count(), regions.length);
  assert.equal(await lines.locator('polygon').count(), regions.length);
  const first = regions[0];
  assert.equal(await lines.first().locator('title').textContent(), `ocr-scene-english-paddleocr: “${first.data.text.raw}” text ${first.value.toFixed(2)}`);
});

step('delete an app: asked to confirm, then gone from the list and from the API', async () => {
  await rest(iris, 'POST', '/v2/users/me/apps', { apps: [{ id: 'doomed' }] });
  await page.goto(`${iris.restBase}/#/apps`);
  const row = page.getByRole('table', { name: 'Your apps' }).getByRole('row').filter({ hasText: 'doomed' });
  await row.getByRole('button', { name: 'Delete app doomed' }).click();
  await row.getByRole('button', { name: 'Delete doomed and all its data' }).click();
  assert.equal(await page.getByRole('status').filter({ hasText: 'deleted' }).textContent(), 'App doomed deleted.');
  await row.waitFor({ state: 'detached' });
  assert.equal((await rest(iris, 'GET', '/v2/users/admin/apps/doomed')).json.status.code, 11101);
});

step('a phone-sized screen: no sideways scrolling, the navigation and forms stay usable by keyboard', async () => {
  const phone = await browser.newPage({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  try {
    await phone.goto(iris.restBase + '/');
    await phone.getByLabel('Personal access token').fill(iris.pat);
    await phone.keyboard.press('Enter');
    await phone.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();
    for (const route of ['#/apps', `#/apps/${APP}/inputs`, `#/apps/${APP}/search`, `#/apps/${APP}/models`, '#/keys']) {
      await phone.goto(`${iris.restBase}/${route}`);
      await phone.locator('main h1, main h2').first().waitFor();
      const [scrollWidth, width] = await phone.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      assert.ok(scrollWidth <= width, `${route}: page is ${scrollWidth}px wide on a ${width}px screen`);
    }
    await phone.goto(`${iris.restBase}/#/apps`);
    await phone.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();
    await phone.keyboard.press('Tab');
    assert.equal(await phone.evaluate(() => document.activeElement.textContent), 'Skip to content');
    await phone.keyboard.press('Enter');
    assert.equal(await phone.evaluate(() => document.activeElement.id), 'main');
    await phone.getByLabel('App id').focus();
    await phone.keyboard.type('from-phone');
    await phone.keyboard.press('Enter');
    assert.equal(await phone.getByRole('status').filter({ hasText: 'created' }).textContent(), 'App from-phone created.');
  } finally {
    await phone.close();
  }
});
