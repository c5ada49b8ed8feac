// app.js: the search page. State that a link should carry (what is
// searched, query, mode, filters, open document) lives in the URL;
// everything else is rebuilt from the API.

import { ApiError, apiKey, call } from './api.js';
import { el, passage, plural } from './dom.js';
import { openReader, closeReader, readerShows } from './reader.js';
import { initLibrary, refreshDocuments } from './library.js';
import { loadCollections, drawPicker, searchCollection, pointItem, idleText } from './collections.js';

const $ = (id) => document.getElementById(id);
const q = $('q');
const results = $('results');
const status = $('status');
const filtersBox = $('filters');
const picker = $('collection');
const MODES = ['hybrid', 'semantic', 'keyword'];
const DEBOUNCE_MS = 120;

// collection is "" for the documents, else the collection of points searched.
const state = { collection: '', q: '', mode: 'hybrid', filters: [], doc: '', chunk: null };
let seq = 0; // numbers searches; only the newest may draw
let inflight = null; // AbortController of the newest search
let timer = 0;
let typing = false; // the current history entry belongs to this typing run
let health = null;
let lastResults = [];

// ---- URL ----

function readURL() {
  const p = new URLSearchParams(location.search);
  state.collection = p.get('collection') || '';
  state.q = p.get('q') || '';
  state.mode = MODES.includes(p.get('mode')) ? p.get('mode') : 'hybrid';
  state.filters = p.getAll('filter');
  state.doc = p.get('doc') || '';
  state.chunk = p.has('chunk') ? Number(p.get('chunk')) : null;
}

function urlFor(s) {
  const p = new URLSearchParams();
  if (s.collection) p.set('collection', s.collection);
  if (s.q) p.set('q', s.q);
  if (s.mode !== 'hybrid') p.set('mode', s.mode);
  for (const f of s.filters) p.append('filter', f);
  if (s.doc) p.set('doc', s.doc);
  if (s.doc && s.chunk !== null) p.set('chunk', String(s.chunk));
  const qs = p.toString();
  return location.pathname + (qs ? '?' + qs : '');
}

/** writeURL records state: push makes a history entry back can return to. */
export function writeURL(push, depth = 0) {
  const url = urlFor(state);
  if (url === location.pathname + location.search) return;
  if (push) history.pushState({ depth }, '', url);
  else history.replaceState(history.state, '', url);
}

function showState() {
  q.value = state.q;
  for (const r of document.querySelectorAll('input[name=mode]')) r.checked = r.value === state.mode;
  // A collection is searched the server's way (hybrid where its points
  // have text), and its points have no document to open: the modes and
  // filters are the documents' alone.
  if (picker.value !== state.collection) drawPicker(state.collection);
  const what = state.collection ? `the collection ${state.collection}` : 'your documents';
  $('q-label').textContent = `Search ${what}`;
  // The "/" shortcut is for keyboards: a phone's placeholder goes without.
  q.placeholder = `Search ${what}${matchMedia('(hover: hover)').matches ? '  ( / )' : ''}`;
  $('modes').hidden = !!state.collection;
}

/** refreshCollections reloads the picker. Failures stay quiet: the
 * documents' own calls explain an unreachable server or a missing key,
 * and a collection search explains itself. */
async function refreshCollections() {
  try {
    await loadCollections(state.collection);
    if (!state.q) showIdle(); // now with the collection's point count
  } catch (err) {
    if (err.name !== 'AbortError' && !(err instanceof ApiError)) throw err;
  }
}

// ---- messages ----

/** banner shows a problem with the server itself, or hides it. */
export function banner(msg) {
  const b = $('banner');
  b.textContent = msg || '';
  b.hidden = !msg;
}

/** failed explains an ApiError where it happened, and asks for the API key
 * when that is the problem. */
export function failed(err, where) {
  if (err.name === 'AbortError') return;
  if (!(err instanceof ApiError)) throw err;
  if (err.kind === 'unauthorized') askKey();
  if (err.kind === 'unreachable') {
    banner(`${err.message} Is \`edgesearch serve\` running? Retrying every few seconds…`);
    watchHealth(3000);
  }
  if (err.kind === 'starting') {
    banner('The server is still starting (loading the model or the index). Retrying shortly…');
    watchHealth(1000);
  }
  if (where) where(messageFor(err));
}

