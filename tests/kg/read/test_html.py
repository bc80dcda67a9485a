"""The HTML reader on hand-written agency pages: chrome left out, encodings, spans, layout tables, hostile input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kg.document import Document, Paragraph, Table
from kg.errors import PlanReadError
from kg.read import parse_bytes
from kg.read.html import MAX_COLSPAN, read_html

FIXTURES = Path(__file__).parent / "html_fixtures"
# CPU seconds (not wall time: the machine may be busy) past which hostile nesting counts as a hang: a reader that
# went quadratic over 100,000 levels would need hours, a linear one takes about a second.
HANG_CPU_SECONDS = 60
TITLE = "高雄市政府地政局前鎮地政事務所113年度提升服務品質執行計畫"
DIMENSION = "一、完備基礎服務項目，注重服務特性差異化"

# What the sample page's header, breadcrumb, tool bar, sidebar and footer say; none of it is the plan.
CHROME = [
    "跳到主要內容區塊",
    ":::",
    "友善列印",
    "回上一頁",
    "回首頁",
    "網站導覽",
    "字級",
    "分享",
    "列印",
    "瀏覽人次",
    "更新日期",
    "發布日期",
    "首頁",
    "便民服務",
    "申辦須知",
    "關於本所",
    "最新消息",
    "全站搜尋",
    "搜尋",
    "地址",
    "(07)000-0000",
    "服務時間",
    "©",
    "Copyright",
    "版權所有",
    "Facebook",
    "English",
    "RSS",
    "JavaScript",
    "gaId",
    "border",
]


def page(name: str = "qianzhen_113.html") -> bytes:
    return (FIXTURES / name).read_bytes()


def texts(doc: Document) -> list[str]:
    """Every paragraph and every cell paragraph of the document."""
    out: list[str] = []
    for block in doc.blocks:
        if isinstance(block, Paragraph):
            out.append(block.text)
        else:
            out.extend(t for row in block.rows for cell in row for t in cell.paragraphs)
    return out


def paragraphs(doc: Document) -> list[str]:
    return [b.text for b in doc.blocks if isinstance(b, Paragraph)]


def tables(doc: Document) -> list[Table]:
    return [b for b in doc.blocks if isinstance(b, Table)]


def html(body: str, head: str = '<meta charset="utf-8">') -> bytes:
    return f"<!DOCTYPE html>\n<html><head>{head}</head><body>\n{body}\n</body></html>".encode()


# ---------------------------------------------------------------------------------------------- the agency page


def test_agency_page_reads_the_plan_and_nothing_of_the_site():
    doc = read_html(page(), "qianzhen.html")
    assert doc.format == "html" and doc.encoding == "utf-8" and doc.notes == []
    all_text = "\n".join(texts(doc))
    for chrome in CHROME:
        assert chrome not in all_text, chrome
    first = doc.blocks[0]
    assert isinstance(first, Paragraph) and first.text == TITLE and first.heading == 2
    assert paragraphs(doc)[1:8] == [
        "壹、依據：高雄市政府113年度提升服務品質實施計畫。",
        "貳、目標",
        "一、便捷服務遞送，確保效能與公平並重，發展適性的正確服務。",
        "二、擴大社會參與，重視服務對象意見回饋，提供有感的優質服務。",
        "參、實施對象：本所各課室。",
        "肆、計畫內容",
        "伍、本計畫奉核後實施，修正時亦同。",
    ]
    # the plan's last paragraph comes after its table, in page order
    assert isinstance(doc.blocks[7], Table) and doc.blocks[8].text.startswith("伍、")


def test_agency_page_table_spans_are_resolved():
    (table,) = tables(read_html(page(), "qianzhen.html"))
    assert len(table.rows) == 6 and table.width == 4
    header = table.rows[0]
    assert [c.text for c in header] == ["執行要項", "執行要項", "執行重點", "執行單位"]
    assert header[0].origin == header[1].origin == (0, 0) and header[0].col_span == 2 and header[1].spanned
    column = [row[0] for row in table.rows[1:5]]
    assert all(c.text == DIMENSION for c in column)
    assert {c.origin for c in column} == {(1, 0)} and column[0].row_span == 4
    assert [c.spanned for c in column] == [False, True, True, True]
    assert table.rows[5][0].text == "二、重視全程意見回饋及參與" and table.rows[5][0].origin == (5, 0)
    # an <ol> in a cell is numbered, a <br> splits the units
    assert table.rows[2][2].paragraphs == ("1. 檢討登記案件標準作業流程。", "2. 訂定測量案件作業時限。")
    assert table.rows[2][3].paragraphs == ("登記課", "測量課")
    assert [c.text for c in table.rows[1][1:]] == [
        "(一)訂定機關年度提升服務執行計畫，具體規劃為民服務工作。",
        "依據市府實施計畫訂定本所執行計畫，公布於本所網站。",
        "秘書室",
    ]


def test_sources_cite_file_table_row_col_and_line():
    doc = read_html(page(), "qianzhen.html")
    lines = page().decode("utf-8").splitlines()
    title = doc.blocks[0]
    assert title.source.file == "qianzhen.html" and TITLE in lines[title.source.line - 1]
    (table,) = tables(doc)
    cell = table.rows[3][0]  # a copy of the dimension cell cites the line of the cell as written
    assert (cell.source.table, cell.source.row, cell.source.col) == (0, 3, 0)
    assert DIMENSION in lines[cell.source.line - 1]
    assert "秘書室" in lines[table.rows[4][3].source.line - 1]
    assert "<table" in lines[table.source.line - 1]


def test_text_lines_view_of_the_page():
    doc = read_html(page(), "qianzhen.html")
    lines = [t for t, _ in doc.text_lines()]
    assert lines[0] == TITLE
    assert "執行要項\t執行重點\t執行單位" in lines
    assert f"{DIMENSION}\t(一)訂定機關年度提升服務執行計畫，具體規劃為民服務工作。" in lines[8]


def test_dispatcher_sends_html_here():
    doc = parse_bytes(page(), "qianzhen.html")
    assert doc.format == "html" and doc.blocks[0].text == TITLE


# ---------------------------------------------------------------------------------------------- encodings

UTF8_META = '<meta charset="utf-8">'


def recoded(meta: str, codec: str = "cp950") -> bytes:
    text = page().decode("utf-8")
    assert UTF8_META in text
    return text.replace(UTF8_META, meta).encode(codec)


@pytest.mark.parametrize(
    "meta",
    [
        '<meta charset="big5">',
        "<meta charset=Big5>",
        '<meta http-equiv="Content-Type" content="text/html; charset=big5">',
        "<meta http-equiv='content-type' content='text/html;charset=BIG5'>",
        '<meta http-equiv="Content-Type" content="text/html; charset=cp950">',
        '<meta charset="big5-hkscs">',
        "<!-- no declaration -->",
    ],
)
def test_big5_page_reads_as_the_utf8_page(meta):
    utf8 = read_html(page(), "plan.html")
    big5 = read_html(recoded(meta), "plan.html")
    assert big5.encoding in ("cp950", "big5hkscs")
    assert big5.blocks == utf8.blocks


def test_cp950_extension_characters_read_under_a_big5_label():
    # 碁 (0xF9D6) and the box-drawing ╔ (0xF9F9) are CP950's additions to Big5: a Taiwanese page uses them.
    data = html("<h1>高雄市政府113年度計畫</h1><p>碁津里服務站 ╔ 說明</p>", '<meta charset="big5">')
    doc = read_html(data.decode("utf-8").encode("cp950"), "ext.html")
    assert doc.encoding == "cp950" and paragraphs(doc)[1] == "碁津里服務站 ╔ 說明"


def test_utf8_page_that_declares_big5_still_reads():
    data = page().decode("utf-8").replace(UTF8_META, '<meta charset="big5">').encode("utf-8")
    doc = read_html(data, "plan.html")
    assert doc.encoding == "utf-8"
    assert doc.blocks == read_html(page(), "plan.html").blocks
    assert any("big5" in note for note in doc.notes)


def test_big5_page_that_declares_utf8_still_reads():
    data = page().decode("utf-8").encode("cp950")
    doc = read_html(data, "plan.html")
    assert doc.encoding == "cp950" and doc.blocks[0].text == TITLE
    assert any("utf-8" in note for note in doc.notes)


def test_big5_page_labelled_latin1_reads_as_big5():
    doc = read_html(recoded('<meta charset="iso-8859-1">'), "plan.html")
    assert doc.encoding == "cp950" and doc.blocks[0].text == TITLE


@pytest.mark.parametrize(
    "data, encoding",
    [
        (b"\xef\xbb\xbf" + page(), "utf-8-sig"),
        (page().decode("utf-8").encode("utf-16"), "utf-16"),
        (page().decode("utf-8").encode("utf-16-le"), "utf-16-le"),
    ],
)
def test_byte_order_marks_and_utf16(data, encoding):
    doc = read_html(data, "plan.html")
    assert doc.encoding == encoding
    assert [b.text for b in doc.blocks if isinstance(b, Paragraph)] == paragraphs(read_html(page(), "p.html"))


def test_unknown_charset_label_is_noted_and_ignored():
    doc = read_html(recoded('<meta charset="x-nonsense">', "utf-8"), "plan.html")
    assert doc.encoding == "utf-8" and doc.blocks[0].text == TITLE
    assert any("x-nonsense" in note for note in doc.notes)


def test_a_stray_bad_byte_is_replaced_and_said_so():
    data = recoded('<meta charset="big5">').replace("秘書室".encode("cp950"), b"\xff\xff", 1)
    doc = read_html(data, "plan.html")
    assert doc.encoding == "cp950" and any("U+FFFD" in note for note in doc.notes)
    assert "\ufffd" in "".join(texts(doc))


def test_page_saved_with_http_headers():
    body = recoded("", "cp950")
    data = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=big5\r\nServer: IIS\r\n\r\n" + body
    doc = read_html(data, "plan.html")
    assert doc.encoding == "cp950" and doc.blocks[0].text == TITLE
    assert doc.blocks[0].source.line == read_html(page(), "p.html").blocks[0].source.line + 4


# ---------------------------------------------------------------------------------------------- other page shapes


def test_word_saved_as_web_page():
    doc = read_html(page("word_saved.html"), "word.htm")
    assert doc.encoding == "cp950"
    assert paragraphs(doc) == [
        "高雄市政府勞工局博愛職業技能訓練中心",
        "107年度提升服務工作計畫",
        "壹、依據",
        "一、高雄市政府函頒之「高雄市政府107年度提升服務實施計畫」。",
        "肆、計畫內容",
    ]
    (table,) = tables(doc)
    assert [c.text for c in table.rows[0]] == ["工作要項", "工作重點", "業務單位"]
    assert table.rows[1][0].text == table.rows[2][0].text == "一、完備基礎服務項目，注重服務特性差異化。"
    assert table.rows[2][0].origin == (1, 0)
    assert table.rows[1][1].paragraphs == ("1.服務人員專業能力", "應注重服務人員提供服務時的態度。")
    assert "Author" not in "".join(texts(doc)) and "研考科" not in "".join(texts(doc))


def test_old_cms_page_laid_out_with_tables():
    doc = read_html(page("layout_tables_big5.html"), "layout.htm")
    assert doc.encoding == "cp950"
    first = doc.blocks[0]
    assert isinstance(first, Paragraph) and first.text == "高雄市政府行政暨國際處112年度提升服務執行計畫"
    assert paragraphs(doc)[-1] == "伍、本計畫奉核後實施。"
    (table,) = tables(doc)  # the page's layout tables are unwrapped; only the plan's table stays a table
    assert table.width == 4 and len(table.rows) == 4
    assert {table.rows[r][0].origin for r in (1, 2, 3)} == {(1, 0)}
    assert table.rows[3][1].text == "(二)建立業務標準作業流程。" and table.rows[3][1].origin == (2, 1)
    all_text = "\n".join(texts(doc))
    for chrome in ("處長介紹", "目前位置", "友善列印", "回上一頁", "瀏覽人次", "解析度", "地址", "English", "網站導覽"):
        assert chrome not in all_text, chrome


def test_aspnet_form_around_the_page_and_a_content_header_holding_the_title():
    body = """
