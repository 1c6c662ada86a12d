// The REST API client every page uses: the key from session storage, the
// {status, data, error} envelope unwrapped, and every failure turned into an
// ApiError whose message a person can read.

const KEY_NAME = 'micropim.key';

export function getKey() {
  return sessionStorage.getItem(KEY_NAME);
}

export function setKey(key) {
  sessionStorage.setItem(KEY_NAME, key);
}

export function clearKey() {
  sessionStorage.removeItem(KEY_NAME);
}

/** A failed call. `field` is the body or query field the server named, if any. */
export class ApiError extends Error {
  constructor(message, { status = 0, field = null } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.field = field;
  }
}

// The server's messages start with the field they are about: "price: must be …",
// "attributes.colour: must be one of …". The part before the first ": " is the field
// when it looks like a name (letters, digits, dots, brackets, underscores), or starts
// with a list index as the errors of a list body do: "[0].quantity: must be …".
const FIELD_PREFIX = /^((?:\[\d+\]\.?)?[A-Za-z_][\w.\[\]-]*|\[\d+\]): /;

function fieldOf(message) {
  const found = FIELD_PREFIX.exec(message || '');
  return found ? found[1] : null;
}

function describeStatus(status, header) {
  if (status === 401) return 'Your API key was not accepted. Sign in again.';
  if (status === 403) return 'This key has no access to the organization.';
  if (status === 404) return 'Not found. It may have been deleted.';
  if (status === 413) return 'That is too large for the server to accept.';
  if (status === 429) {
    const wait = header('Retry-After');
    return `Too many requests. Try again in ${wait || 'a few'} seconds.`;
  }
  if (status === 503) return 'The server is busy. Try again in a moment.';
  return `The server answered ${status}.`;
}

function queryString(query) {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/**
 * Call the API and answer the envelope's `data`.
 *
 *   await api('GET', '/api/products', { query: { search: 'mug', page: 2 } })
 *   await api('PATCH', `/api/products/${id}`, { body: { price: '9.90' } })
 *   await api('POST', `/api/products/${id}/media`, { form: formData })
 *
 * Throws ApiError. A 401 also signs the user out (the `micropim:signed-out` event),
 * except while signing in (`checkingKey`), where the caller explains it.
 */
export async function api(method, path, { query, body, form, signal, checkingKey = false } = {}) {
  const headers = { Accept: 'application/json' };
  const key = getKey();
  if (key) headers['X-API-KEY'] = key;
  let payload;
  if (form !== undefined) {
    payload = form; // the browser sets the multipart boundary
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path + queryString(query), { method, headers, body: payload, signal });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError('Cannot reach the MicroPIM server. Check that it is running and try again.');
  }
  let envelope = null;
  if ((response.headers.get('Content-Type') || '').startsWith('application/json')) {
    try {
      envelope = await response.json();
    } catch {
      envelope = null;
    }
  }
  return unwrap(response.status, envelope, key, checkingKey, (name) => response.headers.get(name));
}

/** The envelope's data, or the ApiError for it; a 401 signs the user out. */
function unwrap(status, envelope, key, checkingKey, header) {
  if (status === 401 && key && !checkingKey) {
    clearKey();
    window.dispatchEvent(new CustomEvent('micropim:signed-out', { detail: { expired: true } }));
  }
  if (envelope && envelope.status === 1 && status >= 200 && status < 300) return envelope.data;
  const message = (envelope && envelope.error) || describeStatus(status, header);
  throw new ApiError(message, { status, field: fieldOf(envelope && envelope.error) });
}

/**
 * POST a multipart form with upload progress (fetch cannot report it), answering the
 * envelope's data or throwing ApiError, as api() does.
 *
 *   await apiUpload(`/api/products/${id}/media`, form, { onProgress: (f) => bar.value = f })
 *
 * `onProgress` gets the fraction sent (0…1); `signal` aborts with an AbortError.
 */
export function apiUpload(path, form, { onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) {
      reject(new DOMException('The upload was aborted.', 'AbortError'));
      return;
    }
    const request = new XMLHttpRequest();
    request.open('POST', path);
    request.setRequestHeader('Accept', 'application/json');
    const key = getKey();
    if (key) request.setRequestHeader('X-API-KEY', key);
    if (onProgress) {
      request.upload.addEventListener('progress', (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      });
    }
    const onAbort = () => request.abort();
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
    const settle = () => { if (signal) signal.removeEventListener('abort', onAbort); };
    request.addEventListener('abort', () => {
      settle();
      reject(new DOMException('The upload was aborted.', 'AbortError'));
    });
    request.addEventListener('error', () => {
      settle();
      reject(new ApiError('Cannot reach the MicroPIM server. Check that it is running and try again.'));
    });
    request.addEventListener('load', () => {
      settle();
      let envelope = null;
      if ((request.getResponseHeader('Content-Type') || '').startsWith('application/json')) {
        try {
          envelope = JSON.parse(request.responseText);
        } catch {
          envelope = null;
        }
      }
      try {
        resolve(unwrap(request.status, envelope, key, false, (name) => request.getResponseHeader(name)));
      } catch (error) {
        reject(error);
      }
    });
    request.send(form);
  });
}

/**
 * GET a file the API answers instead of the envelope (an export), as a Blob with the
 * name its Content-Disposition gives; an error answer (the envelope) throws ApiError
 * as api() does.
 *
 *   const { blob, filename } = await apiDownload('/api/products/export', { query: { format: 'csv' } })
 */
export async function apiDownload(path, { query, signal } = {}) {
  const headers = {};
  const key = getKey();
  if (key) headers['X-API-KEY'] = key;
  let response;
  try {
    response = await fetch(path + queryString(query), { headers, signal });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError('Cannot reach the MicroPIM server. Check that it is running and try again.');
  }
  const type = response.headers.get('Content-Type') || '';
  if (!response.ok || type.startsWith('application/json')) {
    let envelope = null;
    try {
      envelope = await response.json();
    } catch {
      envelope = null;
    }
    unwrap(response.status, envelope, key, false, (name) => response.headers.get(name));
    throw new ApiError(`The server answered ${response.status}.`, { status: response.status });
  }
  const disposition = /filename="([^"]+)"/.exec(response.headers.get('Content-Disposition') || '');
  return { blob: await response.blob(), filename: disposition ? disposition[1] : 'export' };
}

/** Every item of a paged list, following pages (for short lists such as brands). */
export async function apiAll(path, itemsKey, { query = {}, signal } = {}) {
  const items = [];
  for (let page = 1; ; page += 1) {
    const data = await api('GET', path, { query: { ...query, page, limit: 100 }, signal });
    items.push(...data[itemsKey]);
    const pages = data.pagination ? data.pagination.total_pages : 1;
    if (page >= pages) return items;
  }
}
