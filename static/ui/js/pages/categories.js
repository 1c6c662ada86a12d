// The categories screen. (Placeholder until built.)
import { h, title } from '../ui.js';

export async function render(view) {
  title('categories');
  view.append(h('div', { class: 'page-header' }, h('h1', {}, 'categories')));
}
