// The product list (#/products): the catalog at a glance, with search, filters, sort
// and pages.
//
// Everything the user picks lives in the address (#/products?search=mug&status=active
// &page=2), so reload, bookmarks and back/forward keep it. Changes made on this screen
// update the address with history.pushState/replaceState and reload only the results:
// going through the router would rebuild the page on every keystroke, flash it and
// take the focus out of the search box. Back and forward change the hash, so the router
// renders the screen again from the address, helped by a small cache of recent answers.
//
// Every list request aborts the one before it, so an older answer never overwrites a
// newer one.

import { api, apiAll, apiDownload, ApiError } from '../api.js';
import {
  clearFieldErrors, dateTime, debounce, emptyState, errorBox, errorText, field, h, money, option, replace,
  showFieldError, spinner, statusBadge, thumbnail, title, titleClipped, toast,
} from '../ui.js';

const PATH = '/products';
const DEFAULT_LIMIT = '20';
const PAGE_SIZES = ['10', '20', '50', '100'];
const SEARCH_DELAY_MS = 300;
// The address keys, in the order the address shows them. The filters are what
// "Clear filters" empties; sort and page size stay.
const FILTERS = ['search', 'status', 'brand', 'channel', 'category', 'include_subcategories'];
const KEYS = [...FILTERS, 'sort', 'limit', 'page'];

const STATUS_OPTIONS = [
  ['', 'All but archived'],
  ['active', 'Active'],
  ['draft', 'Draft'],
  ['out_of_stock', 'Out of stock'],
  ['archived', 'Archived'],
];

// The list's `sort` values (handlers/products.py); the empty one is the API's own
// order: relevance for a search, else the order products were added.
const SORT_OPTIONS = [
  ['', ''],
  ['-created_at', 'Newest first'],
  ['name', 'Name A–Z'],
  ['-name', 'Name Z–A'],
  ['sku', 'SKU A–Z'],
  ['-sku', 'SKU Z–A'],
  ['price', 'Price: low to high'],
  ['-price', 'Price: high to low'],
  ['stock', 'Stock: low to high'],
  ['-stock', 'Stock: high to low'],
  ['-updated_at', 'Recently updated'],
  ['updated_at', 'Least recently updated'],
];

// Sortable columns: the API key and the direction of the first click.
const SORTABLE = {
  name: { key: 'name', first: '' },
  sku: { key: 'sku', first: '' },
  price: { key: 'price', first: '' },
  stock: { key: 'stock', first: '' },
  updated: { key: 'updated_at', first: '-' },
};

// Sort values the select does not offer, when an address asks for them.
const OTHER_SORTS = { id: 'Oldest first (by id)', '-id': 'Newest first (by id)', created_at: 'Oldest first (by date)' };

const CHANNEL_SHORT = { web: 'Web', mobile: 'Mobile', api: 'API', marketplace: 'Marketplace', social: 'Social', email: 'Email' };

// Reference lists and recent answers outlive one rendering of the screen, so that
// coming back (or going back) shows the filters and rows at once while they refresh.
// (Signing out reloads the document, so none of this reaches another organization.)
let reference = null;
const recent = new Map();
const RECENT_MAX = 20;
// Where the user had scrolled each address to when they left it, for Back.
const scrolls = new Map();

/** The screen's state from the address: only the keys it knows, none empty. */
function readState(query) {
  const state = {};
  for (const key of KEYS) {
    const value = query.get(key);
    if (value !== null && value !== '') state[key] = value;
  }
  return state;
}

/** The state without the values that are the defaults anyway, in address order. */
function normalState(state) {
  const clean = {};
  for (const key of KEYS) {
    const value = state[key];
    if (value === undefined || value === null || value === '') continue;
    if (key === 'page' && value === '1') continue;
    if (key === 'limit' && value === DEFAULT_LIMIT) continue;
    if (key === 'include_subcategories' && (value !== 'true' || !state.category)) continue;
    clean[key] = value;
  }
  return clean;
}

