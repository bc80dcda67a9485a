"""Entity linking: units with their agency, named systems, laws and programmes, from a planner-extensible alias file."""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from kg.errors import PlanError
from kg.files import read_regular
from kg.normalise import normalise

MAX_ALIAS_BYTES = 4 * 2**20  # a planner's alias file is a few KB; more is not one
SYSTEM_TYPES = {"Hotline", "MobileApp", "WebPlatform", "Website", "Mailbox", "SocialMedia", "InformationSystem"}
UNIT_TAIL = re.compile(r"(?:暨|及|與)?(?:所屬|各所屬)(?:機關|單位|各機關)?$")
SELF_PREFIX = re.compile(r"^(?:本(?:局|處|所|中心|大隊|隊|府|課|科)(?!長))")
SYSTEM_SUFFIX = re.compile(r"(系統|平臺|平台|資訊網|服務網|網站|APP|App|app|信箱|專線|熱線|粉絲專頁|專區網)$")
GENERIC_SYSTEMS = {
    "社群網站",
    "機關網站",
    "官方網站",
    "網站",
    "全球資訊網",
    "資訊系統",
    "系統",
    "平台",
    "平臺",
    "APP",
    "APPs",
}
# A system's name is the name, not the words in front of it in a sentence. These are stripped from the front of a
# candidate name: verbs that introduce a system (開發, 建置, 透過 …), determiners (本局, 各項 …) and words a measure's
# title runs into its text with (線上申辦服務 強化身障幸福就業 APP).
LEAD_WORDS = frozenset(
    {
        # verbs
        *("開發", "研發", "建置", "建立", "建構", "設置", "設立", "架設", "開設", "增設", "新增", "成立", "導入"),
        *("推廣", "推動", "推出", "宣導", "行銷", "強化", "優化", "精進", "擴充", "擴大", "維護", "改版", "升級"),
        *("提供", "透過", "利用", "使用", "運用", "善用", "採用", "結合", "經由", "藉由", "藉著", "配合", "串接"),
        *("連結至", "連結", "啟用", "上線", "下載", "安裝", "登入", "點選", "進入", "設計", "製作", "規劃", "辦理"),
        *("持續", "積極", "賡續", "加強", "鼓勵", "申辦服務", "包含", "包括", "例如", "諸如", "以及", "或是"),
        *("並且", "另外", "此外", "另", "亦", "且"),
        # determiners
        *("各項", "各類", "各種", "各式", "各", "相關", "該", "此一", "此", "全新", "新版"),
        *("本局", "本處", "本府", "本所", "本中心", "本大隊", "本隊", "本課", "本科", "本室", "本會", "本署"),
        *("本部", "本機關", "本單位"),
    }
)
# Function words of one character (以, 於, 及, 與, 之, 的 …). Names may contain them, so they end the words in front of
# an unquoted app name, but only lead on to a word of LEAD_WORDS (及維護, 並透過), never start a name themselves.
LEAD_CHARS = frozenset("以於並及與和或暨之的等如即")
# Prefixes that may be part of a name (市府電子公報) or not (市府網站): stripped only to reach a known name.
SOFT_PREFIXES = ("高雄市政府", "高雄市", "市府", "本市", "府內")
# Words that qualify a system without naming one: a name made of these alone (行動服務APP, 線上申辦系統, 本局網站,
# 意見信箱) is an ordinary phrase, not a system.
GENERIC_WORDS = frozenset(
    {
        *("行動", "手機", "行動化", "行動裝置", "行動載具", "相關", "社群", "民眾", "市民", "各項", "各類", "官方"),
        *("機關", "單位", "局處", "各局處", "市府", "本府", "本局", "本處", "本所", "政府", "入口", "線上", "網路"),
        *("資訊", "服務", "便民", "免費", "免付費", "智慧", "多元", "其他", "專屬", "應用", "互動", "電子", "全球"),
        *("共用", "整合", "管理", "查詢", "申辦", "申請", "陳情", "申訴", "檢舉", "意見", "建言", "諮詢", "客服"),
        *("主題", "數位", "雲端", "資料", "官網", "網頁", "專區", "新", "各", "該", "此"),
    }
)
APP_MENTION = re.compile(r"([\u4e00-\u9fff]{2,12})\s?(?:APP|App)(?![A-Za-z])")
QUOTED = re.compile(r"「([^「」]{2,30})」")
NOT_ONE_NAME = re.compile(r"[、，,。；;：:／/]")
LAW_QUOTED = re.compile(r"「([^」]{2,40}?(?:法|條例|規則|要點|辦法|原則|規定|準則|規範|細則))」")
LAW_ARTICLE = re.compile(r"「?([\u4e00-\u9fff]{2,16}法)」?\s*第\s*(\d+)\s*條(?:之\s*(\d+))?")


