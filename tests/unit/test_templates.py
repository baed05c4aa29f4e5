"""Marketers' templates: rendering, missing data, escaping, and the sandbox's limits."""
from __future__ import annotations

import time

import pytest

from chalicelib.channels import templates
from chalicelib.channels.templates import TemplateError, check, html_to_text, render, template_variables

# Generous: the deadline is 200 ms, this only proves the work was cut.
BOUNDED = 3.0


def text(source: str, **variables) -> str:
    return render(source, variables, autoescape=False)


def html(source: str, **variables) -> str:
    return render(source, variables, autoescape=True)


def refused_at_render(source: str, **variables) -> TemplateError:
    start = time.monotonic()
    with pytest.raises(TemplateError) as caught:
        render(source, variables, autoescape=False)
    assert time.monotonic() - start < BOUNDED
    return caught.value


def refused_at_check(source: str) -> TemplateError:
    start = time.monotonic()
    with pytest.raises(TemplateError) as caught:
        check(source)
    assert time.monotonic() - start < BOUNDED
    return caught.value


# ----------------------------------------------------------------------------- rendering


def test_renders_the_variables_callers_pass():
    variables = template_variables(
        contact={"first_name": "Ana", "attributes": {"plan": "pro"}},
        event={"order_id": "o-9", "amount": 59.9},
        scenario={"id": "welcome", "name": "Bienvenue"},
        unsubscribe_url="https://t.example.com/u/abc",
    )
    source = (
        "{{ contact.first_name }}/{{ contact.attributes.plan }}/{{ event.order_id }}/"
        "{{ '%.2f'|format(event.amount) }}/{{ scenario.name }}/{{ unsubscribe_url }}"
    )
    assert render(source, variables, autoescape=False) == (
        "Ana/pro/o-9/59.90/Bienvenue/https://t.example.com/u/abc"
    )


def test_template_variables_defaults_to_empty_mappings():
    assert template_variables(contact={"id": "c"}) == {
        "contact": {"id": "c"},
        "event": {},
        "scenario": {},
        "unsubscribe_url": "",
    }


def test_ordinary_template_features_work():
    source = (
        "{% set ns = namespace(total=0) %}"
        "{% for p in event.products %}{{ loop.index }}/{{ loop.length }}:{{ p.name|title }};"
        "{% set ns.total = ns.total + p.price %}{% endfor %}"
        "{{ ns.total }}|{{ ['a', 'b']|join(', ') }}|{{ 'abc'|replace('b', 'X') }}"
        "|{% for x in [] %}x{% else %}empty{% endfor %}"
        "|{% macro hello(name) %}Hi {{ name }}{% endmacro %}{{ hello('Ana') }}"
        "|{% filter upper %}loud{% endfilter %}|{{ 'x' ~ 1 ~ 'y' }}|{{ range(3)|join(',') }}"
        "|{{ 'Bonjour à tous'|truncate(7, true, '…', 0) }}|{{ 7 // 2 }} {{ 2 ** 10 }} {{ 'ab' * 2 }}"
    )
    products = [{"name": "tea", "price": 3}, {"name": "cake", "price": 4}]
    assert text(source, event={"products": products}) == (
        "1/2:Tea;2/2:Cake;7|a, b|aXc|empty|Hi Ana|LOUD|x1y|0,1,2|Bonjou…|3 1024 abab"
    )


def test_recursive_loops_work():
    tree = [{"name": "a", "children": [{"name": "b", "children": []}]}, {"name": "c", "children": []}]
    source = (
        "{% for item in tree recursive %}{{ item.name }}"
        "{% if item.children %}({{ loop(item.children) }}){% endif %}{% endfor %}"
    )
    assert text(source, tree=tree) == "a(b)c"


def test_keeps_the_trailing_newline():
    assert text("Hello\n") == "Hello\n"


# ------------------------------------------------------------------------- missing data