<form id="form1" method="post" action="./plan.aspx"><input type="hidden" name="__VIEWSTATE" value="abc">
<div id="header"><a href="/"><img alt="高雄市立圖書館"></a>
  <ul class="menu">
    <li><a href="/a">認識本館</a></li><li><a href="/b">借閱服務</a></li><li><a href="/c">館藏查詢</a></li>
  </ul>
</div>
<div id="ctl00_ContentPlaceHolder1_pnlMain">
  <div class="content-header"><h1>高雄市立圖書館113年度提升服務品質執行計畫</h1><span>發布日期：2024-01-02</span></div>
  <p>壹、依據：高雄市政府113年度提升服務品質實施計畫。</p>
  <p>貳、目標：便捷服務遞送。</p>
</div>
<div id="footer">地址：高雄市前鎮區新光路61號 電話：07-5360238</div>
</form>"""
    doc = read_html(html(body), "library.html")
    assert paragraphs(doc) == [
        "高雄市立圖書館113年度提升服務品質執行計畫",
        "壹、依據：高雄市政府113年度提升服務品質實施計畫。",
        "貳、目標：便捷服務遞送。",
    ]
    assert doc.blocks[0].heading == 1


def test_page_without_marked_content_uses_the_prose_block():
    body = """
<div>
  <div><a href="/">首頁</a> <a href="/a">關於我們</a> <a href="/b">業務介紹</a> <a href="/c">為民服務</a></div>
  <div>
    <div>高雄市政府衛生局<br>113年度提升服務品質執行計畫</div>
    <div><p>壹、依據：高雄市政府實施計畫。</p><p>貳、目標：精進服務。</p><p>參、實施對象：本局各科室。</p></div>
  </div>
  <div>地址：高雄市苓雅區凱旋二路132號 電話：07-7134000</div>
