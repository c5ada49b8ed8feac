// ui.test.mjs drives the edgesearch web UI in Debian's headless Chromium
// against real servers that web/uitest_test.go starts (real model, empty
// temp data directories):
//
//   node ui.test.mjs BASE_URL KEY_BASE_URL API_KEY
//
// BASE_URL serves without an API key, KEY_BASE_URL requires API_KEY. It
// exits non-zero when a check fails. Environment: UI_OUT is where
// ui-bench.json and the screenshots go (default ./out); UI_SCREENSHOTS, when
// set, is a directory (docs/) that also receives the README screenshots.
//
// Waits are for conditions, never for fixed times; the only timer is the
// deliberately slow answer of the out-of-order check.

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const [base, keyBase, key] = process.argv.slice(2);
if (!base || !keyBase || !key) {
  console.error('usage: node ui.test.mjs BASE_URL KEY_BASE_URL API_KEY');
  process.exit(2);
}
const here = path.dirname(new URL(import.meta.url).pathname);
const outDir = process.env.UI_OUT || path.join(here, 'out');
const shotsDir = process.env.UI_SCREENSHOTS || '';
fs.mkdirSync(outDir, { recursive: true });
const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const TIMEOUT = 30_000;

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

const origins = new Set([new URL(base).origin, new URL(keyBase).origin]);
const offOrigin = [];
const pageErrors = [];

