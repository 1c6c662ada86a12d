// The import page (#/import): a CSV or NDJSON file of products or categories, checked
// and then imported by an import job on the server (POST /api/imports, followed with
// GET /api/imports/{id}).
//
// Choosing a file shows its first rows and what each column will set, read in the
// browser from the file's first 256 KB (the server reads the whole file again: its
// answer is the one that counts). "Dry run" runs the job without writing anything and
// lists the lines it would refuse, with the server's words; "Import" writes. A job
// being followed is in the address (#/import?job=7), so a reload follows it on; the
// job goes on on the server when the page is left.

import { api, apiAll, apiUpload } from '../api.js';
import {
  dateTime, dropZone, emptyState, errorBox, errorText, field, formatBytes, h, option, replace, title, toast,
} from '../ui.js';

const PREVIEW_ROWS = 10;
const PREVIEW_BYTES = 256 * 1024;
const POLL_MS = 500;
const RECENT = 10;
const FORMATS = { csv: 'CSV', ndjson: 'NDJSON' };
const KINDS = [['products', 'Products'], ['categories', 'Categories']];

// What a column of a products file sets (handlers/bulk.py PLAIN_COLUMNS, in its order).
const PRODUCT_COLUMNS = {
  sku: 'SKU: finds the product (or the variant, on a row with parent_sku)',
  parent_sku: 'Variant of the product with this SKU',
  name: 'Name',
  slug: 'Slug',
  description: 'Description (HTML, sanitised)',
  short_description: 'Short description',
  product_type: 'Product type',
  price: 'Price',
  sale_price: 'Sale price',
  cost_price: 'Cost price',
  currency: 'Currency',
  status: 'Status',
  stock: 'Stock in the default warehouse',
  ean: 'EAN',
  vat_rate: 'VAT rate, by name: "Standard (RO)" or "Standard (RO) 19%"',
  vat_rate_id: 'VAT rate, by id',
  brand: 'Brand, by name',
  brand_id: 'Brand, by id',
  supplier: 'Supplier, by name',
  supplier_id: 'Supplier, by id',
  categories: 'Categories, by path ("Apparel > Tops"), | between them',
  category_ids: 'Categories, by id, | between them',
  publishing_channels: 'Publishing channels, | between them',
  product_condition: 'Condition',
  images: 'Image URLs, fetched after the row is saved, | between them',
  cost: 'Variant cost',
  weight: 'Variant weight',
  stock_quantity: 'Variant stock',
  stock_status: 'Variant stock status',
  is_enabled: 'Variant enabled (true/false)',
  position: 'Variant position',
  image: 'Variant image: the URL of one of its product\'s images',
};
// What a key of an NDJSON line sets besides those.
const PRODUCT_KEYS = {
  ...PRODUCT_COLUMNS,
  attributes: 'Attributes (code → value)',
  translations: 'Translations (locale → texts)',
  variants: 'Variants, upserted by their SKU',
  stock_levels: 'Stock per warehouse (by warehouse_code or warehouse_id)',
};
// What an exported line shows that an import does not read (the README says why).
const READ_ONLY = { id: 'Not read: products are found by SKU', in_stock: 'Not read: follows the stock',
  available_translations: 'Not read: follows the translations', created_at: 'Not read', updated_at: 'Not read' };
const TRANSLATED = { name: 'Name', description: 'Description', short_description: 'Short description', slug: 'Slug' };
const CATEGORY_COLUMNS = {
  path: 'Path: finds the category ("Apparel > Tops"); missing parents are created',
  description: 'Description',
  slug: 'Slug',
};

// ---- reading the start of a file ------------------------------------------------------

/** The format from the file's name, or null (the server decides the same way). */
function formatOf(file) {
  const name = file.name.toLowerCase();
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.ndjson') || name.endsWith('.jsonl')) return 'ndjson';
  return null;
}

/** `;` when the header holds more of them than commas, as the server decides. */
function delimiterOf(headerLine) {
  const count = (ch) => headerLine.split(ch).length - 1;
  return count(';') > count(',') ? ';' : ',';
}

