"""store/html.py: the allow-list sanitiser for descriptions, and that the web UI's editor
(static/ui/js/html.js) keeps the very same allow-list. Pure functions: no database."""

from __future__ import annotations

import pathlib
import random
import re

import pytest
from hypothesis import given, settings, strategies as st

from store.html import ALLOWED_TAGS, DROP_WITH_CONTENT, URL_SCHEMES, safe_href, sanitize_html

ROOT = pathlib.Path(__file__).resolve().parent.parent
CLIENT = ROOT / "static" / "ui" / "js" / "html.js"


# ---- what is kept ---------------------------------------------------------------------

def test_the_allowed_elements_are_kept_as_they_are() -> None:
    html = ("<h2>Care</h2><p>Wash <strong>cold</strong>, <em>never</em> <b>bleach</b> <i>or</i> "
            "<u>tumble</u> <s>dry</s>.<br>Iron on <code>low</code>.</p>"
            "<ul><li>Cotton</li><li>Linen</li></ul><ol><li>One</li></ol>"
            "<h3>Size</h3><h4>Fit</h4><blockquote>Soft.</blockquote>"
            '<p><a href="https://example.com/care" title="Care guide">guide</a></p>')
    assert sanitize_html(html) == html


def test_plain_text_stays_text_with_its_specials_escaped() -> None:
    assert sanitize_html("A sturdy cotton shirt.") == "A sturdy cotton shirt."
    assert sanitize_html("5 < 6 & 7 > 3") == "5 &lt; 6 &amp; 7 &gt; 3"
    assert sanitize_html("Tom &amp; Jerry &lt;3 &nbsp;") == "Tom &amp; Jerry &lt;3 \u00a0"
    assert sanitize_html("") == ""
    assert sanitize_html("line one\n  line two") == "line one\n  line two"


def test_tags_and_attributes_are_lower_case_and_in_a_fixed_order() -> None:
    assert sanitize_html('<P>x</P><A TITLE="t" HREF="/a">y</A>') == '<p>x</p><a href="/a" title="t">y</a>'
    # The first of a repeated attribute counts, as in a browser.
    assert sanitize_html('<a href="/one" href="/two">x</a>') == '<a href="/one">x</a>'
    assert sanitize_html('<a href="/q?a=1&amp;b=&quot;2&quot;">x</a>') == '<a href="/q?a=1&amp;b=&quot;2&quot;">x</a>'
    assert sanitize_html("<a href>x</a>") == '<a href="">x</a>'


# ---- what goes --------------------------------------------------------------------------

@pytest.mark.parametrize("html, clean", [
    ('<p onclick="steal()">Hi</p>', "<p>Hi</p>"),
    ('<b onmouseover=alert(1) style="color:red" class="x" id="y">bold</b>', "<b>bold</b>"),
    ('<img src="x" onerror="alert(1)">after', "after"),
    ("<div><span>in a span</span></div>", "in a span"),
    ("<h1>Title</h1>", "Title"),
    ("<table><tr><td>cell</td></tr></table>", "cell"),
    ('<font color="red">red</font>', "red"),
    ("<p>x<!-- a comment --></p>", "<p>x</p>"),
    ("<!DOCTYPE html><?php echo 1; ?>text<![CDATA[raw]]>", "text"),
    ("nul\x00byte", "nulbyte"),
])
def test_other_elements_are_unwrapped_and_other_attributes_dropped(html: str, clean: str) -> None:
    assert sanitize_html(html) == clean


@pytest.mark.parametrize("tag", sorted(DROP_WITH_CONTENT))
def test_dangerous_elements_go_with_their_content(tag: str) -> None:
    assert sanitize_html(f"before<{tag}><b>inside</b> alert(1)</{tag}>after") == "beforeafter"


def test_nested_dropped_elements_are_skipped_to_their_own_end() -> None:
    assert sanitize_html("<svg><svg>a</svg>b</svg>c") == "c"
    assert sanitize_html("<object><p>x</p></object><p>kept</p>") == "<p>kept</p>"


@pytest.mark.parametrize("href", [
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "\x01javascript:alert(1)",
    "java\tscript:alert(1)", "java\nscript:alert(1)", "jav&#x09;ascript:alert(1)", "javascript&colon;alert(1)",
    "&#106;avascript:alert(1)", "vbscript:msgbox(1)", "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd", "blob:https://example.com/1",
])
def test_links_to_a_script_or_any_other_scheme_lose_their_link(href: str) -> None:
    assert sanitize_html(f'<a href="{href}" title="t">click</a>') == "click"


@pytest.mark.parametrize("href, kept", [
    ("https://example.com/a?b=1#c", "https://example.com/a?b=1#c"),
    ("HTTP://EXAMPLE.COM", "HTTP://EXAMPLE.COM"),
    ("mailto:shop@example.com", "mailto:shop@example.com"),
    ("tel:+40721000000", "tel:+40721000000"),
    ("/products/42", "/products/42"),
    ("#sizes", "#sizes"),
    ("care.html", "care.html"),
    ("  https://example.com/\n", "https://example.com/"),
    ("https://exa\tmple.com/", "https://example.com/"),
])
def test_http_mail_phone_and_relative_links_are_kept(href: str, kept: str) -> None:
    assert sanitize_html(f'<a href="{href}">x</a>') == f'<a href="{kept}">x</a>'
    assert safe_href(href) == kept


# ---- closing as a browser does ----------------------------------------------------------