// launch gives Chromium a fresh temporary profile of its own (it refuses a
// --user-data-dir argument), so no state leaks between runs.
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
    const u = new URL(r.url());
    if (!origins.has(u.origin)) offOrigin.push(`${current}: ${r.url()}`);
  });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${current}: ${e.message}`));
  return page;
}

// axe runs axe-core on the page; evaluate is not subject to the page's
// Content-Security-Policy, so the page's policy stays as served.
async function axe(page, what) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const res = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), [],
    `axe on ${what}`);
}

// shot saves a screenshot of the top of the page; readme ones also go to
// UI_SCREENSHOTS. Small viewports keep the PNGs small.
async function shot(page, name, { readme = true, size } = {}) {
  const before = page.viewportSize();
  if (size) await page.setViewportSize(size);
  await page.mouse.move(0, 0); // no hover outline in the picture
  await page.evaluate(() => { document.activeElement.blur(); window.scrollTo(0, 0); });
  const file = path.join(outDir, name);
  await page.screenshot({ path: file });
  if (size) await page.setViewportSize(before);
  if (readme && shotsDir) fs.copyFileSync(file, path.join(shotsDir, name));
}
const SHOT = { width: 900, height: 560 };

const text = (page, sel) => page.locator(sel).textContent();
const results = (page) => page.locator('#results a.result');

// searchFor types q into the box as a person would and waits until the
// results for exactly that query are drawn.
async function searchFor(page, q, mode) {
  if (mode) await page.locator(`input[name=mode][value=${mode}]`).check({ force: true });
  await page.locator('#q').fill('');
  await page.locator('#q').pressSequentially(q, { delay: 15 });
  await waitShown(page, q);
}

async function waitShown(page, q) {
  await page.waitForFunction((q) => {
    const r = document.getElementById('results');
    return r.dataset.query === q && !r.hasAttribute('aria-busy');
  }, q);
}

// ---- the documents the test indexes ----

const filler = [
  'Spring inspections look at brood, stores and the temper of the colony.',
  'A strong hive draws comb quickly when the nectar flow begins in May.',
  'Supers go on when the brood box is seven frames full of bees and brood.',
  'Swarm cells along the bottom of the frames mean the colony wants to split.',
  'Beekeepers keep notes on each hive: queen seen, eggs, stores and mood.',
];
const bees = ['# Keeping honeybees', '']
  .concat(Array.from({ length: 30 }, (_, i) => filler[i % filler.length]))
  .concat(['', 'The varroa mite is the worst enemy of the colony: count mites in late summer and treat with oxalic acid in winter, when there is no brood.'])
  .join('\n');
const dishes = [
  ['Pasta carbonara with eggs, pecorino and guanciale', 'italian'], ['Green curry with chicken and Thai basil', 'thai'],
  ['Risotto with porcini mushrooms and parmesan', 'italian'], ['Pad thai with shrimp, tamarind and peanuts', 'thai'],
  ['Margherita pizza with tomato, mozzarella and basil', 'italian'], ['Tom yum soup with lemongrass and lime leaves', 'thai'],
  ['Lasagne with ragù and béchamel', 'italian'], ['Massaman curry with beef and potatoes', 'thai'],
  ['Minestrone with beans and seasonal vegetables', 'italian'], ['Som tam green papaya salad with chili', 'thai'],
  ['Tiramisu with mascarpone and espresso', 'italian'], ['Mango sticky rice with coconut milk', 'thai'],
];
const recipes = Array.from({ length: 24 }, (_, i) => {
  const [dish, cuisine] = dishes[i % dishes.length];
  return JSON.stringify({ id: `recipe-${String(i).padStart(2, '0')}`, title: `Recipe ${i + 1}: ${dish}`,
    text: `${dish}. Variation ${i + 1}: cook for ${10 + i} minutes and serve ${i % 2 ? 'hot' : 'warm'}.`, cuisine });
}).join('\n');
const file = (name, body) => ({ name, mimeType: 'application/octet-stream', buffer: Buffer.from(body) });
const uploads = [
  file('bees.md', bees),
  file('tires.txt', 'Changing a flat tire\n\nLoosen the lug nuts before lifting the car with the jack, then swap in the spare wheel and tighten the nuts in a star pattern.'),
  file('sleep.html', '<html><head><title>Better sleep</title></head><body><p>Go to bed at the same hour every day and avoid caffeine in the afternoon; screens late at night delay melatonin.</p></body></html>'),
  file('recipes.jsonl', recipes),
  file('broken.pdf', 'this is not a PDF at all'),
  file('notes.docx', 'a word file'),
];
const pollinators = 'Pollinators in the garden\n\nBumblebees, solitary bees and hoverflies pollinate fruit trees and flowers; honeybee colonies and wild bees both need forage and nesting sites.';
const TOTAL_DOCS = 1 + 1 + 1 + 24 + 1 + 1; // bees, tires, sleep, recipes, pollinators (dropped), pasted

// ---- the checks ----

const page = await newPage();
const bench = {};

await check('first load: the page, its modules and icon stay under 100 KiB', async () => {
  await page.goto(base, { waitUntil: 'load' });
  await page.locator('#health.ok').waitFor();
  const sizes = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource').filter((r) => !['fetch', 'xmlhttprequest'].includes(r.initiatorType));
    return {
      files: 1 + res.length,
      decoded: nav.decodedBodySize + res.reduce((s, r) => s + r.decodedBodySize, 0),
      transferred: nav.transferSize + res.reduce((s, r) => s + r.transferSize, 0),
      names: res.map((r) => new URL(r.name).pathname),
    };
  });
  bench.first_load = { files: sizes.files, bytes_uncompressed: sizes.decoded, bytes_transferred: sizes.transferred };
  console.log(`     first load: ${sizes.files} files, ${sizes.decoded} B uncompressed, ${sizes.transferred} B transferred`);
  assert.ok(sizes.names.some((n) => n.endsWith('/app.js')), `modules loaded: ${sizes.names}`);
  assert.ok(sizes.decoded > 10_000 && sizes.decoded < 100 * 1024, `first load ${sizes.decoded} bytes`);
});

await check('empty index: says so and points to the upload area and edgesearch import', async () => {
  const s = await text(page, '#status');
  assert.match(s, /Nothing is indexed yet/);
  assert.match(s, /edgesearch import/);
  assert.equal(await page.locator('#status a[href="#add"]').count(), 1);
  assert.match(await text(page, '#counts'), /No documents yet/);
  await axe(page, 'the empty page');
});

await check('upload: several files, progress, one result or clear error per file', async () => {
  await page.locator('#files').setInputFiles(uploads);
  const items = page.locator('#uploads li.upload');
  await page.waitForFunction((n) => document.querySelectorAll('#uploads li.ok, #uploads li.failed').length === n, uploads.length);
  assert.equal(await items.count(), uploads.length);
  for (const name of ['bees.md', 'tires.txt', 'sleep.html', 'recipes.jsonl']) {
    const li = page.locator('#uploads li', { hasText: name });
    assert.match(await li.getAttribute('class'), /\bok\b/, `${name}: ${await li.textContent()}`);
  }
  assert.match(await page.locator('#uploads li', { hasText: 'recipes.jsonl' }).textContent(), /Added 24 documents/);
  const pdf = page.locator('#uploads li', { hasText: 'broken.pdf' });
  assert.match(await pdf.getAttribute('class'), /\bfailed\b/);
  assert.match(await pdf.textContent(), /Not added\. The server refused: file "broken\.pdf"/);
  const docx = page.locator('#uploads li', { hasText: 'notes.docx' });
  assert.match(await docx.getAttribute('class'), /\bfailed\b/);
  assert.match(await docx.textContent(), /\.docx can't be read/);
});

await check('upload: a file dropped on the drop area is added', async () => {
  const dt = await page.evaluateHandle((body) => {
    const d = new DataTransfer();
    d.items.add(new File([body], 'pollinators.txt', { type: 'text/plain' }));
    return d;
  }, pollinators);
  await page.locator('#drop').dispatchEvent('dragover', { dataTransfer: dt });
  await page.locator('#drop').dispatchEvent('drop', { dataTransfer: dt });
  const li = page.locator('#uploads li', { hasText: 'pollinators.txt' });
  await page.waitForFunction(() => [...document.querySelectorAll('#uploads li')].some((l) => l.textContent.includes('pollinators.txt') && /ok|failed/.test(l.className)));
  assert.match(await li.textContent(), /Added 1 document/);
});

await check('paste: a text with a title is added and searchable at once', async () => {
  await page.locator('#paste-title').fill('Sourdough starter');
  await page.locator('#paste-text').fill('Feed the sourdough starter with flour and water every day; it bubbles when it is ready to bake bread.');
  await page.getByRole('button', { name: 'Add text' }).click();
  await page.locator('#paste-status', { hasText: 'Added “Sourdough starter”' }).waitFor();
  await page.locator('#health', { hasText: `${TOTAL_DOCS} documents` }).waitFor();
  await searchFor(page, 'bubbly starter for bread');
  assert.equal(await results(page).first().locator('.title').textContent(), 'Sourdough starter');
});

await check('search as you type: count and time, title, source, score, snippet with <mark>, query in the URL', async () => {
  await searchFor(page, 'varroa mite treatment');
  assert.match(await text(page, '#status'), /^\d+ results? · (<1|\d+) ms$/);
  assert.equal(await page.locator('#q').getAttribute('placeholder'), 'Search your documents  ( / )');
  const first = results(page).first();
  assert.equal(await first.locator('.title').textContent(), 'Keeping honeybees');
  assert.equal(await first.locator('.source').textContent(), 'bees.md');
  assert.match(await first.locator('.score').textContent(), /^\d+\.\d{3}$/);
  assert.match(await first.locator('.match').textContent(), /^(strong|partial) match$/);
  const marks = await first.locator('.snippet mark').allTextContents();
  assert.ok(marks.map((m) => m.toLowerCase()).includes('varroa'), `marks ${marks}`);
  assert.equal(new URL(page.url()).searchParams.get('q'), 'varroa mite treatment');
  await axe(page, 'the results');
  await shot(page, 'ui-desktop.png', { size: SHOT });
});

await check('keyboard: / focuses search, arrows move through results, Enter opens the passage, Escape closes', async () => {
  await page.locator('#q').blur();
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'q');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'r0');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'r1');
  await page.keyboard.press('ArrowUp');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'r0');
  await page.keyboard.press('Enter');
  const passage = page.locator('#reader mark.passage');
  await passage.waitFor();
  assert.match(await passage.textContent(), /varroa mite is the worst enemy/);
  // The passage is at the end of a long document: it must have been
  // scrolled to, whole, or at its first marked word when taller than the box.
  const seen = await passage.evaluate((m) => {
    const box = document.getElementById('reader-text').getBoundingClientRect();
    const r = (m.offsetHeight > m.parentElement.clientHeight && m.querySelector('mark.term') || m).getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, boxTop: box.top, boxBottom: box.bottom, scrolled: m.parentElement.scrollTop };
  });
  assert.ok(seen.scrolled > 0 && seen.top >= seen.boxTop - 1 && seen.bottom <= seen.boxBottom + 1, JSON.stringify(seen));
  assert.ok(new URL(page.url()).searchParams.get('doc'), 'the open document is in the URL');
  await axe(page, 'the reader');
  await shot(page, 'ui-reader.png', { readme: false });
});

await check('more like this: the document and its passage find their neighbours, never themselves', async () => {
  await page.getByRole('button', { name: 'More like this document' }).click();
  await page.locator('#similar-list a.result').first().waitFor();
  const titles = await page.locator('#similar-list a.result .title').allTextContents();
  assert.equal(titles[0], 'Pollinators in the garden', `similar: ${titles}`);
  assert.ok(!titles.includes('Keeping honeybees'), `similar: ${titles}`);
  await page.getByRole('button', { name: 'More like this passage' }).click();
  await page.locator('#similar-title', { hasText: 'Documents like this passage' }).waitFor();
  await page.locator('#similar-list a.result').first().waitFor();
  const again = await page.locator('#similar-list a.result .title').allTextContents();
  assert.ok(again.length > 0 && !again.includes('Keeping honeybees'), `similar: ${again}`);
  await page.keyboard.press('Escape');
  await page.locator('#reader').waitFor({ state: 'hidden' });
  await page.waitForFunction(() => !new URL(location.href).searchParams.has('doc'));
  assert.equal(await page.locator('#q').inputValue(), 'varroa mite treatment');
});

await check('mode switch is in the URL: back restores the mode, reload and a shared link work', async () => {
  await page.locator('input[name=mode][value=keyword]').check({ force: true });
  await page.waitForFunction(() => document.getElementById('results').dataset.mode === 'keyword' && !document.getElementById('results').hasAttribute('aria-busy'));
  assert.equal(new URL(page.url()).searchParams.get('mode'), 'keyword');
  await page.goBack();
  await page.waitForFunction(() => document.getElementById('results').dataset.mode === 'hybrid' && !document.getElementById('results').hasAttribute('aria-busy'));
  assert.equal(await page.locator('input[name=mode][value=hybrid]').isChecked(), true);
  await page.reload();
  await waitShown(page, 'varroa mite treatment');
  assert.equal(await page.locator('#q').inputValue(), 'varroa mite treatment');
  const shared = await newPage();
  await shared.goto(`${base}/?q=${encodeURIComponent('creamy pasta')}&mode=semantic`);
  await waitShown(shared, 'creamy pasta');
  assert.equal(await shared.locator('input[name=mode][value=semantic]').isChecked(), true);
  assert.match(await results(shared).first().locator('.title').textContent(), /Recipe \d+: /);
  await shared.context().close();
});

await check('filters: metadata values of the results filter the search, in the URL too', async () => {
  await searchFor(page, 'recipe dinner', 'hybrid');
  const chip = page.locator('#filters button[data-filter="cuisine=thai"]');
  await chip.click();
  await page.waitForFunction(() => new URL(location.href).searchParams.get('filter') === 'cuisine=thai' &&
    !document.getElementById('results').hasAttribute('aria-busy') && document.querySelector('#filters [aria-pressed=true]'));
  const md = await page.locator('#results a.result .md').allTextContents();
  assert.ok(md.length > 0 && md.every((m) => m.includes('cuisine: thai')), `metadata ${md}`);
  await page.locator('#filters button[data-filter="cuisine=thai"]').click();
  await page.waitForFunction(() => !new URL(location.href).searchParams.has('filter') && !document.querySelector('#filters [aria-pressed=true]'));
});

await check('an older, slower answer never replaces a newer one', async () => {
  let slowDone;
  const slowEnded = new Promise((resolve) => { slowDone = resolve; });
  await page.route('**/search?*', async (route) => {
    if (new URL(route.request().url()).searchParams.get('q') === 'slow answer') {
      await new Promise((r) => setTimeout(r, 2500)); // the slow server: the point of this check
      try { await route.continue(); } catch { /* the page gave up on it */ }
      slowDone();
      return;
    }
    await route.continue();
  });
  const asked = page.waitForRequest((r) => r.url().includes('q=slow+answer'));
  await page.locator('#q').fill('');
  await page.locator('#q').pressSequentially('slow answer', { delay: 15 });
  await asked;
  await page.locator('#q').fill('');
  await page.locator('#q').pressSequentially('sleep caffeine', { delay: 15 });
  await waitShown(page, 'sleep caffeine');
  await slowEnded;
  await page.waitForLoadState('networkidle');
  assert.equal(await page.locator('#results').getAttribute('data-query'), 'sleep caffeine');
  assert.equal(await results(page).first().locator('.title').textContent(), 'Better sleep');
  await page.unroute('**/search?*');
});

await check('no results, no close results, an error answer and an unreachable server are each explained', async () => {
  await searchFor(page, 'zzzqqqxx', 'keyword');
  assert.match(await text(page, '#status'), /No results for “zzzqqqxx”.*semantic mode/);
  await page.locator('#q').fill('');
  await page.locator('#q').pressSequentially('the of and', { delay: 15 });
  await page.locator('#status', { hasText: 'The server refused' }).waitFor();
  assert.match(await text(page, '#status'), /no searchable words/);
  await page.route('**/search?*', (route) => route.abort('connectionrefused'));
  await page.locator('input[name=mode][value=hybrid]').check({ force: true });
  await page.locator('#status', { hasText: "Can't reach the server" }).waitFor();
  assert.match(await text(page, '#banner'), /Can't reach the edgesearch server/);
  await page.unroute('**/search?*');
  await page.locator('#banner').waitFor({ state: 'hidden' }); // health answers again
  await searchFor(page, 'cheap flights to paris next weekend', 'semantic');
  assert.match(await text(page, '#status'), /^\d+ results?, none close to “cheap flights to paris next weekend”/);
  assert.equal(await results(page).first().locator('.match').textContent(), 'weak match');
});

await check('documents: paged list with counts, delete asks first and the document is gone', async () => {
  await page.locator('#counts', { hasText: `${TOTAL_DOCS} documents` }).waitFor();
  assert.equal(await text(page, '#page-info'), `1–20 of ${TOTAL_DOCS}`);
  assert.equal(await page.locator('#doc-list li').count(), 20);
  await page.locator('#next').click();
  await page.locator('#page-info', { hasText: `21–${TOTAL_DOCS} of ${TOTAL_DOCS}` }).waitFor();
  let del = page.getByRole('button', { name: 'Delete Changing a flat tire' });
  if (await del.count() === 0) {
    await page.locator('#prev').click();
    await page.locator('#page-info', { hasText: `1–20 of ${TOTAL_DOCS}` }).waitFor();
    del = page.getByRole('button', { name: 'Delete Changing a flat tire' });
  }
  await page.locator('#doc-list button.link', { hasText: 'Changing a flat tire' }).click();
  await page.locator('#reader-meta', { hasText: 'tires.txt' }).waitFor();
  assert.match(await text(page, '#reader-text'), /Loosen the lug nuts/);
  assert.equal(await page.locator('#reader mark.passage').count(), 0, 'no passage without a search');
  await page.getByRole('button', { name: 'Close' }).click();
  await page.locator('#reader').waitFor({ state: 'hidden' });
  page.once('dialog', (d) => d.dismiss());
  await del.click();
  assert.equal(await del.count(), 1, 'dismissing the confirmation keeps the document');
  page.once('dialog', (d) => { assert.match(d.message(), /Delete “Changing a flat tire”/); d.accept(); });
  await del.click();
  await page.locator('#counts', { hasText: `${TOTAL_DOCS - 1} documents` }).waitFor();
  await del.waitFor({ state: 'detached' });
  await page.locator('#health', { hasText: `${TOTAL_DOCS - 1} documents` }).waitFor();
  await searchFor(page, 'flat tire lug nuts jack', 'keyword');
  const titles = await results(page).locator('.title').allTextContents();
  assert.ok(!titles.includes('Changing a flat tire'), `results ${titles}`);
  await axe(page, 'the page with the document list');
});

await check('phone: 375 px wide without sideways scrolling or a keyboard hint, light and dark', async () => {
  for (const scheme of ['light', 'dark']) {
    const p = await newPage({ viewport: { width: 375, height: 740 }, colorScheme: scheme, isMobile: true, hasTouch: true });
    await p.goto(`${base}/?q=${encodeURIComponent('honeybee hive')}`);
    await waitShown(p, 'honeybee hive');
    const wide = await p.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= 375, `${scheme}: page is ${wide} px wide`);
    assert.equal(await p.locator('#q').getAttribute('placeholder'), 'Search your documents', 'no keyboard shortcut hint on a phone');
    const bg = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const lum = bg.match(/\d+/g).slice(0, 3).reduce((s, x) => s + Number(x), 0) / 765;
    assert.ok(scheme === 'dark' ? lum < 0.2 : lum > 0.8, `${scheme}: background ${bg}`);
    await axe(p, `the ${scheme} phone page`);
    if (scheme === 'light') await shot(p, 'ui-phone.png');
    await p.context().close();
  }
  const dark = await newPage({ colorScheme: 'dark' });
  await dark.goto(`${base}/?q=${encodeURIComponent('curry with coconut')}`);
  await waitShown(dark, 'curry with coconut');
  await shot(dark, 'ui-dark.png', { size: SHOT });
  await dark.context().close();
});

await check('API key: asked once, kept in the browser, a wrong key is said plainly', async () => {
  const p = await newPage();
  await p.goto(keyBase);
  const prompt = p.locator('#keyprompt');
  await prompt.waitFor();
  await axe(p, 'the API key prompt');
  await p.locator('#key').fill('not-the-key');
  await p.getByRole('button', { name: 'Use this key' }).click();
  await p.locator('#key-error', { hasText: 'was refused' }).waitFor();
  assert.equal(await prompt.isVisible(), true);
  await p.locator('#key').fill(key);
  await p.getByRole('button', { name: 'Use this key' }).click();
  await p.locator('#counts', { hasText: 'No documents yet' }).waitFor();
  assert.equal(await prompt.isVisible(), false);
  assert.equal(await p.evaluate(() => localStorage.getItem('edgesearch.apiKey')), key);
  await p.reload();
  await p.locator('#counts', { hasText: 'No documents yet' }).waitFor();
  assert.equal(await prompt.isVisible(), false, 'the kept key is used after a reload');
  await p.context().close();
});

await check('facets: filters from every match, two rows at most on a phone, short labels, full path on hover', async () => {
  const notes = Array.from({ length: 14 }, (_, i) => ({
    id: `compost-${String(i).padStart(2, '0')}`, title: `Compost bed ${i}`,
    text: `Turn the compost heap of bed ${i} every week; keep it as damp as a wrung sponge.`,
    source: `/home/ann/Documents/garden/beds/bed-${i}/compost-notes-${i}.md`,
    metadata: { bed: i % 2 ? 'north' : 'south' },
  }));
  const res = await page.request.post(`${base}/documents`, { data: notes });
  assert.equal(res.status(), 201, await res.text());
  const p = await newPage({ viewport: { width: 390, height: 800 }, isMobile: true, hasTouch: true });
  await p.goto(`${base}/?q=${encodeURIComponent('compost heap')}&mode=keyword`);
  await waitShown(p, 'compost heap');
  const layout = () => p.evaluate(() => {
    const box = document.getElementById('filters');
    const shown = [...box.children].filter((c) => !c.hidden && c.offsetParent !== null);
    return { rows: new Set(shown.map((c) => c.offsetTop)).size, chips: shown.filter((c) => c.matches('.chip:not(.more)')).length };
  });
  const folded = await layout();
  assert.ok(folded.rows <= 2, `filters take ${folded.rows} rows on a phone`);
  const more = p.locator('#filters .chip.more');
  assert.match(await more.textContent(), /^More \(\d+\)$/);
  // Counts come from every match (14 notes), not from the page of 10.
  const south = p.locator('#filters button[data-filter="bed=south"]');
  assert.equal(await south.locator('.n').textContent(), ' 7');
  await more.click();
  const open = await layout();
  assert.ok(open.rows > 2 && open.chips > folded.chips, `More shows every filter: ${JSON.stringify(open)}`);
  const src = p.locator('#filters button[data-filter="source=/home/ann/Documents/garden/beds/bed-3/compost-notes-3.md"]');
  assert.equal(await src.locator('.v').textContent(), 'compost-notes-3.md');
  assert.match(await src.getAttribute('title'), /\/home\/ann\/Documents\/garden\/beds\/bed-3\/compost-notes-3\.md/);
  await src.click();
  await p.waitForFunction(() => new URL(location.href).searchParams.get('filter') === 'source=/home/ann/Documents/garden/beds/bed-3/compost-notes-3.md' &&
    !document.getElementById('results').hasAttribute('aria-busy') && document.querySelector('#filters [aria-pressed=true]'));
  assert.deepEqual(await results(p).locator('.title').allTextContents(), ['Compost bed 3']);
  const wide = await p.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 390, `page is ${wide} px wide`);
  await axe(p, 'the phone page with filters');
  await p.context().close();
  for (const n of notes) await page.request.delete(`${base}/documents/${n.id}`);
});

await check('reader: the whole matching passage is marked by its span, its words by their offsets, past emoji', async () => {
  const filler = Array.from({ length: 12 }, (_, i) => `🐝🌼 Paragraph ${i} of field notes 🌿 about hedgerows, ponds and the birds that visit them in spring.`).join('\n\n');
  const para = 'Rottnest Island 🏝️ is home to the quokka, a small marsupial. Visitors photograph the quokka 🦘 because it seems to smile. ' +
    'The ferry from Fremantle takes about half an hour, and bicycles are the usual way to get around the island, whose roads are quiet. ' +
    'Salt lakes, reefs and old lighthouses fill the rest of a day there, with a swim at one of the many sheltered bays. ' +
    'Feeding a quokka is forbidden, and the island fines anyone who does. That is the end of the quokka paragraph.';
  const res = await page.request.post(`${base}/documents`, { data: { id: 'zz-island', title: 'Island notes', text: `${filler}\n\n${para}` } });
  assert.equal(res.status(), 201, await res.text());
  await page.goto(base);
  await searchFor(page, 'quokka', 'keyword');
  await results(page).first().click();
  const passage = page.locator('#reader mark.passage');
  await passage.waitFor();
  const t = await passage.textContent();
  assert.ok(t.includes(para), `the passage is the chunk, not a cut snippet: ${t}`);
  const terms = await page.locator('#reader mark.passage mark.term').allTextContents();
  assert.ok(terms.length >= 4 && terms.every((w) => w === 'quokka'), `marked words ${terms}`);
  await page.getByRole('button', { name: 'Close' }).click();
  await page.locator('#reader').waitFor({ state: 'hidden' });
});

await check('documents: the one added last is listed first, though its id sorts last', async () => {
  const p = await newPage();
  await p.goto(base);
  await p.locator('#doc-list li').first().waitFor();
  assert.equal(await p.locator('#doc-list li').first().getAttribute('data-id'), 'zz-island');
  await p.context().close();
  await page.request.delete(`${base}/documents/zz-island`);
});

await check('latency: last keystroke to results on screen, with the real model', async () => {
  const queries = ['honey harvest', 'queen cells', 'brood frames', 'winter feeding', 'mite count',
    'spare wheel', 'lug nuts', 'tire pressure', 'caffeine', 'melatonin', 'bedtime routine', 'green curry',
    'papaya salad', 'mushroom risotto', 'espresso dessert', 'sticky rice', 'tomato sauce pizza', 'lemongrass soup',
    'beef potatoes', 'sourdough', 'bread flour', 'garden flowers', 'hoverflies', 'solitary bees', 'swarm',
    'nectar flow', 'comb building', 'chili heat', 'parmesan cheese', 'noodles with peanuts'];
  await page.goto(base);
  await page.locator('#health.ok').waitFor();
  await page.locator('input[name=mode][value=hybrid]').check({ force: true });
  await page.evaluate(() => {
    window.__key = 0;
    window.__shown = {};
    document.getElementById('q').addEventListener('keydown', () => { window.__key = performance.now(); }, true);
    const r = document.getElementById('results');
    new MutationObserver(() => {
      const q = r.dataset.query;
      if (q && !(q in window.__shown)) requestAnimationFrame(() => { window.__shown[q] = performance.now(); });
    }).observe(r, { attributes: true, attributeFilter: ['data-query'] });
  });
  const ms = [];
  for (const q of queries) {
    await page.locator('#q').fill('');
    await page.locator('#q').pressSequentially(q, { delay: 25 });
    const last = await page.evaluate(() => window.__key);
    await page.waitForFunction((q) => q in window.__shown, q);
    ms.push((await page.evaluate((q) => window.__shown[q], q)) - last);
  }
  ms.sort((a, b) => a - b);
  const pct = (p) => ms[Math.min(ms.length - 1, Math.ceil(p * ms.length) - 1)];
  bench.keystroke_to_results_ms = { n: ms.length, p50: +pct(0.5).toFixed(1), p95: +pct(0.95).toFixed(1),
    max: +ms[ms.length - 1].toFixed(1), debounce_ms: 120, mode: 'hybrid', documents: TOTAL_DOCS - 1 };
  console.log(`     keystroke → results: p50 ${pct(0.5).toFixed(1)} ms, p95 ${pct(0.95).toFixed(1)} ms (debounce 120 ms included)`);
});

await check('no request left the server\'s origin, and no script error', async () => {
  assert.deepEqual(offOrigin, []);
  assert.deepEqual(pageErrors, []);
});

await browser.close();
bench.when = new Date().toISOString();
fs.writeFileSync(path.join(outDir, 'ui-bench.json'), JSON.stringify(bench, null, 2) + '\n');
if (failures.length) {
  console.log(`${failures.length} check(s) failed: ${failures.join('; ')}`);
  process.exit(1);
}
console.log('all UI checks passed');
