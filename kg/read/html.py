"""HTML plans (agency web pages, Word "save as web page"): decode, drop the site's chrome, read the main content."""

from __future__ import annotations

import codecs
import re
import unicodedata

import lxml.html
from lxml import etree

from kg.document import Block, Cell, Document, Paragraph, Source, Table
from kg.errors import PlanReadError

# Spans beyond these are garbage or hostile: no plan table merges more rows or columns.
MAX_ROWSPAN = 1000
MAX_COLSPAN = 64
# Grid positions over all tables of a page; a plan has a few hundred, so more is a generated or hostile page.
MAX_CELLS = 200_000
# Elements in a page; a long plan saved from Word has tens of thousands, so more is generated or hostile.
MAX_ELEMENTS = 500_000
# Tables nested deeper than this are read as plain content, which bounds the reader's recursion.
MAX_TABLE_NESTING = 8
# A block whose link text is this share of its text is navigation, not prose.
LINK_DENSE = 0.3
# At most this many undecodable byte sequences are replaced (and said so in the notes); more and the page is refused.
MAX_LOSSY = 8

# ---------------------------------------------------------------------------------------------------- decoding

_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([a-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml\b[^>]*?\bencoding\s*=\s*["']([a-z0-9_.:-]+)""", re.I)
_HTTP_CHARSET = re.compile(rb"""^content-type\s*:[^\r\n]*?\bcharset\s*=\s*["']?([a-z0-9_.:-]+)""", re.I | re.M)
_MIME_START = re.compile(rb"\s*(mime-version|content-type|from|subject|date|message-id)\s*:", re.I)

# Taiwanese pages labelled Big5 use Microsoft's CP950 extensions (and WHATWG reads "big5" so too);
# Latin-1 and ASCII labels mean windows-1252 in browsers.
_LABELS = {
    "big5": "cp950",
    "big-5": "cp950",
    "x-big5": "cp950",
    "cn-big5": "cp950",
    "csbig5": "cp950",
    "x-x-big5": "cp950",
    "cp950": "cp950",
    "ms950": "cp950",
    "windows-950": "cp950",
    "x-windows-950": "cp950",
    "big5-hkscs": "big5hkscs",
    "big5hkscs": "big5hkscs",
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "unicode": "utf-16",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
}


def _codec(label: str) -> str | None:
    label = label.strip().lower()
    if label in _LABELS:
        return _LABELS[label]
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _single_byte(codec: str) -> bool:
    """True for codecs where every byte is a character, so a strict decode never fails and proves nothing."""
    if codec.startswith("utf"):
        return False
    return len(bytes(range(0x80, 0x100)).decode(codec, "replace")) == 128


def _declared(data: bytes) -> str | None:
    """The charset label a <meta> or an XML declaration in the first 4 KB names."""
    head = data[:4096]
    for pattern in (_META_CHARSET, _XML_ENCODING):
        m = pattern.search(head)
        if m:
            return m.group(1).decode("ascii", "replace")
    return None


def _errors(data: bytes, codec: str, limit: int) -> int:
    """How many byte sequences do not decode (counting stops past `limit`)."""
    count, pos = 0, 0
    while count <= limit:
        try:
            data[pos:].decode(codec)
            return count
        except UnicodeDecodeError as exc:
            count += 1
            pos += exc.end
    return count


def _decode_first(data: bytes, order: list[str], name: str, notes: list[str]) -> tuple[str, str]:
    for codec in order:
        try:
            return data.decode(codec), codec
        except UnicodeDecodeError:
            continue
    # A page that is almost all valid (a stray byte from a bad copy-paste) is read with the bad bytes marked,
    # and said so; anything worse is refused rather than guessed at.
    counts = [(_errors(data, codec, MAX_LOSSY), i, codec) for i, codec in enumerate(order)]
    count, _, codec = min(counts)
    if count > MAX_LOSSY:
        line = None
        try:
            data.decode(order[0])
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
        tried = ", ".join(order)
        raise PlanReadError(name, f"cannot decode the page as any of {tried} (save it as UTF-8)", line)
    notes.append(f"{count} byte sequence(s) are not valid {codec}; they were read as U+FFFD (�)")
    return data.decode(codec, "replace"), codec


def decode_html(data: bytes, name: str) -> tuple[str, str, list[str]]:
    """Return (text, codec, notes): BOM, then the declared charset (strictly), then UTF-8, then CP950."""
    notes: list[str] = []
    text, used = _decode(data, name, notes)
    controls = sum(1 for ch in text[:20000] if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    if controls > 20:
        raise PlanReadError(name, "the page is full of control characters: a binary or corrupted file")
    return text, used, notes


def _decode(data: bytes, name: str, notes: list[str]) -> tuple[str, str]:
    if not data.strip():
        raise PlanReadError(name, "the file is empty")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _decode_first(data, [codec], name, notes)
    if data.startswith(b"<\x00") or data.startswith(b"\x00<"):  # UTF-16 saved without a byte-order mark
        codec = "utf-16-le" if data[0] == 0x3C else "utf-16-be"
        return _decode_first(data, [codec], name, notes)
    if b"\x00" in data[:65536]:
        raise PlanReadError(name, "this is a binary file of no format this tool reads, not a web page")
    if _MIME_START.match(data[:200]) and b"multipart/related" in data[:4096].lower():
        raise PlanReadError(name, "an MHTML web archive (.mht): open it in a browser and save it as HTML only")
    label = None
    if data.startswith(b"HTTP/"):  # a page saved with its response headers (wget --save-headers)
        m = re.search(rb"\r?\n\r?\n", data[:16384])
        if m:
            found = _HTTP_CHARSET.search(data[: m.start()])
            label = found.group(1).decode("ascii", "replace") if found else None
            # Blank the headers out but keep their line breaks, so source lines still count from the file's top.
            data = b"\n" * data[: m.end()].count(b"\n") + data[m.end() :]
    label = label or _declared(data)
    codec = _codec(label) if label else None
    if label and codec is None:
        notes.append(f"the page declares an unknown charset {label!r}; ignored")
    if codec and codec.startswith(("utf-16", "utf-32")):
        codec = None  # a declaration readable as ASCII cannot be right about UTF-16 (browsers read such pages as UTF-8)
    if codec is None:
        order = ["utf-8", "cp950"]
    elif _single_byte(codec):
        # Misconfigured servers label Big5 pages ISO-8859-1; a single-byte decode always "works", so try it last.
        order = ["utf-8", "cp950", codec]
    else:
        order = [codec, "utf-8", "cp950"]
    order = list(dict.fromkeys(order))
    text, used = _decode_first(data, order, name, notes)
    if codec and used != codec and not data.isascii():
        notes.append(f"the page declares charset {label} but is not {codec}; read as {used}")
    return text, used


# ---------------------------------------------------------------------------------------------------- text

# Zero-width spaces and joiners, BOMs, soft hyphens and bidi controls: invisible, but they break matching.
_INVISIBLE = dict.fromkeys(
    [0x00AD, 0x180E, 0xFEFF, 0x2060, *range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")
_SPACE = re.compile(r"\s+")


def _wide(ch: str) -> bool:
    return bool(ch) and unicodedata.east_asian_width(ch) in ("W", "F")


def _clean(raw: str) -> str:
    """One paragraph's text: invisible characters and ::: markers gone, whitespace collapsed.

    A line break of the HTML source between two CJK characters is dropped rather than made a space: it is
    only where the author's editor wrapped the line, and a space would split a word (提升服 務).
    """
    s = _CONTROL.sub("", raw.translate(_INVISIBLE)).replace(":::", "")

    def space(m: re.Match[str]) -> str:
        run = m.group()
        if "\n" in run or "\r" in run:
            before = s[m.start() - 1] if m.start() else ""
            after = s[m.end()] if m.end() < len(s) else ""
            if _wide(before) and _wide(after):
                return ""
        return " "

    return _SPACE.sub(space, s).strip()


# Lines that are a site's furniture, not the plan: compared without spaces and separators, lowercased.
_CHROME_PHRASES = frozenset(
    """跳到主要內容區塊 跳到主要內容 跳至主要內容 跳至主要內容區塊 跳到主要內容區 跳到內容 跳過導覽列 跳過選單
    主要內容區 上方功能區塊 中央內容區塊 左側選單 右側選單 下方功能區塊 網站導覽 友善列印 列印 列印本頁 列印此頁
    回上一頁 回上頁 上一頁 回前頁 回首頁 首頁 回頁首 回到頁首 回頂端 回到頂端 回列表 返回列表 回上層 關閉視窗
    分享 分享至 分享到 分享此頁 轉寄 轉寄好友 加入書籤 搜尋 進階搜尋 選單 主選單 功能選單 開啟選單
    字級 小中大 大中小 字級小中大 字級大中小 字型大小""".split()
)
# Words that are chrome only as a link's whole text: a plan may well say "LINE" or "English" in a cell.
_LINK_PHRASES = frozenset(
    """facebook fb line twitter x plurk rss english 中文版 sitemap menu top gotop more 更多 print home 返回 關閉
    導覽 頁尾 無障礙 下一頁""".split()
)
_CHROME_LINE = re.compile(
    r"^(?:字[級型](?:大小)?[:：]?\s*(?:[小中大]\s*){0,3}"
    r"|(?:瀏覽人次|瀏覽次數|瀏覽數|點閱次數|點閱數|點閱率|點閱|人氣|累計瀏覽人次|今日瀏覽人次|訪客人數|訪客人次|"
    r"更新日期|更新時間|資料更新日期|資料更新時間|資料更新|最後更新日期|最後更新時間|最後更新|最近更新|"
    r"發布日期|發佈日期|發布時間|發佈時間|公告日期|上版日期|上架日期|上稿日期|張貼日期|發布單位|發佈單位|發布機關|"
    r"資料維護單位|維護單位|您的位置|您現在的位置|您目前的位置|目前位置|現在位置|你的位置|您在這裡|你在這裡)"
    r"\s*[:：].*"
    r"|(?:首頁|home|回首頁)\s*[>＞›»/].*)$",
    re.I | re.S,
)
_COPYRIGHT = re.compile(
    r"版權所有|copyright|all rights reserved|©|最佳瀏覽|建議瀏覽|建議使用.{0,20}瀏覽器"
    r"|解析度\s*\d{3,4}\s*[x×*]\s*\d{3,4}",
    re.I,
)
# Footer lines (address, phone, office hours) are dropped only at the very end of what was read.
_FOOTER_LINE = re.compile(
    r"^(?:地址|住址|電話|傳真|總機|服務時間|上班時間|辦公時間|服務電話|為民服務專線|服務專線|統一編號|e-?mail|電子信箱|電子郵件)"
    r"\s*[:：]|(?:電話|tel).*(?:地址|傳真|fax)|(?:地址|傳真|fax).*(?:電話|tel)",
    re.I,
)
_SEPARATORS = re.compile(r"[\s|｜/／•·‧、,，:：\[\]【】()（）<>＞»›]+")


def _is_chrome_text(text: str, link: bool = False) -> bool:
    """A line that is site furniture: skip links, print/share/back links, font-size switches, page metadata.

    `link` widens the phrases to those that are chrome only as the whole text of a link (Facebook, English).
    """
    t = text.strip()
    if not t:
        return False
    if _CHROME_LINE.match(t):
        return True
    if len(t) < 200 and _COPYRIGHT.search(t):
        return True
    words = [w for w in _SEPARATORS.split(t.lower()) if w]
    if not words:
        return False
    known = (_CHROME_PHRASES | _LINK_PHRASES) if link else _CHROME_PHRASES
    return "".join(words) in known or all(w in known for w in words)


# Plans say 計畫/計劃 or 要點 somewhere near the top; pages without it are not the plan.
_PLAN = re.compile(r"計[畫劃]|要點")
# Text that already carries its own number, so an <ol> must not number it again.
_NUMBERED = re.compile(
    r"^\s*(?:[(（]?[0-9０-９]{1,3}[.、．)）]|[(（][0-9０-９一二三四五六七八九十]{1,3}[)）]"
    r"|[一二三四五六七八九十]{1,3}[、.．]|[壹貳參肆伍陸柒捌玖拾]{1,2}[、.．]|[a-zA-Z][.)]|[①-⑳])"
)

# ---------------------------------------------------------------------------------------------------- structure

_JUNK_TAGS = frozenset(
    """script style noscript template svg math iframe frame object embed canvas audio video map button select
    input textarea option datalist xml head link meta title base dialog""".split()
)
_CHROME_TAGS = frozenset({"nav", "header", "footer", "aside", "form", "menu"})
_CHROME_ROLES = frozenset("navigation banner contentinfo complementary search menu menubar toolbar".split())
_CHROME_WORDS = frozenset(
    """nav navbar navi navigation menu menus menubar mainmenu submenu sidemenu topmenu leftmenu megamenu
    breadcrumb breadcrumbs crumb crumbs path sidebar sidenav side footer foot header top banner share sharing social
    print toolbar tool tools function sitemap search lang language accesskey skip skiplink toplink gotop totop
    backtotop goback cookie cookies copyright counter visitor fontsize marquee ad ads advert qrcode rss login popup
    modal pager pagination paging""".split()
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_LISTS = frozenset({"ol", "ul", "dir"})
_BLOCKS = frozenset(
    """address article aside blockquote body center dd details dialog div dl dt fieldset figcaption figure footer
    form header hgroup hr html legend li main menu nav ol p pre section summary table tbody thead tfoot tr td th
    caption ul dir h1 h2 h3 h4 h5 h6 noframes""".split()
)
_BLOCK_CONTENT = tuple("p div ul ol dl table blockquote pre section h1 h2 h3 h4 h5 h6".split())
_LINKY = frozenset({"ul", "ol", "dl", "div", "section", "p", "table", "dir", "center"})
_TEXTY = frozenset({"a", "li", "p", "div", "dt", "dd", "section", "center", "h1", "h2", "h3", "h4", "h5", "h6"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|mso-hide\s*:\s*all", re.I)
_DOWNLEVEL = re.compile(r"<!\[(?:if\b[^\]>]*|endif)\]>", re.I)  # Word's <![if !supportLists]> … <![endif]>
_MAIN_IDS = frozenset(
    """content main cp maincontent main-content main_content contents center article primary pagecontent
    page-content""".split()
)
_MAIN_CLASSES = frozenset(
    """cp content main main-content maincontent contents article article-content editor essay area-essay
    page-content entry-content post-content detail wordsection1 section1""".split()
)

Stats = dict  # element -> (solid characters, of them inside links), for block-level elements


def _solid(s: str | None) -> int:
    return len("".join(s.split())) if s else 0


def _measure(root: etree._Element) -> Stats:
    """Text and link-text size of every block element, in one pass without recursion."""
    stats: Stats = {}
    acc: list[list[int]] = [[0, 0]]
    links = 0
    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag if isinstance(el.tag, str) else ""
        if event == "start":
            if tag == "a":
                links += 1
            n = _solid(el.text)
            acc.append([n, n if links else 0])
            continue
        own = acc.pop()
        if tag in _BLOCKS or el is root:
            stats[el] = (own[0], own[1])
        if tag == "a":
            links -= 1
        parent = acc[-1]
        parent[0] += own[0]
        parent[1] += own[1]
        if el is not root:
            n = _solid(el.tail)
            parent[0] += n
            parent[1] += n if links else 0
    return stats


def _size(el: etree._Element, stats: Stats) -> tuple[int, int]:
    if el in stats:
        return stats[el]
    return _measure(el)[el]


def _nonlink_text(el: etree._Element) -> str:
    return "".join(el.xpath(".//text()[not(ancestor::a)]"))


def _short_text(el: etree._Element, limit: int) -> str | None:
    """The element's text if it is at most `limit` characters, else None (without reading all of a big one)."""
    parts, n = [], 0
    for piece in el.itertext():
        parts.append(piece)
        n += len(piece)
        if n > limit * 4:
            return None
    text = _clean("".join(parts))
    return text if len(text) <= limit else None


def _words(value: str) -> set[str]:
    """The words of class/id tokens: main-menu → main, menu; sideBar → side, bar; plus the joined token."""
    words: set[str] = set()
    for token in value.split():
        if token.lower().startswith("mso"):  # Word's paragraph styles (MsoHeader) are not page furniture
            continue
        words.update(p.lower() for p in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", token))
        words.add(re.sub(r"[^a-z]", "", token.lower()))
    return words


def _holds_plan(el: etree._Element, stats: Stats, body: tuple[int, int]) -> bool:
    """Whether a block that looks like chrome by its name is really the page's content (keep it then).

    CMS wrappers are sometimes named like chrome: an ASP.NET <form> around the whole page, a "content-header"
    holding the plan's title, a "printArea" around the article.
    """
    text, link = _size(el, stats)
    body_prose = body[0] - body[1]
    if body_prose and text - link >= 0.5 * body_prose:
        return True
    if not text or link / text >= LINK_DENSE:
        return False
    if _PLAN.search(_nonlink_text(el)):
        return True
    return el.find(".//table") is not None and body_prose > 0 and text - link >= 0.3 * body_prose


def _named_chrome(el: etree._Element, tag: str, attrib: etree._Attrib) -> bool:
    """Chrome by tag, role, hidden-ness or a class/id word; such a block is still kept if it holds the plan."""
    if tag in _CHROME_TAGS:
        return True
    if not attrib:
        return False
    return (
        (attrib.get("role") or "").strip().lower() in _CHROME_ROLES
        or "hidden" in attrib
        or (attrib.get("aria-hidden") or "").strip().lower() == "true"
        or bool(_HIDDEN_STYLE.search(attrib.get("style") or ""))
        or not _CHROME_WORDS.isdisjoint(_words(f"{attrib.get('id') or ''} {attrib.get('class') or ''}"))
    )


def _chrome(el: etree._Element, stats: Stats, body: tuple[int, int]) -> bool:
    tag = el.tag
    if tag in _JUNK_TAGS:
        return True
    attrib = el.attrib
    if tag == "a" and "accesskey" in attrib:  # the ::: markers of Taiwanese accessible sites
        return True
    if _named_chrome(el, tag, attrib):
        return not _holds_plan(el, stats, body)
    size = stats.get(el)
    if tag in _TEXTY and (size is None or size[0] <= 40):  # only a short block can be a chrome line
        text = _short_text(el, 40)
        if text is not None:
            if not text:
                raw = "".join(el.itertext())
                return bool(raw.strip()) and not _clean(raw)  # only markers such as ':::'
            if _is_chrome_text(text, link=tag == "a"):
                return True
    if tag in _LINKY and size is not None:
        text, link = size
        # Small link lists (related links, a menu left in the content area) read as noise between paragraphs.
        if text and link / text >= 0.7 and len(el.findall(".//a")) >= 3:
            return not _holds_plan(el, stats, body)
    return False


def _prune(body: etree._Element, stats: Stats) -> None:
    """Drop scripts, hidden and chrome blocks top-down (a dropped block's children are never looked at)."""
    total = stats[body]
    stack = [body]
    while stack:
        el = stack.pop()
        for child in list(el):
            if not isinstance(child.tag, str):
                child.drop_tree()
            elif _chrome(child, stats, total):
                child.drop_tree()
            else:
                stack.append(child)


def _has_plan(el: etree._Element) -> bool:
    return bool(_PLAN.search(_nonlink_text(el))) or any(_solid(t.text_content()) for t in el.iter("table"))


def _main_tier(el: etree._Element) -> int | None:
    if el.tag not in ("main", "article") and not el.attrib:
        return None
    if el.tag == "main" or (el.get("role") or "").strip().lower() == "main":
        return 0
    if (el.get("id") or "").strip().lower() in _MAIN_IDS:
        return 1
    if el.tag == "article" or any(t.lower() in _MAIN_CLASSES for t in (el.get("class") or "").split()):
        return 2
    return None


def _outside(cur: etree._Element, inner: etree._Element) -> str:
    """The text of `cur` that is not inside `inner`, one of its children."""
    parts = [cur.text or ""]
    for child in cur:
        if child is not inner and isinstance(child.tag, str):
            parts.append(child.text_content())
        parts.append(child.tail or "")
    return "".join(parts)


def _title_before(parent: etree._Element, inner: etree._Element) -> bool:
    """Whether a short line naming a plan (計畫/要點) comes before `inner` within `parent`."""
    if _PLAN.search(parent.text or ""):
        return True
    for child in parent:
        if child is inner:
            return False
        if isinstance(child.tag, str):
            text = _short_text(child, 120)
            if text and _PLAN.search(text):
                return True
        if _PLAN.search(child.tail or ""):
            return True
    return False


def _main_content(body: etree._Element, stats: Stats) -> etree._Element:
    """The block holding the plan: a marked main/content block, else the deepest block with most of the prose."""

    def prose(el: etree._Element) -> int:
        text, link = _size(el, stats)
        return text - link

    def dense(el: etree._Element, limit: float) -> bool:
        text, link = _size(el, stats)
        return not text or link / text >= limit

    tiers: list[list[etree._Element]] = [[], [], []]
    for el in body.iterdescendants():
        if isinstance(el.tag, str):
            tier = _main_tier(el)
            if tier is not None:
                tiers[tier].append(el)
    chosen = None
    for group in tiers:
        fits = [el for el in group if not dense(el, 0.5) and _has_plan(el)]
        if fits:
            chosen = max(fits, key=prose)
            break
    if chosen is None:
        cur = body
        while True:
            kids = [k for k in cur if isinstance(k.tag, str) and k.tag in _BLOCKS and k.tag != "table"]
            best = max(kids, key=prose, default=None)
            if best is None or prose(best) < 0.8 * prose(cur) or _PLAN.search(_outside(cur, best)):
                break
            cur = best
        chosen = cur if cur is not body and not dense(cur, LINK_DENSE) and _has_plan(cur) else body
    # The title often sits just above the marked block (<h2 class="title"> before <div class="editor">).
    for _ in range(2):
        parent = chosen.getparent()
        if chosen is body or parent is None or parent is body or dense(parent, LINK_DENSE):
            break
        if not _title_before(parent, chosen):
            break
        chosen = parent
    return chosen


# ---------------------------------------------------------------------------------------------------- reading

_LAYOUT = object()  # _Reader.table's answer for a table that only lays the page out


def _span(value: str | None, cap: int) -> int:
    m = re.match(r"\s*\+?(\d+)", value or "")
    n = int(m.group(1)) if m and len(m.group(1)) < 8 else 1
    return min(max(n, 1), cap)


def _marker(n: int, kind: str) -> str:
    if kind in ("a", "A") and 1 <= n <= 26 * 27:
        letters = ""
        while n:
            n, r = divmod(n - 1, 26)
            letters = chr(ord("a") + r) + letters
        return letters.upper() if kind == "A" else letters
    if kind in ("i", "I") and 1 <= n < 4000:
        out = ""
        for value, numeral in (
            (1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
            (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"),
        ):  # fmt: skip
            while n >= value:
                out += numeral
                n -= value
        return out.upper() if kind == "I" else out
    return str(n)


class _Flow:
    """The paragraphs (and tables) of one element's content in reading order, walked without recursion."""

    def __init__(self, reader: _Reader, depth: int, in_cell: bool) -> None:
        self.reader = reader
        self.depth = depth
        self.in_cell = in_cell
        self.out: list[Block] = []
        self.buf: list[str] = []
        self.line: int | None = None
        self.headings: list[int] = []
        self.lists: list[list] = []  # [numbered, next number, marker type] per open list
        self.prefix = ""
        self.pre = 0

    def run(self, root: etree._Element) -> list[Block]:
        walker = etree.iterwalk(root, events=("start", "end"))
        for event, el in walker:
            tag = el.tag if isinstance(el.tag, str) else ""
            if event == "start":
                if el is not root and self.start(tag, el):
                    walker.skip_subtree()
                    continue
                self.add(el.text, el)
            elif el is not root:
                self.end(tag)
                self.add(el.tail, el)
        self.flush()
        return self.out

    def add(self, text: str | None, el: etree._Element) -> None:
        if not text:
            return
        pieces = text.split("\n") if self.pre else [text]
        for i, piece in enumerate(pieces):
            if i:
                self.flush()
            if self.line is None and piece.strip():
                self.line = el.sourceline
            self.buf.append(piece)

    def flush(self) -> None:
        text = _clean("".join(self.buf))
        line, self.buf, self.line = self.line, [], None
        if not text:
            return
        if self.prefix:
            if not _NUMBERED.match(text):
                text = self.prefix + text
            self.prefix = ""
        heading = self.headings[-1] if self.headings and not self.in_cell else 0
        self.out.append(Paragraph(text, Source(self.reader.name, line=line), heading))

    def start(self, tag: str, el: etree._Element) -> bool:
        """Open an element; True when it was read whole (a table) and its subtree is to be skipped."""
        if tag == "table":
            self.flush()
            result = self.reader.table(el, self.depth, self.in_cell)
            if result is _LAYOUT:
                return False
            self.out.extend(result)
            return True
        if tag in _BLOCKS or tag == "br":
            self.flush()
        if tag in _HEADINGS:
            self.headings.append(_HEADINGS[tag])
        elif tag in _LISTS:
            style = (el.get("style") or "").replace(" ", "").lower()
            numbered = tag == "ol" and "list-style-type:none" not in style and "list-style:none" not in style
            kind = (el.get("type") or "1").strip()[:1] or "1"
            self.lists.append([numbered, _span(el.get("start"), 10**6) if el.get("start") else 1, kind])
        elif tag == "li":
            self.prefix = ""
            if self.lists and self.lists[-1][0]:
                state = self.lists[-1]
                if el.get("value"):
                    state[1] = _span(el.get("value"), 10**6)
                self.prefix = f"{_marker(state[1], state[2])}. "
                state[1] += 1
        elif tag == "pre":
            self.pre += 1
        return False

    def end(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.flush()
        if tag in _HEADINGS and self.headings:
            self.headings.pop()
        elif tag in _LISTS and self.lists:
            self.lists.pop()
        elif tag == "li":
            self.prefix = ""
        elif tag == "pre" and self.pre:
            self.pre -= 1


class _Reader:
    """Reads the chosen content into blocks, numbering the page's tables and bounding their size."""

    def __init__(self, name: str, stats: Stats) -> None:
        self.name = name
        self.stats = stats  # text sizes measured once, so nested layout tables are not re-read at every level
        self.tables = 0
        self.cells = 0

    def blocks(self, root: etree._Element) -> list[Block]:
        return _Flow(self, 0, False).run(root)

    def cell_paragraphs(self, el: etree._Element, depth: int) -> tuple[str, ...]:
        return tuple(b.text for b in _Flow(self, depth, True).run(el) if isinstance(b, Paragraph))

    def table(self, el: etree._Element, depth: int, in_cell: bool) -> object:
        """A table's blocks (its caption, then the Table), [] for an empty one, or _LAYOUT to read it as content."""
        if depth >= MAX_TABLE_NESTING or (el.get("role") or "").strip().lower() in ("presentation", "none"):
            return _LAYOUT
        rows: list[etree._Element] = []
        head, foot, captions = [], [], []
        for child in el:
            if child.tag == "tr":
                rows.append(child)
            elif child.tag in ("thead", "tbody", "tfoot"):
                group = [tr for tr in child if tr.tag == "tr"]
                {"thead": head, "tfoot": foot}.get(child.tag, rows).extend(group)
            elif child.tag == "caption":
                captions.append(child)
        rows = head + rows + foot  # browsers draw thead first and tfoot last wherever they are written
        if not rows:
            return _LAYOUT
        placed, width = self.place(rows)
        if self.layout(el, placed, width):
            return _LAYOUT
        out: list[Block] = []
        for caption in captions:
            out.extend(_Flow(self, depth + 1, in_cell).run(caption))
        contents = [(r, c, rs, cs, td, self.cell_paragraphs(td, depth + 1)) for r, c, rs, cs, td in placed]
        if not any(paras for *_, paras in contents):
            return out  # a spacer or image-only table
        number = None
        if not in_cell:  # tables count from 0, as in the other readers; a table inside a cell is not counted
            number = self.tables
            self.tables += 1
        grid: dict[tuple[int, int], Cell] = {}
        for r, c, rs, cs, td, paras in contents:
            for dr in range(rs):
                for dc in range(cs):
                    if (r + dr, c + dc) in grid:  # overlapping spans (broken markup): the earlier cell keeps its place
                        continue
                    src = Source(self.name, table=number, row=r + dr, col=c + dc, line=td.sourceline)
                    grid[(r + dr, c + dc)] = Cell(paras, src, (r, c), rs, cs)
        for r in range(len(rows)):
            for c in range(width):  # positions no cell covers (a short row) are empty cells, so columns align
                if (r, c) not in grid:
                    grid[(r, c)] = Cell((), Source(self.name, table=number, row=r, col=c), (r, c))
        table_rows = tuple(tuple(grid[(r, c)] for c in range(width)) for r in range(len(rows)))
        table = Table(table_rows, Source(self.name, table=number, line=el.sourceline))
        if not in_cell:
            out.append(table)
            return out
        # A table inside a cell becomes that cell's paragraphs, a row a paragraph when its cells are one line each.
        for row in table.rows:
            parts = [cell.paragraphs for cell in row if not cell.spanned and cell.paragraphs]
            if all(len(p) == 1 for p in parts):
                if parts:
                    out.append(Paragraph(" ".join(p[0] for p in parts), Source(self.name, line=row[0].source.line)))
            else:
                out.extend(Paragraph(t, Source(self.name)) for p in parts for t in p)
        return out

    def place(self, rows: list[etree._Element]) -> tuple[list[tuple], int]:
        """Lay the cells out on a grid: (row, col, row span, col span, element) each, and the grid's width."""
        taken: set[tuple[int, int]] = set()
        placed = []
        width = 0
        for r, tr in enumerate(rows):
            c = 0
            for td in tr:
                if td.tag not in ("td", "th"):
                    continue
                rs = min(_span(td.get("rowspan"), MAX_ROWSPAN), len(rows) - r)  # a span past the last row stops there
                cs = _span(td.get("colspan"), MAX_COLSPAN)
                while (r, c) in taken:
                    c += 1
                for dr in range(rs):
                    for dc in range(cs):
                        taken.add((r + dr, c + dc))
                placed.append((r, c, rs, cs, td))
                c += cs
                width = max(width, c)
                if len(taken) > MAX_CELLS:
                    raise PlanReadError(self.name, f"a table of more than {MAX_CELLS} cells: not a plan page")
        self.cells += len(rows) * width
        if self.cells > MAX_CELLS:
            raise PlanReadError(self.name, f"the page's tables have more than {MAX_CELLS} cells: not a plan page")
        return placed, width

    def layout(self, table: etree._Element, placed: list[tuple], width: int) -> bool:
        """Whether a table only lays the page out: one column of blocks, or one cell holding the page."""
        sizes = [_size(td, self.stats)[0] for *_, td in placed]
        total = sum(sizes)
        # Columns with text: a layout table whose menu column was pruned away is left with one.
        used = {c for (_, c, *_), n in zip(placed, sizes, strict=True) if n}
        if width <= 1 or len(used) == 1:
            filled = [td for (*_, td), n in zip(placed, sizes, strict=True) if n]
            return len(filled) <= 1 or any(next(td.iter("br", *_BLOCK_CONTENT), None) is not None for td in filled)
        if not total:
            return False
        top = max(range(len(sizes)), key=sizes.__getitem__)
        if sizes[top] >= 0.5 * total and next(placed[top][4].iter("table", *_HEADINGS), None) is not None:
            return True
        # Tables directly inside this one (not inside those) holding nearly all its text: a frame around them.
        inner = (t for *_, td in placed for t in td.iter("table") if next(t.iterancestors("table"), None) is table)
        return sum(_size(t, self.stats)[0] for t in inner) >= 0.8 * total


def _drop_chrome_lines(blocks: list[Block]) -> list[Block]:
    out = [b for b in blocks if not (isinstance(b, Paragraph) and _is_chrome_text(b.text))]
    # Text with no letter or digit at all (a lone "|" or "›" between removed links) is not content either.
    out = [b for b in out if not isinstance(b, Paragraph) or any(ch.isalnum() for ch in b.text)]
    while out and isinstance(out[-1], Paragraph) and _FOOTER_LINE.search(out[-1].text):
        out.pop()
    return out


def read_html(data: bytes, name: str) -> Document:
    """A web page holding a plan: its main content as paragraphs and grid tables, the site's chrome left out."""
    text, encoding, notes = decode_html(data, name)
    text = _DOWNLEVEL.sub("", text)
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True)
    try:
        root = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        raise PlanReadError(name, "the page has no readable content") from None
    if any("Excessive depth" in entry.message for entry in parser.error_log):
        # libxml2 stops at 256 levels and drops the rest: say so rather than read a silently shortened plan.
        notes.append("the page nests elements more than 256 deep; what follows the deepest point was not read")
    if sum(1 for _ in root.iter()) > MAX_ELEMENTS:
        raise PlanReadError(name, f"the page has more than {MAX_ELEMENTS:,} elements: not a plan page")
    body = root.find("body")
    if body is None:
        if root.find(".//frameset") is not None or root.tag == "frameset":
            raise PlanReadError(name, "a page of frames: the plan is in one of the frames; save that frame's page")
        body = root
    visible = body.xpath(".//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]")
    if not any(t.strip() for t in visible):
        raise PlanReadError(name, "the page has no text")
    stats = _measure(body)
    _prune(body, stats)
    stats = _measure(body)  # again: pruning changed what the blocks hold
    content = _main_content(body, stats)
    blocks = _drop_chrome_lines(_Reader(name, stats).blocks(content))
    if not blocks:
        raise PlanReadError(name, "the page has no plan text, only the site's menus and links")
    return Document(name, "html", blocks, encoding=encoding, notes=notes)