function messageFor(err) {
  switch (err.kind) {
    case 'unreachable': return "Can't reach the server. Check that it is running and that this device is on its network.";
    case 'unauthorized': return 'The server wants an API key: enter it in the prompt.';
    case 'starting': return 'The server is still starting; this will work in a moment.';
    default: return `The server refused: ${err.message}`;
  }
}

// ---- API key ----

function askKey() {
  const d = $('keyprompt');
  $('key-error').textContent = apiKey.get()
    ? 'The API key saved in this browser was refused by the server. Check it and enter it again.'
    : '';
  if (!d.open) {
    $('key').value = '';
    d.showModal();
  }
}

$('key-form').addEventListener('submit', () => {
  apiKey.set($('key').value.trim());
  refreshAll();
});

// ---- health ----

let healthTimer = 0;
function watchHealth(ms) {
  clearTimeout(healthTimer);
  healthTimer = setTimeout(refreshHealth, ms);
}

export async function refreshHealth() {
  const h = $('health');
  const wasDown = h.classList.contains('bad');
  try {
    health = await call('health');
    banner('');
    if (wasDown) { // what failed while the server was away can work now
      refreshDocuments();
      refreshCollections();
      if (state.q) runSearch();
    }
    h.className = 'health ok';
    h.textContent = `Ready · ${health.model} · ${plural(health.documents, 'document')} · ${plural(health.chunks, 'chunk')}`;
    h.title = `${health.dims}-dimensional embeddings`;
    if (!state.q) showIdle();
  } catch (err) {
    h.className = 'health bad';
    h.textContent = err.kind === 'starting' ? 'Starting…' : 'Server unreachable';
    failed(err);
  }
}

function showIdle() {
  results.replaceChildren();
  filtersBox.hidden = true;
  if (state.collection) {
    status.textContent = idleText(state.collection);
  } else if (health && health.documents === 0) {
    status.replaceChildren(
      'Nothing is indexed yet. Add files in ',
      el('a', { href: '#add' }, 'Add documents'),
      ' below, or run ', el('code', {}, 'edgesearch import ~/docs'), ' on the server.');
  } else {
    status.textContent = health ? `Type to search ${plural(health.documents, 'document')}.` : '';
  }
}

/** refreshAll reloads what the server may have changed. */
export function refreshAll() {
  refreshHealth();
  refreshDocuments();
  refreshCollections();
  if (state.q) runSearch();
}

// ---- search ----

function scheduleSearch() {
  clearTimeout(timer);
  timer = setTimeout(runSearch, DEBOUNCE_MS);
}

async function runSearch() {
  clearTimeout(timer);
  const my = ++seq;
  if (inflight) inflight.abort();
  if (!state.q.trim()) {
    inflight = null;
    lastResults = [];
    showIdle();
    return;
  }
  inflight = new AbortController();
  const p = new URLSearchParams({ q: state.q, mode: state.mode });
  for (const f of state.filters) p.append('filter', f);
  results.setAttribute('aria-busy', 'true');
  try {
    if (state.collection) {
      const ans = await searchCollection(state.collection, state.q, inflight.signal);
      if (my !== seq) return;
      lastResults = [];
      drawPoints(ans);
      return;
    }
    const ans = await call('search?' + p, { signal: inflight.signal });
    if (my !== seq) return; // a newer search owns the screen
    lastResults = ans.results;
    drawResults(ans);
  } catch (err) {
    if (my !== seq) return;
    lastResults = [];
    results.replaceChildren();
    filtersBox.hidden = true;
    failed(err, (msg) => { status.textContent = msg; });
  } finally {
    if (my === seq) results.removeAttribute('aria-busy');
  }
}

function fmtMS(ms) {
  return ms < 1 ? '<1 ms' : `${Math.round(ms)} ms`;
}

function drawResults(ans) {
  const n = ans.results.length;
  if (n === 0) {
    const hints = [];
    if (state.filters.length) hints.push('remove a filter');
    if (state.mode === 'keyword') hints.push('try semantic mode, which matches meaning rather than words');
    else hints.push('try other words');
    status.textContent = `No results for “${ans.query}” · ${fmtMS(ans.took_ms)}. You could ${hints.join(', or ')}.`;
  } else if (ans.results.every((r) => r.match === 'weak')) {
    // Ten closest misses should not read as ten answers.
    status.textContent = `${plural(n, 'result')}, none close to “${ans.query}” · ${fmtMS(ans.took_ms)}`;
  } else {
    status.textContent = `${plural(n, 'result')} · ${fmtMS(ans.took_ms)}`;
  }
  results.replaceChildren(...ans.results.map((r, i) => resultItem(r, i)));
  results.dataset.query = ans.query;
  results.dataset.mode = ans.mode;
  drawFilters(ans.facets);
}

