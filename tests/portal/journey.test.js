'use strict';
// The main journey of a new user, in Debian's headless Chromium against a real Iris: sign in with the PAT → create an
// app → upload a folder of real photographs (two subfolders named after their subjects, plus a corrupt file) → watch
// each file's final status and the thumbnails → predict on an input → visual search → train a classifier → read its
// evaluation (curves and confusion matrix). Photos: Debian's python3-skimage sample images (tests/photos.sh).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startIris, launch, withScreenshot, photoViews, rest, ROOT, PHOTOS } = require('./browser');

const APP = 'portal-journey';
const PER_SUBJECT = 12;
let iris;
let browser;
let page;
let folder;

before(async () => {
  assert.ok(fs.existsSync(path.join(PHOTOS, '.complete')), 'run tests/photos.sh first (run-tests does)');
  process.env.IRIS_MODELS_DIR = process.env.IRIS_MODELS_DIR || path.join(os.tmpdir(), 'iris-test-models');
  browser = await launch();
  iris = await startIris();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(30_000);

  // The folder a user would drop: photos/cat/*.jpg, photos/coffee/*.jpg and, at the top, a 400-byte truncated.jpg that is no image.
  folder = fs.mkdtempSync(path.join(os.tmpdir(), 'iris-portal-upload-'));
  for (const [file, subject] of [['chelsea.png', 'cat'], ['coffee.png', 'coffee']]) {
    fs.mkdirSync(path.join(folder, 'photos', subject), { recursive: true });
    (await photoViews(page, file, PER_SUBJECT)).forEach((bytes, i) => fs.writeFileSync(path.join(folder, 'photos', subject, `${subject}-${String(i).padStart(2, '0')}.jpg`), bytes));
  }
  fs.copyFileSync(path.join(PHOTOS, 'truncated.jpg'), path.join(folder, 'photos', 'truncated.jpg'));
});

after(async () => {
  await browser?.close();
  const result = await iris?.stop();
  if (folder) fs.rmSync(folder, { recursive: true, force: true });
  assert.equal(result?.code, 0, 'iris exits cleanly on SIGTERM');
});

const step = (name, body) => test(name, () => withScreenshot(page, name, body));

step('the portal opens at / and a PAT signs the user in', async () => {
  const response = await page.goto(iris.restBase + '/');
  assert.equal(response.status(), 200);
  assert.equal(await page.title(), 'Iris');
  await page.getByLabel('Personal access token').fill('not-a-real-token-000000000000000');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const refusal = await page.getByRole('alert').textContent();
  assert.match(refusal, /^11009 API key not found/);

  await page.getByLabel('Personal access token').fill(iris.pat);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();
  assert.equal(await page.getByLabel('Signed in as').textContent(), 'admin');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('iris.user')), 'admin');
});

step('create an app with a base workflow', async () => {
  await page.getByLabel('App id').fill(APP);
  await page.getByLabel('Base workflow').selectOption('Universal');
  await page.getByRole('button', { name: 'Create app' }).click();
  assert.equal(await page.getByRole('status').filter({ hasText: 'created' }).textContent(), `App ${APP} created.`);
  const row = page.getByRole('table', { name: 'Your apps' }).getByRole('row').filter({ hasText: APP });
  assert.equal(await row.getByRole('cell').nth(1).textContent(), 'Universal');
  const app = await rest(iris, 'GET', `/v2/users/admin/apps/${APP}`);
  assert.equal(app.json.app.default_workflow.id, 'Universal');
  await row.getByRole('link', { name: APP }).click();
  await page.getByRole('heading', { name: 'Inputs' }).waitFor();
});