/**
 * The first `limit` non-blank records of CSV `text` (quotes as the server reads them:
 * "a ""b"" c", newlines inside quotes), each { cells, number }: its line number as the
 * import counts them (a record is one line whatever newlines its cells hold; blank
 * records are skipped but counted).
 */
function parseCsv(text, delimiter, limit) {
  const records = [];
  let number = 0;
  let record = [];
  let cell = '';
  let quoted = false;
  let i = 0;
  while (i < text.length && records.length < limit) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i += 2; continue; }
      if (ch === '"') { quoted = false; i += 1; continue; }
      cell += ch;
      i += 1;
      continue;
    }
    if (ch === '"' && cell === '') { quoted = true; i += 1; continue; }
    if (ch === delimiter) { record.push(cell); cell = ''; i += 1; continue; }
    if (ch === '\r' || ch === '\n') {
      record.push(cell);
      cell = '';
      number += 1;
      if (record.some((value) => value.trim() !== '')) records.push({ cells: record, number });
      record = [];
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
      continue;
    }
    cell += ch;
    i += 1;
  }
  if (records.length < limit && (cell !== '' || record.length)) {  // a last line without a newline
    record.push(cell);
    number += 1;
    if (record.some((value) => value.trim() !== '')) records.push({ cells: record, number });
  }
  return records;
}

/** The start of the file: { format, header, rows, error }, rows as arrays of cells. */
async function readStart(file) {
  const format = formatOf(file);
  if (!format) return { format, error: `${file.name} is not a .csv, .ndjson or .jsonl file.` };
  let text = await file.slice(0, PREVIEW_BYTES).text();
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a BOM, as the server drops it
  const whole = file.size <= PREVIEW_BYTES;
  if (format === 'csv') {
    const firstLine = text.split(/\r?\n/, 1)[0];
    const records = parseCsv(text, delimiterOf(firstLine), PREVIEW_ROWS + 2);
    if (!records.length) return { format, error: 'The file is empty.' };
    const [header, ...rows] = records;
    // Past PREVIEW_BYTES the last record read may be cut in half: it is not shown.
    const shown = rows.slice(0, whole ? PREVIEW_ROWS : Math.min(PREVIEW_ROWS, rows.length - 1));
    return { format, header: header.cells.map((name) => name.trim()), rows: shown.map((row) => row.cells),
      numbers: shown.map((row) => row.number), delimiter: delimiterOf(firstLine) };
  }
  const lines = text.split(/\r?\n/);
  if (!whole) lines.pop(); // cut by the preview
  const objects = [];
  for (const [index, line] of lines.entries()) {
    if (!line.trim()) continue;
    if (objects.length >= PREVIEW_ROWS) break;
    try {
      objects.push({ number: index + 1, value: JSON.parse(line) });
    } catch {
      objects.push({ number: index + 1, error: 'not JSON: this line will fail' });
    }
  }
  if (!objects.length) return { format, error: 'The file is empty.' };
  const header = [];
  for (const { value } of objects) {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const key of Object.keys(value)) if (!header.includes(key)) header.push(key);
    }
  }
  const cellOf = (value) => (value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value));
  const rows = objects.map(({ value, error }) => (error ? [error]
    : header.map((key) => cellOf(value && typeof value === 'object' ? value[key] : undefined))));
  return { format, header, rows, numbers: objects.map((item) => item.number) };
}

/**
 * What each column sets: [{ column, meaning, problem }]. `problem` is set for a column
 * the server refuses (the whole file then fails) or that needs the references option.
 */
