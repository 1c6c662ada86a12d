// The product page's variants section (mounted by pages/product.js): a table of the
// product's variants (SKU, axis values, price, stock, EAN, enabled, image), a dialog to
// add or edit one (its axis fields come from the organization's variant-axis attributes,
// its image is one of the product's media), delete with confirmation. Enabled is switched
// right in the table.
import { api, apiAll, ApiError } from '../api.js';
import {
  clearFieldErrors, confirmDialog, decimalText, emptyState, errorBox, errorText, field, h, money, replace,
  showFieldError, spinner, thumbnail, toast,
} from '../ui.js';
import { remember, sectionGone } from './product-sections-common.js';

const STOCK_BADGES = { in_stock: 'badge-active', out_of_stock: 'badge-out_of_stock', backorder: 'badge-draft' };
const MONEY_FIELDS = [['price', 'Price'], ['sale_price', 'Sale price'], ['cost', 'Cost'], ['weight', 'Weight']];
// A re-mount of the same product (after ctx.refresh()) shows the last rows at once
// (kept for a few products).
const lastSeen = new Map(); // product id → { variants, axes, media }

/**
 * Fill `container` with this section for `product` (the API's product JSON).
 * ctx = { signal, refresh, navigate }.
 */
export function mount(container, product, ctx) {
  new VariantsSection(container, product, ctx).start();
}

class VariantsSection {
  constructor(container, product, ctx) {
    this.container = container;
    this.product = product;
    this.ctx = ctx;
    this.data = lastSeen.get(product.id) || null;
    this.count = h('span', { class: 'muted small' });
    this.body = h('div', { class: 'variants-body' });
    this.addButton = h('button', { class: 'btn btn-primary btn-small', type: 'button', onclick: () => this.edit(null) }, '+ Add variant');
  }

  start() {
    this.container.setAttribute('aria-labelledby', `variants-${this.product.id}-title`);
    this.container.classList.add('product-section', 'variants-section');
    replace(this.container,
      h('div', { class: 'card-header' },
        h('div', { class: 'section-title' }, h('h2', { id: `variants-${this.product.id}-title` }, 'Variants'), this.count),
        this.addButton),
      this.summary(),
      this.body);
    if (this.data) this.render();
    else {
      this.addButton.disabled = true;
      replace(this.body, spinner('Loading variants…'));
    }
    this.load();
  }

  /** What the variants mean for the product: its type and its stock. */
  summary() {
    const { product } = this;
    if (product.product_type !== 'variable') {
      return h('p', { class: 'muted small variants-summary' },
        'A simple product. Adding a variant makes it variable: its stock becomes the sum of its enabled variants.');
    }
    return h('p', { class: 'variants-summary small', dataset: { productType: product.product_type } },
      h('span', { class: 'chip' }, 'Variable product'), ' ',
      h('span', {}, 'Stock ', h('strong', { class: 'variants-stock' }, String(product.stock)),
        ' — the sum of its enabled variants.'));
  }

  async load() {
    const { signal } = this.ctx;
    const id = this.product.id;
    try {
      const [list, attributes, media] = await Promise.all([
        api('GET', `/api/products/${id}/variants`, { signal }),
        apiAll('/api/product-attributes', 'product_attributes', { signal }),
        api('GET', `/api/products/${id}/media`, { signal }),
      ]);
      this.data = { variants: list.variants, axes: attributes.filter((a) => a.is_variant_axis), media: media.media };
      remember(lastSeen, id, this.data);
      this.addButton.disabled = false;
      this.render();
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(this.body, errorBox(error, () => this.load()));
    }
  }

  /** The axes shown as columns: those the variants use, in the organization's order. */
  columns() {
    const used = new Set(this.data.variants.flatMap((v) => v.attributes.map((a) => a.attribute_code)));
    const known = this.data.axes.filter((a) => used.has(a.code)).map((a) => ({ code: a.code, name: a.name }));
    const knownCodes = new Set(known.map((a) => a.code));
    for (const variant of this.data.variants) {
      for (const value of variant.attributes) {
        if (!knownCodes.has(value.attribute_code)) {
          knownCodes.add(value.attribute_code);
          known.push({ code: value.attribute_code, name: value.attribute_name });
        }
      }
    }
    return known;
  }

