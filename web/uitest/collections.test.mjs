// collections.test.mjs drives the collection picker of the edgesearch web UI
// in Debian's headless Chromium against a real server that
// web/collections_test.go (TestCollectionsUIInBrowser) starts with three
// collections of points, embedded by the real model:
//
//   field-notes    6 points, text under "page_content", ids 101…106
//   image-vectors  2 points, no string in the payload: not searchable
//   tiny           vectors of 4 dimensions: not searchable with the model
//
//   node collections.test.mjs BASE_URL
//
// It exits non-zero when a check fails. UI_OUT is where the screenshot goes
// (default ./out); UI_SCREENSHOTS, when set, is a directory (docs/) that
// also receives it. Waits are for conditions, never for fixed times.

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const [base] = process.argv.slice(2);
if (!base) {
  console.error('usage: node collections.test.mjs BASE_URL');
  process.exit(2);
}
const here = path.dirname(new URL(import.meta.url).pathname);
const outDir = process.env.UI_OUT || path.join(here, 'out');
const shotsDir = process.env.UI_SCREENSHOTS || '';
fs.mkdirSync(outDir, { recursive: true });
const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const TIMEOUT = 30_000;
const BEES = 'Count varroa mites in late summer with a sugar roll, and treat the colony with oxalic acid in winter when there is no brood.';

// ---- harness ----

const failures = [];
let current = '';
async function check(name, fn) {
  current = name;
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    failures.push(name);
    console.log(`FAIL ${name}\n     ${String(err.stack || err).split('\n').slice(0, 6).join('\n     ')}`);
  }
}