function addressOf(state) {
  const text = new URLSearchParams(normalState(state)).toString();
  return `#${PATH}${text ? `?${text}` : ''}`;
}

function hasFilters(state) {
  return FILTERS.some((key) => state[key]);
}

/** "Cotton Shirt" → "C", for the placeholder of a product without images. */
function initial(name) {
  const letter = (name || '').trim().charAt(0);
  return letter ? letter.toUpperCase() : '·';
}

/** "just now", "5 min ago", "3 h ago", "yesterday", else the date. */
function ago(iso) {
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return iso || '—';
  const seconds = (Date.now() - moment.getTime()) / 1000;
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  if (seconds < 2 * 86400) return 'yesterday';
  return moment.toLocaleDateString(undefined, { dateStyle: 'medium' });
}

function count(number, one, many) {
  return `${Number(number).toLocaleString()} ${number === 1 ? one : many}`;
}

/** Flatten the category tree into [{id, name, depth}] in tree order. */
function flattenTree(nodes, depth = 0, out = []) {
  for (const node of nodes || []) {
    out.push({ id: String(node.id), name: node.name, depth });
    flattenTree(node.children, depth + 1, out);
  }
  return out;
}

/** Make sure `select` can show `value` (an id the lists do not hold, a typed address). */
function selectValue(select, value, fallbackLabel) {
  const wanted = value || '';
  if (![...select.options].some((item) => item.value === wanted)) {
    select.append(option(wanted, fallbackLabel(wanted)));
  }
  select.value = wanted;
}

function priceCell(product) {
  const { price, sale_price: sale, currency } = product;
  if (price === null || price === undefined) {
    return h('span', { class: 'muted' }, '—');
  }
  if (sale !== null && sale !== undefined && Number(sale) < Number(price)) {
    return h('span', { class: 'price price-on-sale' },
      h('span', { class: 'price-now' }, h('span', { class: 'visually-hidden' }, 'Sale price '), money(sale, currency)),
      h('del', { class: 'price-was' }, h('span', { class: 'visually-hidden' }, 'regular price '), money(price, currency)));
  }
  return h('span', { class: 'price' }, h('span', { class: 'price-now' }, money(price, currency)));
}

