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

/** snippet turns the server's snippet HTML (escaped text and <mark>) into
 * nodes, keeping only text and <mark>: whatever else arrived stays text. */
export function snippet(html) {
  const parsed = new DOMParser().parseFromString(`<body>${html}</body>`, 'text/html');
  const out = document.createDocumentFragment();
  for (const n of parsed.body.childNodes) {
    if (n.nodeName === 'MARK') out.append(el('mark', {}, n.textContent));
    else out.append(n.textContent);
  }
  return out;
}

/** plainSnippet is the snippet's text without marks or the "…" of its cuts. */
export function plainSnippet(html) {
  const parsed = new DOMParser().parseFromString(`<body>${html}</body>`, 'text/html');
  return parsed.body.textContent.replace(/^…|…$/g, '').trim();
}

/** findPassage locates a snippet's text in the full text, where white space
 * may differ, and returns [start, end) or null. Words cut at the ends are
 * dropped until the rest is found. */
export function findPassage(text, plain) {
  let words = plain.split(/\s+/).filter(Boolean);
  const esc = (w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  for (let tries = 0; words.length > 0 && tries < 6; tries++) {
    const m = new RegExp(words.map(esc).join('\\s+')).exec(text);
    if (m) return [m.index, m.index + m[0].length];
    words = tries % 2 === 0 ? words.slice(1) : words.slice(0, -1);
  }
  return null;
}

export function plural(n, one, many = one + 's') {
  return `${n} ${n === 1 ? one : many}`;
}
