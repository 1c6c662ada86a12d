// The shell: sign-in, the top bar, and a hash router that hands each screen to its
// page module. Screens live at addresses a user can bookmark and share:
//
//   #/products?search=mug&status=active&page=2   product list
//   #/products/new                               new product
//   #/products/42                                one product
//   #/categories                                 category tree
//   #/image-search                               search by photo
//
// A page module exports `render(view, ctx)`, where ctx = { params, query, signal,
// navigate }. It may answer a cleanup function, called when the user leaves.

import { api, ApiError, clearKey, getKey, setKey } from './api.js';
import { errorBox, errorText, field, h, replace, spinner, title, toast } from './ui.js';

const ROUTES = [
  { pattern: /^\/products\/?$/, section: 'products', load: () => import('./pages/products.js') },
  { pattern: /^\/products\/(new|\d+)$/, section: 'products', load: () => import('./pages/product.js'), names: ['id'] },
  { pattern: /^\/categories\/?$/, section: 'categories', load: () => import('./pages/categories.js') },
  { pattern: /^\/image-search\/?$/, section: 'image-search', load: () => import('./pages/image-search.js') },
];

const view = document.getElementById('view');
const topbar = document.querySelector('.topbar');
let leave = null; // the current page's cleanup and its abort controller
let signOutNotice = null;

/** Go to a screen: navigate('/products/42') or navigate('/products', { search: 'mug' }). */
export function navigate(path, query, { replace: replaceEntry = false } = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  const hash = `#${path}${text ? `?${text}` : ''}`;
  if (replaceEntry) {
    history.replaceState(null, '', hash);
    route();
  } else if (location.hash === hash) {
    route();
  } else {
    location.hash = hash;
  }
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/products';
  const [path, search = ''] = raw.split('?');
  return { path, query: new URLSearchParams(search) };
}

async function route() {
  if (leave) leave();
  leave = null;
  if (!getKey()) {
    showSignIn();
    return;
  }
  topbar.hidden = false;
  document.body.classList.remove('signed-out');
  const { path, query } = parseHash();
  const found = ROUTES.map((entry) => ({ entry, match: entry.pattern.exec(path) })).find((x) => x.match);
  for (const link of document.querySelectorAll('.nav a[data-section]')) {
    link.toggleAttribute('aria-current', found ? link.dataset.section === found.entry.section : false);
  }
  closeMenu();
  if (!found) {
    title('Not found');
    replace(view, h('div', { class: 'page' }, h('h1', {}, 'Page not found'),
      h('p', {}, 'There is nothing at this address. ', h('a', { href: '#/products' }, 'Go to the products.'))));
    return;
  }
  const controller = new AbortController();
  let cleanup = null;
  leave = () => {
    controller.abort();
    if (typeof cleanup === 'function') cleanup();
  };
  const params = {};
  (found.entry.names || []).forEach((name, index) => { params[name] = found.match[index + 1]; });
  replace(view, spinner());
  try {
    const page = await found.entry.load();
    if (controller.signal.aborted) return;
    replace(view);
    cleanup = await page.render(view, { params, query, signal: controller.signal, navigate });
  } catch (error) {
    if (error.name === 'AbortError' || controller.signal.aborted) return;
    replace(view, h('div', { class: 'page' }, errorBox(error, () => route())));
  }
}

function showSignIn(notice) {
  topbar.hidden = true;
  document.body.classList.add('signed-out');
  title('Sign in');
  const input = h('input', {
    type: 'password', name: 'key', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'mpk_…', required: true,
  });
  const button = h('button', { class: 'btn btn-primary btn-block', type: 'submit' }, 'Sign in');
  const problem = h('p', { class: 'alert alert-error', role: 'alert', hidden: !notice }, notice || '');
  const form = h('form', { class: 'signin-form', novalidate: true },
    field('API key', input, 'Printed by `micropim serve --demo` or `micropim create-key --org NAME`. '
      + 'It stays in this browser tab only and is forgotten when you close it.'),
    problem,
    button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      problem.textContent = 'Enter your API key.';
      problem.hidden = false;
      input.focus();
      return;
    }
    button.disabled = true;
    button.textContent = 'Signing in…';
    setKey(key);
    try {
      await api('GET', '/api/channels', { checkingKey: true }); // any call with a key tells
      signOutNotice = null;
      if (!location.hash || location.hash === '#/' || location.hash.startsWith('#/sign-in')) {
        navigate('/products', null, { replace: true });
      } else {
        route();
      }
    } catch (error) {
      clearKey();
      problem.textContent = error instanceof ApiError && error.status === 401
        ? 'That key was not accepted. Check it and try again.'
        : errorText(error);
      problem.hidden = false;
      button.disabled = false;
      button.textContent = 'Sign in';
      input.select();
    }
  });
  replace(view, h('div', { class: 'signin' },
    h('div', { class: 'signin-card card' },
      h('div', { class: 'signin-brand' }, h('img', { src: '/ui/icon.svg', alt: '', width: 40, height: 40 }),
        h('h1', {}, 'MicroPIM')),
      h('p', { class: 'muted' }, 'Sign in with your organization\'s API key to manage the catalog.'),
      form)));
  input.focus();
}

function closeMenu() {
  topbar.classList.remove('menu-open');
  topbar.querySelector('.nav-toggle').setAttribute('aria-expanded', 'false');
}

topbar.querySelector('.nav-toggle').addEventListener('click', () => {
  const open = topbar.classList.toggle('menu-open');
  topbar.querySelector('.nav-toggle').setAttribute('aria-expanded', String(open));
});

topbar.querySelector('[data-action="sign-out"]').addEventListener('click', () => {
  clearKey();
  if (leave) leave();
  leave = null;
  toast('Signed out.');
  showSignIn();
});

window.addEventListener('micropim:signed-out', () => {
  signOutNotice = 'Your key is no longer accepted. Sign in again.';
  if (leave) leave();
  leave = null;
  showSignIn(signOutNotice);
});

window.addEventListener('hashchange', route);
route();
