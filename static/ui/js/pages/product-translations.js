// The product page's translations section (mounted by pages/product.js): a tab per
// locale the product has, plus "Add language". Each tab edits the locale's name, short
// description, description (formatted text) and slug, with the default text shown as
// the placeholder and under each field for reference. The open tab's form is a part of
// the page's one Save bar (ctx.edits): Save replaces the whole translation (PUT) along
// with the product's other changes. Delete removes the locale at once.
import { api, ApiError } from '../api.js';
import {
  clearFieldErrors, confirmDialog, errorBox, errorText, field, h, replace, showFieldError, spinner, toast,
} from '../ui.js';
import { plainText } from '../html.js';
import { editorValue, richTextField } from '../rich-text.js';
import { remember, sectionGone } from './product-sections-common.js';

const COMMON = [
  ['en', 'English'], ['ro', 'Romanian'], ['de', 'German'], ['fr', 'French'],
  ['it', 'Italian'], ['es', 'Spanish'], ['hu', 'Hungarian'], ['pl', 'Polish'],
];
const FIELDS = [
  { name: 'name', label: 'Name', max: 255 },
  { name: 'short_description', label: 'Short description', max: 2000, area: 3 },
  { name: 'description', label: 'Description', max: 65535, area: 5, rich: true },
  { name: 'slug', label: 'Slug', max: 200, hint: 'Empty: made from the translated name.' },
];
// The same shape the server accepts (README "Translations"); it has the last word.
const LOCALE = /^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|\d{3}))?$/;
const lastSeen = new Map(); // product id → translations, for a re-mount after ctx.refresh() (a few products)
// What the user typed and has not saved: another section's ctx.refresh() re-renders the
// page, and the form comes back with it.
const drafts = new Map(); // product id → { locale, isNew, values }

/**
 * Fill `container` with this section for `product` (the API's product JSON).
 * ctx = { signal, refresh, navigate }.
 */
export function mount(container, product, ctx) {
  new TranslationsSection(container, product, ctx).start();
}

function languageName(locale) {
  try {
    const names = new Intl.DisplayNames(['en'], { type: 'language' });
    const name = names.of(locale);
    return name && name !== locale ? name : locale;
  } catch {
    return locale;
  }
}

class TranslationsSection {
  constructor(container, product, ctx) {
    this.container = container;
    this.product = product;
    this.ctx = ctx;
    this.translations = lastSeen.get(product.id) || null;
    this.current = null; // the selected locale, or '+' for "Add language"
    this.count = h('span', { class: 'muted small' });
    this.tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Languages' });
    this.panel = h('div', { class: 'translation-panel', role: 'tabpanel', tabindex: '-1', id: `translations-${product.id}-panel` });
    this.editing = null; // the open form: { form, controls, translation, isNew, locale }
    this.part = null; // what this section gave the Save bar (ctx.edits)
    this.draft = drafts.get(product.id) || null;
    // Replaced (the page refreshed) or left: the Save bar no longer saves this form.
    ctx.signal.addEventListener('abort', () => this.unregister(), { once: true });
  }

  /** Whether the open form holds something other than the saved translation. */
  get dirty() {
    const editing = this.editing;
    if (!editing) return false;
    return FIELDS.some((spec) => {
      const typed = editing.controls[spec.name].value;
      const stored = editing.translation[spec.name] || '';
      return spec.rich ? typed !== editorValue(stored) : typed.trim() !== stored.trim();
    });
  }

  unregister() {
    if (this.part && this.ctx.edits) this.ctx.edits.unregister('translation', this.part);
    this.part = null;
  }

  start() {
    this.container.setAttribute('aria-labelledby', `translations-${this.product.id}-title`);
    this.container.classList.add('product-section', 'translations-section');
    replace(this.container,
      h('div', { class: 'card-header' }, h('div', { class: 'section-title' }, h('h2', { id: `translations-${this.product.id}-title` }, 'Translations'), this.count)),
      this.tabs, this.panel);
    if (this.translations) this.render();
    else replace(this.panel, spinner('Loading translations…'));
    this.load();
  }