const origin = new URL(base).origin;
const offOrigin = [];
const pageErrors = [];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function newPage(opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 800 }, ...opts });
  ctx.setDefaultTimeout(TIMEOUT);
  ctx.on('request', (r) => {
    if (new URL(r.url()).origin !== origin) offOrigin.push(`${current}: ${r.url()}`);
  });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${current}: ${e.message}`));
  return page;
}

// axe runs axe-core on the page and fails on serious or critical findings.
async function axe(page, what) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const res = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), [],
    `axe on ${what}`);
}

// waitShown waits until the results for exactly q are drawn.
async function waitShown(page, q) {
  await page.waitForFunction((q) => {
    const r = document.getElementById('results');
    return r.dataset.query === q && !r.hasAttribute('aria-busy');
  }, q);
}

async function searchFor(page, q) {
  await page.locator('#q').fill('');
  await page.locator('#q').pressSequentially(q, { delay: 15 });
  await waitShown(page, q);
}

const points = (page) => page.locator('#results .result.point');
const param = (page, name) => new URL(page.url()).searchParams.get(name);

// ---- the checks ----

const page = await newPage();

await check('picker: Documents first, then each collection with its points; the unsearchable ones disabled with the reason', async () => {
  await page.goto(base);
  await page.locator('#health.ok').waitFor();
  await page.locator('#scope').waitFor(); // shown once the server lists collections
  const options = await page.locator('#collection option').evaluateAll((os) =>
    os.map((o) => ({ value: o.value, text: o.textContent, disabled: o.disabled })));
  assert.deepEqual(options.map((o) => [o.value, o.disabled]),
    [['', false], ['field-notes', false], ['image-vectors', true], ['tiny', true]]);
  assert.equal(options[0].text, 'Documents');
  assert.equal(options[1].text, 'field-notes (6 points)');
  assert.match(options[2].text, /^image-vectors \(2 points\): can't search, .*no text field/);
  assert.match(options[3].text, /^tiny \(1 point\): can't search, .*4 dimensions.*384/);
  assert.equal(await page.locator('#collection').inputValue(), '');
  assert.equal(await page.locator('#modes').isVisible(), true);
  await axe(page, 'the page with the picker');
});

await check('keyboard: the picker is reached with Tab and changed with the arrows, skipping nothing searchable', async () => {
  await page.locator('#q').focus();
  await page.keyboard.press('Shift+Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'collection');
  await page.keyboard.press('ArrowDown');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('collection') === 'field-notes');
  assert.equal(await page.locator('#collection').inputValue(), 'field-notes');
  assert.equal(await page.locator('#modes').isVisible(), false, 'modes are the documents\' alone');
  assert.equal(await page.locator('#q').getAttribute('placeholder'), 'Search the collection field-notes  ( / )');
  assert.match(await page.locator('#status').textContent(), /Type to search 6 points of “field-notes” by meaning \(their “page_content” text\)/);
});

await check('search: the nearest point first, with its text, score, id and the other payload keys, not the text key', async () => {
  await searchFor(page, 'how do I get rid of mites in my beehive');
  assert.match(await page.locator('#status').textContent(), /^\d+ results? in “field-notes” · (<1|\d+) ms$/);
  const first = points(page).first();
  assert.equal(await first.locator('.snippet').textContent(), BEES);
  assert.deepEqual(await first.locator('.snippet mark').allTextContents(), ['mites']);
  assert.match(await first.locator('.score').textContent(), /^\d\.\d{3}$/);
  assert.equal(await first.locator('.pid').textContent(), 'id 101');
  const fields = await first.locator('.fields .field').allTextContents();
  assert.deepEqual(fields, ['source: beekeeping.md', 'topic: bees', 'year: 2024']);
  assert.equal(param(page, 'q'), 'how do I get rid of mites in my beehive');
  assert.equal(param(page, 'collection'), 'field-notes');
  await axe(page, 'the points found');
  const file = path.join(outDir, 'ui-collections.png');
  await page.setViewportSize({ width: 1100, height: 760 });
  await page.locator('#collection').focus(); // the picker outlined, as when a person just used it
  await page.mouse.move(0, 0);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file });
  await page.setViewportSize({ width: 1100, height: 800 });
  if (shotsDir) fs.copyFileSync(file, path.join(shotsDir, 'ui-collections.png'));
});

await check('keyboard: arrows walk the points from the search box', async () => {
  await page.locator('#q').focus();
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'r0');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'r1');
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('ArrowUp');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'q');
});

await check('payload markup is shown as text, never run', async () => {
  await searchFor(page, 'markup in a payload');
  const first = points(page).first();
  assert.match(await first.locator('.snippet').textContent(), /^<img src=x onerror="window.__pwned=1"> Markup/);
  assert.equal(await page.locator('#results img, #results b').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.ok((await first.locator('.fields').textContent()).includes('source: <b>odd</b>.md'));
});

await check('the choice survives a reload and back returns to the documents', async () => {
  await page.reload();
  await waitShown(page, 'markup in a payload');
  assert.equal(await page.locator('#collection').inputValue(), 'field-notes');
  assert.equal(await points(page).count() > 0, true);
  await page.locator('#collection').selectOption('');
  await page.waitForFunction(() => !new URL(location.href).searchParams.has('collection'));
  await page.waitForFunction(() => document.getElementById('results').dataset.mode === 'hybrid' &&
    !document.getElementById('results').hasAttribute('aria-busy'));
  assert.equal(await points(page).count(), 0, 'document search shows no points');
  assert.equal(await page.locator('#modes').isVisible(), true);
  await page.goBack();
  await page.waitForFunction(() => document.getElementById('results').dataset.mode === 'collection' &&
    !document.getElementById('results').hasAttribute('aria-busy'));
  assert.equal(await page.locator('#collection').inputValue(), 'field-notes');
});

await check('a link to a collection the server does not have says so', async () => {
  const p = await newPage();
  await p.goto(`${base}/?collection=gone&q=anything`);
  await p.locator('#status', { hasText: 'no collection named "gone"' }).waitFor();
  assert.equal(await p.locator('#collection').inputValue(), 'gone');
  await p.context().close();
});

await check('phone: 375 px wide without sideways scrolling, light and dark, axe clean', async () => {
  for (const scheme of ['light', 'dark']) {
    const p = await newPage({ viewport: { width: 375, height: 740 }, colorScheme: scheme, isMobile: true, hasTouch: true });
    await p.goto(`${base}/?collection=field-notes&q=${encodeURIComponent('pruning fruit trees')}`);
    await waitShown(p, 'pruning fruit trees');
    assert.match(await points(p).first().locator('.snippet').textContent(), /^Prune apple trees/);
    const wide = await p.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= 375, `${scheme}: page is ${wide} px wide`);
    const box = await p.locator('#collection').boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 375, `${scheme}: picker at ${JSON.stringify(box)}`);
    await axe(p, `the ${scheme} phone page with points`);
    if (scheme === 'light') await p.screenshot({ path: path.join(outDir, 'ui-collections-phone.png') });
    await p.context().close();
  }
});

await check('no request left the server\'s origin, and no script error', async () => {
  assert.deepEqual(offOrigin, []);
  assert.deepEqual(pageErrors, []);
});

await browser.close();
if (failures.length) {
  console.log(`${failures.length} check(s) failed: ${failures.join('; ')}`);
  process.exit(1);
}
console.log('all collection picker checks passed');
