// api.js: every call to the edgesearch HTTP API goes through here, so the
// API key, error answers and an unreachable server are handled in one place.

const KEY = 'edgesearch.apiKey';

/** ApiError is an answer the page can explain: kind is "unreachable",
 * "unauthorized", "starting" or "error" (the server's own message). */
export class ApiError extends Error {
  constructor(kind, message, status = 0) {
    super(message);
    this.kind = kind;
    this.status = status;
  }
}

export const apiKey = {
  get: () => localStorage.getItem(KEY) || '',
  set: (k) => (k ? localStorage.setItem(KEY, k) : localStorage.removeItem(KEY)),
};

function headers(extra = {}) {
  const h = { Accept: 'application/json', ...extra };
  const k = apiKey.get();
  if (k) h['X-API-Key'] = k;
  return h;
}

// explain turns a non-2xx answer into an ApiError with the server's message.
async function explain(res) {
  let msg = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && body.error) msg = body.error;
  } catch { /* not JSON: keep the status line */ }
  if (res.status === 401) return new ApiError('unauthorized', msg, 401);
  if (res.status === 503) return new ApiError('starting', msg, 503);
  return new ApiError('error', msg, res.status);
}

/** call fetches path and returns its JSON (null for 204). */
export async function call(path, { method = 'GET', body, signal } = {}) {
  const init = { method, signal, headers: headers() };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError('unreachable', `Can't reach the edgesearch server at ${location.host}.`);
  }
  if (!res.ok) throw await explain(res);
  return res.status === 204 ? null : res.json();
}

/** upload sends one file as multipart, reporting progress as 0..1. XHR,
 * because fetch cannot report upload progress. */
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', 'documents');
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new ApiError('unreachable', `Can't reach the edgesearch server at ${location.host}.`));
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* keep null */ }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(body);
      const msg = (body && body.error) || `${xhr.status} ${xhr.statusText}`;
      const kind = xhr.status === 401 ? 'unauthorized' : xhr.status === 503 ? 'starting' : 'error';
      reject(new ApiError(kind, msg, xhr.status));
    };
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}
