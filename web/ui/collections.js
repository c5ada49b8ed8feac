// collections.js: the picker of what to search (the documents, or one
// collection of points from the vector store) and the results of a search
// in a collection. Payloads come from whoever wrote the points: they only
// ever become text nodes.

import { call } from './api.js';
import { el, plural } from './dom.js';

const picker = document.getElementById('collection');
const TEXT_MAX = 600; // characters of a point's text shown; the rest is cut with "…"
const VALUE_MAX = 80; // characters of one other payload value
const FIELDS_MAX = 10; // other payload keys shown per point

let known = new Map(); // name → {name, points, text_field, searchable, reason, …}

/** loadCollections asks the server for its collections and redraws the
 * picker with `selected` chosen. It throws the ApiError of a failed call;
 * the picker keeps what it showed. */
export async function loadCollections(selected) {
  const ans = await call('collections');
  known = new Map(ans.collections.map((c) => [c.name, c]));
  drawPicker(selected);
}

/** drawPicker lists "Documents" and every collection, the ones the page
 * cannot search disabled with the server's reason. The documents seen as a
 * collection of chunks are left out: "Documents" searches them better. A selected name the
 * server did not list stays as an option of its own, so the picker always
 * shows what the page searches. The picker hides while there is nothing
 * to pick but the documents. */
export function drawPicker(selected) {
  const opts = [el('option', { value: '' }, 'Documents')];
  for (const c of known.values()) {
    if (c.documents) continue;
    const label = `${c.name} (${plural(c.points, 'point')})`;
    opts.push(c.searchable
      ? el('option', { value: c.name }, label)
      : el('option', { value: c.name, disabled: true }, `${label}: can't search, ${c.reason}`));
  }
  if (selected && !opts.some((o) => o.value === selected)) opts.push(el('option', { value: selected }, selected));
  picker.replaceChildren(...opts);
  picker.value = selected;
  document.getElementById('scope').hidden = opts.length === 1;
}

/** searchCollection runs a query in collection name. */
export function searchCollection(name, query, signal) {
  return call(`collections/${encodeURIComponent(name)}/search`,
    { method: 'POST', body: { query, limit: 20 }, signal });
}

/** pointItem is one point found: its text with the query's words marked,
 * then its id, score and the rest of its payload, compact. It is focusable
 * so the arrow keys walk points as they walk documents. */
export function pointItem(r, i, textField, query) {
  const text = typeof r.text === 'string' ? r.text : null;
  const others = Object.entries(r.payload || {}).filter(([k]) => k !== textField);
  const fields = others.slice(0, FIELDS_MAX).map(([k, v]) =>
    el('span', { className: 'field' }, el('span', { className: 'key' }, `${k}:`), ' ', show(v)));
  if (others.length > FIELDS_MAX) fields.push(el('span', { className: 'field more' }, `+${others.length - FIELDS_MAX} more`));
  return el('li', {}, el('div', { className: 'result point', id: `r${i}`, tabIndex: 0 },
    text === null
      ? el('span', { className: 'snippet missing' }, textField ? `No “${textField}” text in this point.` : 'This point has no text.')
      : el('span', { className: 'snippet' }, marked(cut(text, TEXT_MAX), query)),
    el('span', { className: 'where' },
      el('span', { className: 'pid' }, `id ${r.id}`),
      el('span', { className: 'score', title: 'score' }, r.score.toFixed(3))),
    fields.length ? el('span', { className: 'fields' }, fields) : null));
}

/** idleText says what typing will search in collection name. */
export function idleText(name) {
  const c = known.get(name);
  if (!c) return `Type to search the collection “${name}”.`;
  return `Type to search ${plural(c.points, 'point')} of “${name}” by meaning` +
    (c.text_field ? ` (their “${c.text_field}” text).` : '.');
}

function cut(s, n) {
  return s.length > n ? s.slice(0, n).trimEnd() + '…' : s;
}

function show(v) {
  return cut(typeof v === 'string' ? v : JSON.stringify(v), VALUE_MAX);
}

// marked returns text as nodes with the query's words (3 letters or more)
// in <mark>, matched without regard to case; a semantic hit may have none.
function marked(text, query) {
  const words = [...new Set(query.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) || [])];
  if (words.length === 0) return [text];
  const esc = (w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`(${words.map(esc).join('|')})`, 'giu');
  return text.split(re).map((part, i) => (i % 2 ? el('mark', {}, part) : part)).filter((p) => p !== '');
}