/** Build the screen. Answers { root, start, stop }. */
function productList(ctx) {
  const state = readState(ctx.query);
  let channelLabels = {};
  let controller = null; // the list request in flight
  let searchTimer = null;
  let shown = false; // whether rows or a message are on screen (else: first load)
  // Back to this address: the scroll position it had, restored once its rows are drawn.
  let scrollBack = ctx.traversed ? scrolls.get(addressOf(state)) : undefined;

  // ---- controls --------------------------------------------------------------------
  const search = h('input', {
    type: 'search', name: 'search', maxlength: 200, autocomplete: 'off', spellcheck: 'false',
    placeholder: 'Name, SKU or EAN', value: state.search || '',
  });
  const status = h('select', { name: 'status' }, STATUS_OPTIONS.map(([value, label]) => option(value, label)));
  const brand = h('select', { name: 'brand' }, option('', 'All brands'));
  const channel = h('select', { name: 'channel' }, option('', 'All channels'));
  const category = h('select', { name: 'category' }, option('', 'All categories'));
  const subcategories = h('input', { type: 'checkbox', name: 'include_subcategories' });
  const sort = h('select', { name: 'sort' }, SORT_OPTIONS.map(([value, label]) => option(value, label)));
  const limit = h('select', { name: 'limit', class: 'page-size' },
    PAGE_SIZES.map((size) => option(size, size)));

  const clearButton = h('button', { type: 'button', class: 'btn btn-small', onclick: clearFilters }, 'Clear filters');
  const activeSummary = h('p', { class: 'filters-summary-text' });
  const filtersSummary = h('div', { class: 'filters-summary' }, activeSummary, clearButton);
  const filtersToggle = h('button', {
    type: 'button', class: 'btn filters-toggle', 'aria-expanded': 'false', 'aria-controls': 'product-filter-grid',
    onclick: () => {
      const open = form.classList.toggle('filters-open');
      filtersToggle.setAttribute('aria-expanded', String(open));
    },
  }, 'Filters');

  const form = h('form', { class: 'card product-filters', role: 'search', 'aria-label': 'Filter products', novalidate: true },
    h('div', { class: 'filters-search' },
      field('Search', search),
      filtersToggle),
    h('div', { class: 'filter-grid', id: 'product-filter-grid' },
      field('Status', status),
      field('Brand', brand),
      field('Channel', channel),
      h('div', { class: 'filter-category' },
        field('Category', category),
        h('label', { class: 'check' }, subcategories, 'Include subcategories')),
      field('Sort by', sort)),
    filtersSummary);

  const results = h('div', { class: 'product-results' });
  // Tells screen readers what a change found, without reading the whole table out.
  const announcer = h('p', { class: 'visually-hidden', role: 'status' });
  const summary = h('p', { class: 'page-summary' });
  const pageLabel = h('span', { class: 'page-label' });
  const pager = {
    first: pageButton('first', 'First page', '«', 'First'),
    prev: pageButton('prev', 'Previous page', '‹', 'Previous'),
    next: pageButton('next', 'Next page', 'Next', '›'),
    last: pageButton('last', 'Last page', 'Last', '»'),
  };
  const pagerBox = h('div', { class: 'pages' }, pager.first, pager.prev, pageLabel, pager.next, pager.last);
  const pagination = h('nav', { class: 'pagination product-pagination', 'aria-label': 'Pages', hidden: true },
    summary,
    h('div', { class: 'page-controls' },
      h('label', { class: 'page-size-label' }, 'Rows per page', limit),
      pagerBox));

  // Export: every product the filters show (all pages, the list's order aside), as a
  // file the browser saves. The key goes in a header, so this is a fetch, not a link.
  const exportFormat = h('select', { name: 'export_format', 'aria-label': 'Export format' },
    option('csv', 'CSV'), option('ndjson', 'NDJSON'));
  const exportButton = h('button', { type: 'button', class: 'btn', onclick: exportShown }, 'Export');
  const root = h('div', { class: 'products-page' },
    h('div', { class: 'page-header' },
      h('h1', {}, 'Products'),
      h('div', { class: 'page-actions' },
        h('div', { class: 'export-control', role: 'group', 'aria-label': 'Export the products shown' },
          exportFormat, exportButton),
        h('a', { class: 'btn', href: '#/import' }, 'Import'),
        h('a', { class: 'btn btn-primary', href: '#/products/new' }, '+ New product'))),
    form,
    announcer,
    results,
    pagination);

  let lastPagination = null;
  let pagerPressed = null; // the pager button last used, to keep the focus near it

  // The words fold away on a phone; the arrows and the accessible name stay.
  function pageButton(where, name, before, after) {
    const word = (text) => (text.length > 1 ? h('span', { class: 'pager-word' }, text) : text);
    return h('button', { type: 'button', class: `btn btn-small pager-${where}`, 'aria-label': name, onclick: () => goTo(where) },
      word(before), ' ', word(after));
  }

  // ---- state and address -----------------------------------------------------------
  // The search box is written only at the start and by "Clear filters": the user may be
  // typing in it while an answer or the reference lists arrive.
  function syncControls() {
    selectValue(status, state.status, (value) => value);
    selectValue(brand, state.brand, (value) => `Brand #${value}`);
    selectValue(channel, state.channel, (value) => value);
    selectValue(category, state.category, (value) => `Category #${value}`);
    subcategories.checked = state.include_subcategories === 'true';
    subcategories.disabled = !state.category;
    selectValue(sort, state.sort, (value) => OTHER_SORTS[value] || value);
    selectValue(limit, state.limit || DEFAULT_LIMIT, (value) => value);
    sort.options[0].textContent = state.search ? 'Best match' : 'Oldest first';
    describeFilters();
  }

  /** Change the state, write the address (a new history entry unless `replace`), reload. */
  function apply(changes, { replace: replaceEntry = false, keepPage = false } = {}) {
    // Text typed but not yet searched for goes along with any other change.
    clearTimeout(searchTimer);
    Object.assign(state, { search: search.value.trim() }, changes);
    for (const key of Object.keys(state)) {
      if (state[key] === '' || state[key] === null || state[key] === undefined) delete state[key];
    }
    if (!state.category) delete state.include_subcategories;
    if (!keepPage) delete state.page;
    const address = addressOf(state);
    if (location.hash !== address) {
      if (replaceEntry) history.replaceState(null, '', address);
      else history.pushState(null, '', address);
    }
    syncControls();
    load();
  }

  function clearFilters() {
    const changes = {};
    for (const key of FILTERS) changes[key] = '';
    search.value = '';
    apply(changes);
    search.focus();
  }

  function goTo(where) {
    if (!lastPagination) return;
    const current = lastPagination.current_page;
    const last = Math.max(lastPagination.total_pages, 1);
    const target = { first: 1, prev: current - 1, next: current + 1, last }[where];
    pagerPressed = where;
    apply({ page: String(Math.min(Math.max(target, 1), last)) }, { keepPage: true });
    if (form.getBoundingClientRect().bottom < 0) form.scrollIntoView({ block: 'start' });
  }

  function filterWords() {
    const words = [];
    const label = (select) => (select.selectedOptions[0] ? select.selectedOptions[0].textContent.trim() : select.value);
    if (state.search) words.push(`search “${state.search}”`);
    if (state.status) words.push(`status ${label(status)}`);
    if (state.brand) words.push(`brand ${label(brand)}`);
    if (state.channel) words.push(`channel ${label(channel)}`);
    if (state.category) {
      words.push(`category ${label(category)}${state.include_subcategories === 'true' ? ' and its subcategories' : ''}`);
    }
    return words;
  }

  function describeFilters() {
    const words = filterWords();
    filtersSummary.hidden = words.length === 0;
    activeSummary.textContent = words.length ? `Filtered by ${joinWords(words)}.` : '';
    const active = FILTERS.filter((key) => key !== 'search' && key !== 'include_subcategories' && state[key]).length;
    filtersToggle.textContent = active ? `Filters (${active})` : 'Filters';
  }

  async function exportShown() {
    const query = { format: exportFormat.value };
    for (const key of FILTERS) if (state[key]) query[key] = state[key];
    const typed = search.value.trim(); // typed but not yet searched for
    if (typed) query.search = typed;
    else delete query.search;
    exportButton.disabled = true;
    exportButton.textContent = 'Exporting…';
    try {
      const { blob, filename } = await apiDownload('/api/products/export', { query, signal: ctx.signal });
      const url = URL.createObjectURL(blob);
      const link = h('a', { href: url, download: filename, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      toast(`Saved ${filename}${hasFilters(state) || typed ? ' with the products the filters show' : ''}.`, 'success');
    } catch (error) {
      if (error.name === 'AbortError' || ctx.signal.aborted) return;
      if (error instanceof ApiError && error.status === 401) return; // the app signs out
      toast(`The export failed: ${errorText(error)}`, 'error');
    } finally {
      exportButton.disabled = false;
      exportButton.textContent = 'Export';
    }
  }

  // ---- loading ---------------------------------------------------------------------
  function apiQuery() {
    const query = {};
    for (const key of KEYS) if (state[key]) query[key] = state[key];
    return query;
  }

  async function load() {
    if (controller) controller.abort();
    const mine = new AbortController();
    controller = mine;
    const query = apiQuery();
    const cacheKey = new URLSearchParams(query).toString();
    clearFieldErrors(root);
    if (!shown && recent.has(cacheKey)) show(recent.get(cacheKey));
    if (shown) {
      results.classList.add('is-loading');
      results.setAttribute('aria-busy', 'true');
    } else {
      replace(results, spinner('Loading products…'));
    }
    try {
      const data = await api('GET', '/api/products', { query, signal: mine.signal });
      if (controller !== mine) return; // a newer request is on its way
      remember(cacheKey, data);
      show(data);
    } catch (error) {
      if (error.name === 'AbortError' || mine.signal.aborted || ctx.signal.aborted) return;
      showError(error);
    } finally {
      if (controller === mine) {
        results.classList.remove('is-loading');
        results.removeAttribute('aria-busy');
      }
    }
  }

  function remember(key, data) {
    recent.delete(key);
    recent.set(key, data);
    while (recent.size > RECENT_MAX) recent.delete(recent.keys().next().value);
  }

  async function loadReference() {
    if (reference) fillReference(reference);
    const [brands, channels, tree] = await Promise.allSettled([
      apiAll('/api/brands', 'brands', { signal: ctx.signal }),
      api('GET', '/api/channels', { signal: ctx.signal }),
      api('GET', '/api/categories/tree', { signal: ctx.signal }),
    ]);
    if (ctx.signal.aborted) return;
    const fresh = { ...(reference || { brands: [], channels: [], categories: [] }) };
    const problems = [];
    if (brands.status === 'fulfilled') {
      fresh.brands = brands.value.slice().sort((a, b) => a.name.localeCompare(b.name));
    } else problems.push(['brands', brands.reason]);
    if (channels.status === 'fulfilled') fresh.channels = channels.value.channels;
    else problems.push(['channels', channels.reason]);
    if (tree.status === 'fulfilled') fresh.categories = flattenTree(tree.value.categories);
    else problems.push(['categories', tree.reason]);
    reference = fresh;
    fillReference(fresh);
    for (const [what, error] of problems) {
      if (error instanceof ApiError && error.status === 401) return; // the app signs out
      toast(`The ${what} for the filters could not be loaded: ${errorText(error)}`, 'error');
    }
  }

  function fillReference({ brands, channels, categories }) {
    replace(brand, option('', 'All brands'), brands.map((item) => option(String(item.id), item.name)));
    channelLabels = Object.fromEntries(channels.map((item) => [item.value, item.label]));
    replace(channel, option('', 'All channels'), channels.map((item) => option(item.value, item.label || item.value)));
    replace(category, option('', 'All categories'),
      categories.map((item) => option(item.id, `${'\u00a0\u00a0\u00a0'.repeat(item.depth)}${item.name}`)));
    syncControls();
    // Rows on screen show channel labels; refresh them once the labels are known.
    if (shown && lastData) show(lastData);
  }

  // ---- showing ---------------------------------------------------------------------
  let lastData = null;

  function show(data) {
    lastData = data;
    shown = true;
    const info = data.pagination;
    lastPagination = info;
    if (!data.products.length) {
      replace(results, emptyFor(info));
      announcer.textContent = info.total_items ? `No products on page ${info.current_page}.` : 'No products found.';
    } else {
      replace(results, table(data.products));
      titleClipped(results);
      announcer.textContent = `${count(info.total_items, 'product', 'products')} found.`;
    }
    updatePagination(info);
    if (scrollBack !== undefined) {
      window.scrollTo(0, scrollBack);
      scrollBack = undefined;
    }
  }

  function emptyFor(info) {
    if (info.total_items > 0) {
      const pages = info.total_pages;
      return h('div', { class: 'card product-empty' }, emptyState(
        `Page ${info.current_page} is past the end`,
        `There ${info.total_items === 1 ? 'is' : 'are'} ${count(info.total_items, 'product', 'products')} on ${count(pages, 'page', 'pages')}.`,
        h('button', { type: 'button', class: 'btn', onclick: () => apply({ page: String(pages) }, { keepPage: true }) },
          `Go to page ${pages}`)));
    }
    if (hasFilters(state)) {
      return h('div', { class: 'card product-empty' }, emptyState(
        'No products match',
        `Nothing was found for ${joinWords(filterWords())}.`,
        h('button', { type: 'button', class: 'btn', onclick: clearFilters }, 'Clear filters')));
    }
    return h('div', { class: 'card product-empty' }, emptyState(
      'No products yet',
      'Add the first product of the catalog, or import them through the API.',
      h('a', { class: 'btn btn-primary', href: '#/products/new' }, '+ New product')));
  }

  function showError(error) {
    // A 400 about a filter (a hand-edited address) also marks that filter's control.
    showFieldError(root, error);
    const actions = [];
    if (error instanceof ApiError && error.status === 400) {
      actions.push(h('button', {
        type: 'button', class: 'btn btn-small',
        onclick: () => {
          for (const key of KEYS) delete state[key];
          search.value = '';
          apply({});
        },
      }, 'Reset filters and sorting'));
    }
    const box = errorBox(error, error instanceof ApiError && error.status === 400 ? null : () => load());
    box.append(...actions);
    replace(results, h('div', { class: 'product-error' },
      h('p', { class: 'product-error-title' }, 'The products could not be loaded.'),
      box));
    shown = true;
    pagination.hidden = true;
    lastData = null;
  }

  function updatePagination(info) {
    const total = info.total_items;
    const pages = info.total_pages;
    const current = info.current_page;
    const size = info.items_per_page;
    pagination.hidden = total === 0;
    const from = (current - 1) * size + 1;
    const to = Math.min(current * size, total);
    const range = from === to ? from.toLocaleString() : `${from.toLocaleString()}–${to.toLocaleString()}`;
    summary.textContent = from <= total
      ? `Showing ${range} of ${count(total, 'product', 'products')}`
      : count(total, 'product', 'products');
    pagerBox.hidden = pages <= 1 && current <= 1;
    pageLabel.textContent = `Page ${current.toLocaleString()} of ${Math.max(pages, 1).toLocaleString()}`;
    pager.first.disabled = current <= 1;
    pager.prev.disabled = current <= 1;
    pager.next.disabled = current >= pages;
    pager.last.disabled = current >= pages;
    // A pager button that became disabled lost the focus: hand it to its neighbour.
    if (pagerPressed && pager[pagerPressed].disabled) {
      const other = ['first', 'prev'].includes(pagerPressed) ? pager.next : pager.prev;
      if (!other.disabled && !pagerBox.hidden) other.focus();
    }
    pagerPressed = null;
  }

  function table(products) {
    const [sortKey, sortDir] = state.sort && state.sort.startsWith('-')
      ? [state.sort.slice(1), 'descending'] : [state.sort || '', 'ascending'];
    const header = (label, column, extra = '') => {
      const sortable = column ? SORTABLE[column] : null;
      if (!sortable) return h('th', { scope: 'col', class: extra }, label);
      const active = sortKey === sortable.key;
      const next = active ? (sortDir === 'ascending' ? '-' : '') : sortable.first;
      const arrow = active ? (sortDir === 'ascending' ? '▲' : '▼') : '↕';
      return h('th', { scope: 'col', class: `${extra} sortable${active ? ' sorted' : ''}`, 'aria-sort': active ? sortDir : null },
        h('button', {
          type: 'button', class: 'sort',
          title: `Sort by ${label.toLowerCase()}`,
          onclick: () => apply({ sort: `${next}${sortable.key}` }),
        }, label, h('span', { class: 'sort-arrow', 'aria-hidden': 'true' }, arrow)));
    };
    return h('div', { class: 'table-wrap' },
      h('table', { class: 'products-table' },
        h('caption', { class: 'visually-hidden' }, 'Products'),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col', class: 'col-thumb' }, h('span', { class: 'visually-hidden' }, 'Image')),
          header('Name', 'name', 'col-name'),
          header('SKU', 'sku', 'col-sku'),
          header('Brand', null, 'col-brand'),
          header('Price', 'price', 'col-price right'),
          header('Stock', 'stock', 'col-stock right'),
          header('Status', null, 'col-status'),
          header('Channels', null, 'col-channels'),
          header('Updated', 'updated', 'col-updated'))),
        h('tbody', {}, products.map(row))));
  }

  function row(product) {
    const href = `#/products/${product.id}`;
    const image = product.images && product.images[0] ? thumbnail(product.images[0], 160) : null;
    const categories = (product.categories || []).map((item) => item.name).join(', ');
    const tr = h('tr', { dataset: { id: String(product.id) } },
      h('td', { class: 'col-thumb' }, image
        ? h('img', { class: 'thumb', src: image, alt: '', loading: 'lazy', width: 48, height: 48 })
        : h('span', { class: 'thumb thumb-empty', 'aria-hidden': 'true' }, initial(product.name))),
      // On a wide screen each value keeps to one line; cut text shows whole in a tooltip
      // (data-clip: titleClipped()).
      h('td', { class: 'col-name' },
        h('a', { class: 'product-link', href, 'data-clip': '' }, product.name),
        categories ? h('span', { class: 'product-categories', 'data-clip': '' }, categories) : null),
      h('td', { class: 'col-sku' }, h('span', { class: 'mono', 'data-clip': '' }, product.sku)),
      h('td', { class: `col-brand${product.brand ? '' : ' no-brand'}` }, product.brand
        ? h('span', { class: 'brand-name', 'data-clip': '' }, product.brand.name) : h('span', { class: 'muted' }, '—')),
      h('td', { class: 'col-price right' }, priceCell(product)),
      h('td', { class: `col-stock right${product.stock > 0 ? '' : ' stock-none'}` },
        h('span', { class: 'stock-number' }, Number(product.stock).toLocaleString()),
        h('span', { class: 'stock-unit' }, ' in stock')),
      h('td', { class: 'col-status' }, statusBadge(product.status)),
      h('td', { class: 'col-channels' }, h('span', {
        class: 'channel-list',
        'data-clip': (product.publishing_channels || []).map((value) => channelLabels[value] || value).join(', '),
      }, (product.publishing_channels || []).map((value) => h('span', {
        class: 'chip', title: channelLabels[value] || value,
      }, CHANNEL_SHORT[value] || value)))),
      h('td', { class: 'col-updated' },
        h('time', { datetime: product.updated_at, title: dateTime(product.updated_at) },
          h('span', { class: 'updated-prefix' }, 'Updated '), ago(product.updated_at))));
    // A click anywhere on the row opens the product, as the name's link does for keys.
    tr.addEventListener('click', (event) => {
      if (event.target.closest('a, button, input, select, label')) return;
      if (String(window.getSelection() || '')) return; // the user is selecting text
      ctx.navigate(`/products/${product.id}`);
    });
    return tr;
  }

  // ---- events ----------------------------------------------------------------------
  // Typing replaces the address's entry (back should not step through every letter).
  const searchNow = () => {
    if (search.value.trim() !== (state.search || '')) apply({}, { replace: true });
  };
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(searchNow, SEARCH_DELAY_MS);
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    apply({}, { replace: search.value.trim() === (state.search || '') });
  });
  status.addEventListener('change', () => apply({ status: status.value }));
  brand.addEventListener('change', () => apply({ brand: brand.value }));
  channel.addEventListener('change', () => apply({ channel: channel.value }));
  category.addEventListener('change', () => apply({ category: category.value }));
  subcategories.addEventListener('change', () => apply({ include_subcategories: subcategories.checked ? 'true' : '' }));
  sort.addEventListener('change', () => apply({ sort: sort.value }));
  limit.addEventListener('change', () => apply({ limit: limit.value }));

  // A new width cuts other texts: their tooltips follow.
  const onResize = debounce(() => titleClipped(results), 150);
  window.addEventListener('resize', onResize);

  ctx.signal.addEventListener('abort', () => {
    clearTimeout(searchTimer);
    if (controller) controller.abort();
    window.removeEventListener('resize', onResize);
  });

  return {
    root,
    start() {
      search.value = state.search || '';
      syncControls();
      load();
      loadReference();
    },
    stop() {
      clearTimeout(searchTimer);
      if (controller) controller.abort();
      const address = addressOf(state);
      scrolls.delete(address);
      scrolls.set(address, window.scrollY);
      while (scrolls.size > RECENT_MAX) scrolls.delete(scrolls.keys().next().value);
    },
  };
}

function joinWords(words) {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

export function render(view, ctx) {
  title('Products');
  const list = productList(ctx);
  view.append(list.root);
  list.start();
  return () => list.stop();
}
