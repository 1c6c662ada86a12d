// One product: #/products/{id} edits it, #/products/new creates one.
//
// The form holds every writable field of the product, grouped in cards. Each control is
// a "field" that knows the API value it started from (its baseline) and the value it
// holds now, so that Save sends a PATCH with only the changed fields and the page can
// warn before unsaved changes are lost. The media, variants and translations sections
// come from their own modules, mounted below through `mount(container, product, ctx)`.
//
// One save model: the Save bar at the bottom of the window saves everything edited on
// the page — the fields (PATCH), the stock per warehouse (PUT …/stock) and the open
// translation (PUT …/translations/{locale}) — each a "part" with its own call; it is
// disabled while nothing has changed. A part the server refuses keeps its changes and
// shows the server's words by its field; the others are saved. (Media and variants act
// at once: uploads, moves, the variant dialog.)

import { api, apiAll, ApiError } from '../api.js';
import {
  clearFieldErrors, confirmDialog, dateTime, decimalText, emptyState, errorText, field, h, option, replace,
  showFieldError, statusBadge, textInput, title, toast,
} from '../ui.js';
import { editorValue, richTextField } from '../rich-text.js';
import * as media from './product-media.js';
import * as similar from './product-similar.js';
import * as translations from './product-translations.js';
import * as variants from './product-variants.js';

const STATUSES = [['draft', 'Draft'], ['active', 'Active'], ['out_of_stock', 'Out of stock'], ['archived', 'Archived']];
const CONDITIONS = [['new', 'New'], ['used', 'Used'], ['refurbished', 'Refurbished']];
const TYPES = [['simple', 'Simple'], ['variable', 'Variable (sold in variants)']];
// The six channels a product may carry, in the API's order; labels for channels the
// organization has not switched on (GET /api/channels lists only the active ones).
const CHANNELS = {
  web: 'Web Store', mobile: 'Mobile App', api: 'API', marketplace: 'Marketplace', social: 'Social', email: 'Email',
};
const SECTIONS = [['Media', media], ['Variants', variants], ['Translations', translations],
  ['Similar products', similar]];

// ---- values: the API's form of each control's content ---------------------------------

const optionalText = (value) => (value === null || value === undefined || value === '' ? null : String(value));

/** Two decimals in the API's forms are the same when they are the same number. */
function sameNumber(a, b) {
  if (a === null || b === null) return a === b;
  const [x, y] = [Number(a), Number(b)];
  return Number.isFinite(x) && Number.isFinite(y) ? x === y : String(a) === String(b);
}

const sameList = (a, b) => JSON.stringify([...(a || [])].sort()) === JSON.stringify([...(b || [])].sort());

// ---- fields ------------------------------------------------------------------------------

/**
 * A form field bound to one API field: `pick(product)` reads it from the product JSON,
 * `get()` from the control, `set(value)` writes it to the control, `same(a, b)` compares.
 * `attribute` names the attribute code for values that go in the body's `attributes`.
 */
function bind(fields, spec) {
  const entry = { same: (a, b) => a === b, attribute: null, baseline: null, ...spec };
  fields.push(entry);
  return entry;
}

function isDirty(entry) {
  return !entry.same(entry.get(), entry.baseline);
}

/** A labelled group of checkboxes that showFieldError can point at (`data-field`). */
function checkGroup(label, fieldName, boxes, hint, { hideLabel = false } = {}) {
  const id = `f-${fieldName.replace(/\W/g, '-')}`;
  const group = h('div', {
    class: 'check-group', role: 'group', id, tabindex: '-1', 'data-field': fieldName,
    'aria-labelledby': `${id}-label`, 'aria-describedby': `${id}-error`,
  }, boxes);
  return h('div', { class: 'field' },
    h('span', { class: hideLabel ? 'visually-hidden' : 'field-label', id: `${id}-label` }, label),
    group,
    hint ? h('p', { class: 'hint' }, hint) : null,
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true }));
}

/** Editing a control takes its error away (the server's words no longer apply). */
function clearOwnError(control) {
  const owner = control.closest('[aria-invalid="true"]');
  if (!owner) return;
  owner.removeAttribute('aria-invalid');
  const slot = document.getElementById(`${owner.id}-error`);
  if (slot) {
    slot.hidden = true;
    slot.textContent = '';
  }
}

function checkbox(name, value, label, checked = false) {
  return h('label', { class: 'check' }, h('input', { type: 'checkbox', name, value, checked }), label);
}

function checkedValues(container, name) {
  return [...container.querySelectorAll(`input[name="${CSS.escape(name)}"]:checked`)].map((box) => box.value);
}

function setChecked(container, name, values) {
  const wanted = new Set((values || []).map(String));
  for (const box of container.querySelectorAll(`input[name="${CSS.escape(name)}"]`)) box.checked = wanted.has(box.value);
}

function textField(fields, name, label, { hint, pickValue, attrs, required = false, trim = true } = {}) {
  const input = textInput(name, { required, ...attrs });
  bind(fields, {
    name,
    pick: pickValue || ((p) => optionalText(p[name])),
    get: () => optionalText(trim ? input.value.trim() : input.value),
    set: (value) => { input.value = value ?? ''; },
  });
  return field(label + (required ? ' *' : ''), input, hint);
}

/** name and sku: always sent as typed (an empty one is the server's 400 to explain). */
function requiredText(fields, name, label, attrs = {}) {
  const input = textInput(name, { required: true, ...attrs });
  bind(fields, { name, pick: (p) => p[name] ?? '', get: () => input.value.trim(), set: (v) => { input.value = v ?? ''; } });
  return field(`${label} *`, input);
}