  async load() {
    try {
      const data = await api('GET', `/api/products/${this.product.id}/translations`, { signal: this.ctx.signal });
      this.setTranslations(data.translations);
      if (!this.dirty) this.render();
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(this.panel, errorBox(error, () => this.load()));
    }
  }

  setTranslations(list) {
    this.translations = [...list].sort((a, b) => a.locale.localeCompare(b.locale));
    remember(lastSeen, this.product.id, this.translations);
  }

  render() {
    const list = this.translations;
    this.count.textContent = list.length === 1 ? '1 language' : `${list.length} languages`;
    if (this.current !== '+' && !list.some((t) => t.locale === this.current)) {
      this.current = list.length ? list[0].locale : '+';
    }
    const tab = (key, label) => {
      const selected = key === this.current;
      return h('button', {
        type: 'button', role: 'tab', 'aria-selected': String(selected), tabindex: selected ? '0' : '-1',
        id: this.tabId(key), 'aria-controls': this.panel.id, dataset: { locale: key }, onclick: () => this.select(key, true),
      }, label);
    };
    replace(this.tabs,
      list.map((t) => tab(t.locale, `${languageName(t.locale)} (${t.locale})`)),
      tab('+', '+ Add language'));
    this.tabs.onkeydown = (event) => this.arrowKeys(event);
    this.editing = null;
    if (this.draft && this.restore(this.draft)) return;
    if (this.current === '+') this.renderAdd();
    else this.renderForm(list.find((t) => t.locale === this.current));
  }

  /** The id of a locale's tab ('+' is "Add language"), for the panel's aria-labelledby. */
  tabId(key) {
    const part = key === '+' ? 'add' : key.replace(/[^A-Za-z0-9-]/g, '_');
    return `translations-${this.product.id}-tab-${part}`;
  }

  /** The panel is named by its selected tab. */
  labelPanel(key) {
    this.panel.setAttribute('aria-labelledby', this.tabId(key));
  }

  /** Bring back unsaved typing after a re-render; answers whether it did. */
  restore(draft) {
    this.draft = null;
    const found = this.translations.find((t) => t.locale === draft.locale);
    if (draft.isNew ? found : !found) {
      drafts.delete(this.product.id);
      return false;
    }
    if (draft.isNew) {
      this.current = draft.locale;
      this.renderForm({ locale: draft.locale }, true, draft.values);
      this.markNewTab(draft.locale);
    } else {
      if (this.current !== draft.locale) {
        this.current = draft.locale;
        this.render(); // selects the draft's tab; the draft is applied below
      }
      this.renderForm(found, false, draft.values);
    }
    return true;
  }

  arrowKeys(event) {
    const buttons = [...this.tabs.querySelectorAll('[role="tab"]')];
    const at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    let next = null;
    if (event.key === 'ArrowRight') next = buttons[(at + 1) % buttons.length];
    if (event.key === 'ArrowLeft') next = buttons[(at - 1 + buttons.length) % buttons.length];
    if (event.key === 'Home') next = buttons[0];
    if (event.key === 'End') next = buttons[buttons.length - 1];
    if (!next) return;
    event.preventDefault();
    this.select(next.dataset.locale, false);
    this.tabs.querySelector(`[data-locale="${CSS.escape(next.dataset.locale)}"]`).focus();
  }

  async select(key, focusPanel) {
    if (key === this.current) return;
    if (this.dirty && !await confirmDialog('Leave this language without saving your changes?',
      { confirm: 'Discard changes' })) return;
    drafts.delete(this.product.id);
    this.current = key;
    this.render();
    if (focusPanel) {
      const first = this.panel.querySelector('input, select, textarea');
      if (first) first.focus();
    }
  }

