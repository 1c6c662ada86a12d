// The category tree: every category, indented and collapsible, with its product count.
// A category moves by drag and drop (onto a row: becomes its last child; onto a row's
// top or bottom edge: before or after it) or, from the keyboard or a touch screen, by
// its "Move" dialog. Names link to the product list filtered on the category and its
// subcategories. Create, edit (name, slug, description) and delete happen in dialogs.
//
// The tree on screen is always the server's: after every write (or refused write) it
// is read again from GET /api/categories/tree, so a refusal leaves nothing half-moved.

import { api, ApiError } from '../api.js';
import {
  clearFieldErrors, confirmDialog, emptyState, errorBox, errorText, field, h, replace,
  showFieldError, spinner, svgIcon, textInput, title, toast,
} from '../ui.js';

// 20x20 outline icons (drawn for this page), stroked with currentColor.
const ICONS = {
  chevron: 'M7 5l5 5-5 5',
  plus: 'M10 4v12M4 10h12',
  edit: 'M4 16h3l8.5-8.5-3-3L4 13v3zM11 6l3 3',
  move: 'M10 3v14M10 3l-3 3M10 3l3 3M10 17l-3-3M10 17l3-3M3 10h14',
  trash: 'M4 6h12M8 6V4h4v2M6 6l1 10h6l1-10',
  grip: 'M7 5h.01M13 5h.01M7 10h.01M13 10h.01M7 15h.01M13 15h.01',
  more: 'M4 10h.01M10 10h.01M16 10h.01',
};

function icon(name) {
  return svgIcon(ICONS[name], { size: 18, className: `icon icon-${name}` });
}

// Kept while the tab is open, so coming back to the page keeps what the user folded.
const collapsed = new Set();

/** The tree as read from the server, indexed: id -> { node, parent, depth }. */
function indexTree(roots) {
  const byId = new Map();
  const walk = (nodes, parent, depth) => {
    for (const node of nodes) {
      byId.set(node.id, { node, parent, depth });
      walk(node.children, node, depth + 1);
    }
  };
  walk(roots, null, 0);
  return byId;
}

/** Every category in tree order (the order of the parent pickers). */
function flatten(roots) {
  const out = [];
  const walk = (nodes, depth) => {
    for (const node of nodes) {
      out.push({ node, depth });
      walk(node.children, depth + 1);
    }
  };
  walk(roots, 0);
  return out;
}

/** Whether `candidateId` is `ofId` or one of its descendants. */
function isWithin(byId, candidateId, ofId) {
  for (let entry = byId.get(candidateId); entry; entry = entry.parent && byId.get(entry.parent.id)) {
    if (entry.node.id === ofId) return true;
  }
  return false;
}

function siblingsOf(tree, parentId) {
  return parentId === null ? tree.roots : tree.byId.get(parentId).node.children;
}

function quoted(name) {
  return `“${name}”`;
}

function countText(count) {
  return `${count} product${count === 1 ? '' : 's'}`;
}

/**
 * The count a row shows: the products of the category and all its subcategories when
 * the API sends `total_product_count`, else (an older server) the category's own
 * `product_count`; `words` says which it is.
 */
function shownCount(node) {
  const total = node.total_product_count;
  if (typeof total === 'number') {
    return { count: total, words: `${countText(total)} in this category and its subcategories` };
  }
  return { count: node.product_count, words: `${countText(node.product_count)} in this category itself` };
}

