// A small rich-text editor for descriptions: bold, italic, two heading levels, bulleted
// and numbered lists and links, over an editable area (the browser's own editing
// commands), with an "HTML" switch to the source. What it answers is always sanitised
// by html.js, with the allow-list the server keeps (store/html.py), so what is saved is
// what is stored: pasted markup, styles and scripts never get through.
//
//   const editor = richTextField('Description', { name: 'description', rows: 6 });
//   form.append(editor.node);
//   editor.set(product.description); … editor.get()  // '' when there is no text
//
// The area has role=textbox and is named by the field's label; it carries `data-field`
// (the API field), so that showFieldError() (ui.js) puts the server's words beside it.

import { plainText, safeHref, sanitizeHtml } from './html.js';
import { h, svgIcon } from './ui.js';

const ICONS = {
  bullets: ['M8 5h9M8 10h9M8 15h9', 'M3.5 5h.01M3.5 10h.01M3.5 15h.01'],
  numbers: ['M8 5h9M8 10h9M8 15h9', 'M3 3.5l1.2-.8v3.8', 'M2.8 9.2a1 1 0 0 1 1.9.4L2.8 12h2', 'M2.8 14.2h1.9l-1 1.3a.9.9 0 1 1-.9 1.2'],
  link: ['M8.6 11.4l2.8-2.8', 'M7.2 9.3L5.8 10.7a2.4 2.4 0 0 0 3.4 3.4l1.4-1.4', 'M12.8 10.7l1.4-1.4a2.4 2.4 0 0 0-3.4-3.4L9.4 7.3'],
};

/** What an editor holds, as saved: sanitised HTML, or '' when it has no text at all
 *  (an emptied area keeps a stray <br> or <p></p>). Two values are the same
 *  description when this answers the same for both. */
export function editorValue(html) {
  const clean = sanitizeHtml(html ?? '');
  return plainText(clean) === '' ? '' : clean;
}

let counter = 0;

// One listener for every editor: the selection's area tells which editor keeps it (an
// editor dropped with its page is forgotten with its area).
const editors = new WeakMap(); // area → (range) => void
document.addEventListener('selectionchange', () => {
  const selection = document.getSelection();
  if (!selection || !selection.rangeCount) return;
  const anchor = selection.anchorNode;
  const element = anchor && (anchor.nodeType === Node.ELEMENT_NODE ? anchor : anchor.parentElement);
  const area = element && element.closest('.rte-area');
  const keep = area && editors.get(area);
  if (keep) keep(selection.getRangeAt(0));
});

/**
 * A labelled rich-text field. `name` is the API field; `rows` sets the area's height;
 * `lang` the language of its text. Answers { node, area, get, set, focus }.
 */
