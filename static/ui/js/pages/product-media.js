// The product page's media section (mounted by pages/product.js): the product's images
// as a grid of thumbnails in position order. Alt text is edited in place; an image moves
// with its arrow buttons or by dragging it onto another; adding takes a URL (fetched by
// the server) or files dropped on or picked from the drop zone, uploaded one after the
// other with a progress bar each.
import { api, ApiError, apiUpload } from '../api.js';
import {
  clearFieldErrors, confirmDialog, dropZone, errorBox, errorText, field, formatBytes, h, replace,
  showFieldError, spinner, thumbnail, toast,
} from '../ui.js';
import { percent } from './image-search.js';
import { remember, sectionGone } from './product-sections-common.js';

const THUMB_WIDTH = 320;
const MAX_MB = 20;

// The last list seen per product (a few products), so that a re-mount (ctx.refresh()
// re-renders the whole page) or a later visit shows the grid at once, not a spinner.
// What the user should still see after a re-mount (an upload's error, the button that
// had the focus) goes in ctx.carry, which lives only as long as the product page.
const lastSeen = new Map(); // product id → media list
const CARRY = 'media'; // ctx.carry's key: { uploads: [row nodes], focus: selector }

/**
 * Fill `container` with this section for `product` (the API's product JSON).
 * ctx = { signal, refresh, navigate, carry }.
 */
export function mount(container, product, ctx) {
  const section = new MediaSection(container, product, ctx);
  section.start();
}

class MediaSection {
  constructor(container, product, ctx) {
    this.container = container;
    this.product = product;
    this.ctx = ctx;
    this.items = lastSeen.get(product.id) || null;
    this.count = h('span', { class: 'muted small' });
    this.grid = h('ul', { class: 'media-grid', 'aria-label': 'Images in display order' });
    this.body = h('div', { class: 'media-body' });
    this.uploads = h('ul', { class: 'upload-list', 'aria-label': 'Uploads', 'aria-live': 'polite' });
    this.dragged = null;
  }

  start() {
    this.container.setAttribute('aria-labelledby', `media-${this.product.id}-title`);
    this.container.classList.add('product-section', 'media-section');
    const zone = h('div', { class: 'dropzone media-dropzone' },
      h('span', { class: 'dropzone-icon', 'aria-hidden': 'true' }, '⇪'),
      h('strong', {}, 'Drop images here'),
      h('button', { class: 'btn btn-small', type: 'button' }, 'Choose images…'),
      h('span', { class: 'small' }, `JPEG, PNG, WebP or GIF, up to ${MAX_MB} MB each`));
    this.fileInput = dropZone(zone, (files) => this.uploadAll(files), { multiple: true });
    this.fileInput.setAttribute('aria-label', 'Image files');
    replace(this.container,
      h('div', { class: 'card-header' }, h('div', { class: 'section-title' }, h('h2', { id: `media-${this.product.id}-title` }, 'Media'), this.count)),
      this.body,
      h('div', { class: 'media-add' }, zone, this.urlForm()),
      this.uploads);
    const carry = this.ctx.carry && this.ctx.carry.get(CARRY);
    if (carry) this.ctx.carry.delete(CARRY);
    for (const upload of (carry && carry.uploads) || []) this.uploads.append(upload);
    if (this.items) this.render(carry && carry.focus);
    else replace(this.body, spinner('Loading media…'));
    this.load(carry && carry.focus);
  }

  async load(focus) {
    try {
      const data = await api('GET', `/api/products/${this.product.id}/media`, { signal: this.ctx.signal });
      this.setItems(data.media);
      this.render(focus);
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(this.body, errorBox(error, () => this.load()));
    }
  }

  setItems(items) {
    this.items = items;
    remember(lastSeen, this.product.id, items);
  }

  /** The product's `images` follow the media: reload the page's product after a change. */
  refreshProduct(focus) {
    const pending = [...this.uploads.querySelectorAll('.upload-failed, .upload-duplicate')];
    if (this.ctx.carry) this.ctx.carry.set(CARRY, { uploads: pending, focus });
    this.ctx.refresh();
  }

  render(focus) {
    const items = this.items || [];
    this.count.textContent = items.length === 1 ? '1 image' : `${items.length} images`;
    if (!items.length) {
      replace(this.body, h('p', { class: 'media-empty muted' }, 'No images yet. The first image is the product\'s main image.'));
      return;
    }
    replace(this.grid, items.map((item, index) => this.tile(item, index, items.length)));
    replace(this.body, this.grid);
    if (focus) {
      const target = this.grid.querySelector(focus);
      const usable = target && (target.disabled ? target.parentElement.querySelector('button:not(:disabled)') : target);
      if (usable) usable.focus();
    }
  }

