// The webhooks page (#/webhooks): the organization's webhooks with their status, and
// for each: edit, enable or disable, send a test ping, rotate the secret, see the last
// deliveries, delete. A secret is shown once, in a dialog, when a webhook is made or
// its secret rotated (the server never shows it again).

import { api, apiAll } from '../api.js';
import {
  confirmDialog, dateTime, emptyState, errorBox, errorText, field, h, replace, showFieldError, title, toast,
} from '../ui.js';

// The event types (store/events.py TYPES), by kind, for the subscription checkboxes.
export const EVENT_KINDS = {
  product: ['created', 'updated', 'archived'],
  variant: ['created', 'updated', 'deleted'],
  category: ['created', 'updated', 'moved', 'deleted'],
  media: ['created', 'updated', 'deleted'],
  stock: ['updated'],
  translation: ['updated', 'deleted'],
  attribute: ['created', 'updated', 'deleted'],
};
const STATUS_TEXT = { active: 'Active', failing: 'Failing', disabled: 'Disabled' };
const DELIVERIES = 20;

function statusBadge(status) {
  return h('span', { class: `badge badge-hook-${status}` }, STATUS_TEXT[status] || status);
}

/** The patterns a set of ticked boxes stands for: `*`, `kind.*` or single types. */
function patternsOf(form) {
  const ticked = [...form.querySelectorAll('input[name="event"]:checked')].map((box) => box.value);
  const kinds = Object.entries(EVENT_KINDS);
  if (ticked.length === kinds.reduce((sum, [, actions]) => sum + actions.length, 0)) return ['*'];
  const patterns = [];
  for (const [kind, actions] of kinds) {
    const mine = actions.filter((action) => ticked.includes(`${kind}.${action}`));
    if (mine.length === actions.length && actions.length > 1) patterns.push(`${kind}.*`);
    else patterns.push(...mine.map((action) => `${kind}.${action}`));
  }
  return patterns;
}

function subscribed(patterns, type) {
  const [kind] = type.split('.');
  return patterns.includes('*') || patterns.includes(`${kind}.*`) || patterns.includes(type);
}

function eventBoxes(patterns) {
  return h('fieldset', { class: 'hook-events', 'data-field': 'events' },
    h('legend', {}, 'Events'),
    Object.entries(EVENT_KINDS).map(([kind, actions]) => h('div', { class: 'hook-kind' },
      h('span', { class: 'hook-kind-name' }, kind),
      actions.map((action) => {
        const type = `${kind}.${action}`;
        return h('label', { class: 'check' },
          h('input', { type: 'checkbox', name: 'event', value: type, checked: subscribed(patterns, type) }), ` ${action}`);
      }))));
}

/** The form of a new or an existing webhook, in a dialog; answers the saved webhook or null. */
function editDialog(hook) {
  return new Promise((resolve) => {
    const url = h('input', { type: 'url', name: 'url', required: true, value: hook ? hook.url : '',
      placeholder: 'https://shop.example.com/hooks/pim', autocomplete: 'off' });
    const description = h('input', { type: 'text', name: 'description', maxlength: '500',
      value: hook ? hook.description : '' });
    const problem = h('p', { class: 'alert alert-error', role: 'alert', hidden: true });
    const save = h('button', { class: 'btn btn-primary', type: 'submit' }, hook ? 'Save' : 'Add webhook');
    const form = h('form', { class: 'hook-form', novalidate: true },
      h('h2', { id: 'hook-dialog-title' }, hook ? 'Edit webhook' : 'Add a webhook'),
      field('URL', url, 'http or https; the server POSTs each event there, signed with the secret.'),
      field('Description', description),
      eventBoxes(hook ? hook.events : ['*']),
      problem,
      h('div', { class: 'dialog-actions' },
        h('button', { class: 'btn', type: 'button', onclick: () => dialog.close() }, 'Cancel'),
        save));
    const dialog = h('dialog', { class: 'dialog dialog-wide', 'aria-labelledby': 'hook-dialog-title' }, form);
    let saved = null;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      problem.hidden = true;
      const events = patternsOf(form);
      if (!events.length) {
        problem.textContent = 'Choose at least one event.';
        problem.hidden = false;
        return;
      }
      const body = { url: url.value.trim(), events, description: description.value.trim() };
      save.disabled = true;
      try {
        saved = hook ? await api('PATCH', `/api/webhooks/${hook.id}`, { body })
          : await api('POST', '/api/webhooks', { body });
        dialog.close();
      } catch (error) {
        if (!showFieldError(form, error)) {
          problem.textContent = errorText(error);
          problem.hidden = false;
        }
      } finally {
        save.disabled = false;
      }
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(saved);
    });
    document.body.append(dialog);
    dialog.showModal();
    url.focus();
  });
}

