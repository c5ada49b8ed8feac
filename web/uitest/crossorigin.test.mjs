// crossorigin.test.mjs plays the attacks a page on another site can make
// on an edgesearch server from the user's own browser (Debian's headless
// Chromium, driven by playwright-core), against a real server that
// web/crossorigin_test.go starts with one document stored:
//
//   node crossorigin.test.mjs BASE_URL DOC_ID FORM_DOC_ID
//
// 1. A foreign page (http://attacker.test:PORT, served by this script)
//    tries to replace DOC_ID with a no-cors text/plain JSON POST, to plant
//    a file with a no-cors multipart POST, to delete DOC_ID (cors and
//    no-cors), and to replace FORM_DOC_ID with an auto-submitted
//    text/plain form.
//    Whether the server changed is for the Go test to check afterwards:
//    no-cors answers are opaque to a page, and so to this script.
// 2. DNS rebinding: a page of http://rebind.test:PORT (the server's port),
//    whose name resolves to the server, reads /documents and /backup as
//    same-origin: both must be refused (403), the page too.
// 3. The UI itself, same-origin, still uploads a file and finds it.
//
// Names: --host-resolver-rules maps attacker.test and rebind.test to
// 127.0.0.1, so no DNS is involved. attacker.test is cross-site to the
// server at 127.0.0.1: a site is a registrable domain or an IP address, so
// the two share nothing, and Chromium marks the requests
// Sec-Fetch-Site: cross-site, as it would for any site on the internet.
// (A page on 127.0.0.1 at another port would be same-site, which the
// server refuses too, but that is not what an attacker has.)
//
// It exits non-zero when a check fails.

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import http from 'node:http';

const [base, docID, formDocID] = process.argv.slice(2);
if (!base || !docID || !formDocID) {
  console.error('usage: node crossorigin.test.mjs BASE_URL DOC_ID FORM_DOC_ID');
  process.exit(2);
}
const TIMEOUT = 30_000;
const port = new URL(base).port;

// ---- harness ----

const failures = [];
async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    failures.push(name);
    console.log(`FAIL ${name}\n     ${String(err.stack || err).split('\n').slice(0, 6).join('\n     ')}`);
  }
}

// ---- the attacker's page ----

// attackerPage runs every write a foreign page can attempt without the
// server's consent, and records in window.attack what the page could see
// of each (for no-cors requests: only that they were sent).
const attackerPage = (target, id, formID) => `<!doctype html>
<title>cute cats</title>
<iframe name="sink" src="about:blank"></iframe>
<script>
const target = ${JSON.stringify(target)};
const id = ${JSON.stringify(id)};
const formID = ${JSON.stringify(formID)};
async function attempt(name, fn) {
  try { window.attack[name] = await fn(); } catch (e) { window.attack[name] = 'threw ' + e.name; }
}
// submitForm posts a form into the hidden frame and waits for its answer.
function submitForm(action, enctype, fields) {
  return new Promise((resolve) => {
    const frame = document.querySelector('iframe[name=sink]');
    frame.addEventListener('load', () => resolve('submitted'), { once: true });
    const form = document.createElement('form');
    form.method = 'POST';
    form.action = action;
    form.enctype = enctype;
    form.target = 'sink';
    for (const [name, value] of fields) {
      const input = document.createElement('input');
      input.type = 'hidden';
      input.name = name;
      input.value = value;
      form.append(input);
    }
    document.body.append(form);
    form.submit();
  });
}
window.attack = {};
window.addEventListener('load', async () => {
  const opaque = (r) => r.type; // all a no-cors answer shows: "opaque"
  await attempt('text/plain JSON overwrite', async () => opaque(await fetch(target + '/documents', {
    method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' },
    body: JSON.stringify({ id, title: 'pwned', text: 'OVERWRITTEN by a page on another site' }),
  })));
  await attempt('multipart file plant', async () => {
    const form = new FormData();
    form.append('file', new File(['PLANTED by a page on another site'], 'planted.txt', { type: 'text/plain' }));
    return opaque(await fetch(target + '/documents', { method: 'POST', mode: 'no-cors', body: form }));
  });
  await attempt('cors DELETE', async () => (await fetch(target + '/documents/' + encodeURIComponent(id), { method: 'DELETE' })).status);
  await attempt('no-cors DELETE', async () => opaque(await fetch(target + '/documents/' + encodeURIComponent(id), { method: 'DELETE', mode: 'no-cors' })));
  // The classic JSON-in-a-form trick: name and value make one JSON text,
  // {"id":…,"text":…,"pad":"="}, sent as text/plain.
  await attempt('auto-submitted form', () => submitForm(target + '/index', 'text/plain',
    [[JSON.stringify({ id: formID, text: 'FORM OVERWRITE from a page on another site', pad: '' }).slice(0, -2), '"}']]));
  window.attackDone = true;
});
</script>`;