  render() {
    const { variants } = this.data;
    this.count.textContent = variants.length === 1 ? '1 variant' : `${variants.length} variants`;
    if (!variants.length) {
      replace(this.body, emptyState('No variants',
        this.data.axes.length
          ? 'Add one for each combination you sell, such as a colour and a size.'
          : 'Variants differ by variant-axis attributes (such as Colour or Size). Create one first, with “Variant axis” on.',
        h('button', { class: 'btn', type: 'button', onclick: () => this.edit(null) }, 'Add the first variant')));
      return;
    }
    const columns = this.columns();
    const rows = variants.map((variant) => {
      const values = new Map(variant.attributes.map((a) => [a.attribute_code, a.value]));
      const enabled = h('input', {
        type: 'checkbox', checked: variant.is_enabled, 'aria-label': `${variant.sku} enabled`,
        onchange: (event) => this.toggle(variant, event.currentTarget),
      });
      // Each cell names its column (data-label): on a phone the rows turn into cards.
      return h('tr', { dataset: { variant: String(variant.id) }, class: variant.is_enabled ? null : 'is-disabled' },
        h('td', { class: 'variant-image' }, variant.image
          ? h('img', { class: 'thumb', src: thumbnail(variant.image, 160), alt: '', loading: 'lazy' })
          : h('span', { class: 'thumb thumb-empty', 'aria-hidden': 'true' })),
        h('td', { class: 'variant-title' },
          h('div', { class: 'mono variant-sku' }, variant.sku),
          h('div', { class: 'muted small' }, variant.name)),
        columns.map((column) => h('td', { class: 'nowrap variant-cell', dataset: { label: column.name } },
          showValue(values.get(column.code)))),
        h('td', { class: 'right nowrap variant-cell', dataset: { label: 'Price' } }, priceCell(variant, this.product)),
        h('td', { class: 'right nowrap variant-cell', dataset: { label: 'Stock' } },
          h('span', { class: 'variant-qty' }, String(variant.stock_quantity)), ' ',
          h('span', { class: `badge ${STOCK_BADGES[variant.stock_status] || ''}` },
            stockLabel(variant.stock_status))),
        h('td', { class: 'mono nowrap variant-cell', dataset: { label: 'EAN' } }, variant.ean || '—'),
        h('td', { class: 'variant-cell variant-enabled', dataset: { label: 'Enabled' } },
          h('label', { class: 'check' }, enabled, h('span', { class: 'visually-hidden' }, 'Enabled'))),
        h('td', { class: 'right nowrap variant-actions' },
          h('button', { class: 'btn btn-small', type: 'button', 'aria-label': `Edit ${variant.sku}`, onclick: () => this.edit(variant) }, 'Edit'),
          ' ',
          h('button', {
            class: 'btn btn-small btn-danger-ghost', type: 'button', 'aria-label': `Delete ${variant.sku}`,
            onclick: (event) => this.remove(variant, event.currentTarget),
          }, 'Delete')));
    });
    replace(this.body, h('div', { class: 'table-wrap variants-table' },
      h('table', {},
        h('thead', {}, h('tr', {},
          h('th', {}, h('span', { class: 'visually-hidden' }, 'Image')),
          h('th', {}, 'SKU'),
          columns.map((column) => h('th', {}, column.name)),
          h('th', { class: 'right' }, 'Price'),
          h('th', { class: 'right' }, 'Stock'),
          h('th', {}, 'EAN'),
          h('th', {}, 'Enabled'),
          h('th', {}, h('span', { class: 'visually-hidden' }, 'Actions')))),
        h('tbody', {}, rows))));
  }

  async toggle(variant, box) {
    box.disabled = true;
    try {
      await api('PATCH', `/api/products/${this.product.id}/variants/${variant.id}`,
        { body: { is_enabled: box.checked } });
      variant.is_enabled = box.checked;
      toast(`${variant.sku} ${box.checked ? 'enabled' : 'disabled'}.`, 'success');
      if (!sectionGone(this.ctx, this.product.id)) this.ctx.refresh(); // the product's stock counts enabled variants only
    } catch (error) {
      box.checked = !box.checked;
      toast(errorText(error), 'error');
    } finally {
      box.disabled = false;
    }
  }

