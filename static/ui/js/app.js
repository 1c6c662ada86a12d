// The shell: sign-in, the top bar, and a hash router that hands each screen to its
// page module. Screens live at addresses a user can bookmark and share:
//
//   #/products?search=mug&status=active&page=2   product list
//   #/products/new                               new product
//   #/products/42                                one product
//   #/categories                                 category tree
//   #/import?job=7                               import a file, follow an import job
//   #/image-search                               search by photo
//   #/activity?type=product.*                    the change feed, newest first
//   #/webhooks                                   webhooks and their deliveries
//
// A page module exports `render(view, ctx)`, where ctx = { params, query, signal,
// navigate, traversed } (traversed: the user came by Back or Forward). It may answer a
// cleanup function, called when the user leaves. Leaving also closes any dialog the
// page left open, and signing out reloads the document, so that nothing a page keeps
// at module level (caches, lists) outlives the organization it came from.

import { api, ApiError, clearKey, getKey, setKey } from './api.js';
import { errorBox, errorText, field, h, replace, spinner, title, toast } from './ui.js';

const ROUTES = [
  { pattern: /^\/products\/?$/, section: 'products', load: () => import('./pages/products.js') },
  { pattern: /^\/products\/(new|\d+)$/, section: 'products', load: () => import('./pages/product.js'), names: ['id'] },
  { pattern: /^\/categories\/?$/, section: 'categories', load: () => import('./pages/categories.js') },
  { pattern: /^\/import\/?$/, section: 'import', load: () => import('./pages/import.js') },
  { pattern: /^\/image-search\/?$/, section: 'image-search', load: () => import('./pages/image-search.js') },
  { pattern: /^\/activity\/?$/, section: 'activity', load: () => import('./pages/activity.js') },
  { pattern: /^\/webhooks\/?$/, section: 'webhooks', load: () => import('./pages/webhooks.js') },
];

const view = document.getElementById('view');
const topbar = document.querySelector('.topbar');
let leave = null; // the current page's cleanup and its abort controller
let signingOut = false;
// Set before the reload that signing out does, read once after it: "signed-out" or
// "expired" (the server refused the key), for the sign-in screen to say so.
const SIGNED_OUT = 'micropim.signed-out';
// Whether the navigation being routed is Back/Forward (the Navigation API tells; without
// it every navigation counts as one, which only means a list may keep its scroll).
let traversed = true;
if (window.navigation) {
  window.navigation.addEventListener('navigate', (event) => { traversed = event.navigationType === 'traverse'; });
}
// The pages restore their own scroll once their content is drawn; the browser's own
// restoring happens before that, on a page that is not there yet.
history.scrollRestoration = 'manual';

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

/** Run the current page's cleanup and close the dialogs it left open (an open dialog
 *  would stay over the next page, and its Save would write to the old screen's data;
 *  a confirmDialog closed this way answers false). */
function leavePage() {
  if (leave) leave();
  leave = null;
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
}

/** Keyboard and screen-reader users start at the new content, unless the page put the
 *  focus somewhere in it already (a form's first field). */
function focusView() {
  if (!view.contains(document.activeElement) || document.activeElement === document.body) {
    view.focus({ preventScroll: true });
  }
}

async function route() {
  leavePage();
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
    focusView();
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
  const cameBack = traversed;
  traversed = true; // until the next navigate event says otherwise
  replace(view, spinner());
  try {
    const page = await found.entry.load();
    if (controller.signal.aborted) return;
    replace(view);
    cleanup = await page.render(view, { params, query, signal: controller.signal, navigate, traversed: cameBack });
    if (controller.signal.aborted) return;
  } catch (error) {
    if (error.name === 'AbortError' || controller.signal.aborted) return;
    replace(view, h('div', { class: 'page' }, errorBox(error, () => route())));
  }
  focusView();
}

function showSignIn(notice) {
  topbar.hidden = true;
  document.body.classList.add('signed-out');
  title('Sign in');
  // Not type=password: a password manager would offer to save the key, which is meant
  // to live in this tab's session storage only. The text is masked by CSS instead.
  const input = h('input', {
    type: 'text', name: 'key', class: 'masked-text', autocomplete: 'off', spellcheck: 'false',
    autocapitalize: 'off', autocorrect: 'off', placeholder: 'mpk_…', required: true,
    'data-1p-ignore': true, 'data-lpignore': 'true',
  });
  const button = h('button', { class: 'btn btn-primary btn-block', type: 'submit' }, 'Sign in');
  const problem = h('p', { class: 'alert alert-error', role: 'alert', hidden: !notice }, notice || '');
  const form = h('form', { class: 'signin-form', novalidate: true },
    field('API key', input, ['Printed by ', h('code', {}, 'micropim serve --demo'), ' or ',
      h('code', {}, 'micropim create-key --org NAME'),
      '. It stays in this browser tab only and is forgotten when you close it.']),
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

/** Forget the key and start the document again: a clean slate for the next user of
 *  the tab (module-level caches of the products, lists, drafts are all gone). */
function signOut(reason) {
  clearKey();
  if (signingOut) return;
  signingOut = true;
  leavePage(); // also lifts the product page's "unsaved changes" prompt
  sessionStorage.setItem(SIGNED_OUT, reason);
  location.reload();
}

// The API reference opens in a tab of its own, which starts with a session storage of
// its own: the key would be lost there. So a plain click opens it with window.open, and
// the new tab asks this one for the key by message (static/docs/docs.js); the answer
// goes only to a tab this one opened, on this origin. The key is never put in an
// address. A blocked pop-up opens the reference in this tab, which keeps the key.
// (Ctrl-click or middle-click opens it without the key: "Authorize" still works.)
const docsTabs = new WeakSet();
topbar.querySelector('[data-action="api-reference"]').addEventListener('click', (event) => {
  if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey || !getKey()) return;
  event.preventDefault();
  closeMenu();
  const tab = window.open('/docs', '_blank');
  if (tab) docsTabs.add(tab);
  else location.assign('/docs');
});
window.addEventListener('message', (event) => {
  if (event.origin !== location.origin || !event.source || !docsTabs.has(event.source)) return;
  if (!event.data || event.data.type !== 'micropim:key-request') return;
  const key = getKey();
  if (key) event.source.postMessage({ type: 'micropim:key', key }, location.origin);
});

topbar.querySelector('[data-action="sign-out"]').addEventListener('click', () => signOut('signed-out'));
window.addEventListener('micropim:signed-out', () => signOut('expired'));
window.addEventListener('hashchange', route);

const reason = sessionStorage.getItem(SIGNED_OUT);
if (reason) {
  // Just signed out: whatever key is stored now is not the user's choice.
  sessionStorage.removeItem(SIGNED_OUT);
  clearKey();
  if (reason === 'expired') {
    showSignIn('Your key is no longer accepted. Sign in again.');
  } else {
    toast('Signed out.');
    showSignIn();
  }
} else {
  route();
}
