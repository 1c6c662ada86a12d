// The product screen. (Placeholder until built.)
import { h, title } from '../ui.js';

export async function render(view) {
  title('product');
  view.append(h('div', { class: 'page-header' }, h('h1', {}, 'product')));
}
