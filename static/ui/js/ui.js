// Small DOM helpers shared by every page. Text always goes in as text (never as
// HTML), so catalog content cannot inject markup into the interface.

/**
 * Build an element: h('button', { class: 'btn', onclick: save }, 'Save').
 * Attributes starting with "on" become listeners; `dataset` and `style` take objects;
 * true/false toggle boolean attributes; children may be strings, nodes, arrays or null.
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'dataset') {
      Object.assign(node.dataset, value);
    } else if (name === 'style' && typeof value === 'object') {
      Object.assign(node.style, value);
    } else if (name === 'value' && 'value' in node) {
      node.value = value;
    } else if (value === true) {
      node.setAttribute(name, '');
    } else {
      node.setAttribute(name, String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace everything inside `node` with `children`. */
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** A short message at the corner of the screen; kind is "info", "success" or "error". */
export function toast(message, kind = 'info') {
  const region = document.getElementById('toasts');
  const item = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('span', {}, message),
    h('button', { class: 'toast-close', type: 'button', 'aria-label': 'Dismiss', onclick: () => item.remove() }, '×'));
  region.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 3500);
  return item;
}

/** The words to show for a failure: the API's message, or a plain fallback. */
export function errorText(error) {
  if (!error) return 'Something went wrong.';
  return error.message || String(error);
}

/** A visible error box for a page or section (role=alert so it is announced). */
export function errorBox(error, retry) {
  return h('div', { class: 'alert alert-error', role: 'alert' },
    h('span', {}, errorText(error)),
    retry ? h('button', { class: 'btn btn-small', type: 'button', onclick: retry }, 'Try again') : null);
}

/** A centered placeholder for "nothing here" states. */
export function emptyState(title, detail, action) {
  return h('div', { class: 'empty' },
    h('p', { class: 'empty-title' }, title),
    detail ? h('p', { class: 'muted' }, detail) : null,
    action || null);
}

export function spinner(label = 'Loading…') {
  return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), label);
}

/** A labelled form field: label, control, optional hint, and a slot for its error. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  control.setAttribute('aria-describedby', `${id}-error`);
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    control,
    hint ? h('p', { class: 'hint' }, hint) : null,
    error);
}

/** Clear every field error in `form`. */
export function clearFieldErrors(form) {
  for (const node of form.querySelectorAll('.field-error')) {
    node.hidden = true;
    node.textContent = '';
  }
  for (const node of form.querySelectorAll('[aria-invalid]')) node.removeAttribute('aria-invalid');
}

/**
 * Show an API error next to the control it names (controls carry `name` or
 * `data-field` equal to the API field: "price", "attributes.colour"), and answer
 * whether one was found. The caller shows a toast or box when it answers false.
 */
export function showFieldError(form, error) {
  clearFieldErrors(form);
  if (!error || !error.field) return false;
  const candidates = [error.field, error.field.split('.')[0], error.field.replace(/\[\d+\].*$/, '')];
  for (const name of candidates.filter(Boolean)) {
    const control = form.querySelector(`[data-field="${CSS.escape(name)}"], [name="${CSS.escape(name)}"]`);
    if (!control) continue;
    control.setAttribute('aria-invalid', 'true');
    const slot = document.getElementById(`${control.id}-error`);
    if (slot) {
      slot.textContent = errorText(error);
      slot.hidden = false;
    }
    control.focus();
    return true;
  }
  return false;
}