function drawPoints(ans) {
  const n = ans.results.length;
  status.textContent = n === 0
    ? `No points in “${ans.collection}” · ${fmtMS(ans.took_ms)}.`
    : `${plural(n, 'result')} in “${ans.collection}” · ${fmtMS(ans.took_ms)}`;
  results.replaceChildren(...ans.results.map((r, i) => pointItem(r, i, ans.text_field, ans.query)));
  results.dataset.query = ans.query;
  results.dataset.mode = 'collection';
  filtersBox.replaceChildren();
  filtersBox.hidden = true;
}

/** resultItem is one result: a link (so Enter, middle-click and copy work)
 * that opens the reader on the matching passage. */
export function resultItem(r, i, onOpen = openResult) {
  const href = urlFor({ ...state, doc: r.id, chunk: r.chunk });
  const meta = Object.entries(r.metadata || {}).map(([k, v]) => `${k}: ${v}`).join(' · ');
  const a = el('a', { href, className: 'result', id: `r${i}` },
    el('span', { className: 'title' }, r.title || r.id),
    el('span', { className: 'where' },
      r.source ? el('span', { className: 'source' }, r.source) : null,
      r.match
        ? el('span', { className: `match match-${r.match}`, title: `cosine similarity of the best passage to the query: ${r.similarity.toFixed(2)}` },
          `${r.match} match`)
        : null,
      el('span', { className: 'score', title: 'score' }, r.score.toFixed(3)),
      meta ? el('span', { className: 'md' }, meta) : null),
    el('span', { className: 'snippet' }, passage(r.passage)));
  a.addEventListener('click', (e) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    onOpen(r);
  });
  return el('li', {}, a);
}

function openResult(r) {
  state.doc = r.id;
  state.chunk = r.chunk;
  writeURL(true, 1);
  typing = false;
  openReader(r.id, r);
}

/** readerClosed is the reader's report that it closed itself. */
export function readerClosed() {
  if (!state.doc) return;
  state.doc = '';
  state.chunk = null;
  // Leave every entry the reader added, so Escape returns to the results.
  const depth = (history.state && history.state.depth) || 0;
  if (depth > 0) history.go(-depth);
  else writeURL(false);
}

// ---- filters ----

let filtersOpen = false; // "More" pressed: every offered filter shows

// filterLabel is a filter's short text: "key: value", a source's label
// (its file name, or as much of its path as tells it apart).
function filterLabel(key, value, label) {
  if (key !== 'source') return `${key}: ${value}`;
  return label || value.split(/[\\/]/).filter(Boolean).pop() || value;
}

/** drawFilters offers filters from the answer's facets, which count every
 * match of the query, not only this page: the active filters first (press
 * to remove), then metadata values and sources that would narrow the
 * results, folded to two rows behind "More". */
function drawFilters(facets) {
  filtersBox.replaceChildren();
  const total = facets ? facets.documents : 0;
  const chips = [];
  const labels = new Map();
  const offer = (key, v, on) => {
    const f = `${key}=${v.value}`;
    const label = filterLabel(key, v.value, v.label);
    labels.set(f, label);
    if (on !== state.filters.includes(f)) return;
    // A value every match has would filter nothing away.
    if (!on && (v.count === 0 || v.count >= total)) return;
    const title = on ? `${key}: ${v.value} (press to remove)` : `${key}: ${v.value} (${plural(v.count, 'document')})`;
    const b = el('button', { type: 'button', className: 'chip', 'aria-pressed': String(on), 'data-filter': f, title },
      el('span', { className: 'v' }, label), on ? null : el('span', { className: 'n' }, ` ${v.count}`));
    b.addEventListener('click', () => {
      state.filters = on ? state.filters.filter((x) => x !== f) : [...state.filters, f];
      writeURL(true);
      typing = false;
      runSearch();
    });
    chips.push(b);
  };
  const groups = facets ? [...(facets.metadata || []), facets.source] : [];
  for (const f of state.filters) {
    const i = f.indexOf('=');
    const [key, value] = [f.slice(0, i), f.slice(i + 1)];
    const g = groups.find((x) => x && x.key === key);
    const v = (g && g.values.find((x) => x.value === value)) || { value, count: 0 };
    offer(key, v, true);
  }
  for (const g of groups) for (const v of (g && g.values) || []) offer(g.key, v, false);
  if (chips.length === 0) {
    filtersBox.hidden = true;
    return;
  }
  const more = el('button', { type: 'button', className: 'chip more', 'aria-expanded': String(filtersOpen) });
  more.addEventListener('click', () => {
    filtersOpen = !filtersOpen;
    fitFilters();
  });
  filtersBox.append(el('span', { className: 'label' }, 'Filter:'), ...chips, more);
  filtersBox.hidden = false;
  fitFilters();
}