</div>"""
    doc = read_html(html(body), "health.html")
    assert paragraphs(doc) == [
        "高雄市政府衛生局",
        "113年度提升服務品質執行計畫",
        "壹、依據：高雄市政府實施計畫。",
        "貳、目標：精進服務。",
        "參、實施對象：本局各科室。",
    ]


def test_marked_content_without_the_plan_falls_back_to_the_body():
    body = """
<div id="content"><p>歡迎光臨本局網站</p></div>
<div class="article-body"><h2>高雄市政府社會局113年度提升服務品質執行計畫</h2><p>壹、依據：市府計畫。</p></div>"""
    doc = read_html(html(body), "social.html")
    assert "高雄市政府社會局113年度提升服務品質執行計畫" in paragraphs(doc)
    assert "壹、依據：市府計畫。" in paragraphs(doc)


def test_title_just_outside_the_marked_block_is_kept():
    body = """
<div class="page"><h2 class="title">高雄市政府民政局113年度提升服務品質執行計畫</h2>
<div class="editor"><p>壹、依據：市府實施計畫。</p><table><tr><td>執行要項</td><td>執行單位</td></tr>
<tr><td>一、完備基礎服務</td><td>秘書室</td></tr></table></div></div>"""
    doc = read_html(html(body), "civil.html")
    assert doc.blocks[0].text == "高雄市政府民政局113年度提升服務品質執行計畫"


def test_main_element_and_html5_chrome():
    body = """
