"""Entity linking: units with their agency, named systems, laws and programmes, from a planner-extensible alias file."""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from kg.errors import PlanError
from kg.read import normalise

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
APP_MENTION = re.compile(r"([\u4e00-\u9fff]{2,12})\s?(?:APP|App)(?![A-Za-z])")
LAW_QUOTED = re.compile(r"「([^」]{2,40}?(?:法|條例|規則|要點|辦法|原則|規定|準則|規範|細則))」")
LAW_ARTICLE = re.compile(r"「?([\u4e00-\u9fff]{2,16}法)」?\s*第\s*(\d+)\s*條(?:之\s*(\d+))?")


def key(text: str) -> str:
    """Matching key of a name: normalised, no spaces, ASCII lower-case, one form of 臺/台."""
    return normalise(text).replace(" ", "").replace("臺", "台").lower()


def short_id(*parts: str) -> str:
    """A content-addressed id: the same names always give the same id."""
    return hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()[:12]


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
        if extra is not None and extra.exists():
            try:
                tables.append(tomllib.loads(extra.read_text("utf-8")))
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
        m = re.match(r"^(.+?(?:市政府|縣政府)[\u4e00-\u9fff]{1,6}?[局處])(.+)$", name)
        if m:
            return m.group(1)
        m = re.match(r"^(.+?(?:市政府|縣政府|市|縣))[\u4e00-\u9fff]+$", name)
        if m:
            city = m.group(1)
            return city if city.endswith("政府") else city + "政府"
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

    def systems_in(self, text: str) -> list[Entity]:
        """Named systems a measure's text mentions, one entity per real system, in order of first mention."""
        flat = key(text)
        found: list[tuple[int, Entity]] = []
        taken: list[tuple[int, int]] = []
        for alias in sorted(self.systems, key=len, reverse=True):
            start = 0
            while (pos := flat.find(alias, start)) >= 0:
                end = pos + len(alias)
                start = end
                if alias.isascii() and (
                    (pos > 0 and flat[pos - 1].isascii() and flat[pos - 1].isalnum())
                    or (end < len(flat) and flat[end].isascii() and flat[end].isalnum())
                ):
                    continue
                if any(a < end and pos < b for a, b in taken):
                    continue
                taken.append((pos, end))
                found.append((pos, self.systems[alias]))
        norm = normalise(text)
        for m in re.finditer(r"「([^」]{2,30})」", norm):
            name = m.group(1).replace(" ", "")
            if SYSTEM_SUFFIX.search(name) and name not in GENERIC_SYSTEMS and key(name) not in self.systems:
                pos = flat.find(key(name))
                if not any(a <= pos < b for a, b in taken):
                    found.append((max(pos, 0), self._new_system(name)))
        for m in APP_MENTION.finditer(norm):
            head = re.sub(r"^.*?(?:及|或|與|和|、|之|的|等|如|用|提供|開發|建置|維護)", "", m.group(1))
            if len(head) < 2 or head in ("行動", "手機", "各項", "相關", "社群", "民眾"):
                continue
            name = head + "APP"
            if key(name) in self.systems or key(head) in self.systems:
                continue
            pos = flat.find(key(head))
            if not any(a <= pos < b for a, b in taken):
                found.append((max(pos, 0), self._new_system(name)))
        seen: set[str] = set()
        out = []
        for _, e in sorted(found, key=lambda x: x[0]):
            if e.id not in seen:
                seen.add(e.id)
                out.append(e)
        return out

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