/** The one showing of a secret, with a button that copies it. */
function secretDialog(hook, heading) {
  const secret = h('input', { type: 'text', readonly: true, value: hook.secret, class: 'hook-secret',
    'aria-label': 'Signing secret' });
  const dialog = h('dialog', { class: 'dialog dialog-wide', 'aria-labelledby': 'secret-title' },
    h('form', { method: 'dialog' },
      h('h2', { id: 'secret-title' }, heading),
      h('p', {}, 'Copy the signing secret now: it is not shown again. The receiver checks each request\'s ',
        h('code', {}, 'webhook-signature'), ' with it.'),
      secret,
      h('div', { class: 'dialog-actions' },
        h('button', { class: 'btn', type: 'button', onclick: async () => {
          try {
            await navigator.clipboard.writeText(hook.secret);
            toast('Secret copied.', 'success');
          } catch {
            secret.select();
          }
        } }, 'Copy'),
        h('button', { class: 'btn btn-primary', value: 'ok' }, 'Done'))));
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  secret.select();
}

function deliveriesTable(deliveries) {
  if (!deliveries.length) return h('p', { class: 'muted' }, 'Nothing delivered yet.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'hook-deliveries' },
    h('thead', {}, h('tr', {}, ['When', 'Event', 'Try', 'Answer', 'Time'].map((name) => h('th', { scope: 'col' }, name)))),
    h('tbody', {}, deliveries.map((item) => h('tr', { class: item.error ? 'delivery-failed' : 'delivery-ok' },
      h('td', {}, dateTime(item.attempted_at)),
      h('td', {}, item.event_id === null ? 'ping' : `#${item.event_id}`),
      h('td', {}, String(item.attempt)),
      h('td', {}, item.error || `HTTP ${item.http_status}`),
      h('td', {}, `${item.duration_ms} ms`))))));
}

class WebhooksPage {
  constructor(view, ctx) {
    this.view = view;
    this.signal = ctx.signal;
    this.list = h('div', { class: 'hook-list' });
    replace(view, h('div', { class: 'page' },
      h('div', { class: 'page-header' },
        h('h1', {}, 'Webhooks'),
        h('div', { class: 'page-actions' },
          h('a', { class: 'btn', href: '#/activity' }, 'Activity'),
          h('button', { class: 'btn btn-primary', type: 'button', onclick: () => this.add() }, 'Add webhook'))),
      h('p', { class: 'muted' }, 'A webhook receives every change it subscribes to, one signed POST per event,'
        + ' in order, retried until the receiver answers 2xx.'),
      this.list));
  }

  async load() {
    try {
      this.hooks = await apiAll('/api/webhooks', 'webhooks', { signal: this.signal });
    } catch (error) {
      if (error.name !== 'AbortError') replace(this.list, errorBox(error, () => this.load()));
      return;
    }
    this.draw();
  }

  draw() {
    if (!this.hooks.length) {
      replace(this.list, emptyState('No webhooks yet',
        'Add one to have the server tell your shop or script about every change as it happens.'));
      return;
    }
    replace(this.list, this.hooks.map((hook) => this.card(hook)));
  }