<header><h1>高雄市政府</h1><nav aria-label="主選單"><a href="/1">市政新聞</a><a href="/2">市府組織</a></nav></header>
<main id="main">
  <nav class="breadcrumb" aria-label="breadcrumb"><ol><li><a href="/">首頁</a></li><li>便民服務</li></ol></nav>
  <article><h1>高雄市政府研考會113年度提升服務品質執行計畫</h1><p>壹、依據：實施計畫。</p>
  <ul class="social-share"><li><a href="#">Facebook</a></li><li><a href="#">LINE</a></li><li><a href="#">X</a></li></ul>
  </article>
  <aside><h2>相關連結</h2><a href="/x">政府服務獎</a></aside>
</main>
<footer><p>版權所有 © 高雄市政府</p></footer>"""
    doc = read_html(html(body), "rdec.html")
    assert paragraphs(doc) == ["高雄市政府研考會113年度提升服務品質執行計畫", "壹、依據：實施計畫。"]


# ---------------------------------------------------------------------------------------------- blocks and text


def test_lists_headings_breaks_and_other_blocks():
    body = """
<div id="content">
<h1>高雄市政府工務局113年度提升服務品質執行計畫</h1>
<h3>壹、依據</h3>
<ol><li>政府服務躍升方案。</li><li>高雄市政府實施計畫。</li></ol>
<ol start="3"><li>第三項。</li><li value="7">第七項。</li></ol>
<ol type="a"><li>甲</li><li>乙</li></ol>
<ol><li>1. 已有編號者不再編號。</li><li>（二）中文編號亦同。</li></ol>
<ol style="list-style-type: none"><li>不顯示編號。</li></ol>
<ul><li>無序項目。</li></ul>
<dl><dt>實施對象</dt><dd>本局各科室。</dd></dl>
<blockquote>引文一段。</blockquote>
<pre>第一行
  第二行</pre>