/** description texts: the API takes "" to clear them (not null). */
function longText(fields, name, label, rows, hint) {
  const area = h('textarea', { name, rows });
  bind(fields, { name, pick: (p) => p[name] ?? '', get: () => area.value, set: (v) => { area.value = v ?? ''; } });
  return field(label, area, hint);
}

/** The description: formatted text, saved as sanitised HTML (rich-text.js). A stored
 *  text that sanitises to the same HTML counts as unchanged, so that an older
 *  description the editor tidies is not sent back unasked. */
function richText(fields, name, label, rows) {
  const editor = richTextField(label, { name, rows });
  bind(fields, {
    name,
    pick: (p) => p[name] ?? '',
    get: () => editor.get(),
    set: (value) => editor.set(value ?? ''),
    same: (a, b) => a === b || editorValue(a) === editorValue(b),
  });
  return editor.node;
}

function moneyField(fields, name, label, hint) {
  const input = textInput(name, { inputmode: 'decimal', placeholder: '0.00' });
  bind(fields, {
    name,
    pick: (p) => p[name] ?? null,
    get: () => optionalText(input.value.trim()),
    set: (value) => { input.value = decimalText(value); },
    same: sameNumber,
  });
  return field(label, input, hint);
}

/** ISO 4217, sent upper-case; the API has no null for it (an empty one is its 400). */
function currencyField(fields) {
  const input = textInput('currency', { maxlength: 3, spellcheck: 'false', class: 'uppercase', placeholder: 'EUR' });
  bind(fields, {
    name: 'currency',
    pick: (p) => p.currency ?? '',
    get: () => input.value.trim().toUpperCase(),
    set: (value) => { input.value = value ?? ''; },
  });
  return field('Currency', input);
}

function choiceField(fields, name, label, choices, { hint, blank = null, numeric = false, pickValue } = {}) {
  const select = h('select', { name },
    blank !== null ? option('', blank) : null,
    choices.map(([value, text]) => option(String(value), text)));
  bind(fields, {
    name,
    pick: pickValue || ((p) => p[name] ?? null),
    get: () => (select.value === '' ? null : numeric ? Number(select.value) : select.value),
    set: (value) => {
      const text = value === null || value === undefined ? '' : String(value);
      if (text && !select.querySelector(`option[value="${CSS.escape(text)}"]`)) select.append(option(text, text));
      select.value = text;
    },
  });
  return field(label, select, hint);
}

// ---- attributes ---------------------------------------------------------------------------

/** "Capacity (ml)": an attribute's name with its unit. */
const attributeLabel = (definition) => `${definition.name}${definition.unit ? ` (${definition.unit})` : ''}`;

/** One control for an attribute definition, by its type (store/attributes.py's rules). */
function attributeField(fields, definition) {
  const { code, type } = definition;
  const name = `attributes.${code}`;
  const label = `${attributeLabel(definition)}${definition.is_required ? ' *' : ''}`;
  const hint = definition.is_variant_axis ? 'Variant axis: variants set their own value.' : null;
  const pickRaw = (p) => ((p.attributes || {})[code] ?? null);
  const spec = { name, attribute: code };
  if (type === 'boolean') {
    const box = h('input', { type: 'checkbox', name, 'data-field': name });
    const entry = bind(fields, {
      ...spec,
      pick: (p) => (typeof pickRaw(p) === 'boolean' ? pickRaw(p) : null),
      // Unset and unticked look alike: unticking an unset value leaves it unset.
      get: () => (box.checked ? true : entry.baseline === null ? null : false),
      set: (value) => { box.checked = value === true; },
    });
    const id = `f-attr-${code}`;
    box.id = id;
    box.setAttribute('aria-describedby', `${id}-error`);
    return h('div', { class: 'field field-check' },
      h('label', { class: 'check', for: id }, box, label),
      hint ? h('p', { class: 'hint' }, hint) : null,
      h('p', { class: 'field-error', id: `${id}-error`, hidden: true }));
  }
  if (type === 'multiselect') {
    const boxes = (definition.options || []).map((value) => checkbox(name, value, value));
    const group = checkGroup(label, name, boxes, hint);
    bind(fields, {
      ...spec,
      pick: (p) => (Array.isArray(pickRaw(p)) && pickRaw(p).length ? pickRaw(p) : null),
      get: () => { const values = checkedValues(group, name); return values.length ? values : null; },
      set: (values) => setChecked(group, name, values),
      same: (a, b) => (a === null || b === null ? a === b : sameList(a, b)),
    });
    return group;
  }
  if (type === 'select') {
    const control = choiceField(fields, name, label, (definition.options || []).map((value) => [value, value]),
      { blank: '— Not set —', hint, pickValue: pickRaw });
    fields[fields.length - 1].attribute = code;
    return control;
  }
  const attrs = type === 'number' ? { inputmode: 'decimal' } : type === 'date' ? { type: 'date' } : { maxlength: 2000 };
  const input = textInput(name, attrs);
  bind(fields, {
    ...spec,
    pick: (p) => (pickRaw(p) === null ? null : String(pickRaw(p))),
    get: () => optionalText(input.value.trim()),
    set: (value) => { input.value = value ?? ''; },
    same: type === 'number' ? sameNumber : (a, b) => a === b,
  });
  return field(label, input, hint);
}

// ---- categories: a filterable checkbox tree ---------------------------------------------

