// reader.js: the whole document in a dialog, with the passage that matched
// highlighted and scrolled into view, and "more like this".

import { call } from './api.js';
import { byteIndex, el, marked } from './dom.js';
import { failed, readerClosed, resultItem } from './app.js';

const $ = (id) => document.getElementById(id);
const dialog = $('reader');
const text = $('reader-text');
const similar = $('similar');
const similarList = $('similar-list');
let current = null; // {doc, hit}: what the reader shows
let loading = 0;

let showing = ''; // id of the document the reader shows or is loading

/** readerShows returns the id of the document open in the reader, or "". */
export const readerShows = () => (dialog.open ? showing : '');

/** openReader shows document id; hit, a search or similar result for it,
 * says which passage to highlight and offers "more like this passage". */
export async function openReader(id, hit) {
  const my = ++loading;
  showing = id;
  if (!dialog.open) dialog.showModal();
  $('reader-title').textContent = hit ? hit.title || id : id;
  $('reader-meta').textContent = 'Loading…';
  text.replaceChildren();
  similar.hidden = true;
  $('like-passage').hidden = !hit || hit.chunk === undefined;
  try {
    const doc = await call('documents/' + encodeURIComponent(id));
    if (my !== loading) return;
    current = { doc, hit };
    draw(doc, hit);
  } catch (err) {
    if (my !== loading) return;
    failed(err, (msg) => { $('reader-meta').textContent = msg; });
    if (err.status === 404) $('reader-meta').textContent = 'This document is no longer in the index: it was deleted or replaced.';
  }
}

function draw(doc, hit) {
  $('reader-title').textContent = doc.title || doc.id;
  const bits = [];
  if (doc.source) bits.push(doc.source);
  for (const [k, v] of Object.entries(doc.metadata || {})) bits.push(`${k}: ${v}`);
  bits.push(`${doc.chunks} ${doc.chunks === 1 ? 'chunk' : 'chunks'}`);
  bits.push(`added ${new Date(doc.created).toLocaleString()}`);
  $('reader-meta').textContent = bits.join(' · ');
  // The hit's span says where its chunk lies in this text, in bytes; a
  // document replaced since the search may no longer hold it.
  const span = hit && hit.span;
  const idx = span ? byteIndex(doc.text, [span.start, span.end, ...(span.matches || []).flat()]) : null;
  const [from, to] = idx ? [idx(span.start), idx(span.end)] : [0, 0];
  if (!idx || from >= to || new TextEncoder().encode(doc.text).length < span.end) {
    text.replaceChildren(doc.text);
    text.scrollTop = 0;
    return;
  }
  const mark = el('mark', { className: 'passage', id: 'passage' }, marked(doc.text, span.matches, idx, from, to, 'term'));
  text.replaceChildren(doc.text.slice(0, from), mark, doc.text.slice(to));
  // Instant, not smooth: the passage must be in view as soon as it is
  // drawn. A passage taller than the box is scrolled to its first match.
  const first = mark.querySelector('mark.term');
  const target = first && mark.offsetHeight > text.clientHeight ? first : mark;
  target.scrollIntoView({ block: 'center', behavior: 'instant' });
}

async function moreLike(chunk) {
  if (!current) return;
  const p = new URLSearchParams({ k: '5' });
  if (chunk !== undefined) p.set('chunk', String(chunk));
  similar.hidden = false;
  $('similar-title').textContent = chunk === undefined ? 'Documents like this one' : 'Documents like this passage';
  similarList.replaceChildren(el('li', { className: 'muted' }, 'Looking…'));
  try {
    const ans = await call(`documents/${encodeURIComponent(current.doc.id)}/similar?${p}`);
    if (ans.results.length === 0) {
      similarList.replaceChildren(el('li', { className: 'muted' }, 'No other documents yet.'));
      return;
    }
    similarList.replaceChildren(...ans.results.map((r, i) => resultItem(r, `s${i}`, (hit) => {
      const u = new URL(location.href);
      u.searchParams.set('doc', hit.id);
      u.searchParams.set('chunk', String(hit.chunk));
      history.pushState({ depth: ((history.state && history.state.depth) || 0) + 1 }, '', u);
      openReader(hit.id, hit);
    })));
    similar.scrollIntoView({ block: 'nearest', behavior: 'instant' });
  } catch (err) {
    failed(err, (msg) => similarList.replaceChildren(el('li', { className: 'error' }, msg)));
  }
}

/** closeReader closes the reader without touching the URL (popstate did). */
export function closeReader() {
  loading++;
  current = null;
  if (dialog.open) dialog.close('nav');
}

$('like-doc').addEventListener('click', () => moreLike(undefined));
$('like-passage').addEventListener('click', () => current && current.hit && moreLike(current.hit.chunk));
$('reader-close').addEventListener('click', () => dialog.close());
dialog.addEventListener('close', () => {
  if (dialog.returnValue !== 'nav') readerClosed();
  dialog.returnValue = '';
});
// Clicks on the backdrop (outside the dialog's box) close it, as people expect.
dialog.addEventListener('click', (e) => {
  if (e.target !== dialog) return;
  const r = dialog.getBoundingClientRect();
  if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) dialog.close();
});