  async remove(variant, button) {
    if (!await confirmDialog(`Delete variant ${variant.sku}? This cannot be undone.`)) return;
    button.disabled = true;
    try {
      await api('DELETE', `/api/products/${this.product.id}/variants/${variant.id}`);
      toast(`Variant ${variant.sku} deleted.`, 'success');
      if (sectionGone(this.ctx, this.product.id)) return;
      this.data.variants = this.data.variants.filter((v) => v.id !== variant.id);
      this.render();
      this.ctx.refresh();
    } catch (error) {
      button.disabled = false;
      toast(`Could not delete ${variant.sku}: ${errorText(error)}`, 'error');
    }
  }

  /** The add (variant = null) or edit dialog. */
  edit(variant) {
    if (!this.data) return;
    const form = new VariantForm(variant, this.data, this.product);
    const dialog = h('dialog', { class: 'dialog variant-dialog', 'aria-labelledby': 'variant-dialog-title' });
    const save = h('button', { class: 'btn btn-primary', type: 'submit' }, variant ? 'Save variant' : 'Add variant');
    const problem = h('div', { class: 'variant-problem' });
    const node = h('form', { novalidate: true },
      h('h2', { id: 'variant-dialog-title' }, variant ? `Edit ${variant.sku}` : 'Add a variant'),
      form.node, problem,
      h('div', { class: 'dialog-actions' },
        h('button', { class: 'btn', type: 'button', onclick: () => dialog.close() }, 'Cancel'), save));
    dialog.append(node);
    dialog.addEventListener('close', () => dialog.remove());
    node.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearFieldErrors(node);
      replace(problem);
      let body;
      try {
        body = form.body();
      } catch (error) {
        showFieldError(node, error);
        return;
      }
      if (variant && !Object.keys(body).length) {
        dialog.close();
        return;
      }
      save.disabled = true;
      save.textContent = 'Saving…';
      try {
        const path = `/api/products/${this.product.id}/variants`;
        const saved = variant
          ? await api('PATCH', `${path}/${variant.id}`, { body })
          : await api('POST', path, { body });
        dialog.close();
        toast(variant ? `Variant ${saved.sku} saved.` : `Variant ${saved.sku} added.`, 'success');
        if (sectionGone(this.ctx, this.product.id)) return;
        if (variant) this.data.variants = this.data.variants.map((v) => (v.id === saved.id ? saved : v));
        else this.data.variants = [...this.data.variants, saved].sort((a, b) => a.position - b.position);
        this.render();
        const moved = !variant || 'stock_quantity' in body || 'is_enabled' in body;
        if (moved) this.ctx.refresh(); // the product's type or stock changed
      } catch (error) {
        if (!showFieldError(node, error)) replace(problem, errorBox(error));
      } finally {
        save.disabled = false;
        save.textContent = variant ? 'Save variant' : 'Add variant';
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    node.querySelector('[name="sku"]').focus();
  }
}

/** The add/edit form's fields, and the JSON body they make (only what changed on edit). */
class VariantForm {
  constructor(variant, data, product) {
    this.variant = variant;
    this.data = data;
    this.product = product;
    const v = variant || {};
    this.controls = {};
    const input = (name, attrs = {}) => {
      const control = h('input', { type: 'text', name, autocomplete: 'off', ...attrs });
      this.controls[name] = control;
      return control;
    };
    const values = new Map((v.attributes || []).map((a) => [a.attribute_code, a.value]));
    this.axisControls = data.axes.map((axis) => [axis, axisControl(axis, values.get(axis.code))]);
    const axes = h('fieldset', {
      class: 'variant-axes', 'data-field': 'attributes', tabindex: '-1',
      id: `variant-axes-${Math.random().toString(36).slice(2, 8)}`,
    },
      h('legend', {}, 'Options'),
      this.axisControls.length
        ? h('div', { class: 'form-grid' }, this.axisControls.map(([axis, control]) =>
          field(axis.unit ? `${axis.name} (${axis.unit})` : axis.name, control)))
        : h('p', { class: 'muted small' }, 'No variant-axis attributes yet: this variant differs by SKU only.'));
    axes.append(h('p', { class: 'field-error', id: `${axes.id}-error`, hidden: true }));
    const status = h('select', { name: 'stock_status' },
      h('option', { value: '' }, 'From the quantity'),
      h('option', { value: 'backorder' }, 'Backorder'));
    status.value = v.stock_status === 'backorder' ? 'backorder' : '';
    this.controls.stock_status = status;
    const enabled = h('input', { type: 'checkbox', name: 'is_enabled', checked: variant ? v.is_enabled : true });
    this.controls.is_enabled = enabled;
    const enabledField = h('div', { class: 'field' },
      h('label', { class: 'check' }, enabled, 'Enabled (sold, and counted in the product\'s stock)'),
      h('p', { class: 'field-error', id: 'variant-enabled-error', hidden: true }));
    enabled.id = 'variant-enabled';
    this.node = h('div', { class: 'variant-form' },
      h('div', { class: 'form-grid' },
        field('SKU', input('sku', { value: v.sku || '', required: true, spellcheck: 'false', class: 'mono' })),
        field('Name', input('name', { value: v.name || '', placeholder: 'Made from the product and the options' }))),
      h('div', { class: 'form-grid variant-grid-4' },
        MONEY_FIELDS.map(([name, label]) => field(name === 'weight' ? label : `${label} (${product.currency || 'EUR'})`,
          input(name, { value: decimalText(v[name]), inputmode: 'decimal', placeholder: name === 'price' ? decimalText(product.price) : '' }),
          name === 'price' && !unset(product.price) ? 'Empty: the product\'s price.' : null))),
      h('div', { class: 'form-grid variant-grid-3' },
        field('Stock quantity', input('stock_quantity', { type: 'number', min: 0, step: 1, value: String(v.stock_quantity ?? 0), inputmode: 'numeric' })),
        field('Stock status', status),
        field('EAN', input('ean', { value: v.ean || '', inputmode: 'numeric', spellcheck: 'false', class: 'mono', placeholder: '8, 12 or 13 digits' }))),
      axes,
      this.imagePicker(v.image),
      enabledField);
  }

