// The product page's "Similar products" section (mounted by pages/product.js): the
// products whose images look most like this product's, best first, each with its
// similarity, as image search shows them. GET /api/products/{id}/similar.
import { api } from '../api.js';
import { errorBox, h, replace, spinner } from '../ui.js';
import { resultCard } from './image-search.js';
import { remember } from './product-sections-common.js';

const LIMIT = 8;
const lastSeen = new Map(); // product id → the last answer, shown at once on a re-mount

/**
 * Fill `container` with this section for `product` (the API's product JSON).
 * ctx = { signal, … } as for the other sections.
 */
export function mount(container, product, ctx) {
  const titleId = `similar-${product.id}-title`;
  const body = h('div', { class: 'similar-body', 'aria-live': 'polite' });
  container.setAttribute('aria-labelledby', titleId);
  container.classList.add('product-section', 'similar-section');
  replace(container,
    h('div', { class: 'card-header' },
      h('div', { class: 'section-title' }, h('h2', { id: titleId }, 'Similar products'),
        h('span', { class: 'muted small' }, 'by their images'))),
    body);

  const show = (data) => {
    if (!data.products.length) {
      replace(body, h('p', { class: 'similar-empty muted' }, (product.images || []).length
        ? 'No other product has an image like this one’s.'
        : 'Add an image to see the products that look like this one.'));
      return;
    }
    replace(body, h('ol', { class: 'is-grid similar-grid' },
      data.products.map((item, index) => resultCard(item, index + 1))));
  };

  const load = async () => {
    try {
      const data = await api('GET', `/api/products/${product.id}/similar?limit=${LIMIT}`, { signal: ctx.signal });
      remember(lastSeen, product.id, data);
      show(data);
    } catch (error) {
      if (error.name === 'AbortError' || ctx.signal.aborted) return;
      replace(body, errorBox(error, () => load()));
    }
  };

  const seen = lastSeen.get(product.id);
  if (seen) show(seen);
  else replace(body, spinner('Finding similar products…'));
  return load();
}