<div>直接文字<span>與行內</span><p>段落</p>尾段</div>
<p>第一句<br>第二句<br/><br>第三句</p>
</div>"""
    doc = read_html(html(body), "works.html")
    assert [(b.heading, b.text) for b in doc.blocks[:2]] == [
        (1, "高雄市政府工務局113年度提升服務品質執行計畫"),
        (3, "壹、依據"),
    ]
    assert paragraphs(doc)[2:] == [
        "1. 政府服務躍升方案。",
        "2. 高雄市政府實施計畫。",
        "3. 第三項。",
        "7. 第七項。",
        "a. 甲",
        "b. 乙",
        "1. 已有編號者不再編號。",
        "（二）中文編號亦同。",
        "不顯示編號。",
        "無序項目。",
        "實施對象",
        "本局各科室。",
        "引文一段。",
        "第一行",
        "第二行",
        "直接文字與行內",
        "段落",
        "尾段",
        "第一句",
        "第二句",
        "第三句",
    ]


def test_entities_spaces_and_invisible_characters():
    body = """<div id="content"><h1>高雄市政府113年度計畫</h1>
<p>提升服務&nbsp;&nbsp;品質&amp;效能 &lt;創新&gt;</p>
<p>零寬\u200b字元\ufeff與軟\u00ad連字號</p>
<p>編輯器斷行的
中文不加空格，English words
stay apart.</p>
<p>   多個　　全形空白   </p>
</div>"""
    assert paragraphs(read_html(html(body), "t.html"))[1:] == [
        "提升服務 品質&效能 <創新>",
        "零寬字元與軟連字號",
        "編輯器斷行的中文不加空格，English words stay apart.",
        "多個 全形空白",
    ]


def test_measures_in_a_cell_list_and_nested_table():
    body = """<div id="content"><h2>高雄市政府消防局113年度提升服務品質執行計畫</h2>