/** Ask for confirmation in a modal dialog; answers true when the user confirms. */
export function confirmDialog(message, { confirm = 'Delete', danger = true } = {}) {
  return new Promise((resolve) => {
    // Named by its message, so a screen reader says what it asks when it opens.
    const messageId = `confirm-${Math.random().toString(36).slice(2, 9)}`;
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': messageId },
      h('form', { method: 'dialog' },
        h('p', { id: messageId }, message),
        h('div', { class: 'dialog-actions' },
          h('button', { class: 'btn', value: 'cancel' }, 'Cancel'),
          h('button', { class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, value: 'ok' }, confirm))));
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** "1,234.50 EUR" from the API's decimal strings ("1234.5000"). */
export function money(amount, currency = 'EUR') {
  if (amount === null || amount === undefined || amount === '') return '—';
  const number = Number(amount);
  if (!Number.isFinite(number)) return String(amount);
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(number);
  } catch {
    return `${number.toFixed(2)} ${currency}`;
  }
}

/** "2026-11-27 14:05" in the user's time zone from an ISO timestamp. */
export function dateTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

const STATUS_LABELS = { active: 'Active', draft: 'Draft', archived: 'Archived', out_of_stock: 'Out of stock' };

/** A coloured badge for a product status. */
export function statusBadge(status) {
  return h('span', { class: `badge badge-${status}` }, STATUS_LABELS[status] || status);
}

export function debounce(fn, ms = 250) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** Set the document title for a page. */
export function title(text) {
  document.title = text ? `${text} · MicroPIM` : 'MicroPIM';
}

/**
 * Make `zone` accept dropped files (and clicks anywhere in it, which open a file
 * picker); `onFiles` gets an array of File objects. Answers the hidden <input type=file>
 * (for tests). The zone holds other content, so it is not a button itself: put a real
 * <button type=button> inside it for keyboard and screen-reader users (its click
 * reaches the zone and opens the picker).
 */
export function dropZone(zone, onFiles, { accept = 'image/*', multiple = false } = {}) {
  const input = h('input', { type: 'file', accept, multiple, class: 'visually-hidden', tabindex: '-1' });
  input.addEventListener('change', () => {
    if (input.files.length) onFiles([...input.files]);
    input.value = '';
  });
  zone.append(input);
  zone.addEventListener('click', (event) => {
    if (event.target !== input && !event.target.closest('a, input, select, textarea')) input.click();
  });
  for (const type of ['dragenter', 'dragover']) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add('is-dragging');
    });
  }
  for (const type of ['dragleave', 'drop']) {
    zone.addEventListener(type, () => zone.classList.remove('is-dragging'));
  }
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    const files = [...(event.dataTransfer ? event.dataTransfer.files : [])];
    if (files.length) onFiles(multiple ? files : files.slice(0, 1));
  });
  return input;
}

/** An <option>; `selected` marks the chosen one. */
export function option(value, label, selected = false) {
  return h('option', { value, selected }, label);
}

/** A one-line text box for a form: no browser autofill (the values are catalog data). */
export function textInput(name, { type = 'text', ...attrs } = {}) {
  return h('input', { type, name, autocomplete: 'off', ...attrs });
}

/** A media URL's resized copy `width` pixels wide (the server's `?w=`); null for none. */
export function thumbnail(url, width) {
  if (!url) return null;
  return `${url}${String(url).includes('?') ? '&' : '?'}w=${width}`;
}

/**
 * Cut text gets a tooltip: each `[data-clip]` element in `root` whose content does not
 * fit (CSS ends it with an ellipsis) gets a title with the whole text (the attribute's
 * value, else the element's text); one that fits gets none. Call it after drawing and
 * when the width changes.
 */
export function titleClipped(root) {
  for (const node of root.querySelectorAll('[data-clip]')) {
    if (node.scrollWidth > node.clientWidth + 1) node.title = node.dataset.clip || node.textContent.trim();
    else node.removeAttribute('title');
  }
}

/** "1.4 MB" for a byte count. */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** "99.9900" → "99.99", "12" → "12.00": an API decimal as a person types it (at least
 *  two places, no trailing zeros); null → "". */
export function decimalText(value) {
  if (value === null || value === undefined || value === '') return '';
  const [whole, fraction = ''] = String(value).split('.');
  return `${whole}.${fraction.replace(/0+$/, '').padEnd(2, '0')}`;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * An inline outline icon from path data (h() makes HTML elements; SVG needs its own
 * namespace). Hidden from screen readers: the control around it carries the name.
 */
export function svgIcon(paths, { viewBox = '0 0 20 20', size = null, className = 'icon' } = {}) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', viewBox);
  if (size) {
    svg.setAttribute('width', String(size));
    svg.setAttribute('height', String(size));
  }
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', className);
  for (const d of [paths].flat()) {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}