@pytest.mark.parametrize(
    "source",
    [
        "{{ contact.missing }}",
        "{{ contact.attributes.missing.deep }}",
        "{{ contact['attributes']['missing'] }}",
        "{{ nothing }}",
        "{{ nothing.at.all }}",
        "{{ contact.first_name.upper() }}",
        "{{ contact.phone }}",
        "{% for x in contact.missing %}x{% endfor %}",
        "{{ contact.missing|upper }}",
    ],
)
def test_missing_data_renders_empty(source):
    assert text(source, contact={"phone": None}) == ""


def test_missing_data_in_conditions():
    source = "{% if contact.vip %}vip{% else %}regular{% endif %} {{ contact.plan == 'pro' }}"
    assert text(source, contact={}) == "regular False"


def test_arithmetic_on_missing_data_fails():
    error = refused_at_render("Points: {{ contact.attributes.points + 10 }}", contact={"attributes": {}})
    assert "points" in error.message


@pytest.mark.parametrize(
    ("contact", "expected"),
    [
        ({}, "Bonjour ami"),
        ({"first_name": None}, "Bonjour ami"),
        ({"first_name": ""}, "Bonjour ami"),
        ({"first_name": "   "}, "Bonjour ami"),
        ({"first_name": "Ana"}, "Bonjour Ana"),
    ],
)
def test_default_replaces_missing_none_and_blank(contact, expected):
    assert text("Bonjour {{ contact.first_name | default('ami') }}", contact=contact) == expected
    assert text("Bonjour {{ contact.first_name | d('ami') }}", contact=contact) == expected


def test_default_keeps_falsy_values_unless_boolean():
    assert text("{{ n | default(5) }}", n=0) == "0"
    assert text("{{ n | default(5, true) }}", n=0) == "5"
    assert text("{{ l | default('none', true) }}", l=[]) == "none"
    assert text("{{ contact.first_name | default('ami', true) }}", contact={"first_name": "Ana"}) == "Ana"


# ----------------------------------------------------------------------------- escaping


def test_html_escapes_contact_data():
    out = html("<p>Bonjour {{ contact.first_name }}</p>", contact={"first_name": "<script>alert(1)</script>"})
    assert out == "<p>Bonjour &lt;script&gt;alert(1)&lt;/script&gt;</p>"


def test_html_escapes_defaults_and_urls():
    assert html("{{ x|default('<b>') }}") == "&lt;b&gt;"
    out = html('<a href="{{ unsubscribe_url }}">x</a>', unsubscribe_url="https://t.example.com/u?a=1&b=2")
    assert out == '<a href="https://t.example.com/u?a=1&amp;b=2">x</a>'


def test_text_does_not_escape():
    out = text("Bonjour {{ contact.first_name }} & co", contact={"first_name": "<Ana & Bob>"})
    assert out == "Bonjour <Ana & Bob> & co"


def test_tojson_is_safe_in_html():
    out = html("<script>var d = {{ d|tojson }};</script>", d={"a": "</script><b>"})
    assert "</script><b>" not in out


# --------------------------------------------------------------------- check at save time


def test_check_accepts_a_valid_template():
    assert check("Bonjour {{ contact.first_name|default('ami') }} {% if event.amount > 50 %}merci{% endif %}") is None


def test_syntax_error_reports_its_line():
    error = refused_at_check("Bonjour\n{{ contact.first_name }}\n{% if contact.vip %}\nVIP\n")
    assert error.line is not None and error.line >= 3
    error = refused_at_check("line 1\nline 2\n{{ 1 + }}")
    assert error.line == 3
    assert error.message
    assert str(error).startswith("line 3: ")


def test_unknown_filter_refused_at_check_with_its_line():
    error = refused_at_check("Hello\n\n{{ contact.first_name|shout }}")
    assert error.line == 3
    assert "shout" in error.message


def test_unknown_filter_inside_a_condition_is_refused_at_check():
    # Jinja itself only fails on this when the branch runs.
    error = refused_at_check("{% if contact.vip %}{{ contact.first_name|shout }}{% endif %}")
    assert "shout" in error.message