  imagePicker(current) {
    const name = `media_id`;
    const group = h('fieldset', { class: 'variant-images', 'data-field': 'media_id', tabindex: '-1', id: 'variant-media' },
      h('legend', {}, 'Image'));
    const media = this.data.media;
    if (!media.length) {
      group.append(h('p', { class: 'muted small' }, 'Add images in the Media section to pick one here.'));
    } else {
      const chosen = media.find((m) => m.url === current);
      const choice = (value, content, label, checked) => h('label', { class: 'image-choice', title: label },
        h('input', { type: 'radio', name, value, checked, 'aria-label': label }), content);
      group.append(h('div', { class: 'image-choices' },
        choice('', h('span', { class: 'image-none' }, 'None'), 'No image', !chosen),
        media.map((m, index) => choice(String(m.id),
          h('img', { src: thumbnail(m.url, 160), alt: '' }), m.alt_text || `Image ${index + 1}`, chosen && chosen.id === m.id))));
    }
    group.append(h('p', { class: 'field-error', id: 'variant-media-error', hidden: true }));
    this.imageGroup = group;
    this.initialMedia = (media.find((m) => m.url === current) || {}).id || null;
    return group;
  }

  /** The request body; throws ApiError (naming the field) for what the browser can tell. */
  body() {
    const c = this.controls;
    const v = this.variant;
    const body = {};
    const text = (name) => c[name].value.trim();
    const sku = text('sku');
    if (!sku) throw new ApiError('sku: enter a SKU', { field: 'sku' });
    if (!v || sku !== v.sku) body.sku = sku;
    const name = text('name');
    if (!v ? name : name !== (v.name || '')) body.name = name || null;
    for (const [field] of MONEY_FIELDS) {
      const value = text(field);
      if (!v ? value : value !== decimalText(v[field])) body[field] = value || null;
    }
    const rawQuantity = text('stock_quantity');
    const quantity = rawQuantity === '' ? 0 : Number(rawQuantity);
    if (!Number.isInteger(quantity) || quantity < 0) {
      throw new ApiError('stock_quantity: must be a whole number, 0 or more', { field: 'stock_quantity' });
    }
    if (!v ? quantity !== 0 : quantity !== v.stock_quantity) body.stock_quantity = quantity;
    const status = c.stock_status.value;
    if (status === 'backorder' && (!v || v.stock_status !== 'backorder')) body.stock_status = 'backorder';
    if (status === '' && v && v.stock_status === 'backorder') body.stock_status = quantity > 0 ? 'in_stock' : 'out_of_stock';
    const ean = text('ean');
    if (!v ? ean : ean !== (v.ean || '')) body.ean = ean || null;
    if (!v ? !c.is_enabled.checked : c.is_enabled.checked !== v.is_enabled) body.is_enabled = c.is_enabled.checked;
    const before = new Map(((v && v.attributes) || []).map((a) => [a.attribute_code, a.value]));
    const attributes = {};
    for (const [axis, control] of this.axisControls) {
      const value = axisValue(axis, control);
      const had = before.has(axis.code) ? before.get(axis.code) : null;
      if (value === null && had === null) continue;
      if (value !== null && had !== null && String(value) === String(had)) continue;
      attributes[axis.code] = value;
    }
    if (Object.keys(attributes).length) body.attributes = attributes;
    const picked = this.imageGroup.querySelector('input[type="radio"]:checked');
    const media = picked && picked.value ? Number(picked.value) : null;
    if (media !== this.initialMedia && (v || media !== null)) body.media_id = media;
    return body;
  }
}

/** A control for one axis attribute: a list for select and boolean, else a text box. */
function axisControl(axis, value) {
  const attrs = { name: `attributes.${axis.code}`, 'data-field': `attributes.${axis.code}` };
  if (axis.type === 'select' || axis.type === 'boolean') {
    const options = axis.type === 'boolean'
      ? [['true', 'Yes'], ['false', 'No']]
      : axis.options.map((option) => [option, option]);
    const select = h('select', attrs, h('option', { value: '' }, '—'),
      options.map(([optionValue, label]) => h('option', { value: optionValue }, label)));
    select.value = value === undefined || value === null ? '' : String(value);
    return select;
  }
  return h('input', {
    ...attrs, type: 'text', autocomplete: 'off', value: value === undefined || value === null ? '' : String(value),
    inputmode: axis.type === 'number' ? 'decimal' : null,
  });
}

/** The JSON value of an axis control, or null when it is empty. */
function axisValue(axis, control) {
  const raw = control.value.trim();
  if (raw === '') return null;
  if (axis.type === 'boolean') return raw === 'true';
  return raw; // numbers go as decimal strings: the server keeps them exactly
}

const unset = (value) => value === null || value === undefined || value === '';

/** A variant's price; one without a price of its own sells at the product's, shown
 *  greyed and said to be inherited (to the eye by its tooltip, to a screen reader in words). */
function priceCell(variant, product) {
  const currency = product.currency || 'EUR';
  const inherited = unset(variant.price) && !unset(product.price);
  const regular = inherited
    ? h('span', { class: 'price-inherited', title: 'Inherited from the product' },
      money(product.price, currency), h('span', { class: 'visually-hidden' }, ' (inherited from the product)'),
      // A touch screen shows no tooltip: the words are on the phone's card instead.
      h('span', { class: 'inherited-note', 'aria-hidden': 'true' }, 'from the product'))
    : money(variant.price, currency);
  if (unset(variant.sale_price)) return regular;
  return h('span', {}, h('s', { class: 'muted' }, regular), ' ', money(variant.sale_price, currency));
}

function showValue(value) {
  if (value === undefined || value === null) return '—';
  if (value === true) return 'Yes';
  if (value === false) return 'No';
  return String(value);
}

function stockLabel(status) {
  return { in_stock: 'In stock', out_of_stock: 'Out of stock', backorder: 'Backorder' }[status] || status;
}