def key(text: str) -> str:
    """Matching key of a name: normalised, no spaces, ASCII lower-case, one form of 臺/台."""
    return normalise(text).replace(" ", "").replace("臺", "台").lower()


def short_id(*parts: str) -> str:
    """A content-addressed id: the same names always give the same id."""
    return hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()[:12]


def _lookup(name: str, table: dict[str, Entity]) -> Entity | None:
    """The known system a name spells; an app also by its name without APP (建築公安資訊)."""
    if len(name) < 2:
        return None
    e = table.get(key(name))
    if e is None and name.endswith("APP") and len(name) >= 5:
        e = table.get(key(name[:-3]))
    return e


def _lead_word(name: str) -> str:
    """The word in front of a system's name that name starts with, or "": a function character (及, 並 …) only
    where it leads on to a word of LEAD_WORDS (及維護, 並透過)."""
    words = [w for w in LEAD_WORDS if name.startswith(w)]
    if words:
        return max(words, key=len)
    if name[:1] in LEAD_CHARS and any(name[1:].startswith(w) for w in LEAD_WORDS):
        return name[:1]
    return ""


def _find_all(text: str, word: str) -> Iterator[int]:
    start = 0
    while (pos := text.find(word, start)) >= 0:
        yield pos
        start = pos + 1


def _generic(name: str) -> bool:
    """An ordinary phrase, no name: a generic one (機關網站) or one whose words before its suffix are all generic
    (行動服務APP, 線上申辦系統, 本局網站)."""
    if name in GENERIC_SYSTEMS or len(name) < 2:
        return True
    m = SYSTEM_SUFFIX.search(name)
    head = name[: m.start()] if m else name
    ok = [True] + [False] * len(head)  # ok[i]: head[:i] is made of generic words
    for i in range(len(head)):
        if ok[i]:
            for w in GENERIC_WORDS:
                if head.startswith(w, i):
                    ok[i + len(w)] = True
    return ok[len(head)]


@dataclass(frozen=True)
class Entity:
    """A linked node: what kind it is, its stable id, its preferred label and (for systems) its type."""

    kind: str
    id: str
    name: str
    type: str = ""
    name_en: str = ""
    parent: str = ""  # unit: its agency's name; law article: its act