def test_unknown_test_refused_at_check():
    error = refused_at_check("{% if contact.age is adult %}x{% endif %}")
    assert "adult" in error.message


def test_internal_filters_cannot_be_named():
    refused_at_check("{{ [1]|_parcours_loop }}")


@pytest.mark.parametrize(
    "source",
    ["{% include 'other.html' %}", "{% import 'macros.html' as m %}", "{% from 'm.html' import x %}",
     "{% extends 'base.html' %}"],
)
def test_no_include_import_or_extends(source):
    error = refused_at_check(source)
    assert "include" in error.message


def test_template_error_is_a_value_error():
    error = refused_at_check("{{ x|nope }}")
    assert isinstance(error, ValueError)
    assert error.as_dict() == {"line": 1, "message": error.message}


def test_source_must_be_a_reasonable_string():
    refused_at_check("x" * (templates.MAX_SOURCE_CHARS + 1))
    for source in (None, ["{{ x }}"], b"{{ x }}"):
        with pytest.raises(TemplateError):
            check(source)  # type: ignore[arg-type]
        with pytest.raises(TemplateError):
            render(source, {}, autoescape=False)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the sandbox

ESCAPES = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os.popen('id').read() }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__dict__ }}",
    "{{ contact['__class__'] }}",
    "{{ contact|attr('__class__') }}",
    "{{ range.__init__ }}",
    "{% set x = ''.__class__ %}{{ x }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_python_internals_refused_at_check(source):
    error = refused_at_check(source)
    assert "not allowed" in error.message
    assert "<" not in error.message  # no repr of an internal object


@pytest.mark.parametrize("source", ESCAPES)
def test_python_internals_refused_at_render(source):
    with pytest.raises(TemplateError):
        render(source, {"contact": {}}, autoescape=True)


@pytest.mark.parametrize(
    "source",
    [
        "{{ x[k] }}",
        "{{ x|attr(k) }}",
        "{{ [x]|map(attribute=k)|list }}",
        "{{ [x]|sort(attribute=k)|list }}",
        "{{ '{0.__class__}'.format(x) }}",
        "{{ ('{0.' ~ k ~ '}').format(x) }}",
        "{{ x[k][k] }}",
        "{{ contact|attr(k) }}",
    ],
)
def test_python_internals_refused_when_computed(source):
    check(source)  # nothing to see before the data
    error = refused_at_render(source, x="", k="__class__", contact={})
    assert "__class__" in error.message and "not allowed" in error.message
    assert "<" not in error.message


def test_computed_keys_on_missing_data_stay_missing():
    assert text("{{ contact.missing[k] }}{{ contact.missing[k].upper() }}", k="__class__", contact={}) == ""


@pytest.mark.parametrize(
    "source",
    ["{{ contact.update({'email': 'evil@x.com'}) }}", "{{ contact.attributes.clear() }}",
     "{{ items.append(1) }}", "{{ items.pop() }}"],
)
def test_data_cannot_be_modified(source):
    contact = {"email": "ana@example.com", "attributes": {"plan": "pro"}}
    items = [1, 2]
    refused_at_render(source, contact=contact, items=items)
    assert contact == {"email": "ana@example.com", "attributes": {"plan": "pro"}}
    assert items == [1, 2]


def test_no_lipsum_helper():
    assert text("{{ lipsum(100000) }}") == ""


# ------------------------------------------------------------------------------- limits


def test_huge_range_refused_at_check():
    error = refused_at_check("{% for i in range(10**9) %}x{% endfor %}")
    assert "range" in error.message


def test_huge_range_refused_at_render():
    error = refused_at_render("{% for i in range(n) %}x{% endfor %}", n=10**9)
    assert "range" in error.message


@pytest.mark.slow
def test_nested_range_loops_are_cut():
    error = refused_at_render(
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
    )
    assert "took longer" in error.message