const attacker = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(attackerPage(base, docID, formDocID));
});
await new Promise((resolve) => attacker.listen(0, '127.0.0.1', resolve));
const attackerURL = `http://attacker.test:${attacker.address().port}/`;

// ---- the browser ----

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--host-resolver-rules=MAP attacker.test 127.0.0.1,MAP rebind.test 127.0.0.1'],
});
async function newPage() {
  const ctx = await browser.newContext();
  ctx.setDefaultTimeout(TIMEOUT);
  return ctx.newPage();
}

// ---- the checks ----

await check('a page on another site runs its attacks (the Go test checks nothing changed)', async () => {
  const page = await newPage();
  const seen = []; // what the browser sent to the server, and the answers
  page.on('response', (r) => {
    if (r.url().startsWith(base)) seen.push(`${r.request().method()} ${new URL(r.url()).pathname} → ${r.status()}`);
  });
  await page.goto(attackerURL);
  await page.waitForFunction(() => window.attackDone === true);
  const attack = await page.evaluate(() => window.attack);
  console.log(`     the page saw: ${JSON.stringify(attack)}`);
  console.log(`     the server answered: ${seen.join(', ') || 'nothing'}`);
  // A DELETE cannot be sent without a preflight the server answers for
  // configured origins only; the browser refuses it before it leaves.
  assert.equal(attack['cors DELETE'], 'threw TypeError');
  assert.equal(attack['no-cors DELETE'], 'threw TypeError');
  for (const name of ['text/plain JSON overwrite', 'multipart file plant']) assert.equal(attack[name], 'opaque', name);
  assert.equal(attack['auto-submitted form'], 'submitted');
  await page.context().close();
});

await check('DNS rebinding: a page on rebind.test cannot read /documents or /backup', async () => {
  const page = await newPage();
  // After rebinding, the attacker's page at http://rebind.test:PORT talks
  // to the server as its own origin. Here the name resolves to the server
  // from the start, so the page itself is the server's answer (the UI on a
  // server that does not check Host, a refusal on one that does); what the
  // page's requests carry, and what the server must refuse, is the same.
  // (A page fulfilled here instead, standing for one from the attacker's
  // public address, meets Chromium's Local Network Access check, which asks
  // the user first; other browsers have no such check, and users say yes.)
  const rebound = `http://rebind.test:${port}/`;
  const nav = await page.goto(rebound);
  const got = await page.evaluate(async () => {
    const read = async (path) => {
      const r = await fetch(path);
      return { status: r.status, body: (await r.text()).slice(0, 200) };
    };
    return { documents: await read('/documents'), backup: await read('/backup'), health: await read('/health') };
  });
  got.page = { status: nav.status(), body: (await nav.text()).slice(0, 200) };
  console.log(`     answers: ${Object.entries(got).map(([what, r]) => `${what} ${r.status}`).join(', ')}`);
  for (const what of ['page', 'documents', 'backup', 'health']) {
    assert.equal(got[what].status, 403, `${what}: ${got[what].body}`);
    assert.match(got[what].body, /rebind\.test/, `${what}: the refusal names the host`);
  }
  await page.context().close();
});

await check('the UI, same-origin, still uploads and searches', async () => {
  const page = await newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(base);
  await page.locator('#health.ok').waitFor();
  await page.locator('#files').setInputFiles([{
    name: 'ui-note.txt', mimeType: 'text/plain',
    buffer: Buffer.from('Tomatoes ripen faster next to bananas, which give off ethylene gas.'),
  }]);
  const li = page.locator('#uploads li', { hasText: 'ui-note.txt' });
  await page.waitForFunction(() => [...document.querySelectorAll('#uploads li')].some((l) => /\b(ok|failed)\b/.test(l.className)));
  assert.match(await li.getAttribute('class'), /\bok\b/, await li.textContent());
  const q = 'ripening tomatoes';
  await page.locator('#q').fill(q);
  await page.waitForFunction((q) => {
    const r = document.getElementById('results');
    return r.dataset.query === q && !r.hasAttribute('aria-busy');
  }, q);
  const sources = await page.locator('#results a.result .source').allTextContents();
  assert.equal(sources[0], 'ui-note.txt', `results: ${sources}`);
  assert.deepEqual(errors, []);
  await page.context().close();
});

await browser.close();
attacker.close();
if (failures.length) {
  console.log(`${failures.length} check(s) failed: ${failures.join('; ')}`);
  process.exit(1);
}
console.log('all cross-origin checks passed');