@dataclass
class Aliases:
    """The alias tables: every spelling a plan uses, mapped to one entity."""

    systems: dict[str, Entity] = field(default_factory=dict)
    units: dict[tuple[str, str], str] = field(default_factory=dict)  # (agency or "", alias key) -> canonical
    agencies: dict[str, dict] = field(default_factory=dict)  # key of any name -> agency entry
    laws: dict[str, Entity] = field(default_factory=dict)
    programmes: dict[str, Entity] = field(default_factory=dict)
    not_units: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, extra: Path | None = None) -> Aliases:
        """The bundled alias file, extended by a planner's own file with the same tables when given."""
        text = resources.files("kg").joinpath("data/aliases.toml").read_text("utf-8")
        tables = [tomllib.loads(text)]
        if extra is not None and (extra.exists() or extra.is_symlink()):
            data = read_regular(extra, MAX_ALIAS_BYTES, "alias file", PlanError)
            try:
                tables.append(tomllib.loads(data.decode("utf-8")))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise PlanError(str(extra), f"the alias file is not valid TOML: {exc}") from None
        out = cls()
        for t in tables:
            out._add(t)
        return out

    def _add(self, t: dict) -> None:
        self.not_units |= {key(x) for x in t.get("not_units", [])}
        for s in t.get("system", []):
            e = Entity("system", s["id"], s["name"], s.get("type", "InformationSystem"), s.get("name_en", ""))
            for name in [s["name"], *s.get("aliases", [])]:
                self.systems[key(name)] = e
        for u in t.get("unit", []):
            for name in [u["name"], *u.get("aliases", [])]:
                self.units[(u.get("agency", ""), key(name))] = u["name"]
        for a in t.get("agency", []):
            for name in [a["name"], *a.get("short", [])]:
                self.agencies[key(name)] = a
        for kind, table in (("law", self.laws), ("programme", self.programmes)):
            for x in t.get(kind, []):
                e = Entity(kind, short_id(kind, x["name"]), x["name"], name_en=x.get("name_en", ""))
                for name in [x["name"], *x.get("aliases", [])]:
                    table[key(name)] = e

    # ---------------------------------------------------------------- agencies and units

    def agency(self, name: str) -> Entity:
        entry = self.agencies.get(key(name))
        full = entry["name"] if entry else name
        return Entity(
            "agency",
            short_id("agency", full),
            full,
            name_en=(entry or {}).get("name_en", ""),
            parent=self.parent_agency(full),
        )

    def parent_agency(self, name: str) -> str:
        """The agency above this one: from the alias file, else read off the name (…局X中心 is part of …局)."""
        entry = self.agencies.get(key(name))
        if entry and entry.get("parent"):
            return entry["parent"]
        if entry and not entry.get("parent"):
            return ""
        if re.fullmatch(r"[\u4e00-\u9fff]{1,4}[市縣]政府|行政院", name):
            return ""  # a city or county government, or the Executive Yuan: the top of its tree here
        m = re.match(r"^(.+?(?:市政府|縣政府)[\u4e00-\u9fff]{1,6}?[局處])(.+)$", name)
        if m:
            return m.group(1)
        m = re.match(r"^(.+?(?:市政府|縣政府|市|縣))[\u4e00-\u9fff]+$", name)
        if m:
            city = m.group(1)
            city = city if city.endswith("政府") else city + "政府"
            return city if city != name else ""
        # Central government: 交通部民用航空局高雄國際航空站 is part of 交通部民用航空局, which is part of 交通部.
        m = re.match(r"^(.{2,8}?[部會院](?:[\u4e00-\u9fff]{2,10}?[局署]))(.+)$", name)
        if m:
            return m.group(1)
        m = re.match(r"^(.{2,8}?部)([\u4e00-\u9fff]{2,}[局署處所院館])$", name)
        if m:
            return m.group(1)
        return ""

    def unit(self, raw: str, agency: str) -> Entity | None:
        """The unit a unit cell names, under the agency that owns it; None for '暨所屬機關', '各科室' and the like."""
        text = key(raw)
        if not text or text in self.not_units:
            return None
        text = UNIT_TAIL.sub("", text)
        if not text or text in self.not_units:
            return None
        owner = agency
        # A prefix naming an agency (違建大隊查報組) puts the unit under that agency.
        for alias in sorted(
            (a for a in self.agencies if text.startswith(a) and len(a) < len(text)), key=len, reverse=True
        ):
            owner = self.agencies[alias]["name"]
            text = text[len(alias) :]
            break
        text = SELF_PREFIX.sub("", text)
        if not text or text in self.not_units:
            return None
        name = self.units.get((owner, text)) or self.units.get(("", text)) or text
        return Entity("unit", short_id("unit", owner, name), name, parent=owner)

    # ---------------------------------------------------------------- systems, laws, programmes

    def systems_in(self, text: str, known: Iterable[Entity] = ()) -> list[Entity]:
        """Named systems a measure's text mentions, one entity per real system, in order of first mention.

        A name is what is left of a mention once the words in front of it are gone (開發各項工務建設APP is
        工務建設APP), and a system already known by that name is that system. known: systems found elsewhere in the
        same plan or corpus (see systems_in_all), matched like the alias table's own.
        """
        table = dict(self.systems)
        for e in known:
            table.setdefault(key(e.name), e)
        compact = normalise(text).replace(" ", "")
        # key(text), one character for each of compact's, so positions are shared
        flat = "".join(c.lower() if len(c.lower()) == 1 else c for c in compact.replace("臺", "台"))
        found: list[tuple[int, int, Entity]] = []  # start, end, entity
        # 1. Every spelling of a known system, longest first; a shorter one inside a longer one is not another.
        for alias in sorted(table, key=lambda a: (-len(a), a)):
            start = 0
            while (pos := flat.find(alias, start)) >= 0:
                end = pos + len(alias)
                start = end
                if alias.isascii() and (
                    (pos > 0 and flat[pos - 1].isascii() and flat[pos - 1].isalnum())
                    or (end < len(flat) and flat[end].isascii() and flat[end].isalnum())
                ):
                    continue
                if any(a < end and pos < b for a, b, _ in found):
                    continue
                found.append((pos, end, table[alias]))
        # 2. Quoted names, the most reliable: a quote is one name, known spellings inside it are part of it.
        for m in QUOTED.finditer(compact):
            name, (qs, qe) = m.group(1), m.span(1)
            if not SYSTEM_SUFFIX.search(name) or NOT_ONE_NAME.search(name):
                continue
            inner = [f for f in found if qs <= f[0] and f[1] <= qe]
            if any(f[0] < qe and qs < f[1] for f in found if f not in inner):
                continue  # inside a longer known spelling (or across the quote): that one is the name
            if any(b < qe for _, b, _ in inner):
                continue  # names a known system and goes on (「市長信箱與1999專線」): a phrase, not one name
            entity = self._resolve(name, table)
            if entity is not None:
                found = [f for f in found if f not in inner] + [(qs, qe, entity)]
        # 3. Unquoted app names (身障幸福就業 APP): where the words in front of one end is not marked.
        for m in APP_MENTION.finditer(compact):
            head, (hs, he), end = m.group(1), m.span(1), m.end()
            if any(a < end and he - 1 < b for a, b, _ in found):
                continue  # its last word or its APP is part of a name already found
            hit = self._app(head, table)
            if hit is not None:
                found.append((hs + hit[0], end, hit[1]))
        seen: set[str] = set()
        out = []
        for _, _, e in sorted(found, key=lambda x: (x[0], x[1])):
            if e.id not in seen:
                seen.add(e.id)
                out.append(e)
        return out

    def systems_in_all(self, texts: Iterable[str]) -> list[list[Entity]]:
        """systems_in for each text of one plan or corpus, a system named in one text known in all the others.

        Two passes over the same texts: the result depends on which texts are read, never on their order.
        """
        texts = list(texts)
        first = [self.systems_in(t) for t in texts]
        table_ids = {e.id for e in self.systems.values()}
        new = {e.id: e for found in first for e in found if e.id not in table_ids}
        # A new name that is another with words in front (民眾下載高雄好停APP, 高雄好停APP) is none to learn.
        learn = [
            e for e in new.values() if not any(o.id != e.id and key(e.name).endswith(key(o.name)) for o in new.values())
        ]
        return [self.systems_in(t, learn) for t in texts] if learn else first

    def _app(self, head: str, table: dict[str, Entity]) -> tuple[int, Entity] | None:
        """The app named by the CJK words before an APP, with where its name starts in them; None for a common noun.

        The words are only as long as the pattern's window, so a known name they end with is the name. Otherwise
        the name starts after the first word that leads to one (開發, 各項, 及 …) and after the last verb or
        determiner (以手機下載高雄好停APP: 高雄好停APP); a name keeps its own function characters (市民的家APP).
        """
        for i in range(len(head) - 1):
            if (e := _lookup(head[i:] + "APP", table)) is not None:
                return i, e
        if any(head.endswith(w) for w in LEAD_WORDS | LEAD_CHARS):
            return None  # 建築公安資訊等APP, 巡查通報系統或APP: APP as a common noun
        cuts = [
            (i, i + len(w)) for w in LEAD_WORDS | LEAD_CHARS for i in _find_all(head, w) if len(head) - i - len(w) >= 2
        ]
        start = 0
        if cuts:
            first = min(cuts, key=lambda c: (c[0], -c[1]))[1]
            start = max([first] + [b for a, b in cuts if b - a > 1])
        entity = self._resolve(head[start:] + "APP", table)
        return None if entity is None else (start, entity)

    def _resolve(self, name: str, table: dict[str, Entity]) -> Entity | None:
        """The system a candidate name is, once the words in front of it are gone; None for an ordinary phrase.

        At each step a known spelling is that system; a soft prefix (市府) is dropped only to reach one.
        """
        rest = name
        while True:
            if (e := _lookup(rest, table)) is not None:
                return e
            for p in SOFT_PREFIXES:
                if rest.startswith(p) and (e := _lookup(rest[len(p) :], table)) is not None:
                    return e
            word = _lead_word(rest)
            if not word:
                break
            rest = rest[len(word) :]
        return None if _generic(rest) else self._new_system(rest)

    @staticmethod
    def _new_system(name: str) -> Entity:
        suffix = SYSTEM_SUFFIX.search(name).group(1) if SYSTEM_SUFFIX.search(name) else ""
        kind = {
            "專線": "Hotline",
            "熱線": "Hotline",
            "信箱": "Mailbox",
            "APP": "MobileApp",
            "App": "MobileApp",
            "app": "MobileApp",
            "平臺": "WebPlatform",
            "平台": "WebPlatform",
            "網站": "Website",
            "資訊網": "Website",
            "服務網": "Website",
            "粉絲專頁": "SocialMedia",
        }.get(suffix, "InformationSystem")
        return Entity("system", "sys-" + short_id("system", key(name)), name.replace("帄", "平"), kind)

    def laws_in(self, text: str) -> list[Entity]:
        """Laws and regulations a measure cites; an article cited (第7條) is its own node, part of the act."""
        norm = normalise(text)
        flat = key(text)
        out: dict[str, Entity] = {}
        for alias, e in self.laws.items():
            if alias in flat:
                out.setdefault(e.id, e)
        for m in LAW_QUOTED.finditer(norm):
            name = m.group(1).replace(" ", "")
            e = self.laws.get(key(name)) or Entity("law", short_id("law", name), name)
            out.setdefault(e.id, e)
        for m in LAW_ARTICLE.finditer(norm):
            act = self.laws.get(key(m.group(1)))
            if act is None:
                continue
            article = f"{act.name}第{m.group(2)}條" + (f"之{m.group(3)}" if m.group(3) else "")
            out.pop(act.id, None)
            e = Entity("law", short_id("law", article), article, parent=act.name)
            out.setdefault(e.id, e)
        return list(out.values())

    def law(self, name: str) -> Entity:
        return self.laws.get(key(name)) or Entity("law", short_id("law", name), name)

    def programme(self, name: str) -> Entity:
        return self.programmes.get(key(name)) or Entity("programme", short_id("programme", name), name)