@pytest.mark.slow
def test_nested_loops_over_data_are_cut():
    error = refused_at_render(
        "{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}{% endfor %}{% endfor %}", s="x" * 2000
    )
    assert "took longer" in error.message


@pytest.mark.slow
def test_exponential_macro_recursion_is_cut():
    source = (
        "{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% else %}x{% endif %}{% endmacro %}{{ m(40) }}"
    )
    refused_at_render(source)


def test_infinite_recursion_is_an_error():
    refused_at_render("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}")


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 100000000 }}",
        "{{ 100000000 * 'a' }}",
        "{{ [1] * 100000000 }}",
        "{{ 9 ** 999999 }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ '%.999999999f' % 1.5 }}",
        "{{ 'a'|center(1000000000) }}",
        "{{ '%0999999999d'|format(1) }}",
        "{{ 1 / 0 }}",
    ],
)
def test_constant_bombs_refused_at_check(source):
    refused_at_check(source)


@pytest.mark.parametrize(
    ("source", "variables"),
    [
        ("{{ 'a' * n }}", {"n": 100_000_000}),
        ("{{ [s] * n }}", {"s": "a" * 1000, "n": 100_000}),
        ("{{ x ** y }}", {"x": 9, "y": 9**9}),
        ("{{ (x * x) * (x * x) }}", {"x": 10**2500}),
        ("{{ fmt % 1 }}", {"fmt": "%0999999999d"}),
        ("{{ '{:>999999999}'.format('a') }}", {}),
        ("{{ '{:{w}}'.format('a', w=n) }}", {"n": 999_999_999}),
        ("{{ x.center(n) }}", {"x": "a", "n": 10**9}),
        ("{{ x.ljust(n) }}", {"x": "a", "n": 10**9}),
        ("{{ x.zfill(n) }}", {"x": "1", "n": 10**9}),
        ("{{ x.expandtabs(n) }}", {"x": "\t" * 1000, "n": 10**6}),
        ("{{ s.replace('a', s) }}", {"s": "a" * 2000}),
        ("{{ s|replace('a', s) }}", {"s": "a" * 2000}),
        ("{{ s.join(range(100000)|map('string')) }}", {"s": "a" * 1000}),
        ("{{ range(100000)|join(s) }}", {"s": "a" * 1000}),
        ("{{ s|indent(s) }}", {"s": "a\n" * 2000}),
        ("{{ s|wordwrap(1, true, s) }}", {"s": "a" * 2000}),
        ("{{ d|tojson(indent=n) }}", {"d": {"a": [1]}, "n": 10**9}),
        ("{{ [1]|batch(n, 0)|list }}", {"n": 10**9}),
        ("{{ (1).to_bytes(n, 'big') }}", {"n": 10**9}),
        ("{{ s ~ s ~ s ~ s }}", {"s": "a" * 400_000}),
        ("{{ l }}", {"l": ["a" * 400_000] * 4}),
    ],
)
def test_size_bombs_refused_at_render(source, variables):
    refused_at_render(source, **variables)


def test_doubling_in_a_loop_is_refused():
    source = (
        "{% set ns = namespace(s='aaaaaaaaaa') %}"
        "{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}"
    )
    error = refused_at_render(source)
    assert "too large" in error.message


@pytest.mark.slow
def test_large_blocks_are_refused():
    source = "{% set x %}{% for i in range(100000) %}{{ s }}{% endfor %}{% endset %}{{ x|length }}"
    refused_at_render(source, s="a" * 10_000)
    source = "{% macro m() %}{% for i in range(100000) %}{{ s }}{% endfor %}{% endmacro %}{{ m()|length }}"
    refused_at_render(source, s="a" * 10_000)


def test_output_is_bounded():
    error = refused_at_render("{% for i in range(100000) %}{{ s }}{% endfor %}", s="a" * 1000)
    assert "output" in error.message
    with pytest.raises(TemplateError):
        render("{{ s }}", {"s": "a" * 101}, autoescape=False, max_output=100)
    assert render("{{ s }}", {"s": "a" * 100}, autoescape=False, max_output=100) == "a" * 100