step('upload a folder: per-file progress, each file reaches its final status, thumbnails load', async () => {
  await page.locator('input[aria-label="Folder"]').setInputFiles(path.join(folder, 'photos'));
  const total = 2 * PER_SUBJECT + 1;
  const summary = page.getByTestId('upload-summary');
  await page.waitForFunction(
    (expected) => document.querySelector('[data-testid="upload-summary"]')?.textContent === expected,
    `${2 * PER_SUBJECT} of ${total} processed, 1 failed`,
    { timeout: 180_000 },
  );
  assert.equal(await summary.textContent(), `${2 * PER_SUBJECT} of ${total} processed, 1 failed`);
  const uploads = page.getByRole('list', { name: 'Uploads' }).getByRole('listitem');
  assert.equal(await uploads.count(), total);
  assert.equal(await page.locator('ul.uploads li[data-state="success"]').count(), 2 * PER_SUBJECT);
  const broken = uploads.filter({ hasText: 'truncated.jpg' });
  assert.equal(await broken.getAttribute('data-state'), 'failed');
  assert.match(await broken.locator('.state').textContent(), /^30101 Input image format unsupported — The 400 bytes are not an image/);
  assert.equal(await uploads.filter({ hasText: 'photos/cat/cat-00.jpg' }).locator('.state').textContent(), 'success');
  for (const bar of await page.locator('ul.uploads progress').all()) assert.equal(await bar.getAttribute('value'), '1');

  // The grid: every input with its status, the visible thumbnails loaded through the API's hosted URLs.
  await page.waitForFunction((n) => document.querySelector('[data-testid="input-count"]')?.textContent === n, `${total} inputs (${2 * PER_SUBJECT} processed, 1 failed)`, { timeout: 60_000 });
  const cards = page.getByRole('list', { name: 'Inputs' }).getByRole('listitem');
  assert.equal(await cards.count(), total);
  assert.equal(await page.locator('li.card-input[data-status="success"]').count(), 2 * PER_SUBJECT);
  assert.equal(await page.locator('li.card-input[data-status="failed"]').count(), 1);
  await page.waitForFunction(() => document.querySelectorAll('li.card-input[data-status="success"] .auth-image[data-loaded="true"] img').length >= 6);
  const size = await page.locator('li.card-input .auth-image[data-loaded="true"] img').first().evaluate((img) => [img.naturalWidth, img.naturalHeight]);
  assert.ok(size[0] > 0 && size[1] > 0, `thumbnail decoded (${size})`);

  // Concepts from the folder names, as the server stored them.
  const labelled = await rest(iris, 'POST', `/v2/users/admin/apps/${APP}/inputs/searches`, { searches: [{ query: { filters: [{ annotation: { data: { concepts: [{ id: 'cat', value: 1 }] } } }] } }], pagination: { per_page: 100 } });
  assert.equal(labelled.json.hits.length, PER_SUBJECT);

  // The README's picture: the grid as a returning user sees it. Written to artifacts/ on every run; to docs/portal.png
  // only when asked (IRIS_UPDATE_SCREENSHOTS=1), so a test run leaves the tracked tree as it was.
  await page.reload();
  await page.getByTestId('input-count').waitFor();
  await page.waitForFunction(() => document.querySelectorAll('.auth-image[data-loaded="true"] img').length >= 16);
  const shot = process.env.IRIS_UPDATE_SCREENSHOTS === '1' ? path.join(ROOT, 'docs/portal.png') : path.join(ROOT, 'artifacts/portal-screenshots/portal.png');
  fs.mkdirSync(path.dirname(shot), { recursive: true });
  await page.screenshot({ path: shot });
});

step('an input page draws predicted boxes over the image', async () => {
  const listed = await rest(iris, 'GET', `/v2/users/admin/apps/${APP}/inputs?per_page=100`);
  const cat = listed.json.inputs.find((i) => i.data.metadata?.filename === 'cat-00.jpg');
  assert.ok(cat, 'cat-00.jpg was uploaded with its file name in metadata');
  await page.getByRole('link', { name: `Input ${cat.id}, success` }).click();
  await page.getByRole('heading', { name: `Input ${cat.id}` }).waitFor();
  assert.equal(await page.getByRole('list', { name: 'Labelled concepts' }).locator('.name').allTextContents().then((t) => t.join(',')), 'cat');
  await page.getByLabel('Model').locator('option', { hasText: 'general-image-detection' }).waitFor({ state: 'attached' });
  const models = await page.getByLabel('Model').locator('option').allTextContents();
  assert.ok(models.includes('general-image-detection (visual-detector, clarifai/main)'), models.join(' | '));
  await page.getByLabel('Model').selectOption({ label: 'general-image-detection (visual-detector, clarifai/main)' });
  await page.getByRole('button', { name: 'Predict', exact: true }).click();
  await page.getByRole('region', { name: 'Prediction' }).waitFor({ timeout: 120_000 });
  const boxes = await page.locator('svg.regions g.region[data-source="general-image-detection"]').count();
  const direct = await rest(iris, 'POST', `/v2/users/admin/apps/${APP}/models/general-image-detection/outputs`, { inputs: [{ id: cat.id }] });
  assert.equal(boxes, direct.json.outputs[0].data.regions?.length ?? 0);
  assert.ok(boxes >= 1, 'the detector finds the cat');
  assert.match(await page.locator('svg.regions g.region title').first().textContent(), /^general-image-detection: cat \d\.\d\d$/);
});

step('the predict playground answers concepts for a dropped photo', async () => {
  await page.getByRole('link', { name: 'Predict' }).click();
  await page.getByRole('heading', { name: 'Predict', level: 2 }).waitFor();
  await page.getByLabel('Model').selectOption({ label: 'general-image-recognition (visual-classifier, clarifai/main)' });
  await page.locator('input[aria-label="File"]').setInputFiles(path.join(PHOTOS, 'chelsea.png'));
  const concepts = page.getByRole('list', { name: 'Concepts from Prediction by general-image-recognition' });
  await concepts.waitFor({ timeout: 120_000 });
  assert.equal((await concepts.locator('.name').allTextContents())[0], 'cat');
});

