// library.js: adding documents (files or a pasted text) and the paged list
// of what is indexed, with delete.

import { call, upload } from './api.js';
import { el, plural } from './dom.js';
import { failed, refreshAll } from './app.js';
import { openReader } from './reader.js';

const $ = (id) => document.getElementById(id);
const PAGE = 20;
const TYPES = ['.txt', '.text', '.md', '.markdown', '.html', '.htm', '.xhtml', '.pdf', '.jsonl', '.ndjson', '.csv'];
let offset = 0;
let queue = Promise.resolve(); // uploads go one at a time: the server embeds them in turn anyway

// ---- uploads ----

function addFiles(files) {
  for (const f of files) {
    const bar = el('progress', { max: 1, value: 0, 'aria-label': `Uploading ${f.name}` });
    const note = el('span', { className: 'note' }, 'Waiting…');
    const item = el('li', { className: 'upload' }, el('span', { className: 'name' }, f.name), bar, note);
    $('uploads').append(item);
    const done = (ok, msg) => {
      item.classList.add(ok ? 'ok' : 'failed');
      note.textContent = msg;
      bar.value = ok ? 1 : bar.value;
      bar.hidden = true;
    };
    const ext = f.name.includes('.') ? f.name.slice(f.name.lastIndexOf('.')).toLowerCase() : '';
    if (!TYPES.includes(ext)) {
      done(false, `Not added: ${ext || 'files without an extension'} can't be read. Use ${TYPES.join(' ')}.`);
      continue;
    }
    queue = queue.then(async () => {
      note.textContent = 'Uploading…';
      try {
        const ans = await upload(f, (p) => {
          bar.value = p;
          if (p >= 1) note.textContent = 'Indexing…';
        });
        done(true, `Added ${plural(ans.ids.length, 'document')}, ${plural(ans.chunks, 'chunk')}.`);
        refreshAll();
      } catch (err) {
        failed(err, (msg) => done(false, `Not added. ${msg}`));
      }
    });
  }
}

function initUploads() {
  const drop = $('drop');
  $('files').addEventListener('change', (e) => {
    addFiles([...e.target.files]);
    e.target.value = '';
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    addFiles([...e.dataTransfer.files]);
  });
  $('paste').addEventListener('submit', async (e) => {
    e.preventDefault();
    const title = $('paste-title').value.trim();
    const text = $('paste-text').value;
    const say = (m) => { $('paste-status').textContent = m; };
    if (!text.trim()) return say('Paste some text first.');
    say('Adding…');
    try {
      await call('documents', { method: 'POST', body: title ? { title, text } : { text } });
      say(`Added “${title || 'untitled text'}”.`);
      $('paste-title').value = '';
      $('paste-text').value = '';
      refreshAll();
    } catch (err) {
      failed(err, (msg) => say(`Not added. ${msg}`));
    }
  });
}

// ---- the list ----

/** refreshDocuments redraws the current page of the document list, newest
 * first, so what was just added is at the top. */
export async function refreshDocuments() {
  const list = $('doc-list');
  try {
    let ans = await call(`documents?order=newest&offset=${offset}&limit=${PAGE}`);
    if (ans.documents.length === 0 && offset > 0) { // the last page emptied
      offset = Math.max(0, Math.floor((ans.total - 1) / PAGE) * PAGE);
      ans = await call(`documents?order=newest&offset=${offset}&limit=${PAGE}`);
    }
    draw(ans);
  } catch (err) {
    failed(err, (msg) => {
      list.replaceChildren(el('li', { className: 'error' }, msg));
      $('counts').textContent = '';
    });
  }
}

function draw(ans) {
  const list = $('doc-list');
  $('counts').textContent = ans.total === 0
    ? 'No documents yet. Add some above, or run `edgesearch import ~/docs` on the server.'
    : `${plural(ans.total, 'document')}`;
  list.replaceChildren(...ans.documents.map((d) => {
    const name = d.title || d.id;
    const open = el('button', { type: 'button', className: 'link' }, name);
    open.addEventListener('click', () => openReader(d.id));
    const del = el('button', { type: 'button', className: 'danger', 'aria-label': `Delete ${name}` }, 'Delete');
    del.addEventListener('click', () => remove(d, name, del));
    return el('li', { className: 'doc', 'data-id': d.id },
      el('div', { className: 'what' }, open,
        el('span', { className: 'where' }, [d.source, plural(d.chunks, 'chunk'), `added ${new Date(d.created).toLocaleDateString()}`].filter(Boolean).join(' · '))),
      del);
  }));
  const last = Math.min(offset + PAGE, ans.total);
  $('page-info').textContent = ans.total ? `${offset + 1}–${last} of ${ans.total}` : '';
  $('prev').disabled = offset === 0;
  $('next').disabled = last >= ans.total;
}

async function remove(d, name, button) {
  if (!confirm(`Delete “${name}”? It will no longer be found by search. This cannot be undone.`)) return;
  button.disabled = true;
  try {
    await call('documents/' + encodeURIComponent(d.id), { method: 'DELETE' });
    refreshAll();
  } catch (err) {
    button.disabled = false;
    failed(err, (msg) => { $('counts').textContent = `Not deleted. ${msg}`; });
  }
}

export function initLibrary() {
  initUploads();
  $('prev').addEventListener('click', () => { offset = Math.max(0, offset - PAGE); refreshDocuments(); });
  $('next').addEventListener('click', () => { offset += PAGE; refreshDocuments(); });
  refreshDocuments();
}
