// The product page's media section (mounted by pages/product.js). Placeholder until built.
import { h } from '../ui.js';

/**
 * Fill `container` with this section for `product` (the API's product JSON).
 * ctx = { signal, refresh, navigate }: `refresh()` reloads the product and re-renders
 * the page (call it after a change that alters the product's own fields, such as
 * images or stock); `signal` aborts when the user leaves the page.
 */
export function mount(container, product, ctx) {
  container.append(h('p', { class: 'muted' }, 'Coming soon.'));
}