@pytest.mark.parametrize("html, clean", [
    ("<p>open", "<p>open</p>"),
    ("<ul><li>a<li>b</ul>", "<ul><li>a</li><li>b</li></ul>"),
    ("<ul><li>a<ul><li>b</ul></ul>", "<ul><li>a<ul><li>b</li></ul></li></ul>"),
    ("<p>a<ul><li>b</li></ul>", "<p>a</p><ul><li>b</li></ul>"),
    ("<p>a<p>b", "<p>a</p><p>b</p>"),
    ("<p>a<div>b</div>c", "<p>a</p>bc"),
    ("<p>a<h2>b</h2>", "<p>a</p><h2>b</h2>"),
    ("<h2>a<h3>b</h3>", "<h2>a</h2><h3>b</h3>"),
    ("<h2>a</h3>b", "<h2>a</h2>b"),
    ('<a href="/1">one<a href="/2">two</a>', '<a href="/1">one</a><a href="/2">two</a>'),
    ("<strong>a<em>b</strong>c", "<strong>a<em>b</em></strong>c"),
    ("a</p>b", "a<p></p>b"),
    ("a</br>b<br/>c", "a<br>b<br>c"),
    ("<p/>x", "<p>x</p>"),
    ("x</li></ul></strong>", "x"),
])
def test_elements_close_as_a_browser_closes_them(html: str, clean: str) -> None:
    assert sanitize_html(html) == clean


# ---- properties ---------------------------------------------------------------------------

PIECES = [
    "<p>", "</p>", "<b>", "</b>", "<i>", "</i>", "<strong>", "</em>", "<em>", "<ul>", "</ul>", "<ol>",
    "<li>", "</li>", "<h2>", "</h2>", "<h3>", "</h4>", "<blockquote>", "</blockquote>", "<br>", "</br>",
    "<div>", "</div>", "<span style='x'>", "</span>", "<script>alert(1)</script>", "<style>", "</style>",
    '<a href="https://e.com/">', '<a href="javascript:alert(1)">', '<a href=" java\tscript:x">', "</a>",
    '<a title="t" onclick="x()">', "<img src=x onerror=alert(1)>", "<svg>", "</svg>", "<!-- c -->",
    "text", " ", "\n", "&amp;", "&lt;", "<", ">", '"', "'", "&", "<code>", "</code>", "<table>", "<td>",
    "<u>", "</s>", "<textarea>", "</textarea>", "<template>", "</template>", "\u00e9", "&#x3c;script&#x3e;",
]


def corpus() -> list[str]:
    chooser = random.Random(13)
    return [
        "".join(chooser.choice(PIECES) for _ in range(chooser.randint(1, 14))) for _ in range(1500)
    ]


def test_sanitising_twice_changes_nothing() -> None:
    for text in corpus():
        once = sanitize_html(text)
        assert sanitize_html(once) == once, text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), max_size=12).map("".join))
def test_any_text_sanitises_to_a_fixed_point_without_scripts(text: str) -> None:
    once = sanitize_html(text)
    assert sanitize_html(once) == once
    assert "<script" not in once.lower() and not re.search(r"\son[a-z]+=", once)


ATTRIBUTE = re.compile(r"<([a-z0-9]+)((?:\s[^>]*)?)>")


def test_the_output_holds_only_the_allow_list() -> None:
    for text in corpus():
        clean = sanitize_html(text)
        for tag, attributes in ATTRIBUTE.findall(clean):
            assert tag in ALLOWED_TAGS, (text, clean)
            names = re.findall(r'\s([a-z-]+)="', attributes)
            assert set(names) <= set(ALLOWED_TAGS[tag]), (text, clean)
        lowered = clean.lower()
        assert "<script" not in lowered and "<style" not in lowered and "<svg" not in lowered
        assert not re.search(r'href="\s*(?:java|vb)script', lowered), (text, clean)
        assert not re.search(r"\son[a-z]+=", clean), (text, clean)


def test_the_web_uis_editor_keeps_the_same_allow_list() -> None:
    """static/ui/js/html.js spells the allow-list out as literals; they must match."""
    script = CLIENT.read_text()

    def literal(name: str, opening: str, closing: str) -> str:
        found = re.search(rf"export const {name} = {re.escape(opening)}(.*?){re.escape(closing)};", script, re.S)
        assert found, f"{name} not found in {CLIENT}"
        return found.group(1)

    tags = {name: tuple(re.findall(r"'([a-z]+)'", values))
            for name, values in re.findall(r"(\w+): \[([^\]]*)\]", literal("ALLOWED_TAGS", "{", "}"))}
    assert tags == ALLOWED_TAGS
    assert set(re.findall(r"'([a-z]+)'", literal("URL_SCHEMES", "[", "]"))) == URL_SCHEMES
    assert set(re.findall(r"'([a-z]+)'", literal("DROP_WITH_CONTENT", "[", "]"))) == DROP_WITH_CONTENT


def test_text_only_elements_end_at_their_own_end_tag_others_nest() -> None:
    # A browser reads an iframe's or a textarea's content as text up to its end tag.
    assert sanitize_html("<iframe><iframe>x</iframe>y</iframe>z") == "yz"
    assert sanitize_html("<textarea><textarea>x</textarea>y") == "y"
    # In an svg, elements nest; its end tag ends it even with one still open inside.
    assert sanitize_html("<svg><title>a</svg>b") == "b"
