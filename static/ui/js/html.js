// Sanitised HTML for product descriptions: the same allow-list as the server's
// store/html.py, which documents it (tests/test_html.py checks that the three literals
// below match the server's). What the rich-text editor (rich-text.js) saves is what the
// server keeps.
//
// The text is parsed by the browser into an inert document (DOMParser runs no script
// and loads nothing), and written out again keeping only the allowed elements and
// attributes: other elements are unwrapped (their text stays), the dangerous ones go
// with their content, links keep only http, https, mailto, tel or relative addresses.

export const ALLOWED_TAGS = {
  p: [], br: [], strong: [], em: [], b: [], i: [], u: [], s: [],
  h2: [], h3: [], h4: [], ul: [], ol: [], li: [], blockquote: [], code: [],
  a: ['href', 'title'],
};
export const URL_SCHEMES = ['http', 'https', 'mailto', 'tel'];
export const DROP_WITH_CONTENT = [
  'script', 'style', 'template', 'iframe', 'frame', 'frameset', 'object', 'embed', 'noscript',
  'noembed', 'noframes', 'textarea', 'title', 'select', 'svg', 'math', 'xmp',
];

const HTML_NS = 'http://www.w3.org/1999/xhtml';
const DROP = new Set(DROP_WITH_CONTENT);
const SCHEMES = new Set(URL_SCHEMES);
const BLOCKS = new Set(['p', 'h2', 'h3', 'h4', 'li', 'blockquote', 'ul', 'ol', 'br']);

/** The address as kept (ends stripped of spaces and control characters, tabs and line
 *  breaks removed, as browsers read a URL), or null when its scheme is not allowed. */
export function safeHref(value) {
  const cleaned = String(value).replace(/[\t\n\r]/g, '').replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(cleaned);
  if (scheme && !SCHEMES.has(scheme[1].toLowerCase())) return null;
  return cleaned;
}

const escapeText = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escapeAttribute = (text) => escapeText(text).replace(/"/g, '&quot;');

// The page's Content-Security-Policy allows no inline style or script, and the browser
// reports each style attribute, <style> element and event-handler attribute (onclick=)
// it parses, even in an inert document where nothing is ever applied or run. All are
// dropped anyway, so before parsing they are renamed (data-inert-style and
// data-inert-onclick attributes, an <xmp> element: dropped just the same) and the
// console stays quiet. Quoted attribute values are left as they are.
const START_TAG_OR_STYLE_END = /<([A-Za-z][^\s/>"']*)((?:[^>"']|"[^"]*"|'[^']*')*)>|<\/style(?=[\s/>])/gi;
const INLINE_ATTRIBUTE = /("[^"]*"|'[^']*')|(\s)(style|on[^\s=/>"']*)(?=[\s=/>]|$)/gi;

function quietStyles(text) {
  return text.replace(START_TAG_OR_STYLE_END, (whole, name, rest) => {
    if (name === undefined) return '</xmp';
    const attributes = rest.replace(INLINE_ATTRIBUTE, (part, quoted, space, name) => (quoted ? part : `${space}data-inert-${name}`));
    return `<${name.toLowerCase() === 'style' ? 'xmp' : name}${attributes}>`;
  });
}

/** An inert document of `text`, in the body from its first character (so that leading
 *  spaces stay, as the server keeps them). */
function parse(text) {
  const source = quietStyles(String(text).replace(/\0/g, ''));
  return new DOMParser().parseFromString(`<!doctype html><body>${source}`, 'text/html');
}

/** The allowed part of `parent`'s children, as HTML text. */
function clean(parent, out) {
  for (const node of parent.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) {
      out.push(escapeText(node.data));
      continue;
    }
    if (node.nodeType !== Node.ELEMENT_NODE) continue; // comments, processing instructions
    const tag = node.namespaceURI === HTML_NS ? node.localName : null;
    if (tag === null || DROP.has(tag)) continue;
    if (!Object.hasOwn(ALLOWED_TAGS, tag)) {
      clean(node, out); // unwrapped
      continue;
    }
    let attributes = '';
    let linked = false;
    for (const name of ALLOWED_TAGS[tag]) {
      if (!node.hasAttribute(name)) continue;
      let value = node.getAttribute(name);
      if (name === 'href') {
        value = safeHref(value);
        if (value === null) continue;
        linked = true;
      }
      attributes += ` ${name}="${escapeAttribute(value)}"`;
    }
    if (tag === 'a' && !linked) {
      clean(node, out); // a link to nowhere safe: its text stays
      continue;
    }
    out.push(`<${tag}${attributes}>`);
    if (tag === 'br') continue;
    clean(node, out);
    out.push(`</${tag}>`);
  }
  return out;
}

/**
 * `text` with only the allow-list's elements and attributes; plain text comes back with
 * &, < and > escaped. Written out twice: unwrapping an element can leave markup that the
 * parser would arrange otherwise (an <li> inside an <li>), and the second pass settles
 * it, so that sanitising again changes nothing.
 */
export function sanitizeHtml(text) {
  const once = clean(parse(text ?? '').body, []).join('');
  return clean(parse(once).body, []).join('');
}

/** The words of some HTML, for a one-line reference ("Default: …"): the sanitised
 *  content's text, blocks and line breaks as spaces. */
export function plainText(html) {
  const words = [];
  const walk = (parent) => {
    for (const node of parent.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) words.push(node.data);
      else if (node.nodeType === Node.ELEMENT_NODE) {
        walk(node);
        if (BLOCKS.has(node.localName)) words.push(' ');
      }
    }
  };
  walk(parse(sanitizeHtml(html)).body);
  return words.join('').replace(/\s+/g, ' ').trim();
}
