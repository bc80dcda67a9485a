"""Highlighting: escape every slice of the data, mark exactly the terms the search says to mark."""

from __future__ import annotations

from markupsafe import Markup

from webui.text import highlight


def test_only_the_given_terms_are_marked_never_pairs_made_from_them():
    text = "辦理電話服務品質及禮貌測試，電話禮貌測試每年兩次"
    assert str(highlight(text, ["電話禮貌測試"])) == "辦理電話服務品質及禮貌測試，<mark>電話禮貌測試</mark>每年兩次"
    assert (
        str(highlight(text, ["電話禮貌測試", "禮貌測試", "電話"]))
        == "辦理<mark>電話</mark>服務品質及<mark>禮貌測試</mark>，<mark>電話禮貌測試</mark>每年兩次"
    )


def test_adjacent_terms_become_one_mark():
    assert str(highlight("電話禮貌服務", ["電話", "禮貌"])) == "<mark>電話禮貌</mark>服務"


def test_markup_in_the_text_is_escaped_and_terms_inside_entities_are_not_marked():
    out = highlight('<b>1999</b> & "amp"', ["1999", "amp", "b"])
    assert isinstance(out, Markup)
    assert str(out) == "&lt;<mark>b</mark>&gt;<mark>1999</mark>&lt;/<mark>b</mark>&gt; &amp; &#34;<mark>amp</mark>&#34;"
    # a term that is itself markup is matched in the raw text and comes out escaped
    assert str(highlight("見 <script> 標籤", ["<script>"])) == "見 <mark>&lt;script&gt;</mark> 標籤"


def test_terms_match_as_the_search_folds_text():
    # case, full-width letters and variant characters, as the search compares them
    assert str(highlight("LINE 官方帳號", ["line"])) == "<mark>LINE</mark> 官方帳號"
    assert str(highlight("臺北市 ＦＢ 粉專", ["台北", "fb"])) == "<mark>臺北</mark>市 <mark>ＦＢ</mark> 粉專"
    # a phrase broken over two lines in the plan is still marked
    assert str(highlight("禮貌\n測試", ["禮貌測試"])) == "<mark>禮貌\n測試</mark>"


def test_latin_words_and_numbers_match_whole():
    assert str(highlight("online 與 LINE", ["line"])) == "online 與 <mark>LINE</mark>"
    assert str(highlight("19999 與 1999專線", ["1999"])) == "19999 與 <mark>1999</mark>專線"


def test_empty_inputs_are_safe():
    assert str(highlight(None, ["x"])) == ""
    assert str(highlight("<p>", [])) == "&lt;p&gt;"
    assert str(highlight("<p>", ["", "  "])) == "&lt;p&gt;"