function mapColumns(start, kind, known) {
  const seen = new Set();
  return start.header.map((column) => {
    if (seen.has(column)) return { column, problem: 'Named twice: the file is refused.' };
    seen.add(column);
    if (kind === 'categories') {
      return CATEGORY_COLUMNS[column] ? { column, meaning: CATEGORY_COLUMNS[column] }
        : { column, problem: 'Not a category field: the file is refused.' };
    }
    if (start.format === 'ndjson') {
      if (PRODUCT_KEYS[column]) return { column, meaning: PRODUCT_KEYS[column] };
      if (READ_ONLY[column]) return { column, meaning: READ_ONLY[column], note: true };
      return { column, problem: 'Not a product field: lines that have it fail.' };
    }
    if (PRODUCT_COLUMNS[column]) return { column, meaning: PRODUCT_COLUMNS[column] };
    const parts = column.split('.');
    if (parts[0] === 'attributes' && parts.length === 2 && parts[1]) {
      const attribute = known.attributes.get(parts[1]);
      return attribute ? { column, meaning: `Attribute “${attribute.name}” (${attribute.type})` }
        : { column, problem: `No attribute with code '${parts[1]}': the file is refused. Define it first.` };
    }
    if (parts[0] === 'translations' && parts.length === 3 && TRANSLATED[parts[2]]) {
      return { column, meaning: `${TRANSLATED[parts[2]]}, translated (${parts[1]})` };
    }
    if (parts[0] === 'stock_levels' && parts.length === 2 && parts[1]) {
      const warehouse = known.warehouses.get(parts[1]);
      return warehouse ? { column, meaning: `Stock in warehouse ${warehouse.name} (${parts[1]})` }
        : { column, meaning: `Stock in warehouse ${parts[1]}`,
          problem: `No warehouse with code ${parts[1]}: "Create what the file names" creates it, else its rows fail.`,
          soft: true };
    }
    return { column, problem: 'Not a product column: the file is refused.' };
  });
}

// ---- the page -------------------------------------------------------------------------

export async function render(view, ctx) {
  title('Import');
  const page = new ImportPage(view, ctx);
  return page.start();
}

class ImportPage {
  constructor(view, ctx) {
    this.view = view;
    this.ctx = ctx;
    this.file = null;
    this.head = null;
    this.known = { attributes: new Map(), warehouses: new Map() };
    this.polling = null;
    this.jobId = Number(ctx.query.get('job')) || null;
  }

  start() {
    this.kind = h('select', { name: 'kind' }, KINDS.map(([value, label]) => option(value, label)));
    if (this.ctx.query.get('kind') === 'categories') this.kind.value = 'categories';
    this.kind.addEventListener('change', () => this.showPreview());
    this.references = h('input', { type: 'checkbox', name: 'create_references' });
    this.referencesRow = h('label', { class: 'check' }, this.references,
      'Create what the file names and the catalog lacks: brands, suppliers, categories, VAT rates'
      + ' (when the rate is given) and warehouses');
    this.fileLine = h('p', { class: 'import-file', hidden: true });
    const zone = h('div', { class: 'dropzone import-dropzone' },
      h('span', { class: 'dropzone-icon', 'aria-hidden': 'true' }, '⇪'),
      h('strong', {}, 'Drop a CSV or NDJSON file here'),
      h('button', { class: 'btn btn-small', type: 'button' }, 'Choose a file…'),
      h('span', { class: 'small' }, 'CSV with a header row (, or ; between cells), or NDJSON (.ndjson, .jsonl): one JSON object per line'));
    this.fileInput = dropZone(zone, (files) => this.choose(files[0]), { accept: '.csv,.ndjson,.jsonl,text/csv,application/x-ndjson' });
    this.fileInput.setAttribute('aria-label', 'File to import');
    this.dryButton = h('button', { class: 'btn', type: 'button', disabled: true, onclick: () => this.run(true) }, 'Dry run');
    this.importButton = h('button', { class: 'btn btn-primary', type: 'button', disabled: true, onclick: () => this.run(false) }, 'Import');
    this.preview = h('section', { class: 'card import-preview', hidden: true, 'aria-labelledby': 'import-preview-title' });
    this.progress = h('section', { class: 'card import-progress', hidden: true, 'aria-labelledby': 'import-progress-title', 'aria-live': 'polite' });
    this.recent = h('section', { class: 'card import-recent', 'aria-labelledby': 'import-recent-title' });
    replace(this.view, h('div', { class: 'page import-page' },
      h('div', { class: 'page-header' }, h('h1', {}, 'Import')),
      h('p', { class: 'muted import-lede' },
        'Create or update many products at once (found by SKU), or categories (found by path). ',
        'A dry run checks every line and writes nothing. See the README’s “Bulk import and export” for the columns.'),
      h('section', { class: 'card import-choose', 'aria-label': 'File and options' },
        h('div', { class: 'import-options' }, field('The file holds', this.kind), this.referencesRow),
        zone,
        this.fileLine,
        h('div', { class: 'form-actions import-actions' }, this.dryButton, this.importButton)),
      this.preview,
      this.progress,
      this.recent));
    this.loadKnown();
    this.loadRecent();
    if (this.jobId) this.follow(this.jobId);
    return () => this.stopPolling();
  }

