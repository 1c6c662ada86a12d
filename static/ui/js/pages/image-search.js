// Search by photo: drop a picture (or pick one, or paste it), see it, and see the
// products whose images look most like it, best first, each with its similarity.
// POST /api/products/image-search, multipart `image` and `limit`.

import { api } from '../api.js';
import {
  dropZone, emptyState, errorBox, formatBytes, h, money, replace, spinner, svgIcon, thumbnail, title,
} from '../ui.js';

const MAX_BYTES = 20 * 1024 * 1024; // the server's cap (README "Image search")
const LIMITS = [5, 10, 20, 50];
let chosenLimit = 10; // kept while the tab is open

/** Whether the screen is touched rather than pointed at (a phone, a tablet): nothing is
 *  dropped or pasted with a keyboard shortcut there, and the file picker offers the camera. */
function touchScreen() {
  return window.matchMedia('(hover: none) and (pointer: coarse)').matches;
}

/** The paste shortcut in this system's words. */
function pasteKeys() {
  const platform = (navigator.userAgentData && navigator.userAgentData.platform) || navigator.platform || '';
  return /mac|iphone|ipad/i.test(platform) ? '\u2318V' : 'Ctrl+V';
}

/** A picture-frame icon for the empty drop zone. */
function photoIcon() {
  return svgIcon(['M3 6a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z',
    'M3 16l5-5 4 4 3-3 6 6', 'M15.5 8.5h.01'], { viewBox: '0 0 24 24', className: 'is-zone-icon' });
}

/** The score as a whole percentage; the model's cosine similarity is 0…1. */
export function percent(score) {
  return Math.max(0, Math.min(100, Math.round(Number(score) * 100)));
}

function productImage(product) {
  const url = product.images && product.images[0];
  if (!url) return h('div', { class: 'is-thumb is-thumb-empty', 'aria-hidden': 'true' }, 'No image');
  return h('img', { class: 'is-thumb', src: thumbnail(url, 320), alt: '', loading: 'lazy' });
}

/** A found product as a card: its image, name, SKU, price and similarity. */
export function resultCard(product, rank) {
  const score = percent(product.score);
  const link = `#/products/${product.id}`;
  const sale = product.sale_price !== null && product.sale_price !== undefined && product.sale_price !== '';
  return h('li', { class: 'is-result' },
    h('a', { class: 'is-thumb-link', href: link, tabindex: '-1', 'aria-hidden': 'true' }, productImage(product)),
    h('div', { class: 'is-body' },
      h('span', { class: 'is-rank', 'aria-hidden': 'true' }, `#${rank}`),
      h('h3', { class: 'is-name' }, h('a', { href: link }, product.name)),
      h('p', { class: 'is-sku mono' }, product.sku),
      h('p', { class: 'is-price' },
        sale ? [h('span', { class: 'is-sale' }, money(product.sale_price, product.currency)), ' ',
          h('s', { class: 'muted' }, money(product.price, product.currency))]
          : money(product.price, product.currency)),
      h('div', { class: 'is-score' },
        h('div', {
          class: 'is-bar', role: 'meter', 'aria-label': 'Similarity',
          'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(score),
          'aria-valuetext': `${score}% similar`,
        }, h('span', { class: 'is-bar-fill', style: { width: `${score}%` } })),
        h('span', { class: 'is-score-text' }, `${score}% match`))));
}