<table>
<caption>肆、計畫內容</caption>
<tr><th>執行要項</th><th>執行重點</th><th>執行單位</th></tr>
<tr><td rowspan="2">一、完備基礎服務項目</td>
    <td><ol><li>訂定標準作業流程。</li><li><p>公布於網站。</p></li><li>3.定期檢討。</li></ol></td>
    <td>秘書室</td></tr>
<tr><td><table><tr><td>1. 辦理滿意度調查</td><td>每年一次</td></tr>
                <tr><td>2. 分析結果</td><td>據以改善</td></tr></table></td>
    <td>救災救護指揮中心</td></tr>
</table></div>"""
    doc = read_html(html(body), "fire.html")
    assert paragraphs(doc) == ["高雄市政府消防局113年度提升服務品質執行計畫", "肆、計畫內容"]
    (table,) = tables(doc)
    assert table.rows[1][1].paragraphs == ("1. 訂定標準作業流程。", "2. 公布於網站。", "3.定期檢討。")
    assert table.rows[2][1].paragraphs == ("1. 辦理滿意度調查 每年一次", "2. 分析結果 據以改善")
    assert table.rows[2][0].text == "一、完備基礎服務項目" and table.rows[2][0].spanned


def test_garbage_and_huge_spans_are_bounded():
    body = """<div id="content"><p>高雄市政府113年度計畫</p><table>
<tr><td rowspan="abc">甲</td><td colspan="-3">乙</td><td rowspan="99999">丙</td><td colspan="100000">丁</td></tr>
<tr><td rowspan="0">戊</td><td colspan=" 2 ">己</td></tr>
</table></div>"""
    (table,) = tables(read_html(html(body), "spans.html"))
    assert len(table.rows) == 2  # a row span past the last row stops at it
    assert table.width == 3 + MAX_COLSPAN
    assert [c.text for c in table.rows[0][:4]] == ["甲", "乙", "丙", "丁"]
    assert table.rows[1][2].text == "丙" and table.rows[1][2].origin == (0, 2)
    # 己 spans two columns but the second is 丙's: overlapping cells (broken markup) keep the first placed
    assert [c.text for c in table.rows[1][:4]] == ["戊", "己", "丙", ""]


def test_single_column_and_one_cell_tables_are_content_not_tables():
    body = """<div id="content"><table><tr><td><h2>高雄市政府113年度提升服務品質執行計畫</h2></td></tr>
<tr><td><p>壹、依據：實施計畫。</p><p>貳、目標：便民。</p></td></tr></table>
<table><tr><td>一格的框：注意事項。</td></tr></table></div>"""
    doc = read_html(html(body), "boxes.html")
    assert tables(doc) == []
    assert paragraphs(doc) == [
        "高雄市政府113年度提升服務品質執行計畫",
        "壹、依據：實施計畫。",
        "貳、目標：便民。",
        "一格的框：注意事項。",
    ]


def test_two_column_layout_whose_menu_column_is_pruned_is_unwrapped():
    body = """<table width="100%"><tr>
<td width="20%"><ul>
  <li><a href="/1">機關介紹</a></li><li><a href="/2">業務職掌</a></li><li><a href="/3">下載專區</a></li>
</ul></td>
<td>高雄市政府水利局113年度提升服務品質執行計畫<br>壹、依據：實施計畫。<br>貳、目標：便民。</td>
</tr></table>"""
    doc = read_html(html(body), "water.html")
    assert tables(doc) == []
    assert paragraphs(doc) == [
        "高雄市政府水利局113年度提升服務品質執行計畫",
        "壹、依據：實施計畫。",
        "貳、目標：便民。",
    ]


def test_words_that_are_chrome_only_as_links_stay_in_the_plan():
    body = """<div id="content"><h1>高雄市政府觀光局113年度提升服務品質執行計畫</h1>
