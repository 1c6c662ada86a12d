"""Sanitised HTML for product descriptions: `sanitize_html(text)` keeps an allow-list.

The web UI's rich-text editor (static/ui/js/html.js) keeps exactly the same allow-list,
so that what the editor saves is what the server stores; the server applies it too,
since any API client can write a description.

The allow-list
--------------

Elements (every other element is unwrapped: its tags go, its text and allowed children
stay)::

    p br strong em b i u s h2 h3 h4 ul ol li blockquote code a

Attributes: only `href` and `title` on `a`; every other attribute goes (so no `on*`
handler, no `style`, no `class`). An `href` is kept when, once its ends are stripped of
spaces and control characters and its tabs and line breaks removed (as browsers read a
URL), it has no scheme (a relative address, `#part`, `/path`) or one of::

    http https mailto tel

An `a` without such an `href` is unwrapped (`javascript:`, `data:`, `vbscript:` … go).

Elements dropped with everything inside them::

    script style template iframe frame frameset object embed noscript noembed noframes
    textarea title select svg math xmp

(As in a browser, the content of `script`, `style`, `textarea`, `title`, `xmp`,
`iframe`, `noembed` and `noframes` ends at their own end tag; in the others dropped
elements nest.)

Comments, doctypes and processing instructions go; NUL characters go.

Output: tags in lower case, attributes in the order `href`, `title`, values in double
quotes; `&`, `<` and `>` escaped in text, and `"` too in attribute values; every element
closed (`<br>` has no end tag). Elements are closed as a browser's HTML parser closes
them, for the common cases: a block element (`p`, a heading, a list, `blockquote`, and
the block elements that are not kept, such as `div` or `table`) closes an open `p`; `li`
closes the open `li` of its list; a heading closes a heading that is still open; `a`
closes an open `a`; an end tag closes what was opened after its element; a stray `</p>`
is an empty `p` and `</br>` is `<br>`; end tags that match nothing are ignored.

The function is idempotent (`sanitize_html(sanitize_html(t)) == sanitize_html(t)`) and
leaves what the editor produces unchanged. On malformed markup a browser's parser may
nest some formatting differently (it re-opens `<b>` across a closed block, for one);
both results are then safe, and each is left unchanged by the other side.

Only the standard library's `html.parser` is used.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from store.errors import BadRequest

# The allow-list (the web UI's static/ui/js/html.js holds the same, checked by
# tests/test_html.py): element -> its allowed attributes, in output order.
ALLOWED_TAGS: dict[str, tuple[str, ...]] = {
    "p": (), "br": (), "strong": (), "em": (), "b": (), "i": (), "u": (), "s": (),
    "h2": (), "h3": (), "h4": (), "ul": (), "ol": (), "li": (), "blockquote": (), "code": (),
    "a": ("href", "title"),
}
URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto", "tel"})
DROP_WITH_CONTENT: frozenset[str] = frozenset({
    "script", "style", "template", "iframe", "frame", "frameset", "object", "embed", "noscript",
    "noembed", "noframes", "textarea", "title", "select", "svg", "math", "xmp",
})

# Dropped elements whose content a browser reads as plain text up to their own end tag
# (no element nests inside them); in the others, dropped elements nest.
RAW_TEXT = frozenset({"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes"})
VOID = frozenset({"br"})
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Start tags that close an open <p> (the HTML parser's "close a p element"), kept or not.
CLOSES_P = frozenset({
    "address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div", "dl",
    "dd", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "hr",
    "li", "listing", "main", "menu", "nav", "ol", "p", "pre", "section", "summary", "table", "ul",
}) | HEADINGS
# Kept elements an <li> start tag does not look past for an <li> to close.
LIST_BOUNDARY = frozenset({"ul", "ol", "blockquote", "h2", "h3", "h4"})

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_EDGES = "".join(chr(c) for c in range(0x21))  # C0 controls and the space


def safe_href(value: str) -> str | None:
    """The address as kept (ends stripped, tabs and line breaks removed), or None when
    its scheme is not allowed."""
    cleaned = _TAB_OR_NEWLINE.sub("", value).strip(_EDGES)
    scheme = _SCHEME.match(cleaned)
    if scheme and scheme.group(1).lower() not in URL_SCHEMES:
        return None
    return cleaned


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attribute(value: str) -> str:
    return _text(value).replace('"', "&quot;")


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []  # the kept elements open now, innermost last
        self.skipping: list[str] = []  # dropped elements whose content is being skipped

    # ---- the stack of open elements ------------------------------------------------

    def close_through(self, tag: str) -> None:
        """Close every element opened after the innermost `tag`, then `tag` itself."""
        while self.open:
            top = self.open.pop()
            self.out.append(f"</{top}>")
            if top == tag:
                return

    def close_p(self) -> None:
        if "p" in self.open:
            self.close_through("p")

    # ---- tokens -----------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping:
            if tag in DROP_WITH_CONTENT and self.skipping[0] not in RAW_TEXT:
                self.skipping.append(tag)
            return
        if tag in DROP_WITH_CONTENT:
            self.skipping.append(tag)
            return
        if tag == "li":
            for node in reversed(self.open):
                if node == "li":
                    self.close_through("li")
                    break
                if node in LIST_BOUNDARY:
                    break
        if tag in CLOSES_P:
            self.close_p()
        if tag in HEADINGS and self.open and self.open[-1] in HEADINGS:
            self.close_through(self.open[-1])
        if tag == "a" and "a" in self.open:
            self.close_through("a")
        allowed = ALLOWED_TAGS.get(tag)
        if allowed is None:
            return  # unwrapped
        given: dict[str, str] = {}
        for name, raw in attrs:
            given.setdefault(name, raw or "")  # the first of a repeated attribute counts
        kept: list[str] = []
        linked = False
        for name in allowed:
            if name not in given:
                continue
            value: str | None = given[name]
            if name == "href":
                value = safe_href(given[name])
                if value is None:
                    continue
                linked = True
            kept.append(f' {name}="{_attribute(value or "")}"')
        if tag == "a" and not linked:
            return  # a link to nowhere safe: its text stays
        self.out.append(f"<{tag}{''.join(kept)}>")
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)  # "<p/>" opens a p, as in a browser

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if self.skipping[0] in RAW_TEXT:
                if tag == self.skipping[0]:
                    self.skipping.clear()
            elif tag in self.skipping:
                del self.skipping[len(self.skipping) - 1 - self.skipping[::-1].index(tag):]
            return
        if tag == "br":
            self.out.append("<br>")
        elif tag == "p" and "p" not in self.open:
            self.out.append("<p></p>")
        elif tag in HEADINGS:
            if any(node in HEADINGS for node in self.open):
                while self.open:
                    top = self.open.pop()
                    self.out.append(f"</{top}>")
                    if top in HEADINGS:
                        break
        elif tag == "li":
            for node in reversed(self.open):
                if node == "li":
                    self.close_through("li")
                    break
                if node in ("ul", "ol"):
                    break
        elif tag in self.open:
            self.close_through(tag)

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(_text(data))

    # Comments, declarations, processing instructions: dropped (the defaults do nothing).

    def result(self) -> str:
        self.close()
        while self.open:
            self.out.append(f"</{self.open.pop()}>")
        return "".join(self.out)


def sanitize_html(text: str) -> str:
    """`text` with only the allow-list's elements and attributes (see the module's
    docstring); plain text comes back with `&`, `<` and `>` escaped."""
    parser = _Sanitizer()
    parser.feed(text.replace("\x00", ""))
    return parser.result()


DESCRIPTION_MAX = 65_535  # characters, as the request models allow (handlers/fields.py LongText)


def clean_description(field: str, text: str | None) -> str | None:
    """A description as it is stored: `sanitize_html(text)` (None stays None). Escaping
    can lengthen a text (`&` is `&amp;`); past the limit that is a 400 naming `field`,
    so nothing longer than a client may send is ever stored."""
    if text is None:
        return None
    clean = sanitize_html(text)
    if len(clean) > DESCRIPTION_MAX:
        raise BadRequest(f"{field}: longer than {DESCRIPTION_MAX:,} characters once sanitised"
                         f" ({len(clean):,}: & < > are stored as entities)")
    return clean
