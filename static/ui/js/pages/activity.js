// The activity page (#/activity?type=product.*): the change feed, newest first, each
// event linking to what it is about. New events appear at the top as they commit (the
// page looks every few seconds); "Show older" pages back. The filter is in the address.

import { api } from '../api.js';
import { dateTime, emptyState, errorBox, h, option, replace, title } from '../ui.js';
import { EVENT_KINDS } from './webhooks.js';

const PAGE = 50;
const POLL_MS = 4000;

/** Where an event's object is shown in this interface, or null. */
function linkOf(event) {
  const [kind] = event.type.split('.');
  if (kind === 'category') return event.type === 'category.deleted' ? null : '#/categories';
  if (kind === 'attribute') return null;
  return event.product_id ? `#/products/${event.product_id}` : null;
}

/** A few words naming the object: its name, SKU, locale or alt text. */
function summaryOf(event) {
  const data = event.data || {};
  const [kind] = event.type.split('.');
  if (kind === 'translation') return `${data.locale || ''}${data.name ? `: ${data.name}` : ''}`;
  if (kind === 'media') return data.alt_text || `image ${event.object_id}`;
  if (kind === 'stock') return `${data.sku || ''}: ${data.stock ?? ''} in stock`;
  return [data.name, data.sku].filter(Boolean).join(' · ') || `#${event.object_id}`;
}

function row(event) {
  const link = linkOf(event);
  const what = summaryOf(event);
  return h('tr', { dataset: { id: event.id } },
    h('td', { class: 'activity-when' }, dateTime(event.occurred_at)),
    h('td', {}, h('span', { class: `badge badge-event badge-event-${event.type.split('.')[1]}` }, event.type)),
    h('td', {}, link ? h('a', { href: link }, what) : what),
    h('td', {}, h('details', { class: 'activity-data' },
      h('summary', {}, `#${event.id}`),
      h('pre', {}, JSON.stringify(event.data, null, 2)))));
}

export async function render(view, ctx) {
  title('Activity');
  const type = ctx.query.get('type') || '';
  const filter = h('select', { name: 'type', 'aria-label': 'Event type' },
    option('', 'All events', !type),
    Object.entries(EVENT_KINDS).map(([kind, actions]) => [
      option(`${kind}.*`, `${kind}: all`, type === `${kind}.*`),
      actions.map((action) => option(`${kind}.${action}`, `  ${kind}.${action}`, type === `${kind}.${action}`)),
    ]));
  filter.addEventListener('change', () => ctx.navigate('/activity', { type: filter.value }));
  const body = h('tbody', {});
  const list = h('div', { class: 'activity-list' });
  const older = h('button', { class: 'btn', type: 'button', hidden: true }, 'Show older');
  replace(view, h('div', { class: 'page' },
    h('div', { class: 'page-header' },
      h('h1', {}, 'Activity'),
      h('div', { class: 'page-actions' }, h('a', { class: 'btn', href: '#/webhooks' }, 'Webhooks'))),
    h('p', { class: 'muted' }, 'Every change to the catalog, as GET /api/events and webhooks see it.'),
    h('div', { class: 'toolbar' }, filter),
    list,
    h('div', { class: 'pagination' }, older)));

  let newest = null;
  let oldest = null;
  const table = h('div', { class: 'table-wrap' }, h('table', { class: 'activity' },
    h('thead', {}, h('tr', {}, ['When', 'Event', 'About', 'Data'].map((name) => h('th', { scope: 'col' }, name)))),
    body));

  async function page(before) {
    const query = { order: 'newest', limit: PAGE, type: type || undefined, before };
    return api('GET', '/api/events', { query, signal: ctx.signal });
  }

  function show(events, { atTop = false } = {}) {
    if (!events.length) return;
    if (!body.isConnected) replace(list, table);
    const rows = events.map(row);
    if (atTop) body.prepend(...rows);
    else body.append(...rows);
  }

  async function first() {
    try {
      const answer = await page(undefined);
      if (!answer.events.length) {
        replace(list, emptyState('No events yet', type ? 'Nothing of this type has changed.'
          : 'Changes to products, categories, media and the rest appear here as they happen.'));
      }
      show(answer.events);
      newest = answer.events.length ? answer.events[0].id : null;
      oldest = answer.events.length ? answer.events[answer.events.length - 1].id : null;
      older.hidden = answer.events.length < PAGE;
    } catch (error) {
      if (error.name !== 'AbortError') replace(list, errorBox(error, first));
    }
  }

  older.addEventListener('click', async () => {
    older.disabled = true;
    try {
      const answer = await page(oldest);
      show(answer.events);
      if (answer.events.length) oldest = answer.events[answer.events.length - 1].id;
      older.hidden = answer.events.length < PAGE;
    } catch (error) {
      if (error.name !== 'AbortError') list.append(errorBox(error));
    } finally {
      older.disabled = false;
    }
  });

  // New events, oldest first after the newest shown, put on top.
  let looked = false; // the first page has been asked for (until then, nothing to follow)
  const poll = setInterval(async () => {
    if (!looked || document.hidden) return;
    try {
      // Without a newest event yet: from the oldest kept (an `after` of 0 would be older
      // than what retention kept, a 410).
      const answer = await api('GET', '/api/events', {
        query: { after: newest ?? undefined, limit: 1000, type: type || undefined }, signal: ctx.signal });
      if (answer.events.length) {
        show([...answer.events].reverse(), { atTop: true });
        newest = answer.next_after;
      }
    } catch {
      // the next look tries again
    }
  }, POLL_MS);

  await first();
  looked = true;
  return () => clearInterval(poll);
}
