// The image-search screen. (Placeholder until built.)
import { h, title } from '../ui.js';

export async function render(view) {
  title('image-search');
  view.append(h('div', { class: 'page-header' }, h('h1', {}, 'image-search')));
}
