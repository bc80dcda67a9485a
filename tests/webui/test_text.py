"""Highlighting: escape every slice of the data, mark only query terms."""

from __future__ import annotations

from markupsafe import Markup

from webui.text import highlight, query_terms


def test_chinese_queries_also_mark_their_character_pairs():
    terms = query_terms("電話禮貌測試")
    assert terms[0] == "電話禮貌測試" and {"電話", "禮貌", "測試"} <= set(terms)
    assert (
        str(highlight("辦理電話服務品質及禮貌測試", "電話禮貌測試"))
        == "辦理<mark>電話</mark>服務品質及<mark>禮貌測試</mark>"
    )


def test_markup_in_the_text_is_escaped_and_terms_inside_entities_are_not_marked():
    out = highlight('<b>1999</b> & "amp"', "1999 amp b")
    assert isinstance(out, Markup)
    assert str(out) == "&lt;<mark>b</mark>&gt;<mark>1999</mark>&lt;/<mark>b</mark>&gt; &amp; &#34;<mark>amp</mark>&#34;"


def test_ascii_terms_match_case_insensitively_and_empty_inputs_are_safe():
    assert str(highlight("LINE 官方帳號", "line")) == "<mark>LINE</mark> 官方帳號"
    assert str(highlight(None, "x")) == ""
    assert str(highlight("<p>", "")) == "&lt;p&gt;"
