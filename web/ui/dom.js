// dom.js: small helpers to build elements without innerHTML, so text from
// documents can never become markup.

/** el makes an element: attrs set properties (or attributes for names
 * with a dash), children are nodes or strings. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.includes('-') || k === 'role') node.setAttribute(k, v);
    else node[k] = v;
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

/** byteIndex returns a function from UTF-8 byte offsets into text to
 * indexes of its UTF-16 code units (what String.slice takes), for the
 * offsets given, in one pass over text. The API counts offsets in bytes
 * (its answers say "offsets": "utf-8"); an offset inside a character
 * maps to the character's start, one past the end to text.length. */
export function byteIndex(text, offsets) {
  const want = [...new Set(offsets)].sort((a, b) => a - b);
  const at = new Map();
  let bytes = 0;
  let k = 0;
  for (let i = 0; k < want.length && i < text.length;) {
    const cp = text.codePointAt(i);
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    while (k < want.length && want[k] < bytes + n) at.set(want[k++], i);
    bytes += n;
    i += cp > 0xffff ? 2 : 1;
  }
  while (k < want.length) at.set(want[k++], text.length);
  return (off) => at.get(off);
}

/** marked returns text[from, to) (code unit indexes) as nodes, with the
 * byte ranges of matches (converted by idx) in <mark class=cls>; matches
 * out of order or outside [from, to) are left unmarked. */
export function marked(text, matches, idx, from = 0, to = text.length, cls = '') {
  const out = document.createDocumentFragment();
  let pos = from;
  for (const [a, b] of matches || []) {
    const i = idx(a);
    const j = idx(b);
    if (i === undefined || j === undefined || i < pos || j > to || i >= j) continue;
    out.append(text.slice(pos, i), el('mark', { className: cls }, text.slice(i, j)));
    pos = j;
  }
  out.append(text.slice(pos, to));
  return out;
}

/** passage returns a result's passage (text and byte offsets of its
 * matches) as nodes, the matches in <mark>. */
export function passage(p) {
  if (!p || typeof p.text !== 'string') return document.createDocumentFragment();
  const idx = byteIndex(p.text, (p.matches || []).flat());
  return marked(p.text, p.matches, idx);
}

export function plural(n, one, many = one + 's') {
  return `${n} ${n === 1 ? one : many}`;
}