step('visual search: dropping a photo ranks the same subject first; filters narrow it', async () => {
  await page.getByRole('link', { name: 'Search' }).click();
  await page.locator('input[aria-label="File"]').setInputFiles(path.join(PHOTOS, 'coffee.png'));
  await page.getByTestId('hit-count').waitFor({ timeout: 60_000 });
  assert.equal(await page.getByTestId('hit-count').textContent(), `${2 * PER_SUBJECT} hits`);
  const ids = await page.getByRole('list', { name: 'Search results' }).locator('.input-id').allTextContents();
  const coffee = new Set((await rest(iris, 'POST', `/v2/users/admin/apps/${APP}/inputs/searches`, { searches: [{ query: { filters: [{ annotation: { data: { concepts: [{ id: 'coffee', value: 1 }] } } }] } }], pagination: { per_page: 100 } })).json.hits.map((h) => h.input.id));
  assert.deepEqual(ids.slice(0, 5).filter((id) => coffee.has(id)), ids.slice(0, 5), 'the five best hits are coffee photos');

  await page.getByLabel('Labelled concept').fill('cat');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.waitForFunction((n) => document.querySelector('[data-testid="hit-count"]')?.textContent === n, `${PER_SUBJECT} hits`);
  await page.getByLabel('Metadata (JSON the input\'s metadata contains)').fill('{"filename": "cat-03.jpg"}');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.waitForFunction(() => document.querySelector('[data-testid="hit-count"]')?.textContent === '1 hit');
});

step('train a classifier, watch its status, read its evaluation: curves and confusion matrix', async () => {
  await page.getByRole('link', { name: 'Models' }).click();
  await page.getByLabel('Model id').fill('pets');
  await page.getByRole('checkbox', { name: 'cat' }).check();
  await page.getByRole('checkbox', { name: 'coffee' }).check();
  await page.getByRole('button', { name: 'Create and train' }).click();
  await page.getByRole('heading', { name: 'Model pets' }).waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="version-status"]')?.textContent?.startsWith('Model is trained'), null, { timeout: 120_000 });
  assert.match(await page.getByTestId('version-status').textContent(), /^Model is trained and ready for deployment/);

  await page.getByRole('button', { name: 'Evaluate this version' }).click();
  await page.getByTestId('evaluation-summary').waitFor({ timeout: 180_000 });
  assert.match(await page.getByTestId('evaluation-status').textContent(), /^Evaluation eval-[a-z0-9]+: Model evaluated$/);
  const auc = Number(await page.locator('dl.summary dd').first().textContent());
  assert.ok(auc >= 0.9, `macro ROC AUC ${auc}`);
  const rows = page.getByRole('table', { name: 'Per-concept metrics' }).locator('tbody tr');
  assert.equal(await rows.count(), 2);
  assert.deepEqual((await rows.locator('th').allTextContents()).sort(), ['cat', 'coffee']);
  for (const row of await rows.all()) assert.equal(await row.locator('td').nth(3).textContent(), String(PER_SUBJECT));
  await page.waitForFunction(() => document.querySelectorAll('figure.chart[data-drawn="true"] canvas').length === 2);
  for (const canvas of await page.locator('figure.chart canvas').all()) {
    const box = await canvas.boundingBox();
    assert.ok(box.width > 100 && box.height > 80, `chart drawn at ${box.width}×${box.height}`);
    const inked = await canvas.evaluate((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n;
    });
    assert.ok(inked > 1000, `chart has ink (${inked} pixels)`);
  }
  assert.deepEqual(await page.getByRole('img', { name: /^ROC curves: / }).getAttribute('aria-label'), 'ROC curves: cat, coffee');
  const matrix = page.getByRole('table', { name: 'Confusion matrix' });
  assert.equal(await matrix.locator('tbody tr').count(), 2);
  assert.equal(await matrix.locator('tbody td').count(), 4);
  const diagonal = await matrix.locator('tbody tr').evaluateAll((trs) => trs.map((tr, i) => Number(tr.querySelectorAll('td')[i].textContent)));
  for (const v of diagonal) assert.ok(v >= 0.5, `diagonal ${diagonal}`);

  // Retraining takes the concepts the model was trained on: a second version, trained too.
  assert.equal(await page.getByTestId('model-concepts').textContent(), 'Concepts: cat, coffee');
  await page.getByRole('button', { name: 'Train a new version' }).click();
  const versions = page.getByRole('table', { name: 'Versions' }).locator('tbody tr');
  await page.waitForFunction(() => {
    const cells = document.querySelectorAll('[data-testid="version-status"]');
    return cells.length === 2 && Array.from(cells).every((c) => c.textContent.startsWith('Model is trained'));
  }, null, { timeout: 120_000 });
  assert.equal(await versions.count(), 2);
});