  card(hook) {
    const deliveries = h('div', { class: 'hook-deliveries-slot', hidden: true });
    const toggle = h('button', { class: 'btn btn-small', type: 'button', 'aria-expanded': 'false' }, 'Deliveries');
    toggle.addEventListener('click', async () => {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open));
      deliveries.hidden = !open;
      if (!open) return;
      replace(deliveries, h('p', { class: 'muted' }, 'Loading…'));
      try {
        const answer = await api('GET', `/api/webhooks/${hook.id}/deliveries`, { query: { limit: DELIVERIES }, signal: this.signal });
        replace(deliveries, deliveriesTable(answer.deliveries));
      } catch (error) {
        if (error.name !== 'AbortError') replace(deliveries, errorBox(error));
      }
    });
    return h('section', { class: 'card hook-card', dataset: { id: hook.id }, 'aria-label': hook.url },
      h('div', { class: 'card-header' },
        h('div', { class: 'hook-title' },
          h('strong', { class: 'hook-url' }, hook.url), ' ', statusBadge(hook.status),
          hook.description ? h('p', { class: 'muted' }, hook.description) : null),
        h('div', { class: 'page-actions' },
          h('button', { class: 'btn btn-small', type: 'button', onclick: () => this.test(hook) }, 'Send test'),
          h('button', { class: 'btn btn-small', type: 'button', onclick: () => this.edit(hook) }, 'Edit'),
          h('button', { class: 'btn btn-small', type: 'button', onclick: () => this.setEnabled(hook, !hook.enabled) },
            hook.enabled ? 'Disable' : 'Enable'),
          h('button', { class: 'btn btn-small', type: 'button', onclick: () => this.rotate(hook) }, 'Rotate secret'),
          toggle,
          h('button', { class: 'btn btn-small btn-danger', type: 'button', onclick: () => this.remove(hook) }, 'Delete'))),
      h('p', { class: 'hook-events-line' }, 'Events: ', hook.events.join(', ')),
      h('p', { class: 'muted' }, `Its next delivery is the first event after #${hook.delivered_id}`
        + ' (the last one it acknowledged, or the newest when it was added).',
        hook.failing_since ? ` Failing since ${dateTime(hook.failing_since)}.` : ''),
      hook.last_error ? h('p', { class: 'alert alert-error' }, hook.last_error) : null,
      deliveries);
  }

  replaceHook(saved) {
    const index = this.hooks.findIndex((item) => item.id === saved.id);
    const { secret, ...shown } = saved;
    if (index >= 0) this.hooks[index] = shown;
    else this.hooks.push(shown);
    this.draw();
    return secret;
  }

  async add() {
    const saved = await editDialog(null);
    if (!saved) return;
    this.replaceHook(saved);
    secretDialog(saved, 'Webhook added');
  }

  async edit(hook) {
    const saved = await editDialog(hook);
    if (saved) {
      this.replaceHook(saved);
      toast('Webhook saved.', 'success');
    }
  }

  async setEnabled(hook, enabled) {
    try {
      this.replaceHook(await api('PATCH', `/api/webhooks/${hook.id}`, { body: { enabled } }));
      toast(enabled ? 'Webhook enabled: it goes on from its first undelivered event.' : 'Webhook disabled.', 'success');
    } catch (error) {
      toast(errorText(error), 'error');
    }
  }

  async test(hook) {
    try {
      const ping = await api('POST', `/api/webhooks/${hook.id}/test`);
      if (ping.ok) toast(`The receiver answered HTTP ${ping.http_status} in ${ping.duration_ms} ms.`, 'success');
      else toast(`The test failed: ${ping.error}.`, 'error');
    } catch (error) {
      toast(errorText(error), 'error');
    }
  }

  async rotate(hook) {
    if (!await confirmDialog('Make a new signing secret? The current one stops working at once.',
      { confirm: 'Rotate secret', danger: true })) return;
    try {
      const saved = await api('POST', `/api/webhooks/${hook.id}/rotate-secret`);
      this.replaceHook(saved);
      secretDialog(saved, 'New secret');
    } catch (error) {
      toast(errorText(error), 'error');
    }
  }

  async remove(hook) {
    if (!await confirmDialog(`Delete the webhook to ${hook.url}? Deliveries stop at once.`)) return;
    try {
      await api('DELETE', `/api/webhooks/${hook.id}`);
      this.hooks = this.hooks.filter((item) => item.id !== hook.id);
      this.draw();
      toast('Webhook deleted.', 'success');
    } catch (error) {
      toast(errorText(error), 'error');
    }
  }
}

export async function render(view, ctx) {
  title('Webhooks');
  const page = new WebhooksPage(view, ctx);
  await page.load();
}