  /** Choose a language: the common ones not yet added, or any BCP 47 tag. */
  renderAdd() {
    this.editing = null;
    this.unregister();
    const taken = new Set(this.translations.map((t) => t.locale));
    const input = h('input', {
      type: 'text', name: 'locale', autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. de-AT, pt-BR, zh-Hant',
      maxlength: 35, class: 'locale-input',
    });
    const form = h('form', { class: 'translation-add', novalidate: true });
    const open = (locale) => {
      clearFieldErrors(form);
      const tag = canonical(locale);
      if (!LOCALE.test(locale)) {
        showFieldError(form, new ApiError(
          'locale: must be a BCP 47 language tag such as en, ro, de-AT or zh-Hant-TW', { field: 'locale' }));
        return;
      }
      if (taken.has(tag)) {
        this.select(tag, true);
        return;
      }
      this.current = tag;
      this.renderForm({ locale: tag }, true);
      this.markNewTab(tag);
    };
    const common = COMMON.filter(([code]) => !taken.has(code));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      open(input.value.trim());
    });
    this.labelPanel('+');
    replace(this.panel,
      common.length ? h('div', { class: 'locale-choices' },
        h('p', { class: 'small muted' }, 'Common languages'),
        h('div', { class: 'locale-buttons' }, common.map(([code, label]) =>
          h('button', { class: 'btn btn-small', type: 'button', onclick: () => open(code) }, `${label} (${code})`)))) : null,
      form);
    form.append(h('div', { class: 'locale-row' },
      field('Other language (BCP 47 tag)', input, 'A language, optionally a script and a region: de-AT, es-419, zh-Hant-TW.'),
      h('button', { class: 'btn', type: 'submit' }, 'Add')));
  }

  /** A tab for a locale being added (not saved yet). */
  markNewTab(tag) {
    for (const button of this.tabs.querySelectorAll('[role="tab"]')) {
      button.setAttribute('aria-selected', 'false');
      button.tabIndex = -1;
    }
    const tab = h('button', {
      type: 'button', role: 'tab', 'aria-selected': 'true', tabindex: '0', dataset: { locale: tag }, class: 'tab-new',
      id: this.tabId(tag), 'aria-controls': this.panel.id,
    }, `${languageName(tag)} (${tag}) · new`);
    this.tabs.insertBefore(tab, this.tabs.lastElementChild);
  }

  renderForm(translation, isNew = false, typed = null) {
    const { locale } = translation;
    const controls = {};
    const form = h('form', { class: 'translation-form', novalidate: true, lang: locale });
    const fields = FIELDS.map((spec) => {
      // The default text for reference: a description's words, not its HTML.
      const reference = spec.rich ? plainText(this.product[spec.name] || '') : this.product[spec.name] || '';
      const value = typed ? typed[spec.name] || '' : translation[spec.name] || '';
      const label = `${spec.label} (${locale})`;
      let control;
      let wrapper;
      let after;
      if (spec.rich) {
        const editor = richTextField(label, { name: spec.name, rows: spec.area, hint: spec.hint, lang: locale });
        editor.set(value);
        // The same face as the other controls: .value, .focus().
        control = { get value() { return editor.get(); }, set value(text) { editor.set(text); }, focus: () => editor.focus() };
        wrapper = editor.node;
        after = wrapper.querySelector('.rte').nextSibling;
      } else {
        const attrs = {
          name: spec.name, maxlength: spec.max, autocomplete: 'off', value, placeholder: spec.area ? '' : reference,
        };
        control = spec.area ? h('textarea', { ...attrs, rows: spec.area }) : h('input', { type: 'text', ...attrs });
        wrapper = field(label, control, spec.hint);
        after = control.nextSibling;
      }
      controls[spec.name] = control;
      wrapper.addEventListener('input', (event) => {
        if (event.target.closest('.rte-link')) return; // the link address being typed, not the text
        const values = Object.fromEntries(Object.entries(controls).map(([name, node]) => [name, node.value]));
        remember(drafts, this.product.id, { locale, isNew, values });
      });
      if (reference) {
        wrapper.insertBefore(h('p', { class: 'translation-reference' },
          h('span', { class: 'translation-reference-label' }, 'Default: '),
          h('span', { lang: '' }, reference)), after);
      }
      return wrapper;
    });
    const remove = isNew ? null : h('button', {
      class: 'btn btn-danger-ghost', type: 'button', onclick: () => this.remove(locale, remove),
    }, 'Delete translation');
    const cancel = isNew ? h('button', {
      class: 'btn', type: 'button', onclick: () => { drafts.delete(this.product.id); this.current = '+'; this.render(); },
    }, 'Cancel') : null;
    form.append(
      h('p', { class: 'muted small' }, `Fields left empty show the default text in ${languageName(locale)}. `
        + (isNew ? 'Save adds the language.' : 'Save saves it with the product\'s other changes.')),
      ...fields,
      remove || cancel ? h('div', { class: 'form-actions translation-actions' }, remove, h('span', { class: 'grow' }), cancel) : null);
    form.addEventListener('submit', (event) => { // Enter in a field: the page's Save
      event.preventDefault();
      if (this.ctx.edits) this.ctx.edits.save();
    });
    replace(this.panel, form);
    this.labelPanel(locale);
    this.editing = { form, controls, translation, isNew, locale };
    this.unregister();
    this.part = {
      form,
      dirty: () => this.editing !== null && this.editing.form === form && this.dirty,
      check: () => (this.body(controls) ? null : new ApiError(isNew
        ? 'name: fill in at least one field to add this language, or cancel'
        : 'name: fill in at least one field, or delete the translation', { field: 'name' })),
      save: () => this.save(locale, controls),
      discard: () => {
        drafts.delete(this.product.id);
        if (isNew) this.current = '+';
        this.render();
      },
    };
    if (this.ctx.edits) this.ctx.edits.register('translation', this.part);
    if (isNew) controls.name.focus();
  }

  /** The PUT body: the fields filled in (one left out is not translated); null for none. */
  body(controls) {
    const body = {};
    for (const spec of FIELDS) {
      const value = controls[spec.name].value.trim();
      if (value) body[spec.name] = value;
    }
    return Object.keys(body).length ? body : null;
  }

  /** For the page's Save bar: PUT the open translation; throws the server's ApiError
   *  (the page shows it by its field). A write that lands after this section was
   *  replaced refreshes the page instead. */
  async save(locale, controls) {
    const saved = await api('PUT', `/api/products/${this.product.id}/translations/${encodeURIComponent(locale)}`,
      { body: this.body(controls) });
    drafts.delete(this.product.id);
    if (sectionGone(this.ctx, this.product.id)) return;
    const others = this.translations.filter((t) => t.locale !== saved.locale);
    this.setTranslations([...others, saved]);
    this.current = saved.locale;
    this.render();
  }

  async remove(locale, button) {
    if (!await confirmDialog(`Delete the ${languageName(locale)} (${locale}) translation?`)) return;
    button.disabled = true;
    try {
      await api('DELETE', `/api/products/${this.product.id}/translations/${encodeURIComponent(locale)}`);
      drafts.delete(this.product.id);
      toast(`${languageName(locale)} translation deleted.`, 'success');
      if (sectionGone(this.ctx, this.product.id)) return;
      this.setTranslations(this.translations.filter((t) => t.locale !== locale));
      this.current = null;
      this.render();
    } catch (error) {
      button.disabled = false;
      toast(`Could not delete the translation: ${errorText(error)}`, 'error');
    }
  }
}

/** "DE-at" → "de-AT", as the server stores it (so a tab is found again). */
function canonical(tag) {
  return tag.split('-').map((part, index) => {
    if (index === 0) return part.toLowerCase();
    if (part.length === 4) return part[0].toUpperCase() + part.slice(1).toLowerCase();
    return part.toUpperCase();
  }).join('-');
}