export async function render(view, ctx) {
  title('Image search');
  let file = null;
  let previewUrl = null;
  let running = null; // the AbortController of the search in flight

  const touch = touchScreen();
  const results = h('section', { class: 'is-results', 'aria-label': 'Matching products', 'aria-live': 'polite' },
    emptyState('Search the catalog with a photo',
      (touch ? 'Choose a photo of a product, or take one with the camera. '
        : 'Drop a photo of a product, choose one, or paste it from the clipboard. ')
      + 'The products whose images look most like it are shown here, best first.'));

  const zone = h('div', { class: 'dropzone is-zone' });
  const input = dropZone(zone, (files) => choose(files[0]));
  input.setAttribute('aria-label', 'Photo to search with');
  const limit = h('select', { name: 'limit', id: 'is-limit' },
    LIMITS.map((n) => h('option', { value: String(n), selected: n === chosenLimit }, `${n} results`)));
  limit.addEventListener('change', () => {
    chosenLimit = Number(limit.value);
    if (file) search();
  });

  const side = h('aside', { class: 'is-side' },
    h('div', { class: 'card is-query' }, zone,
      h('div', { class: 'is-options' },
        h('label', { for: 'is-limit' }, 'Show up to'), limit)));
  view.append(
    h('div', { class: 'page-header' },
      h('div', {},
        h('h1', {}, 'Image search'),
        h('p', { class: 'muted is-lede' }, 'Find products by what they look like.'))),
    h('div', { class: 'is-layout' }, side, results));
  drawZone();

  function drawZone() {
    const keep = input; // the picker stays in the zone
    if (!file) {
      replace(zone,
        photoIcon(),
        h('strong', {}, touch ? 'Search with a photo' : 'Drop a photo here'),
        h('button', { class: 'btn btn-small is-choose', type: 'button' }, 'Choose a photo…'),
        h('span', { class: 'small' }, touch ? 'or take one with the camera' : `or paste one with ${pasteKeys()}`),
        h('span', { class: 'small muted' }, 'JPEG, PNG, WebP or GIF, up to 20\u00a0MB'),
        keep);
      zone.classList.remove('has-photo');
      return;
    }
    const unreadable = () => h('div', { class: 'is-preview is-preview-none', 'aria-hidden': 'true' }, 'No preview');
    let preview = unreadable();
    if (file.type.startsWith('image/')) {
      preview = h('img', { class: 'is-preview', src: previewUrl, alt: `The photo searched with: ${file.name}` });
      preview.addEventListener('error', () => preview.replaceWith(unreadable()), { once: true });
    }
    replace(zone,
      preview,
      h('span', { class: 'is-file small' }, h('strong', {}, file.name || 'Pasted image'), ` · ${formatBytes(file.size)}`),
      h('button', { class: 'btn btn-small is-change', type: 'button' }, 'Choose another photo'),
      keep);
    zone.classList.add('has-photo');
  }

  function choose(picked) {
    if (!picked) return;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    file = picked;
    previewUrl = URL.createObjectURL(picked);
    drawZone();
    search();
  }

  async function search() {
    if (running) running.abort();
    const controller = new AbortController();
    running = controller;
    // Removed when this search is replaced by the next, so searches do not pile listeners up.
    ctx.signal.addEventListener('abort', () => controller.abort(), { once: true, signal: controller.signal });
    if (file.size > MAX_BYTES) {
      replace(results, errorBox(new Error(
        `${file.name} is ${formatBytes(file.size)}: too large. The largest photo the server takes is 20 MB.`)));
      return;
    }
    results.setAttribute('aria-busy', 'true');
    replace(results, spinner('Looking for similar products…'));
    const form = new FormData();
    form.append('image', file, file.name || 'pasted-image');
    form.append('limit', String(chosenLimit));
    try {
      const data = await api('POST', '/api/products/image-search', { form, signal: controller.signal });
      if (running !== controller) return;
      showResults(data);
    } catch (error) {
      if (error.name === 'AbortError' || running !== controller) return;
      replace(results, problem(error));
    } finally {
      if (running === controller) {
        results.removeAttribute('aria-busy');
        running = null;
        controller.abort(); // done: drops its listener on the page's signal
      }
    }
  }

  function problem(error) {
    if (error.status === 503 && /^image search unavailable/.test(error.message)) {
      return h('div', {},
        errorBox(error, () => search()),
        h('p', { class: 'muted small' },
          'The image index was built with another model. An administrator can rebuild it with ',
          h('code', {}, 'micropim reindex'), '; searching works again once that is done.'));
    }
    return errorBox(error, error.status && error.status < 500 ? null : () => search());
  }

  function showResults(data) {
    if (!data.products.length) {
      replace(results, emptyState('No product images to compare with yet',
        'Image search compares your photo with the images of the catalog’s products (archived '
        + 'ones left out). Add images on a product’s page, then search again.',
        h('a', { class: 'btn', href: '#/products' }, 'Go to the products')));
      return;
    }
    const shown = data.products.length;
    replace(results,
      h('p', { class: 'is-count muted small' },
        `${shown} most similar product${shown === 1 ? '' : 's'}, best first`),
      h('ol', { class: 'is-grid' }, data.products.map((product, index) => resultCard(product, index + 1))));
  }

  const onPaste = (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
    const pasted = [...(event.clipboardData ? event.clipboardData.files : [])]
      .find((item) => item.type.startsWith('image/'));
    if (pasted) {
      event.preventDefault();
      choose(pasted);
    }
  };
  document.addEventListener('paste', onPaste);
  return () => {
    document.removeEventListener('paste', onPaste);
    if (running) running.abort();
    if (previewUrl) URL.revokeObjectURL(previewUrl);
  };
}