function categoryPicker(fields, tree) {
  const names = new Map();
  const walk = (nodes, trail) => nodes.map((node) => {
    const path = [...trail, node.name];
    names.set(String(node.id), path.join(' › '));
    return h('li', { dataset: { search: path.join(' ').toLowerCase() } },
      checkbox('category_ids', String(node.id), node.name),
      node.children.length ? h('ul', {}, walk(node.children, path)) : null);
  });
  const list = h('ul', { class: 'category-tree' }, walk(tree, []));
  const chips = h('div', { class: 'category-chips', 'aria-live': 'polite' });
  const filter = h('input', { type: 'search', placeholder: 'Filter categories…', 'aria-label': 'Filter categories' });
  const none = h('p', { class: 'muted small', hidden: true }, 'No category matches.');
  const group = checkGroup('Categories', 'category_ids',
    tree.length ? [filter, chips, h('div', { class: 'category-scroll' }, list, none)]
      : [h('p', { class: 'muted small' }, 'No categories yet. Create them on the Categories page.')],
    null, { hideLabel: true });

  const showChips = () => {
    replace(chips, checkedValues(list, 'category_ids').map((id) => h('span', { class: 'chip' },
      names.get(id) || id,
      h('button', {
        type: 'button', class: 'chip-remove', 'aria-label': `Remove ${names.get(id) || id}`,
        onclick: () => {
          const box = list.querySelector(`input[value="${CSS.escape(id)}"]`);
          box.checked = false;
          box.dispatchEvent(new Event('change', { bubbles: true }));
        },
      }, '×'))));
  };
  list.addEventListener('change', showChips);
  filter.addEventListener('input', () => {
    const words = filter.value.trim().toLowerCase();
    let shown = 0;
    // A node shows when it or one of its descendants matches (so the path stays visible).
    const visit = (li) => {
      const children = [...li.querySelectorAll(':scope > ul > li')].map(visit);
      const match = !words || li.dataset.search.includes(words) || children.some(Boolean);
      li.hidden = !match;
      if (match && (li.dataset.search.includes(words) || !words)) shown += 1;
      return match;
    };
    [...list.querySelectorAll(':scope > li')].forEach(visit);
    none.hidden = shown > 0;
  });
  filter.addEventListener('keydown', (event) => { if (event.key === 'Enter') event.preventDefault(); });
  bind(fields, {
    name: 'category_ids',
    pick: (p) => (p.categories || []).map((c) => c.id).sort((a, b) => a - b),
    get: () => checkedValues(list, 'category_ids').map(Number).sort((a, b) => a - b),
    set: (ids) => { setChecked(list, 'category_ids', ids); showChips(); },
    same: sameList,
  });
  return group;
}

// ---- the page ------------------------------------------------------------------------------

export async function render(view, ctx) {
  const { params, signal } = ctx;
  const isNew = params.id === 'new';
  const [product, refs] = await Promise.all([
    isNew ? Promise.resolve(null) : loadProduct(params.id, signal),
    loadReferences(signal),
  ]);
  if (!isNew && product === null) {
    title('Product not found');
    replace(view, h('div', { class: 'page' }, breadcrumbs('Not found'),
      emptyState('Product not found', `There is no product ${params.id} in this organization.`,
        h('a', { class: 'btn', href: '#/products' }, 'Back to the products'))));
    return undefined;
  }
  return new ProductPage(view, ctx, product, refs).cleanup;
}