  tile(item, index, total) {
    const alt = h('input', {
      type: 'text', name: 'alt_text', maxlength: 500, value: item.alt_text || '',
      placeholder: 'Describe the image', autocomplete: 'off',
    });
    const altField = field('Alt text', alt);
    alt.addEventListener('change', () => this.saveAlt(item, alt, altField));
    alt.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') { event.preventDefault(); alt.blur(); }
      if (event.key === 'Escape') { alt.value = item.alt_text || ''; alt.blur(); }
    });
    const move = (to, direction) => this.move(item, to, `[data-move="${direction}"][data-media="${item.id}"]`);
    const tile = h('li', {
      class: 'media-tile', draggable: 'true', dataset: { media: String(item.id) },
    },
      h('div', { class: 'media-frame' },
        h('a', { href: item.url, target: '_blank', rel: 'noopener', title: 'Open the full image', draggable: 'false' },
          h('img', {
            src: thumbnail(item.url, THUMB_WIDTH), alt: item.alt_text || '', loading: 'lazy',
            width: item.width, height: item.height, draggable: 'false',
          })),
        index === 0 ? h('span', { class: 'badge media-main' }, 'Main image') : null),
      h('p', { class: 'media-meta muted small' },
        `${item.width}×${item.height} · ${String(item.format).toUpperCase()} · ${formatBytes(item.bytes)}`),
      altField,
      h('div', { class: 'media-actions' },
        h('button', {
          class: 'btn btn-small icon-btn', type: 'button', title: 'Move left',
          disabled: index === 0, dataset: { move: 'left', media: String(item.id) }, onclick: () => move(index - 1, 'left'),
        }, '←'),
        h('button', {
          class: 'btn btn-small icon-btn', type: 'button', title: 'Move right',
          disabled: index === total - 1, dataset: { move: 'right', media: String(item.id) }, onclick: () => move(index + 1, 'right'),
        }, '→'),
        h('button', {
          class: 'btn btn-small btn-danger-ghost', type: 'button', dataset: { action: 'delete' },
          onclick: (event) => this.remove(item, event.currentTarget),
        }, 'Delete')));
    nameTile(tile, item, index, total);
    this.dragAndDrop(tile, item);
    return tile;
  }

  /** Drag one tile onto another: it takes that tile's place. */
  dragAndDrop(tile, item) {
    tile.addEventListener('dragstart', (event) => {
      if (event.target !== tile) return;
      this.dragged = item;
      tile.classList.add('is-dragged');
      event.dataTransfer.effectAllowed = 'move';
      event.dataTransfer.setData('application/x-micropim-media', String(item.id));
    });
    tile.addEventListener('dragend', () => {
      this.dragged = null;
      tile.classList.remove('is-dragged');
      for (const node of this.grid.querySelectorAll('.is-drop-target')) node.classList.remove('is-drop-target');
    });
    tile.addEventListener('dragover', (event) => {
      if (!this.dragged || this.dragged.id === item.id) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'move';
      tile.classList.add('is-drop-target');
    });
    tile.addEventListener('dragleave', () => tile.classList.remove('is-drop-target'));
    tile.addEventListener('drop', (event) => {
      if (!this.dragged || this.dragged.id === item.id) return;
      event.preventDefault();
      event.stopPropagation();
      tile.classList.remove('is-drop-target');
      const moving = this.dragged;
      this.dragged = null;
      this.move(moving, this.items.findIndex((x) => x.id === item.id));
    });
  }

  async move(item, position, focus) {
    const items = [...this.items];
    const from = items.findIndex((x) => x.id === item.id);
    if (from < 0 || position < 0 || position >= items.length || from === position) return;
    items.splice(position, 0, ...items.splice(from, 1));
    const before = this.items;
    this.setItems(items.map((x, index) => ({ ...x, position: index })));
    this.render(focus); // at once; the server agrees or we put it back
    this.grid.setAttribute('aria-busy', 'true');
    try {
      await api('PATCH', `/api/products/${this.product.id}/media/${item.id}`, { body: { position } });
      toast(`Moved to position ${position + 1}.`, 'success');
      if (!sectionGone(this.ctx, this.product.id)) this.refreshProduct(focus);
    } catch (error) {
      if (sectionGone(this.ctx, this.product.id)) {
        toast(`Could not move the image: ${errorText(error)}`, 'error');
        return;
      }
      this.setItems(before);
      this.render(focus);
      toast(`Could not move the image: ${errorText(error)}`, 'error');
    } finally {
      this.grid.removeAttribute('aria-busy');
    }
  }

  async saveAlt(item, input, altField) {
    const value = input.value.trim();
    if (value === (item.alt_text || '')) return;
    clearFieldErrors(altField);
    input.disabled = true;
    altField.classList.add('is-saving');
    try {
      const saved = await api('PATCH', `/api/products/${this.product.id}/media/${item.id}`,
        { body: { alt_text: value || null } });
      toast('Alt text saved.', 'success');
      if (sectionGone(this.ctx, this.product.id)) return;
      Object.assign(item, saved);
      remember(lastSeen, this.product.id, this.items);
      input.value = saved.alt_text || '';
      const image = altField.closest('.media-tile').querySelector('img');
      image.alt = saved.alt_text || '';
      const index = this.items.indexOf(item);
      nameTile(altField.closest('.media-tile'), item, index, this.items.length);
    } catch (error) {
      if (!showFieldError(altField, error)) toast(errorText(error), 'error');
    } finally {
      input.disabled = false;
      altField.classList.remove('is-saving');
    }
  }

  async remove(item, button) {
    const label = item.alt_text ? `“${item.alt_text}”` : 'this image';
    if (!await confirmDialog(`Delete ${label}? Variants that show it lose their image.`)) return;
    button.disabled = true;
    button.textContent = 'Deleting…';
    try {
      await api('DELETE', `/api/products/${this.product.id}/media/${item.id}`);
      toast('Image deleted.', 'success');
      if (sectionGone(this.ctx, this.product.id)) return;
      this.setItems(this.items.filter((x) => x.id !== item.id).map((x, index) => ({ ...x, position: index })));
      this.render();
      this.refreshProduct();
    } catch (error) {
      button.disabled = false;
      button.textContent = 'Delete';
      toast(`Could not delete the image: ${errorText(error)}`, 'error');
    }
  }

  urlForm() {
    const input = h('input', {
      type: 'url', name: 'file_url', placeholder: 'https://example.com/photo.jpg',
      autocomplete: 'off', spellcheck: 'false', inputmode: 'url',
    });
    const button = h('button', { class: 'btn', type: 'submit' }, 'Add from URL');
    const form = h('form', { class: 'media-url-form', novalidate: true },
      h('div', { class: 'media-url-row' }, field('Image URL', input, 'The server fetches it (public addresses only).'), button));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearFieldErrors(form);
      const url = input.value.trim();
      if (!url) {
        showFieldError(form, new ApiError('file_url: enter the address of an image', { field: 'file_url' }));
        return;
      }
      button.disabled = true;
      input.readOnly = true;
      button.textContent = 'Fetching…';
      try {
        const created = await api('POST', `/api/products/${this.product.id}/media`, { body: { file_url: url } });
        toast('Image added.', 'success');
        this.warnDuplicates(created, 'The image from that address');
        if (sectionGone(this.ctx, this.product.id)) return;
        input.value = '';
        this.setItems([...(this.items || []), created].sort((a, b) => a.position - b.position));
        this.render();
        this.refreshProduct();
      } catch (error) {
        if (this.ctx.signal.aborted || !showFieldError(form, error)) toast(errorText(error), 'error');
      } finally {
        button.disabled = false;
        input.readOnly = false;
        button.textContent = 'Add from URL';
      }
    });
    return form;
  }

  /** Upload files one after the other (they keep their order), then reload once. */
  async uploadAll(files) {
    for (const node of this.uploads.querySelectorAll('.upload-done, .upload-failed, .upload-duplicate')) node.remove();
    const rows = files.map((file) => this.uploadRow(file));
    let added = 0;
    for (const [index, file] of files.entries()) {
      const row = rows[index];
      if (file.size > MAX_MB * 1024 * 1024) {
        row.fail(`The file is larger than ${MAX_MB} MB.`);
        continue;
      }
      row.start();
      try {
        const form = new FormData();
        form.append('file', file, file.name);
        // Not aborted when the page is re-rendered: the user asked for the file to be added.
        const created = await apiUpload(`/api/products/${this.product.id}/media`, form, { onProgress: row.progress });
        added += 1;
        row.done();
        this.warnDuplicates(created, file.name);
        if (this.ctx.signal.aborted) continue;
        this.setItems([...(this.items || []), created].sort((a, b) => a.position - b.position));
        this.render();
      } catch (error) {
        row.fail(`Not added: ${errorText(error).replace(/^file: /, '')}`);
      }
    }
    if (added) {
      toast(added === 1 ? 'Image uploaded.' : `${added} images uploaded.`, 'success');
      if (!sectionGone(this.ctx, this.product.id)) this.refreshProduct();
    }
  }

  /** A warning, kept until dismissed, when an added image looks like other products'
   *  (the server's `near_duplicates`): a duplicated product is seen at once. */
  warnDuplicates(created, what) {
    const others = created.near_duplicates || [];
    if (!others.length) return;
    if (this.ctx.signal.aborted) { // the section was replaced meanwhile: say it where it shows
      toast(`${what} looks like an image of ${others.map((other) => other.name).join(', ')}.`);
      return;
    }
    const row = h('li', { class: 'upload-row upload-duplicate', role: 'alert' },
      h('span', { class: 'upload-warning-icon', 'aria-hidden': 'true' }, '⚠'),
      h('div', { class: 'upload-text' },
        h('strong', {}, `${what} looks like ${others.length === 1 ? 'an image of another product' : `images of ${others.length} other products`}:`),
        h('ul', { class: 'duplicate-list' }, others.map((other) => h('li', {},
          h('a', { href: `#/products/${other.id}` }, other.name), ' ',
          h('span', { class: 'mono muted small' }, other.sku), ' ',
          h('span', { class: 'small' }, `${percent(other.score)}% match`)))),
        h('span', { class: 'muted small' }, 'Is one of them the same product? Then this one may be a duplicate.')),
      h('button', {
        class: 'toast-close upload-dismiss', type: 'button', 'aria-label': `Dismiss the warning about ${what}`,
        onclick: () => row.remove(),
      }, '×'));
    this.uploads.append(row);
  }

  uploadRow(file) {
    const preview = URL.createObjectURL(file);
    const progress = h('progress', { max: 100, value: 0, 'aria-label': `Upload of ${file.name}` });
    const state = h('span', { class: 'upload-state' }, 'Waiting…');
    const row = h('li', { class: 'upload-row upload-waiting' },
      h('img', { class: 'thumb', src: preview, alt: '' }),
      h('div', { class: 'upload-text' },
        h('span', { class: 'upload-name' }, file.name),
        h('span', { class: 'muted small' }, formatBytes(file.size))),
      h('div', { class: 'upload-status' }, progress, state));
    const image = row.querySelector('img');
    image.addEventListener('error', () => image.replaceWith(h('span', { class: 'thumb thumb-empty', 'aria-hidden': 'true' })));
    this.uploads.append(row);
    const set = (kind, text) => {
      row.className = `upload-row upload-${kind}`;
      state.textContent = text;
    };
    return {
      progress: (fraction) => {
        progress.value = Math.round(fraction * 100);
        if (fraction >= 1) state.textContent = 'Processing…';
      },
      start: () => set('running', 'Uploading…'),
      done: () => {
        set('done', 'Added');
        progress.value = 100;
        URL.revokeObjectURL(preview);
      },
      fail: (message) => {
        if (this.ctx.signal.aborted) toast(`${file.name}: ${message}`, 'error'); // its row is no longer shown
        set('failed', message);
        progress.remove();
        state.setAttribute('role', 'alert');
        row.append(h('button', {
          class: 'toast-close upload-dismiss', type: 'button', 'aria-label': `Dismiss ${file.name}`,
          onclick: () => { row.remove(); URL.revokeObjectURL(preview); },
        }, '×'));
      },
    };
  }
}

/** The tile's and its buttons' accessible names, which say which image they act on. */
function nameTile(tile, item, index, total) {
  const label = item.alt_text || `Image ${index + 1}`;
  tile.setAttribute('aria-label', `${label}, position ${index + 1} of ${total}`);
  tile.querySelector('[data-move="left"]').setAttribute('aria-label', `Move ${label} left`);
  tile.querySelector('[data-move="right"]').setAttribute('aria-label', `Move ${label} right`);
  tile.querySelector('[data-action="delete"]').setAttribute('aria-label', `Delete ${label}`);
}
