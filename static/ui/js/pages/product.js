// One product: edit its fields, attributes, categories, channels and stock; the media,
// variants and translations sections come from their own modules.
// (Placeholder until built: it shows where each section mounts.)
import { api } from '../api.js';
import { h, title } from '../ui.js';
import * as media from './product-media.js';
import * as translations from './product-translations.js';
import * as variants from './product-variants.js';

export async function render(view, ctx) {
  const { params, signal } = ctx;
  if (params.id === 'new') {
    title('New product');
    view.append(h('h1', {}, 'New product'));
    return;
  }
  const product = await api('GET', `/api/products/${params.id}`, { signal });
  title(product.name);
  view.append(h('h1', {}, product.name));
  const refresh = () => ctx.navigate(`/products/${product.id}`);
  for (const [name, section] of [['Media', media], ['Variants', variants], ['Translations', translations]]) {
    const container = h('section', { class: 'card', 'aria-label': name }, h('h2', {}, name));
    view.append(container);
    section.mount(container, product, { signal, refresh, navigate: ctx.navigate });
  }
}