/** The product with `stock_levels` (GET …/stock answers both), or null when missing. */
async function loadProduct(id, signal) {
  try {
    return await api('GET', `/api/products/${id}/stock`, { signal });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

async function loadReferences(signal) {
  const [brands, suppliers, vatRates, channels, tree, attributes] = await Promise.all([
    apiAll('/api/brands', 'brands', { signal }),
    apiAll('/api/suppliers', 'suppliers', { signal }),
    apiAll('/api/vat-rates', 'vat_rates', { signal }),
    api('GET', '/api/channels', { signal }).then((data) => data.channels),
    api('GET', '/api/categories/tree', { signal }).then((data) => data.categories),
    apiAll('/api/product-attributes', 'product_attributes', { signal }),
  ]);
  return { brands, suppliers, vatRates, channels, tree, attributes };
}

/** The product list's address, with or without its query (an empty hash opens it too). */
const isListAddress = (hash) => hash === '' || hash === '#/' || /^#\/products\/?(\?.*)?$/.test(hash);

/** Back to the list: history.back() when the list is the previous screen, so that its
 *  search, filters and page come back as they were; else a plain link. */
function breadcrumbs(current) {
  const back = h('a', {
    href: '#/products',
    onclick: (event) => {
      const nav = window.navigation;
      const previous = nav && nav.currentEntry && nav.entries()[nav.currentEntry.index - 1];
      if (previous && isListAddress(new URL(previous.url).hash)) {
        event.preventDefault();
        history.back();
      }
    },
  }, 'Products');
  return h('nav', { class: 'breadcrumbs', 'aria-label': 'Breadcrumbs' }, back, ' › ', h('span', {}, current));
}

class ProductPage {
  constructor(view, ctx, product, refs) {
    this.view = view;
    this.ctx = ctx;
    this.product = product;
    this.refs = refs;
    this.isNew = product === null;
    this.fields = [];
    this.leaving = false;
    this.saving = false;
    this.asking = false;
    this.refreshing = null; // the AbortController of the refresh in flight
    // Edits saved by the Save bar besides the fields: 'stock' (this page's card) and
    // 'translation' (the translations section registers its open form).
    // A part: { form, dirty(), check() → ApiError|null, save(signal), discard() }.
    this.parts = new Map();
    // What a section hands to its next mount after a refresh (media: failed uploads, the
    // focus); it lives as long as this page, never longer.
    this.carry = new Map();
    this.build();
    this.onBeforeUnload = (event) => {
      if (!this.dirty()) return;
      event.preventDefault();
      event.returnValue = '';
    };
    window.addEventListener('beforeunload', this.onBeforeUnload);
    // Leaving inside the app: the Navigation API's `navigate` event comes before the
    // address changes (links, the router, Back and Forward), so it can hold the router
    // back while the user decides. Without it, clicks on in-app links are caught instead.
    this.onNavigate = (event) => {
      if (!event.hashChange || !event.cancelable || !this.mustAsk()) return;
      event.preventDefault();
      const go = event.navigationType === 'traverse'
        ? () => window.navigation.traverseTo(event.destination.key)
        : () => { location.href = event.destination.url; };
      this.askToLeave(go);
    };
    this.onClick = (event) => {
      const link = event.target.closest && event.target.closest('a[href^="#"]');
      if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || !this.mustAsk()) return;
      event.preventDefault();
      event.stopPropagation();
      this.askToLeave(() => { location.hash = link.getAttribute('href'); });
    };
    // Ctrl+S / ⌘S saves the page, as in a desktop editor.
    this.onKey = (event) => {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === 's') {
        event.preventDefault();
        this.save();
      }
    };
    document.addEventListener('keydown', this.onKey);
    if (window.navigation) window.navigation.addEventListener('navigate', this.onNavigate);
    else document.addEventListener('click', this.onClick, { capture: true });
    this.cleanup = () => {
      window.removeEventListener('beforeunload', this.onBeforeUnload);
      document.removeEventListener('keydown', this.onKey);
      if (window.navigation) window.navigation.removeEventListener('navigate', this.onNavigate);
      else document.removeEventListener('click', this.onClick, { capture: true });
      if (this.sectionsController) this.sectionsController.abort();
      if (this.refreshing) this.refreshing.abort();
      this.carry.clear();
      this.barSize.disconnect();
      document.body.classList.remove('has-save-bar');
      document.body.style.removeProperty('--save-bar-height');
    };
  }

  /** Whether leaving now needs the user's word (asking already counts: ask once). */
  mustAsk() {
    return !this.leaving && (this.asking || this.dirty());
  }

  /** Whether the product's own fields have changes. */
  fieldsDirty() {
    return this.fields.some(isDirty);
  }

  /** Whether anything the Save bar saves has changes. */
  dirty() {
    return this.fieldsDirty() || [...this.parts.values()].some((part) => part.dirty());
  }

  build() {
    const { product } = this;
    title(this.isNew ? 'New product' : product.name);
    this.header = h('div', { class: 'product-top' });
    this.form = this.buildForm();
    const parts = [this.header, this.form];
    if (!this.isNew) {
      this.stockCard = h('section', { class: 'card product-stock', 'aria-labelledby': 'stock-heading' });
      this.sectionsHost = h('div', { class: 'product-sections' });
      parts.push(this.stockCard, this.sectionsHost);
    }
    const bar = this.buildSaveBar();
    const root = h('div', { class: 'page product-page' }, parts, bar);
    // Any edit on the page (the fields, the stock, a translation) updates the bar, and
    // takes the edited control's error away (the server's words no longer apply).
    const edited = (event) => {
      clearOwnError(event.target);
      this.showState();
    };
    root.addEventListener('input', edited);
    root.addEventListener('change', edited);
    replace(this.view, root);
    // The bar is fixed over the bottom of the window: the page keeps room for it below
    // its last card, and toasts sit above it (app.css: .has-save-bar).
    document.body.classList.add('has-save-bar');
    this.barSize = new ResizeObserver(() => {
      document.body.style.setProperty('--save-bar-height', `${Math.ceil(bar.getBoundingClientRect().height)}px`);
    });
    this.barSize.observe(bar);
    if (this.isNew) {
      for (const entry of this.fields) entry.baseline = entry.get();
    } else {
      this.apply(product, { force: true });
      this.renderStock(product);
      this.mountSections(product);
    }
    this.renderHeader();
    this.showState();
    if (this.isNew) this.form.querySelector('[name="name"]').focus();
  }

  // ---- header ----------------------------------------------------------------------------

  renderHeader() {
    const { product } = this;
    if (this.isNew) {
      replace(this.header, breadcrumbs('New product'),
        h('div', { class: 'page-header' }, h('h1', {}, 'New product')));
      return;
    }
    const image = product.images && product.images[0];
    const archived = product.status === 'archived';
    const actions = h('div', { class: 'page-actions' },
      h('button', { type: 'button', class: 'btn', onclick: () => this.showJson() }, 'View JSON'),
      archived
        ? h('button', { type: 'button', class: 'btn', onclick: () => this.restore() }, 'Restore to active')
        : h('button', { type: 'button', class: 'btn btn-danger', onclick: () => this.archive() }, 'Archive'));
    replace(this.header,
      breadcrumbs(product.name),
      h('div', { class: 'page-header product-header' },
        h('div', { class: 'product-identity' },
          image ? h('img', { class: 'product-hero', src: image, alt: '' })
            : h('div', { class: 'product-hero product-hero-empty', 'aria-hidden': 'true' }, (product.name || '?').slice(0, 1)),
          h('div', { class: 'product-heading' },
            h('h1', {}, product.name),
            h('p', { class: 'product-meta' },
              statusBadge(product.status),
              h('span', { class: 'mono' }, product.sku),
              product.product_type === 'variable' ? h('span', { class: 'chip' }, 'Has variants') : null,
              h('span', { class: 'muted', 'data-role': 'updated' }, `Updated ${dateTime(product.updated_at)}`)))),
        actions),
      archived ? h('p', { class: 'alert alert-info', role: 'status' },
        'This product is archived: it keeps all its data and can be restored at any time.') : null);
  }

  showJson() {
    const dialog = h('dialog', { class: 'dialog product-json-dialog', 'aria-label': 'Product JSON' },
      h('div', { class: 'card-header' }, h('h2', {}, 'Product JSON'),
        h('button', { type: 'button', class: 'btn btn-small', onclick: () => dialog.close() }, 'Close')),
      h('pre', { class: 'product-json' }, JSON.stringify(this.product, null, 2)));
    dialog.addEventListener('close', () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  async archive() {
    const ok = await confirmDialog(`Archive “${this.product.name}”? It stays in the catalog with the status `
      + 'Archived, and you can restore it later.', { confirm: 'Archive' });
    if (!ok) return;
    await this.statusCall('DELETE', undefined, 'Product archived.');
  }

  async restore() {
    await this.statusCall('PATCH', { status: 'active' }, 'Product is active again.');
  }

  async statusCall(method, body, done) {
    const buttons = this.header.querySelectorAll('.page-actions button');
    buttons.forEach((button) => { button.disabled = true; });
    try {
      const saved = await api(method, `/api/products/${this.product.id}`, { body, signal: this.ctx.signal });
      this.apply({ ...saved, stock_levels: this.product.stock_levels });
      toast(done, 'success');
    } catch (error) {
      if (error.name === 'AbortError') return;
      toast(errorText(error), 'error');
      buttons.forEach((button) => { button.disabled = false; });
    }
  }

  // ---- the form ----------------------------------------------------------------------------

  buildForm() {
    const { fields, refs } = this;
    const card = (heading, ...body) => h('section', { class: 'card' }, h('h2', {}, heading), body);

    const basics = card('Basics',
      h('div', { class: 'form-grid' },
        h('div', { class: 'span-2' }, requiredText(fields, 'name', 'Name', { maxlength: 255 })),
        requiredText(fields, 'sku', 'SKU', { maxlength: 64, spellcheck: 'false' }),
        textField(fields, 'ean', 'EAN / UPC barcode', { attrs: { inputmode: 'numeric', maxlength: 13 }, hint: '8, 12 or 13 digits with a valid check digit.' }),
        h('div', { class: 'span-2' }, textField(fields, 'slug', 'URL slug', {
          attrs: { maxlength: 200, spellcheck: 'false' }, hint: 'Made from the name when left empty.',
        })),
        h('div', { class: 'span-2' }, longText(fields, 'short_description', 'Short description', 2)),
        h('div', { class: 'span-2' }, richText(fields, 'description', 'Description', 6))));

    const pricing = card('Pricing',
      h('div', { class: 'form-grid form-grid-3' },
        moneyField(fields, 'price', 'Price'),
        moneyField(fields, 'sale_price', 'Sale price', 'Not above the price.'),
        moneyField(fields, 'cost_price', 'Cost price'),
        currencyField(fields),
        h('div', { class: 'span-2' }, choiceField(fields, 'vat_rate_id', 'VAT rate',
          refs.vatRates.map((v) => [v.id, `${v.name} · ${Number(v.rate)}% (${v.country_code})`]),
          { blank: '— None —', numeric: true, pickValue: (p) => (p.vat_rate ? p.vat_rate.id : null) }))));

    const attributes = card('Attributes', this.attributesBody());
    this.legacy = h('div', { class: 'legacy-attributes' });
    attributes.append(this.legacy);

    const organization = card('Status and organization',
      choiceField(fields, 'status', 'Status', STATUSES, { pickValue: (p) => p.status }),
      choiceField(fields, 'product_condition', 'Condition', CONDITIONS),
      choiceField(fields, 'product_type', 'Type', TYPES,
        { hint: 'A product becomes variable when it gets its first variant.' }),
      choiceField(fields, 'brand_id', 'Brand', refs.brands.map((b) => [b.id, b.name]),
        { blank: '— None —', numeric: true, pickValue: (p) => (p.brand ? p.brand.id : null) }),
      choiceField(fields, 'supplier_id', 'Supplier', refs.suppliers.map((s) => [s.id, s.name]),
        { blank: '— None —', numeric: true, pickValue: (p) => (p.supplier ? p.supplier.id : null) }));
    if (this.isNew) {
      for (const [name, value] of [['status', 'draft'], ['product_condition', 'new'], ['product_type', 'simple'], ['currency', 'EUR']]) {
        this.fields.find((entry) => entry.name === name).set(value);
      }
      const stock = textInput('stock', { type: 'number', min: 0, step: 1, inputmode: 'numeric' });
      bind(fields, {
        name: 'stock',
        pick: () => null,
        get: () => { const text = stock.value.trim(); return text === '' ? null : /^\d+$/.test(text) ? Number(text) : text; },
        set: (value) => { stock.value = value ?? ''; },
      });
      organization.append(field('Initial stock', stock, 'Goes to the default warehouse.'));
    }

    const channelBoxes = () => {
      const shown = new Map(refs.channels.map((c) => [c.value, c.label]));
      for (const value of (this.product && this.product.publishing_channels) || []) {
        if (!shown.has(value)) shown.set(value, `${CHANNELS[value] || value} (inactive)`);
      }
      return [...shown].map(([value, label]) => checkbox('publishing_channels', value, label));
    };
    const channels = card('Channels', checkGroup('Published on', 'publishing_channels', channelBoxes(),
      'The organization\'s active channels.'));
    const order = Object.keys(CHANNELS);
    bind(fields, {
      name: 'publishing_channels',
      pick: (p) => p.publishing_channels || [],
      get: () => checkedValues(channels, 'publishing_channels').sort((a, b) => order.indexOf(a) - order.indexOf(b)),
      set: (values) => setChecked(channels, 'publishing_channels', values),
      same: sameList,
    });

    const categories = card('Categories', categoryPicker(fields, refs.tree));

    const form = h('form', { class: 'product-form', novalidate: true, 'aria-label': 'Product details' },
      h('div', { class: 'product-columns' },
        h('div', { class: 'product-main' }, basics, pricing, attributes),
        h('div', { class: 'product-side' }, organization, channels, categories)));
    form.addEventListener('submit', (event) => { // Enter in a field
      event.preventDefault();
      this.save();
    });
    return form;
  }

  /** The one Save bar of the page, fixed at the bottom of the window. */
  buildSaveBar() {
    this.stateText = h('span', { class: 'save-state', role: 'status' });
    this.saveButton = h('button', {
      type: 'button', class: 'btn btn-primary', title: 'Ctrl+S', 'aria-keyshortcuts': 'Control+S Meta+S',
      onclick: () => this.save(),
    }, this.isNew ? 'Create product' : 'Save');
    this.discardButton = h('button', { type: 'button', class: 'btn', onclick: () => this.discard() },
      this.isNew ? 'Cancel' : 'Discard');
    return h('div', { class: 'save-bar', role: 'region', 'aria-label': 'Save changes' },
      h('div', { class: 'save-bar-inner' }, this.stateText,
        h('div', { class: 'save-actions' }, this.discardButton, this.saveButton)));
  }

  /** For the sections (ctx.edits): what the Save bar saves besides the fields. A part
   *  registered under a name replaces the one before; unregistering removes only the
   *  part given, so a replaced section cannot remove its successor's. */
  edits() {
    return {
      register: (name, part) => {
        this.parts.set(name, part);
        this.showState();
      },
      unregister: (name, part) => {
        if (this.parts.get(name) === part) this.parts.delete(name);
        this.showState();
      },
      changed: () => this.showState(),
      save: () => this.save(),
    };
  }

  /** The attributes card: a field for each attribute the product has a value for and
   *  for each required one; the others wait in the "Add attribute" picker (a T-shirt has
   *  no use for "Capacity (ml)"). Every field is built at the start, hidden until it is
   *  used, so that Save, Discard and the unsaved-changes check treat them all alike. */
  attributesBody() {
    const { fields, refs } = this;
    this.attributeSlots = [];
    if (!refs.attributes.length) return h('p', { class: 'muted' }, 'No attributes are defined for this organization yet.');
    this.attributeSlots = refs.attributes.map((definition) => {
      const node = attributeField(fields, definition);
      node.hidden = !definition.is_required;
      return { definition, node, entry: fields[fields.length - 1] };
    });
    this.attributeNone = h('p', { class: 'muted small attribute-none' }, 'No attribute values yet.');
    this.attributePicker = h('select', { id: 'f-add-attribute', 'aria-describedby': 'f-add-attribute-hint' });
    this.attributePicker.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault(); // not the form's submit: Enter adds the chosen attribute
        this.addAttribute();
      }
    });
    this.attributeAdder = h('div', { class: 'attribute-add' },
      h('label', { for: 'f-add-attribute' }, 'Add attribute'),
      h('div', { class: 'attribute-add-row' }, this.attributePicker,
        h('button', { type: 'button', class: 'btn', onclick: () => this.addAttribute() }, 'Add')),
      h('p', { class: 'hint', id: 'f-add-attribute-hint' }, 'Only the attributes this product has values for are shown.'));
    this.refreshAttributePicker();
    return [h('div', { class: 'form-grid' }, this.attributeSlots.map((slot) => slot.node)), this.attributeNone,
      this.attributeAdder];
  }

  /** Show the fields of the attributes `product` has values for (someone may have set
   *  one meanwhile); a field once shown stays, even when its value is cleared. */
  showUsedAttributes(product) {
    if (!this.attributeSlots.length) return;
    for (const slot of this.attributeSlots) {
      if (slot.node.hidden && slot.entry.pick(product) !== null) slot.node.hidden = false;
    }
    this.refreshAttributePicker();
  }

  refreshAttributePicker() {
    const waiting = this.attributeSlots.filter((slot) => slot.node.hidden)
      .sort((a, b) => attributeLabel(a.definition).localeCompare(attributeLabel(b.definition)));
    const chosen = this.attributePicker.value;
    replace(this.attributePicker, option('', 'Choose an attribute…'),
      waiting.map((slot) => option(slot.definition.code, attributeLabel(slot.definition), slot.definition.code === chosen)));
    this.attributeAdder.hidden = !waiting.length;
    this.attributeNone.hidden = this.attributeSlots.some((slot) => !slot.node.hidden);
  }

  /** "Add attribute": show the chosen attribute's field and put the focus in it. */
  addAttribute() {
    const slot = this.attributeSlots.find((item) => item.definition.code === this.attributePicker.value);
    if (!slot) {
      this.attributePicker.focus();
      return;
    }
    slot.node.hidden = false;
    this.attributePicker.value = '';
    this.refreshAttributePicker();
    const control = slot.node.querySelector('input, select, textarea, [tabindex]');
    if (control) control.focus();
  }

  /** Attribute values the product holds without a definition (older data), shown so
   *  that they are not invisible; the API lets them be removed only. */
  showLegacy(product) {
    const known = new Set(this.refs.attributes.map((d) => d.code));
    const extra = Object.entries(product.attributes || {}).filter(([code]) => !known.has(code));
    replace(this.legacy, extra.length ? [
      h('p', { class: 'hint' }, 'Values without an attribute definition:'),
      h('ul', { class: 'legacy-list' }, extra.map(([code, value]) => h('li', {},
        h('span', { class: 'mono' }, code), ': ', Array.isArray(value) ? value.join(', ') : String(value)))),
    ] : []);
  }

  showState() {
    if (!this.stateText) return;
    const dirty = this.dirty();
    this.stateText.closest('.save-bar').classList.toggle('is-dirty', dirty && !this.isNew);
    this.saveButton.disabled = this.saving || !dirty;
    this.discardButton.disabled = this.saving || (!dirty && !this.isNew);
    if (this.saving) {
      this.stateText.textContent = 'Saving…';
    } else if (this.isNew) {
      const named = ['name', 'sku'].every((name) => this.fields.find((entry) => entry.name === name).get());
      this.stateText.textContent = named ? 'Not created yet.' : 'Name and SKU are required.';
    } else {
      this.stateText.textContent = dirty ? 'Unsaved changes' : `All changes saved · ${dateTime(this.product.updated_at)}`;
    }
  }

  /** Take the server's product: the header, and every field's baseline. A field the user
   *  has changed keeps what they typed unless `force` (after a save of the whole form). */
  apply(product, { force = false } = {}) {
    this.product = product;
    for (const entry of this.fields) {
      const value = entry.pick(product);
      if (force || !isDirty(entry)) entry.set(value);
      entry.baseline = value;
    }
    this.showLegacy(product);
    this.showUsedAttributes(product);
    title(product.name);
    if (this.header) this.renderHeader();
    if (this.stateText) this.showState();
  }

  discard() {
    if (this.isNew) {
      this.ctx.navigate('/products');
      return;
    }
    const dirty = this.dirty();
    for (const entry of this.fields) entry.set(entry.baseline);
    clearFieldErrors(this.form);
    for (const part of [...this.parts.values()]) {
      clearFieldErrors(part.form);
      if (part.dirty()) part.discard();
    }
    this.showState();
    toast(dirty ? 'Changes discarded.' : 'No changes to discard.');
  }

  body() {
    const body = {};
    for (const entry of this.fields) {
      const value = entry.get();
      if (this.isNew) {
        const empty = value === null || (Array.isArray(value) && !value.length)
          || (value === '' && !['name', 'sku'].includes(entry.name));
        if (empty) continue;
      } else if (!isDirty(entry)) {
        continue;
      }
      if (entry.attribute) {
        body.attributes = body.attributes || {};
        body.attributes[entry.attribute] = value;
      } else {
        body[entry.name] = value;
      }
    }
    return body;
  }

  /** Save everything changed on the page: the fields, then each part. Local checks come
   *  first (nothing is sent while one fails); then each call on its own, so a refusal
   *  keeps that part's changes with the server's words by its field while the others
   *  are saved. */
  async save() {
    if (this.saving) return;
    const parts = [...this.parts.values()];
    clearFieldErrors(this.form);
    for (const part of parts) clearFieldErrors(part.form);
    const body = this.body();
    const pending = parts.filter((part) => part.dirty());
    if (!this.isNew && !Object.keys(body).length && !pending.length) {
      toast('No changes to save.');
      return;
    }
    for (const part of pending) {
      const problem = part.check ? part.check() : null;
      if (problem) {
        if (!showFieldError(part.form, problem)) toast(errorText(problem), 'error');
        return;
      }
    }
    this.setSaving(true);
    const refused = []; // [form, error]
    try {
      if (this.isNew) {
        try {
          const created = await api('POST', '/api/products', { body, signal: this.ctx.signal });
          this.leaving = true;
          toast(`Created “${created.name}”.`, 'success');
          this.ctx.navigate(`/products/${created.id}`, null, { replace: true });
        } catch (error) {
          if (error.name === 'AbortError') return;
          refused.push([this.form, error]);
        }
      } else {
        if (Object.keys(body).length) {
          try {
            const saved = await api('PATCH', `/api/products/${this.product.id}`, { body, signal: this.ctx.signal });
            this.apply({ ...saved, stock_levels: this.product.stock_levels }, { force: true });
          } catch (error) {
            if (error.name === 'AbortError') return;
            refused.push([this.form, error]);
          }
        }
        for (const part of pending) {
          try {
            await part.save(this.ctx.signal);
          } catch (error) {
            if (error.name === 'AbortError' || this.ctx.signal.aborted) return;
            refused.push([part.form, error]);
          }
        }
      }
    } finally {
      if (!this.ctx.signal.aborted) this.setSaving(false);
    }
    if (this.isNew && !refused.length) return;
    if (!refused.length) {
      toast('Changes saved.', 'success');
      return;
    }
    // The last shown takes the focus: show them from the last to the first.
    const unplaced = [...refused].reverse().filter(([form, error]) => !showFieldError(form, error));
    const saved = !this.isNew && refused.length < (Object.keys(body).length ? 1 : 0) + pending.length;
    if (unplaced.length) toast(errorText(unplaced[unplaced.length - 1][1]), 'error');
    else if (saved) toast('The other changes were saved; the marked field was not.', 'error');
  }

  setSaving(saving) {
    this.saving = saving;
    this.saveButton.textContent = saving ? 'Saving…' : this.isNew ? 'Create product' : 'Save';
    this.form.setAttribute('aria-busy', String(saving));
    this.showState();
  }

  /** Ask before unsaved changes are lost; `go` carries on with the navigation. */
  async askToLeave(go) {
    if (this.asking) return;
    this.asking = true;
    const ok = await confirmDialog('This product has unsaved changes. Leave the page and lose them?',
      { confirm: 'Leave without saving' });
    this.asking = false;
    if (!ok) return;
    this.leaving = true;
    go();
  }

  // ---- stock ---------------------------------------------------------------------------------

  renderStock(product) {
    const heading = h('h2', { id: 'stock-heading' }, 'Stock');
    // Quantities typed and not saved stay through a re-render (another section's refresh).
    const typed = this.parts.has('stock') ? this.parts.get('stock').typed() : new Map();
    this.parts.delete('stock');
    if (product.product_type === 'variable') {
      replace(this.stockCard, h('div', { class: 'card-header' }, heading,
        h('span', { class: 'stock-total' }, `${product.stock} in stock`)),
      h('p', { class: 'muted' }, 'This product has variants: its stock is the sum of its enabled variants\' '
        + 'stock and is read-only here. Change quantities in the Variants section.'));
      this.showState();
      return;
    }
    const levels = product.stock_levels || [];
    const inputs = levels.map((level, index) => h('input', {
      type: 'number', min: 0, step: 1, inputmode: 'numeric',
      value: typed.has(level.warehouse_id) ? typed.get(level.warehouse_id) : String(level.quantity),
      name: `stock-${level.warehouse_id}`, 'data-field': `[${index}].quantity`,
      id: `stock-${level.warehouse_id}`, 'aria-describedby': `stock-${level.warehouse_id}-error`,
      'aria-label': `Quantity in ${level.warehouse_name}`, class: 'stock-input',
    }));
    const total = h('span', { class: 'stock-total' });
    const showTotal = () => {
      const sum = inputs.reduce((acc, input) => acc + (/^\d+$/.test(input.value) ? Number(input.value) : 0), 0);
      total.textContent = `${sum} in stock`;
    };
    showTotal();
    const form = h('form', { novalidate: true, 'aria-label': 'Stock per warehouse' },
      h('div', { class: 'table-wrap stock-table' }, h('table', {},
        h('thead', {}, h('tr', {}, h('th', {}, 'Warehouse'), h('th', {}, 'Code'), h('th', { class: 'right' }, 'Quantity'))),
        h('tbody', {}, levels.length ? levels.map((level, index) => h('tr', {},
          h('td', {}, h('label', { for: inputs[index].id }, level.warehouse_name)),
          h('td', { class: 'mono muted' }, level.warehouse_code),
          h('td', { class: 'right' }, inputs[index],
            h('p', { class: 'field-error', id: `${inputs[index].id}-error`, hidden: true }))))
          : h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'No warehouses yet.'))))),
      h('p', { class: 'hint stock-hint' }, 'Saved with the product\'s other changes (Save, below).'));
    form.addEventListener('input', showTotal);
    form.addEventListener('submit', (event) => { // Enter in a quantity
      event.preventDefault();
      this.save();
    });
    const changed = (index) => inputs[index].value.trim() !== String(levels[index].quantity);
    this.parts.set('stock', {
      form,
      dirty: () => levels.some((level, index) => changed(index)),
      typed: () => new Map(levels.filter((level, index) => changed(index))
        .map((level) => [level.warehouse_id, inputs[levels.indexOf(level)].value])),
      check: () => {
        const bad = inputs.findIndex((input) => !/^\d+$/.test(input.value.trim()));
        return bad < 0 ? null : new ApiError('Enter a whole number of 0 or more.', { field: `[${bad}].quantity` });
      },
      save: async (signal) => {
        const body = levels.map((level, index) => ({ warehouse_id: level.warehouse_id, quantity: Number(inputs[index].value) }));
        const saved = await api('PUT', `/api/products/${this.product.id}/stock`, { body, signal });
        this.parts.delete('stock'); // what was typed is saved: nothing to carry
        this.apply(saved);
        this.renderStock(saved);
      },
      discard: () => {
        levels.forEach((level, index) => { inputs[index].value = String(level.quantity); });
        showTotal();
      },
    });
    replace(this.stockCard, h('div', { class: 'card-header' }, heading, total), form);
    this.showState();
  }

  // ---- the sections from their own modules ---------------------------------------------

  mountSections(product) {
    if (this.sectionsController) this.sectionsController.abort();
    const controller = new AbortController();
    this.sectionsController = controller;
    // Removed again when this mount is replaced, so refreshes do not pile listeners up.
    this.ctx.signal.addEventListener('abort', () => controller.abort(), { once: true, signal: controller.signal });
    const ctx = {
      signal: controller.signal, refresh: () => this.refresh(), navigate: this.ctx.navigate, carry: this.carry,
      edits: this.edits(),
    };
    // New containers each time: work a replaced section still finishes lands nowhere.
    const containers = SECTIONS.map(([name]) => h('section', {
      class: 'card product-section', 'aria-label': name, dataset: { section: name.toLowerCase() },
    }));
    replace(this.sectionsHost, containers);
    SECTIONS.forEach(([name, section], index) => {
      try {
        const pending = section.mount(containers[index], product, ctx);
        if (pending && typeof pending.catch === 'function') {
          pending.catch((error) => this.sectionFailed(containers[index], name, error));
        }
      } catch (error) {
        this.sectionFailed(containers[index], name, error);
      }
    });
  }

  sectionFailed(container, name, error) {
    if (error && error.name === 'AbortError') return;
    container.append(h('p', { class: 'alert alert-error', role: 'alert' }, `${name}: ${errorText(error)}`));
  }

  /** For the sections: reload the product after a change that alters it (images,
   *  variants' stock…) and show it again; unsaved edits in the form are kept. A newer
   *  refresh aborts an older one still on its way, so the older answer never lands last. */
  async refresh() {
    if (this.refreshing) this.refreshing.abort();
    const controller = new AbortController();
    this.refreshing = controller;
    const { signal } = controller;
    this.ctx.signal.addEventListener('abort', () => controller.abort(), { once: true, signal });
    try {
      const product = await api('GET', `/api/products/${this.product.id}/stock`, { signal });
      if (this.refreshing !== controller) return;
      this.apply(product);
      this.renderStock(product);
      this.mountSections(product);
    } catch (error) {
      if (error.name !== 'AbortError' && !signal.aborted) toast(errorText(error), 'error');
    } finally {
      if (this.refreshing === controller) {
        this.refreshing = null;
        controller.abort(); // done: drops its listener on the page's signal
      }
    }
  }
}