export async function render(view, ctx) {
  title('Categories');
  const tree = { roots: [], byId: new Map() };
  let dragging = null; // the id being dragged
  let flashId = null; // the row to highlight after a write

  const treeBox = h('div', { class: 'cat-tree-box' }, spinner('Loading categories…'));
  const summary = h('p', { class: 'muted small cat-summary' });
  const expandAll = h('button', { class: 'btn btn-small', type: 'button', onclick: () => setAll(false) }, 'Expand all');
  const collapseAll = h('button', { class: 'btn btn-small', type: 'button', onclick: () => setAll(true) }, 'Collapse all');
  view.append(
    h('div', { class: 'page-header' },
      h('div', {},
        h('h1', {}, 'Categories'),
        // The drag sentence is hidden on touch screens (no drag and drop there), so the
        // next one stands on its own.
        h('p', { class: 'muted cat-lede' },
          h('span', { class: 'cat-lede-drag' },
            'Drag a category onto another to nest it, or onto the top or bottom edge of a row to '
            + 'put it before or after. '),
          'A category’s Move action nests it in another or puts it before or after one, from the '
          + 'keyboard or a touch screen. A category’s name opens its products.')),
      h('div', { class: 'page-actions' },
        h('button', { class: 'btn btn-primary', type: 'button', onclick: () => openCreate(null) },
          icon('plus'), 'New category'))),
    h('section', { class: 'card cat-card', 'aria-label': 'Category tree' },
      h('div', { class: 'cat-card-header' }, summary, h('div', { class: 'cat-tools' }, expandAll, collapseAll)),
      treeBox));

  async function load() {
    const data = await api('GET', '/api/categories/tree', { signal: ctx.signal });
    tree.roots = data.categories;
    tree.byId = indexTree(tree.roots);
  }

  /** Read the tree again and draw it; a failure shows in the tree's place. */
  async function reload() {
    try {
      await load();
      draw();
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(treeBox, errorBox(error, () => { replace(treeBox, spinner()); reload(); }));
    }
  }

  function setAll(fold) {
    collapsed.clear();
    if (fold) for (const [id, entry] of tree.byId) if (entry.node.children.length) collapsed.add(id);
    draw();
  }

  function draw() {
    const total = tree.byId.size;
    summary.textContent = total
      ? `${total} categor${total === 1 ? 'y' : 'ies'}, ${tree.roots.length} at the top level`
      : '';
    expandAll.hidden = collapseAll.hidden = total === 0;
    if (!total) {
      replace(treeBox, emptyState('No categories yet',
        'Categories group products for the storefront and for filtering the product list.',
        h('button', { class: 'btn btn-primary', type: 'button', onclick: () => openCreate(null) },
          'Create the first category')));
      return;
    }
    const list = h('ul', { class: 'cat-tree', 'aria-label': 'Categories' }, tree.roots.map((node) => item(node, 0)));
    replace(treeBox, list);
    if (flashId !== null) {
      const row = treeBox.querySelector(`.cat-row[data-id="${flashId}"]`);
      if (row) {
        row.classList.add('is-flash');
        // The control that started the write is gone with the old rows: keep the
        // keyboard's place on the row that changed.
        row.querySelector('.cat-name').focus({ preventScroll: true });
        row.scrollIntoView({ block: 'nearest' });
      }
      flashId = null;
    }
  }

  function item(node, depth) {
    const hasChildren = node.children.length > 0;
    const open = hasChildren && !collapsed.has(node.id);
    const toggle = hasChildren
      ? h('button', {
        class: 'cat-toggle', type: 'button', 'aria-expanded': String(open),
        'aria-label': `${open ? 'Collapse' : 'Expand'} ${node.name}`,
        onclick: () => {
          if (collapsed.has(node.id)) collapsed.delete(node.id); else collapsed.add(node.id);
          draw();
          treeBox.querySelector(`.cat-row[data-id="${node.id}"] .cat-toggle`)?.focus();
        },
      }, icon('chevron'))
      : h('span', { class: 'cat-toggle-space', 'aria-hidden': 'true' });
    const shown = shownCount(node);
    const row = h('div', {
      class: 'cat-row', draggable: 'true', dataset: { id: String(node.id) },
    },
    toggle,
    h('span', { class: 'cat-grip', title: 'Drag to move' }, icon('grip')),
    h('a', {
      class: 'cat-name', draggable: 'false',
      href: `#/products?category=${node.id}&include_subcategories=true`,
      title: `Show the products of ${node.name} and its subcategories`,
    }, node.name),
    h('span', { class: `cat-count${shown.count ? '' : ' is-zero'}`, title: shown.words },
      h('span', { 'aria-hidden': 'true' }, String(shown.count)),
      h('span', { class: 'visually-hidden' }, shown.words)),
    h('span', { class: 'cat-actions' },
      actionButton('plus', `Add a subcategory to ${node.name}`, () => openCreate(node.id)),
      actionButton('edit', `Edit ${node.name}`, () => openEdit(node)),
      actionButton('move', `Move ${node.name}`, () => openMove(node)),
      actionButton('trash', `Delete ${node.name}`, () => remove(node), 'cat-danger')),
    actionButton('more', `Actions for ${node.name}`, () => openActions(node), 'cat-more'));
    row.style.setProperty('--depth', String(depth));
    wireDrag(row, node);
    return h('li', { class: 'cat-item' }, row,
      open ? h('ul', { class: 'cat-children' }, node.children.map((child) => item(child, depth + 1))) : null);
  }

  function actionButton(name, label, onclick, extra = '') {
    return h('button', {
      class: `btn btn-ghost icon-btn ${extra}`, type: 'button', 'aria-label': label, title: label, onclick,
    }, icon(name));
  }

  // ---- drag and drop -------------------------------------------------------------------

  /** Where on `row` the pointer is: the top or bottom quarter (before/after), else inside. */
  function zoneAt(row, clientY) {
    const box = row.getBoundingClientRect();
    const offset = clientY - box.top;
    if (offset < box.height * 0.25) return 'before';
    if (offset > box.height * 0.75) return 'after';
    return 'inside';
  }

  function clearMarks() {
    for (const row of treeBox.querySelectorAll('.drop-before, .drop-after, .drop-inside, .drop-refused')) {
      row.classList.remove('drop-before', 'drop-after', 'drop-inside', 'drop-refused');
    }
  }

  function wireDrag(row, node) {
    row.addEventListener('dragstart', (event) => {
      dragging = node.id;
      row.classList.add('is-dragging');
      event.dataTransfer.effectAllowed = 'move';
      event.dataTransfer.setData('text/plain', node.name);
    });
    row.addEventListener('dragend', () => {
      dragging = null;
      row.classList.remove('is-dragging');
      clearMarks();
    });
    row.addEventListener('dragover', (event) => {
      if (dragging === null) return; // not one of our rows (a file, some text)
      event.preventDefault(); // accept, so a refused drop can still say why
      const refused = isWithin(tree.byId, node.id, dragging);
      event.dataTransfer.dropEffect = 'move';
      clearMarks();
      row.classList.add(refused ? 'drop-refused' : `drop-${zoneAt(row, event.clientY)}`);
    });
    row.addEventListener('dragleave', (event) => {
      if (!row.contains(event.relatedTarget)) {
        row.classList.remove('drop-before', 'drop-after', 'drop-inside', 'drop-refused');
      }
    });
    row.addEventListener('drop', (event) => {
      if (dragging === null) return;
      event.preventDefault();
      const movingId = dragging;
      dragging = null;
      clearMarks();
      dropOnto(movingId, node, zoneAt(row, event.clientY));
    });
  }

  /** Turn a drop into a move: refused here when it would nest a category in itself. */
  function dropOnto(movingId, target, zone) {
    const moving = tree.byId.get(movingId);
    if (!moving) return;
    if (isWithin(tree.byId, target.id, movingId)) {
      toast(target.id === movingId
        ? `${quoted(moving.node.name)} cannot move onto itself.`
        : `${quoted(moving.node.name)} cannot move into ${quoted(target.name)}: that is one of its own subcategories.`,
      'error');
      return;
    }
    if (zone === 'inside') {
      move(moving.node, target.id, null, `into ${quoted(target.name)}`);
      return;
    }
    const parentId = target.parent_id;
    const others = siblingsOf(tree, parentId).filter((sibling) => sibling.id !== movingId);
    const index = others.findIndex((sibling) => sibling.id === target.id);
    move(moving.node, parentId, zone === 'before' ? index : index + 1,
      `${zone} ${quoted(target.name)}`);
  }

  /** POST …/move unless it changes nothing; then show the server's tree (refused or not). */
  async function move(node, parentId, position, where) {
    const siblings = siblingsOf(tree, parentId).filter((sibling) => sibling.id !== node.id);
    const target = position === null ? siblings.length : Math.min(position, siblings.length);
    if (parentId === node.parent_id && target === node.position) {
      toast(`${quoted(node.name)} is already there.`);
      return;
    }
    treeBox.setAttribute('aria-busy', 'true');
    try {
      await api('POST', `/api/categories/${node.id}/move`, {
        body: { parent_id: parentId, position }, signal: ctx.signal,
      });
      if (parentId !== null) collapsed.delete(parentId); // show where it went
      flashId = node.id;
      toast(`Moved ${quoted(node.name)} ${where}.`, 'success');
    } catch (error) {
      if (error.name === 'AbortError') return;
      // "parent_id: a category cannot move under itself…": the field means nothing here.
      const words = errorText(error).replace(/^parent_id: /, '');
      toast(`${quoted(node.name)} was not moved: ${words}`, 'error');
    } finally {
      treeBox.removeAttribute('aria-busy');
      await reload(); // after a refusal too: the tree as the server has it
    }
  }

  // ---- dialogs -------------------------------------------------------------------------

  /**
   * A modal form. `submit(form)` does the write and answers true when it is done;
   * an ApiError shows next to its field, or above the buttons when it names none.
   */
  function formDialog(heading, controls, submitLabel, submit) {
    const problem = h('div', { class: 'cat-dialog-problem' });
    const button = h('button', { class: 'btn btn-primary', type: 'submit' }, submitLabel);
    const cancel = h('button', { class: 'btn', type: 'button', onclick: () => dialog.close() }, 'Cancel');
    const form = h('form', { novalidate: true }, h('h2', {}, heading), controls, problem,
      h('div', { class: 'dialog-actions' }, cancel, button));
    const dialog = h('dialog', { class: 'dialog cat-dialog', 'aria-label': heading }, form);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearFieldErrors(form);
      replace(problem);
      button.disabled = true;
      const label = button.textContent;
      button.textContent = 'Saving…';
      try {
        if (await submit(form)) dialog.close();
      } catch (error) {
        if (error.name === 'AbortError') return;
        if (!(error instanceof ApiError) || !showFieldError(form, error)) replace(problem, errorBox(error));
      } finally {
        button.disabled = false;
        button.textContent = label;
      }
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      // The tree was inert while the dialog was open: focus the changed row now.
      treeBox.querySelector('.cat-row.is-flash .cat-name')?.focus({ preventScroll: true });
    });
    document.body.append(dialog);
    dialog.showModal();
    form.querySelector('input, select, textarea')?.focus();
    return dialog;
  }

  /** On a phone the row has one button; this sheet lists what the row's icons do. */
  function openActions(node) {
    const choose = (action) => () => {
      sheet.close();
      action();
    };
    const entry = (name, label, action, extra = '') => h('button', {
      class: `btn cat-sheet-action ${extra}`, type: 'button', onclick: choose(action),
    }, icon(name), label);
    const sheet = h('dialog', { class: 'dialog cat-dialog cat-sheet', 'aria-label': `Actions for ${node.name}` },
      h('h2', {}, node.name),
      h('p', { class: 'muted small' }, shownCount(node).words),
      h('div', { class: 'cat-sheet-actions' },
        h('a', {
          class: 'btn btn-primary cat-sheet-action', href: `#/products?category=${node.id}&include_subcategories=true`,
          onclick: () => sheet.close(),
        }, 'Show products'),
        entry('plus', 'Add a subcategory', () => openCreate(node.id)),
        entry('edit', 'Edit', () => openEdit(node)),
        entry('move', 'Move', () => openMove(node)),
        entry('trash', 'Delete', () => remove(node), 'cat-danger'),
        h('button', { class: 'btn btn-ghost cat-sheet-action', type: 'button', onclick: () => sheet.close() }, 'Cancel')));
    sheet.addEventListener('close', () => sheet.remove());
    document.body.append(sheet);
    sheet.showModal();
  }

  /** A parent picker: the top level and every category in tree order, indented. */
  function parentSelect(selected, refusedWithin = null) {
    const select = h('select', { name: 'parent_id' },
      h('option', { value: '' }, 'None (top level)'),
      flatten(tree.roots).map(({ node, depth }) => {
        const refused = refusedWithin !== null && isWithin(tree.byId, node.id, refusedWithin);
        return h('option', {
          value: String(node.id), selected: node.id === selected, disabled: refused,
        }, `${'\u00a0\u00a0\u00a0'.repeat(depth)}${node.name}${refused && node.id === refusedWithin ? ' (itself)' : ''}`);
      }));
    return select;
  }

  function openCreate(parentId) {
    const name = textInput('name', { required: true, maxlength: 255 });
    const slug = textInput('slug', { spellcheck: 'false' });
    const description = h('textarea', { name: 'description', rows: 3 });
    const parent = parentSelect(parentId);
    const heading = parentId === null ? 'New category' : `New subcategory of ${tree.byId.get(parentId).node.name}`;
    formDialog(heading, [
      field('Name', name),
      field('Parent', parent),
      field('Slug', slug, 'Optional: made from the name when empty.'),
      field('Description', description),
    ], 'Create category', async () => {
      const body = { name: name.value.trim(), parent_id: parent.value ? Number(parent.value) : null };
      if (slug.value.trim()) body.slug = slug.value.trim();
      if (description.value) body.description = description.value;
      const created = await api('POST', '/api/categories', { body, signal: ctx.signal });
      if (created.parent_id !== null) collapsed.delete(created.parent_id);
      flashId = created.id;
      toast(`Created ${quoted(created.name)}.`, 'success');
      await reload();
      return true;
    });
  }

  function openEdit(node) {
    const name = textInput('name', { value: node.name || '', required: true, maxlength: 255 });
    const slug = textInput('slug', { value: node.slug || '', spellcheck: 'false' });
    const description = h('textarea', { name: 'description', rows: 4 }, node.description || '');
    formDialog(`Edit ${node.name}`, [
      field('Name', name),
      field('Slug', slug, 'Kept when the name changes. Empty it to make it again from the name.'),
      field('Description', description),
    ], 'Save changes', async () => {
      const body = {};
      if (name.value.trim() !== node.name) body.name = name.value.trim();
      if (slug.value.trim() !== node.slug) body.slug = slug.value.trim() || null;
      if (description.value !== (node.description || '')) body.description = description.value;
      if (!Object.keys(body).length) return true; // nothing changed
      const saved = await api('PUT', `/api/categories/${node.id}`, { body, signal: ctx.signal });
      flashId = saved.id;
      toast(`Saved ${quoted(saved.name)}.`, 'success');
      await reload();
      return true;
    });
  }

  /** The keyboard and touch way to move: a parent, then a place among its children. */
  function openMove(node) {
    const parent = parentSelect(node.parent_id, node.id);
    const position = h('select', { name: 'position' });
    const fillPositions = () => {
      const parentId = parent.value ? Number(parent.value) : null;
      const others = siblingsOf(tree, parentId).filter((sibling) => sibling.id !== node.id);
      const current = parentId === node.parent_id ? node.position : others.length;
      replace(position,
        h('option', { value: '0', selected: current === 0 }, others.length ? 'First' : 'First (no other subcategories)'),
        others.map((sibling, index) => h('option', {
          value: String(index + 1), selected: current === index + 1,
        }, `After ${sibling.name}`)));
    };
    parent.addEventListener('change', fillPositions);
    fillPositions();
    formDialog(`Move ${node.name}`, [
      h('p', { class: 'muted small' }, 'Its subcategories and products move with it.'),
      field('New parent', parent),
      field('Position', position),
    ], 'Move', async () => {
      const parentId = parent.value ? Number(parent.value) : null;
      const chosen = parentId === null ? 'to the top level' : `into ${quoted(tree.byId.get(parentId).node.name)}`;
      // Done either way: a refusal is told in a toast over the tree as the server has it,
      // and this dialog's choices were made from the tree before.
      await move(node, parentId, Number(position.value), chosen);
      return true;
    });
  }

  async function remove(node) {
    const children = node.children.length;
    const parentName = node.parent_id === null ? 'the top level' : quoted(tree.byId.get(node.parent_id).node.name);
    const parts = [`Delete ${quoted(node.name)}?`];
    if (children) {
      parts.push(`Its ${children} subcategor${children === 1 ? 'y moves' : 'ies move'} up to ${parentName}, in its place.`);
    }
    parts.push(node.product_count
      ? `Its ${countText(node.product_count)} will no longer be in this category; the products themselves are kept.`
      : 'No product is in it; products are never deleted with a category.');
    if (!await confirmDialog(parts.join(' '), { confirm: 'Delete category' })) return;
    try {
      await api('DELETE', `/api/categories/${node.id}`, { signal: ctx.signal });
      toast(`Deleted ${quoted(node.name)}.`, 'success');
    } catch (error) {
      if (error.name === 'AbortError') return;
      toast(`${quoted(node.name)} was not deleted: ${errorText(error)}`, 'error');
    }
    await reload();
  }

  await load();
  draw();
  return () => {
    for (const dialog of document.querySelectorAll('dialog.cat-dialog')) dialog.close();
  };
}