  async loadKnown() {
    try {
      const [attributes, warehouses] = await Promise.all([
        apiAll('/api/product-attributes', 'product_attributes', { signal: this.ctx.signal }),
        apiAll('/api/warehouses', 'warehouses', { signal: this.ctx.signal }),
      ]);
      this.known = { attributes: new Map(attributes.map((item) => [item.code, item])),
        warehouses: new Map(warehouses.map((item) => [item.code, item])) };
      if (this.head) this.showPreview();
    } catch (error) {
      if (error.name !== 'AbortError' && !this.ctx.signal.aborted) {
        toast(`The attributes and warehouses could not be loaded: ${errorText(error)}`, 'error');
      }
    }
  }

  async choose(file) {
    if (!file) return;
    this.file = file;
    replace(this.fileLine, h('strong', {}, file.name), ` · ${formatBytes(file.size)}`);
    this.fileLine.hidden = false;
    this.head = await readStart(file);
    if (this.ctx.signal.aborted || this.file !== file) return;
    this.showPreview();
  }

  showPreview() {
    const kind = this.kind.value;
    this.referencesRow.hidden = kind !== 'products';
    const start = this.head;
    if (!start) return;
    this.preview.hidden = false;
    const ready = !start.error;
    this.dryButton.disabled = !ready;
    this.importButton.disabled = !ready;
    if (start.error) {
      replace(this.preview, h('h2', { id: 'import-preview-title' }, 'Preview'),
        h('p', { class: 'alert alert-error', role: 'alert' }, start.error));
      return;
    }
    const columns = mapColumns(start, kind, this.known);
    const refused = columns.filter((item) => item.problem && !item.soft);
    replace(this.preview,
      h('div', { class: 'card-header' },
        h('h2', { id: 'import-preview-title' }, 'Preview'),
        h('span', { class: 'muted small' }, `${FORMATS[start.format]}${start.delimiter ? ` · ${start.delimiter === ';' ? 'semicolons' : 'commas'}` : ''}`
          + ` · first ${start.rows.length} ${start.rows.length === 1 ? 'row' : 'rows'}`)),
      refused.length
        ? h('p', { class: 'alert alert-error', role: 'alert' },
          `${refused.map((item) => item.column || '(empty)').join(', ')}: see below. `,
          start.format === 'csv' ? 'The server refuses a file whose header names an unknown column.' : '')
        : null,
      h('h3', { class: 'import-subtitle' }, 'Columns'),
      h('div', { class: 'table-wrap' }, h('table', { class: 'import-columns' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Column'), h('th', { scope: 'col' }, 'Sets'))),
        h('tbody', {}, columns.map((item) => h('tr', { class: item.problem ? (item.soft ? 'is-warning' : 'is-problem') : null },
          h('td', { class: 'mono' }, item.column || '(empty)'),
          h('td', {}, item.meaning ? h('span', { class: item.note ? 'muted' : null }, item.meaning) : null,
            item.problem ? h('span', { class: 'import-problem' }, item.meaning ? ` — ${item.problem}` : item.problem) : null)))))),
      h('h3', { class: 'import-subtitle' }, 'First rows'),
      h('div', { class: 'table-wrap' }, h('table', { class: 'import-rows' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Line'), start.header.map((name) => h('th', { scope: 'col' }, name)))),
        h('tbody', {}, start.rows.map((cells, index) => h('tr', {},
          h('td', { class: 'muted' }, String(start.numbers[index])),
          cells.map((cell) => h('td', { 'data-clip': '' }, cell))))))));
  }

  async run(dryRun) {
    if (!this.file) return;
    this.stopPolling();
    const kind = this.kind.value;
    const form = new FormData();
    form.append('file', this.file, this.file.name);
    const query = new URLSearchParams({ kind });
    if (dryRun) query.set('dry_run', 'true');
    if (kind === 'products' && this.references.checked) query.set('create_references', 'true');
    this.dryButton.disabled = true;
    this.importButton.disabled = true;
    const bar = h('progress', { max: 100, value: 0, 'aria-label': 'Upload' });
    const line = h('p', {}, `Uploading ${this.file.name}…`);
    this.showProgress(dryRun ? 'Dry run' : 'Import', line, bar);
    try {
      const job = await apiUpload(`/api/imports?${query}`, form, {
        signal: this.ctx.signal,
        onProgress: (fraction) => { bar.value = Math.round(fraction * 100); },
      });
      history.replaceState(null, '', `#/import?job=${job.id}`);
      this.jobId = job.id;
      this.follow(job.id, job);
    } catch (error) {
      if (error.name === 'AbortError' || this.ctx.signal.aborted) return;
      this.showProgress(dryRun ? 'Dry run' : 'Import', errorBox(error));
      this.dryButton.disabled = false;
      this.importButton.disabled = false;
    }
  }

  showProgress(heading, ...content) {
    this.progress.hidden = false;
    replace(this.progress, h('div', { class: 'card-header' }, h('h2', { id: 'import-progress-title' }, heading)), content);
  }

  stopPolling() {
    clearTimeout(this.polling);
    this.polling = null;
  }

  /** Follow the job until it ends, drawing its progress each time. */
  async follow(jobId, job = null) {
    this.stopPolling();
    try {
      const current = job || await api('GET', `/api/imports/${jobId}`, { signal: this.ctx.signal });
      if (this.ctx.signal.aborted || this.jobId !== jobId) return;
      this.drawJob(current);
      if (current.status === 'queued' || current.status === 'running') {
        this.polling = setTimeout(() => this.follow(jobId), POLL_MS);
      } else {
        if (this.file) {
          this.dryButton.disabled = false;
          this.importButton.disabled = false;
        }
        this.loadRecent();
      }
    } catch (error) {
      if (error.name === 'AbortError' || this.ctx.signal.aborted) return;
      this.showProgress('Import', errorBox(error, () => this.follow(jobId)));
    }
  }

  drawJob(job) {
    const running = job.status === 'queued' || job.status === 'running';
    const what = job.dry_run ? 'Dry run' : 'Import';
    const done = job.done_lines;
    const total = job.total_lines;
    const bar = h('progress', { max: Math.max(total, 1), value: running ? done : total,
      'aria-label': `${what} progress`, class: 'import-bar' });
    const counts = job.dry_run
      ? [['created', 'would be created'], ['updated', 'would be updated'], ['unchanged', 'unchanged'], ['failed', 'would fail']]
      : [['created', 'created'], ['updated', 'updated'], ['unchanged', 'unchanged'], ['failed', 'failed']];
    const summary = h('ul', { class: 'import-counts' }, counts.map(([key, label]) => h('li', { class: `import-count-${key}` },
      h('strong', {}, Number(job[key]).toLocaleString()), ` ${label}`)));
    const state = {
      queued: 'Waiting for the import before it to finish…',
      running: `${job.dry_run ? 'Checking' : 'Importing'} line ${done.toLocaleString()} of ${total.toLocaleString()}…`,
      done: job.dry_run ? `Checked all ${total.toLocaleString()} lines. Nothing was written.`
        : `Imported all ${total.toLocaleString()} lines.`,
      cancelled: `Cancelled after ${done.toLocaleString()} of ${total.toLocaleString()} lines${job.dry_run ? '' : '; those are written'}.`,
      interrupted: `The server stopped after ${done.toLocaleString()} of ${total.toLocaleString()} lines; those are written. Import the file again: the lines already there are unchanged.`,
      failed: `The file was refused: ${job.message || 'the import failed'}`,
    }[job.status] || job.status;
    const status = h('p', { class: `import-state import-state-${job.status}`, role: job.status === 'failed' ? 'alert' : null }, state);
    const cancel = running ? h('button', { class: 'btn btn-small btn-danger-ghost', type: 'button', onclick: () => this.cancel(job.id) }, 'Cancel') : null;
    const errors = job.errors.length ? [
      h('h3', { class: 'import-subtitle' }, job.failed > job.errors.length
        ? `The first ${job.errors.length.toLocaleString()} of ${job.failed.toLocaleString()} refused lines`
        : `Refused ${job.errors.length === 1 ? 'line' : 'lines'}`),
      h('div', { class: 'table-wrap' }, h('table', { class: 'import-errors' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Line'), h('th', { scope: 'col' }, job.kind === 'categories' ? 'Path' : 'SKU'),
          h('th', { scope: 'col' }, 'Why'))),
        h('tbody', {}, job.errors.map((item) => h('tr', {},
          h('td', {}, String(item.line)), h('td', { class: 'mono' }, item.sku || '—'), h('td', {}, item.error)))))),
    ] : [];
    const next = job.dry_run && job.status === 'done' && this.file
      ? h('p', { class: 'muted' }, job.failed ? 'Fix the refused lines, or import: each refused line is left out and the others are written.'
        : 'Every line passed. Import to write them.')
      : null;
    this.showProgress(`${what} of ${job.total_lines.toLocaleString()} lines`,
      h('div', { class: 'import-status-row' }, status, cancel), bar, summary, next, errors);
  }

  async cancel(jobId) {
    try {
      const job = await api('DELETE', `/api/imports/${jobId}`, { signal: this.ctx.signal });
      this.drawJob(job);
    } catch (error) {
      if (error.name !== 'AbortError') toast(errorText(error), 'error');
    }
  }

  async loadRecent() {
    try {
      const data = await api('GET', '/api/imports', { query: { limit: RECENT }, signal: this.ctx.signal });
      if (this.ctx.signal.aborted) return;
      this.drawRecent(data.imports);
    } catch (error) {
      if (error.name === 'AbortError' || this.ctx.signal.aborted) return;
      replace(this.recent, h('h2', { id: 'import-recent-title' }, 'Recent imports'), errorBox(error, () => this.loadRecent()));
    }
  }

  drawRecent(jobs) {
    const body = jobs.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'import-jobs' },
      h('thead', {}, h('tr', {}, ['Started', 'What', 'Lines', 'Created', 'Updated', 'Unchanged', 'Failed', 'Status']
        .map((name) => h('th', { scope: 'col' }, name)))),
      h('tbody', {}, jobs.map((job) => h('tr', {},
        h('td', {}, h('a', { href: `#/import?job=${job.id}` }, dateTime(job.started_at || job.created_at))),
        h('td', {}, `${job.kind === 'categories' ? 'Categories' : 'Products'}, ${FORMATS[job.format] || job.format}${job.dry_run ? ' (dry run)' : ''}`),
        ...['total_lines', 'created', 'updated', 'unchanged', 'failed'].map((key) => h('td', { class: 'right' }, Number(job[key]).toLocaleString())),
        h('td', {}, job.status))))))
      : emptyState('No imports yet', 'Imports started here or with POST /api/imports appear here.');
    replace(this.recent, h('div', { class: 'card-header' }, h('h2', { id: 'import-recent-title' }, 'Recent imports')), body);
  }
}