/** fitFilters folds the filters to two rows, "More (n)" last, unless
 * More was pressed; it runs again when the window's width changes. */
function fitFilters() {
  if (filtersBox.hidden) return;
  const chips = [...filtersBox.querySelectorAll('.chip:not(.more)')];
  const more = filtersBox.querySelector('.chip.more');
  if (!more) return;
  for (const c of chips) c.hidden = false;
  more.hidden = false;
  more.setAttribute('aria-expanded', String(filtersOpen));
  const rows = () => new Set([...filtersBox.children].filter((c) => !c.hidden).map((c) => c.offsetTop)).size;
  const rowOf = (c) => [...new Set([...filtersBox.children].filter((x) => !x.hidden).map((x) => x.offsetTop))].sort((a, b) => a - b).indexOf(c.offsetTop);
  more.textContent = 'Fewer';
  if (filtersOpen) {
    if (rows() <= 2) more.hidden = true; // nothing was folded
    return;
  }
  more.hidden = true;
  if (rows() <= 2) return;
  more.hidden = false;
  let folded = 0;
  for (let i = chips.length - 1; i >= 0 && rowOf(more) > 1; i--) {
    if (chips[i].getAttribute('aria-pressed') === 'true') continue; // an active filter stays in view
    chips[i].hidden = true;
    folded++;
    more.textContent = `More (${folded})`;
  }
}

window.addEventListener('resize', () => fitFilters());

// ---- events ----

q.addEventListener('input', () => {
  state.q = q.value;
  // The first keystroke of a run makes one history entry; the rest of the
  // run updates it, so back goes to the previous query, not the previous letter.
  writeURL(!typing);
  typing = true;
  scheduleSearch();
});
q.addEventListener('blur', () => { typing = false; });

$('search-form').addEventListener('submit', (e) => {
  e.preventDefault();
  typing = false;
  runSearch();
});

for (const r of document.querySelectorAll('input[name=mode]')) {
  r.addEventListener('change', () => {
    state.mode = r.value;
    writeURL(true);
    typing = false;
    runSearch();
  });
}

picker.addEventListener('change', () => {
  state.collection = picker.value;
  state.filters = []; // the documents' metadata; a collection has its own payload keys
  writeURL(true);
  typing = false;
  showState();
  runSearch();
});

window.addEventListener('popstate', () => {
  const before = { c: state.collection, q: state.q, mode: state.mode, f: state.filters.join('&') };
  readURL();
  showState();
  typing = false;
  if (state.doc) {
    if (readerShows() !== state.doc) openReader(state.doc, lastResults.find((r) => r.id === state.doc));
  } else closeReader();
  if (before.c !== state.collection || before.q !== state.q || before.mode !== state.mode ||
    before.f !== state.filters.join('&')) runSearch();
});

// Keyboard: / focuses the search box, arrows walk the results (Enter
// follows the focused link), Escape closes the reader (the dialog's own).
document.addEventListener('keydown', (e) => {
  const t = e.target;
  const editing = t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t.isContentEditable;
  if (e.key === '/' && !editing && !document.querySelector('dialog[open]')) {
    e.preventDefault();
    q.focus();
    q.select();
    return;
  }
  if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
  const links = [...results.querySelectorAll('.result')];
  if (t === q && e.key === 'ArrowDown' && links.length) {
    e.preventDefault();
    links[0].focus();
    return;
  }
  const i = links.indexOf(t);
  if (i < 0) return;
  e.preventDefault();
  if (e.key === 'ArrowDown') links[Math.min(i + 1, links.length - 1)].focus();
  else if (i === 0) q.focus();
  else links[i - 1].focus();
});

// ---- start ----

readURL();
showState();
initLibrary();
refreshCollections();
refreshHealth().then(() => {
  if (state.q) {
    runSearch().then(() => {
      if (state.doc) openReader(state.doc, lastResults.find((r) => r.id === state.doc));
    });
  } else if (state.doc) openReader(state.doc);
});