<table><tr><th>執行重點</th><th>管道</th></tr>
<tr><td>建置多元諮詢管道</td><td><p>LINE</p><p>Facebook</p></td></tr>
<tr><td>提供外語服務</td><td>English</td></tr></table>
<p><a href="https://line.me/x">LINE</a></p></div>"""
    (table,) = tables(read_html(html(body), "tourism.html"))
    assert table.rows[1][1].paragraphs == ("LINE", "Facebook") and table.rows[2][1].text == "English"
    assert "LINE" not in paragraphs(read_html(html(body), "tourism.html"))


def test_hidden_elements_are_not_read():
    body = """<div id="content"><h1>高雄市政府113年度計畫</h1><p style="display: none">隱藏的字</p>
<div hidden>也隱藏</div><p>看得見</p><span class="sr-only" aria-hidden="true">圖示</span></div>"""
    assert paragraphs(read_html(html(body), "hidden.html")) == ["高雄市政府113年度計畫", "看得見"]


# ---------------------------------------------------------------------------------------------- bad and hostile input


@pytest.mark.parametrize(
    "data, why",
    [
        (b"", "empty"),
        (b"  \r\n\t ", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        (b"<html></html>", "no text"),
        (b"<html><head><title>x</title></head><body>  </body></html>", "no text"),
        (b"<html><body><script>var a = '113\xe5\xb9\xb4';</script></body></html>", "no text"),
        (html("<nav><a>首頁</a><a>便民服務</a></nav><div class='footer'>地址：高雄市</div>"), "menus"),
        (b"<html><body><p>" + b"\xc3\x28\xa0\xa1\xff\xfe\xfd" * 10 + b"</p></body></html>", "cannot decode"),
        (b"<html><frameset><frame src='a.htm'></frameset></html>", "frames"),
        (b"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=x\r\n\r\n--x\r\n", "MHTML"),
        (b"<html><body>" + b"\x01\x02\x03\x04\x05\x06\x07\x08" * 10 + b"</body></html>", "control characters"),
    ],
)
def test_bad_pages_are_refused_naming_the_file(data, why):
    with pytest.raises(PlanReadError) as err:
        read_html(data, "bad-page.html")
    assert "bad-page.html" in str(err.value) and why in str(err.value)


def test_100k_nested_divs_neither_crash_nor_hang():
    data = (
        "<html><body>" + "<div>" * 100_000 + "高雄市政府113年度計畫" + "</div>" * 100_000 + "</body></html>"
    ).encode()
    start = time.process_time()
    try:
        read_html(data, "deep.html")
    except PlanReadError as exc:
        assert "deep.html" in str(exc)
    assert time.process_time() - start < HANG_CPU_SECONDS


def test_deep_nesting_after_the_plan_keeps_the_plan_and_says_so():
    deep = "<div>" * 100_000 + "x" + "</div>" * 100_000
    data = html(f"<div id='content'><h1>高雄市政府113年度計畫</h1><p>壹、依據。</p>{deep}</div>")
    doc = read_html(data, "deep.html")
    assert paragraphs(doc)[:2] == ["高雄市政府113年度計畫", "壹、依據。"]
    assert any("256" in note for note in doc.notes)


@pytest.mark.parametrize(
    "markup",
    [
        "<table><tr><td>甲</td><td>" * 100_000 + "計畫" + "</td></tr></table>" * 100_000,
        "<ul><li>計畫" * 100_000,
        "<p>計畫<b>" * 100_000,
        "<span>" * 100_000 + "計畫",
    ],
)
def test_hostile_nesting_of_tables_lists_and_inline_elements(markup):
    start = time.process_time()
    try:
        doc = read_html(html(markup), "hostile.html")
        assert doc.blocks
    except PlanReadError as exc:
        assert "hostile.html" in str(exc)
    assert time.process_time() - start < HANG_CPU_SECONDS


def test_a_table_of_too_many_cells_is_refused():
    data = html("<p>計畫</p><table>" + "<tr><td colspan=64>x</td></tr>" * 5000 + "</table>")
    with pytest.raises(PlanReadError, match="huge.html.*cells"):
        read_html(data, "huge.html")