def test_deadline_is_configurable():
    with pytest.raises(TemplateError) as caught:
        render("{% for i in range(100000) %}{% for j in range(100) %}{% endfor %}{% endfor %}", {},
               autoescape=False, max_seconds=0.01)
    assert "10 ms" in caught.value.message


def test_runtime_error_reports_its_line():
    error = refused_at_render("Hello\n{{ contact.first_name }}\n{{ x.center(n) }}", x="", n=10**9, contact={})
    assert error.line == 3


@pytest.mark.slow
def test_a_failed_render_does_not_poison_the_next():
    refused_at_render("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}")
    assert text("{% for i in range(3) %}{{ i }}{% endfor %}") == "012"


def test_compiled_templates_are_cached():
    source = "cached {{ contact.first_name }} " + str(time.time())
    before = templates._compile.cache_info()
    for name in ("Ana", "Bob", "Cleo"):
        assert text(source, contact={"first_name": name}).startswith(f"cached {name}")
    after = templates._compile.cache_info()
    assert after.misses == before.misses + 1
    assert after.hits >= before.hits + 2


# -------------------------------------------------------------------------- html_to_text


def test_html_to_text_paragraphs_breaks_and_entities():
    source = (
        "<html><head><title>Title</title><style>p { color: red }</style></head><body>"
        "<h1>Bonjour&nbsp;Ana &amp; Bob</h1><p>First   paragraph<br>second line<br><br>after a blank</p>"
        "<p>Caf&eacute; &lt;b&gt; &#8364;</p><script>alert(1)</script></body></html>"
    )
    assert html_to_text(source) == (
        "Bonjour Ana & Bob\n\nFirst paragraph\nsecond line\n\nafter a blank\n\nCafé <b> €"
    )


def test_html_to_text_links():
    source = (
        '<p><a href="https://shop.example.com/?a=1&amp;b=2">Shop</a>, '
        '<a href="https://x.example.com">https://x.example.com</a>, '
        '<a href="#top">top</a>, <a href="mailto:ana@example.com">ana@example.com</a>, '
        '<a href="mailto:ana@example.com">write</a>, '
        '<a href="https://img.example.com"><img src="x.png" alt="Logo"></a>, '
        '<a href="https://bare.example.com"></a></p>'
    )
    assert html_to_text(source) == (
        "Shop (https://shop.example.com/?a=1&b=2), https://x.example.com, top, ana@example.com, "
        "write (ana@example.com), Logo (https://img.example.com), https://bare.example.com"
    )


def test_html_to_text_lists_tables_and_blocks():
    source = "<ul><li>one</li><li>two</li></ul><table><tr><td>a</td><td>b</td></tr></table><div>x</div><div>y</div>"
    assert html_to_text(source) == "- one\n- two\n\na b\n\nx\ny"


def test_html_to_text_edge_cases():
    assert html_to_text("") == ""
    assert html_to_text("plain text") == "plain text"
    assert html_to_text("<p>unclosed <a href='https://x.example.com'>link") == "unclosed link (https://x.example.com)"
    assert "alert" not in html_to_text("<script>alert('<p>x</p>')</script>ok")


def test_html_to_text_drops_comments_and_declarations():
    source = "<!DOCTYPE html><?xml version='1.0'?><p>a<!-- hidden --> b</p><![CDATA[x]]><p>1 < 2</p>"
    assert html_to_text(source) == "a b\n\n1 < 2"


@pytest.mark.slow
@pytest.mark.parametrize("piece", ["<!--", "<![", "<!", "<?", "<a", "</", "<", "<a href=\"", "<p>x</p>", "<b\n"])
def test_html_to_text_is_fast_on_broken_markup(piece):
    start = time.monotonic()
    html_to_text(piece * 50_000)
    assert time.monotonic() - start < BOUNDED