export function richTextField(label, { name, rows = 5, hint = null, lang = null } = {}) {
  counter += 1;
  const id = `rte-${counter}`;
  const labelNode = h('span', { class: 'field-label rte-label', id: `${id}-label` }, label);
  const hintNode = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  const described = [`${id}-error`, hint ? `${id}-hint` : null].filter(Boolean).join(' ');
  const area = h('div', {
    class: 'rte-area', id, contenteditable: 'true', role: 'textbox', 'aria-multiline': 'true',
    'aria-labelledby': `${id}-label`, 'aria-describedby': described, 'data-field': name, lang,
    spellcheck: 'true', style: { minHeight: `calc(${rows} * 1.5em + 2 * var(--space-2))` },
  });
  const source = h('textarea', {
    class: 'rte-source', id: `${id}-source`, rows: Math.max(rows, 4), hidden: true, spellcheck: 'false',
    'aria-label': `${label}, HTML`, lang,
  });
  let saved = null; // the last selection inside the area, for the toolbar's commands
  let sourceMode = false;

  // ---- the toolbar ---------------------------------------------------------------
  const tool = (key, title, content, action, { keys = null, pressable = true } = {}) => {
    const button = h('button', {
      type: 'button', class: 'rte-tool', title: keys ? `${title} (${keys})` : title, 'aria-label': title,
      'aria-pressed': pressable ? 'false' : null, dataset: { tool: key },
      'aria-keyshortcuts': keys ? keys.replace('Ctrl', 'Control') : null,
    }, content);
    // A mouse press must not take the focus (and the selection) out of the area.
    button.addEventListener('mousedown', (event) => event.preventDefault());
    button.addEventListener('click', () => action(button));
    return button;
  };
  const tools = [
    tool('bold', 'Bold', h('b', {}, 'B'), () => run('bold'), { keys: 'Ctrl+B' }),
    tool('italic', 'Italic', h('i', {}, 'I'), () => run('italic'), { keys: 'Ctrl+I' }),
    tool('h2', 'Heading', 'H2', () => block('h2')),
    tool('h3', 'Subheading', 'H3', () => block('h3')),
    tool('ul', 'Bulleted list', svgIcon(ICONS.bullets, { size: 18 }), () => run('insertUnorderedList')),
    tool('ol', 'Numbered list', svgIcon(ICONS.numbers, { size: 18 }), () => run('insertOrderedList')),
    tool('link', 'Link', svgIcon(ICONS.link, { size: 18 }), () => openLink(), { keys: 'Ctrl+K' }),
  ];
  const sourceButton = tool('source', 'HTML source', 'HTML', () => setSource(!sourceMode));
  sourceButton.classList.add('rte-source-toggle');
  const toolbar = h('div', {
    class: 'rte-toolbar', role: 'toolbar', 'aria-label': `Formatting of ${label}`, 'aria-controls': id,
  }, tools, h('span', { class: 'rte-gap' }), sourceButton);

  // ---- the link row ---------------------------------------------------------------
  const linkInput = h('input', {
    type: 'text', inputmode: 'url', autocomplete: 'off', spellcheck: 'false', id: `${id}-link`,
    placeholder: 'https://example.com/page', 'aria-describedby': `${id}-link-error`,
  });
  const linkError = h('p', { class: 'field-error', id: `${id}-link-error`, hidden: true });
  const unlinkButton = h('button', { type: 'button', class: 'btn btn-small', onclick: () => removeLink() }, 'Remove link');
  const linkRow = h('div', { class: 'rte-link', hidden: true },
    h('label', { for: `${id}-link`, class: 'small' }, 'Link address'),
    h('div', { class: 'rte-link-row' }, linkInput,
      h('button', { type: 'button', class: 'btn btn-small btn-primary', onclick: () => applyLink() }, 'Apply'),
      unlinkButton,
      h('button', { type: 'button', class: 'btn btn-small', onclick: () => closeLink(true) }, 'Cancel')),
    linkError);
  linkInput.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault(); // not the form's submit
      applyLink();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      closeLink(true);
    }
  });

  const node = h('div', { class: 'field rte-field' },
    labelNode,
    h('div', { class: 'rte' }, toolbar, area, source, linkRow),
    hintNode,
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true }));
  labelNode.addEventListener('click', () => (sourceMode ? source : area).focus());

  // ---- editing --------------------------------------------------------------------
  const inArea = (target) => target && area.contains(target.nodeType === Node.ELEMENT_NODE ? target : target.parentNode);

  editors.set(area, (range) => {
    saved = range.cloneRange();
    showState();
  });

  /** Back into the area, with the selection it had. */
  function restore() {
    area.focus({ preventScroll: true });
    const selection = document.getSelection();
    if (saved && inArea(saved.startContainer)) {
      selection.removeAllRanges();
      selection.addRange(saved);
    }
  }

  function run(command, value = null) {
    if (sourceMode) return;
    restore();
    document.execCommand('styleWithCSS', false, false); // <b>, not <span style>
    document.execCommand(command, false, value);
    showState();
  }

  function block(tag) {
    if (sourceMode) return;
    restore();
    const current = String(document.queryCommandValue('formatBlock') || '').toLowerCase();
    document.execCommand('formatBlock', false, current === tag ? 'p' : tag);
    showState();
  }

  function showState() {
    if (sourceMode || document.activeElement !== area) return;
    const blockTag = String(document.queryCommandValue('formatBlock') || '').toLowerCase();
    const pressed = {
      bold: document.queryCommandState('bold'), italic: document.queryCommandState('italic'),
      h2: blockTag === 'h2', h3: blockTag === 'h3',
      ul: document.queryCommandState('insertUnorderedList'), ol: document.queryCommandState('insertOrderedList'),
      link: Boolean(currentLink()),
    };
    for (const button of tools) button.setAttribute('aria-pressed', String(Boolean(pressed[button.dataset.tool])));
  }

  /** The link the selection is in, if any. */
  function currentLink() {
    const start = saved && saved.startContainer;
    const element = start && (start.nodeType === Node.ELEMENT_NODE ? start : start.parentElement);
    const link = element && element.closest('a');
    return link && area.contains(link) ? link : null;
  }

  function openLink() {
    if (sourceMode) return;
    const link = currentLink();
    linkInput.value = link ? link.getAttribute('href') || '' : '';
    unlinkButton.hidden = !link;
    linkError.hidden = true;
    linkInput.removeAttribute('aria-invalid');
    linkRow.hidden = false;
    linkInput.focus();
    linkInput.select();
  }

  function closeLink(refocus) {
    linkRow.hidden = true;
    if (refocus) restore();
  }

  function applyLink() {
    const typed = linkInput.value.trim();
    const href = typed ? safeHref(typed) : null;
    if (!href) {
      linkError.textContent = typed
        ? 'Use an http, https, mailto or tel address, or one on this site (/page).'
        : 'Enter the link\u2019s address.';
      linkError.hidden = false;
      linkInput.setAttribute('aria-invalid', 'true');
      linkInput.focus();
      return;
    }
    closeLink(true);
    const link = currentLink();
    if (link) {
      link.setAttribute('href', href);
      area.dispatchEvent(new Event('input', { bubbles: true }));
    } else if (document.getSelection().isCollapsed) {
      // Nothing selected: the address becomes the link's text.
      insert(h('a', { href }, href), 'insertLink');
    } else {
      document.execCommand('createLink', false, href);
    }
    showState();
  }

  function removeLink() {
    const link = currentLink();
    closeLink(true);
    if (!link) return;
    const range = document.createRange();
    range.selectNodeContents(link);
    const selection = document.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    document.execCommand('unlink');
    showState();
  }

  /** Put `content` (nodes, or sanitised HTML) where the selection is, and say so with an
   *  input event. Not execCommand('insertHTML'): Chrome adds inline styles to what it
   *  inserts, which the page's Content-Security-Policy refuses (and reports). */
  function insert(content, inputType) {
    const selection = document.getSelection();
    if (!selection.rangeCount || !inArea(selection.anchorNode)) return;
    const range = selection.getRangeAt(0);
    range.deleteContents();
    const fragment = typeof content === 'string' ? range.createContextualFragment(content) : content;
    const last = fragment.nodeType === Node.DOCUMENT_FRAGMENT_NODE ? fragment.lastChild : fragment;
    range.insertNode(fragment);
    if (last) {
      range.setStartAfter(last);
      range.collapse(true);
      selection.removeAllRanges();
      selection.addRange(range);
    }
    area.dispatchEvent(new InputEvent('input', { bubbles: true, inputType }));
  }

  area.addEventListener('focus', () => {
    document.execCommand('defaultParagraphSeparator', false, 'p'); // Enter makes a <p>
  });
  area.addEventListener('keyup', showState);
  area.addEventListener('mouseup', showState);
  area.addEventListener('keydown', (event) => {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === 'k') {
      event.preventDefault();
      openLink();
    }
  });
  // Pasted markup goes in sanitised (no styles, classes or scripts from another page).
  area.addEventListener('paste', (event) => {
    const data = event.clipboardData;
    if (!data) return;
    event.preventDefault();
    const html = data.getData('text/html');
    if (html) insert(sanitizeHtml(html), 'insertFromPaste');
    else document.execCommand('insertText', false, data.getData('text/plain'));
  });
  area.addEventListener('drop', (event) => {
    if (event.dataTransfer && event.dataTransfer.files.length) event.preventDefault(); // no pictures
  });

  /** Between the formatted text and its HTML; the field's id and data-field go to the
   *  one shown, so that an error is put beside it and focuses it. */
  function setSource(on) {
    if (on === sourceMode) return;
    if (on) source.value = editorValue(area.innerHTML);
    else area.innerHTML = editorValue(source.value);
    sourceMode = on;
    closeLink(false);
    area.hidden = on;
    source.hidden = !on;
    const [shown, other] = on ? [source, area] : [area, source];
    other.id = `${id}-${on ? 'visual' : 'source'}`;
    shown.id = id;
    shown.setAttribute('data-field', name);
    other.removeAttribute('data-field');
    shown.setAttribute('aria-describedby', described);
    other.removeAttribute('aria-describedby');
    sourceButton.setAttribute('aria-pressed', String(on));
    for (const button of tools) button.disabled = on;
    shown.focus();
  }

  return {
    node,
    area,
    get: () => editorValue(sourceMode ? source.value : area.innerHTML),
    set: (html) => {
      const clean = editorValue(html);
      area.innerHTML = clean; // sanitised: only the allow-list's elements and attributes
      source.value = clean;
    },
    focus: () => (sourceMode ? source : area).focus(),
  };
}
