// The product list: search, filters, sort and pages. (Placeholder until built.)
import { h, title } from '../ui.js';

export async function render(view) {
  title('Products');
  view.append(h('div', { class: 'page-header' }, h('h1', {}, 'Products')));
}
