"""A corpus of plans at any size for the scale benchmark: the bundled samples as templates, re-made per agency and year.

Each plan is one of the five bundled sample plans with another agency and year in its title (one plan per agency and
year, so no plan replaces another), its measures' texts re-made from sentences of the samples' measures, its units
renamed to units such an agency has, and, for an agency outside Kaohsiung, the city's name in place of Kaohsiung's.
Every plan is checked with the real parser (it must read the agency, year and number of measures written) and the
corpus is the same for the same seed: plan k depends on the seed and k only, so a smaller corpus is the first plans
of a larger one.

    python -m bench.scale_corpus --measures 100000 --out /tmp/corpus-100k [--seed 0]

writes the plans, `plans.tsv` (file, agency, year, measures) and, last, `READY` (the counts, JSON).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from kg.normalise import normalise
from kg.plan import parse_plan
from kg.read import parse_bytes
from kg.store import bundled_plans

YEARS = range(100, 114)  # ROC years 100–113 (2011–2024)
AGENCY_POOL = 320  # agencies a corpus draws from: about five plans each at 100k measures
SPLICE_SKIP = 0.25  # how often a re-made sentence is a sample sentence whole, not two spliced
TRIES = 4  # re-made texts tried before a plan keeps its template's texts

# --------------------------------------------------------------------------- agencies, composed from real parts

KAOHSIUNG_BUREAUS = (
    *("民政局", "財政局", "教育局", "經濟發展局", "海洋局", "農業局", "觀光局", "都市發展局", "工務局", "水利局"),
    *("社會局", "勞工局", "警察局", "消防局", "衛生局", "環境保護局", "文化局", "交通局", "地政局", "捷運工程局"),
    *("新聞局", "法制局", "青年局", "運動發展局", "人事處", "主計處", "政風處", "行政暨國際處"),
    *("原住民事務委員會", "客家事務委員會", "研究發展考核委員會"),
)
KAOHSIUNG_OFFICES = (
    *("工務局養護工程處", "工務局新建工程處", "工務局建築管理處", "勞工局訓練就業中心", "勞工局勞動檢查處"),
    *("社會局長青綜合服務中心", "社會局家庭暴力及性侵害防治中心", "衛生局食品衛生檢驗中心", "文化局歷史博物館"),
    *("環境保護局清潔隊", "交通局公共車船管理處", "地政局土地開發處", "財政局稅捐稽徵處", "教育局家庭教育中心"),
)
KAOHSIUNG_DISTRICTS = (
    *("鹽埕", "鼓山", "左營", "楠梓", "三民", "新興", "前金", "苓雅", "前鎮", "旗津", "小港", "鳳山", "林園"),
    *("大寮", "大樹", "大社", "仁武", "鳥松", "岡山", "橋頭", "燕巢", "田寮", "阿蓮", "路竹", "湖內", "茄萣"),
    *("永安", "彌陀", "梓官", "旗山", "美濃", "六龜", "甲仙", "杉林", "內門", "茂林", "桃源", "那瑪夏"),
)
KAOHSIUNG_LAND_OFFICES = (
    *("鹽埕", "新興", "前鎮", "三民", "楠梓", "岡山", "鳳山", "旗山", "仁武", "路竹", "美濃", "大寮"),
)
# Other cities and counties: (government, the short form their documents use, its districts or townships).
CITIES = (
    (
        "臺北市",
        "北市",
        ("中正", "大同", "中山", "松山", "大安", "萬華", "信義", "士林", "北投", "內湖", "南港", *("文山",)),
    ),
    ("新北市", "新北", ("板橋", "三重", "中和", "永和", "新莊", "新店", "土城", "蘆洲", "汐止", "樹林", "淡水")),
    ("臺中市", "中市", ("中區", "東區", "西屯", "南屯", "北屯", "豐原", "大里", "太平", "清水", "沙鹿")),
    ("臺南市", "南市", ("中西", "東區", "南區", "北區", "安平", "安南", "永康", "新營", "麻豆", "佳里")),
    ("桃園市", "桃市", ("桃園", "中壢", "平鎮", "八德", "楊梅", "蘆竹", "龜山", "龍潭", "大溪")),
)
CITY_BUREAUS = (
    *("民政局", "財政局", "教育局", "社會局", "勞動局", "衛生局", "環境保護局", "文化局", "交通局", "地政局"),
    *("工務局", "警察局", "消防局", "觀光傳播局", "經濟發展局", "都市發展局", "人事處", "主計處", "法務局"),
)
COUNTIES = (
    ("彰化縣", "彰縣", ("彰化市", "員林市", "鹿港鎮", "和美鎮", "溪湖鎮", "北斗鎮")),
    ("屏東縣", "屏縣", ("屏東市", "潮州鎮", "東港鎮", "恆春鎮", "萬丹鄉", "內埔鄉")),
    ("宜蘭縣", "宜縣", ("宜蘭市", "羅東鎮", "蘇澳鎮", "頭城鎮", "礁溪鄉")),
    ("花蓮縣", "花縣", ("花蓮市", "鳳林鎮", "玉里鎮", "吉安鄉", "壽豐鄉")),
    ("雲林縣", "雲縣", ("斗六市", "斗南鎮", "虎尾鎮", "西螺鎮", "北港鎮")),
    ("嘉義縣", "嘉縣", ("太保市", "朴子市", "布袋鎮", "大林鎮", "民雄鄉")),
    ("苗栗縣", "苗縣", ("苗栗市", "頭份市", "竹南鎮", "後龍鎮", "苑裡鎮")),
    ("南投縣", "投縣", ("南投市", "埔里鎮", "草屯鎮", "竹山鎮", "集集鎮")),
)
COUNTY_BUREAUS = (
    *("民政處", "財政處", "教育處", "社會處", "勞工處", "農業處", "建設處", "工務處", "地政處", "文化局"),
    *("衛生局", "環境保護局", "警察局", "消防局", "稅務局", "人事處", "主計處", "計畫處"),
)
# Central agencies: a ministry, or an administration under one (and an office under that).
MINISTRIES = (
    *("內政部", "外交部", "財政部", "教育部", "法務部", "經濟部", "交通部", "勞動部", "衛生福利部", "文化部"),
    *("數位發展部", "農業部", "環境部", "國家發展委員會", "國家科學及技術委員會"),
)
ADMINISTRATIONS = (
    *("內政部移民署", "內政部警政署", "內政部消防署", "內政部國土管理署", "財政部關務署", "財政部國有財產署"),
    *("財政部臺北國稅局", "財政部高雄國稅局", "財政部南區國稅局", "經濟部智慧財產局", "經濟部標準檢驗局"),
    *("交通部公路局", "交通部中央氣象署", "交通部觀光署", "交通部航港局", "勞動部勞工保險局", "勞動部勞動力發展署"),
    *("衛生福利部中央健康保險署", "衛生福利部食品藥物管理署", "衛生福利部社會及家庭署", "教育部體育署"),
    *("教育部國民及學前教育署", "法務部行政執行署", "農業部農糧署", "環境部資源循環署"),
)
FIELD_OFFICES = (
    *("財政部高雄國稅局三民分局", "財政部高雄國稅局鳳山分局", "財政部臺北國稅局大安分局", "交通部公路局高雄區監理所"),
    *("交通部公路局臺北區監理所", "勞動部勞動力發展署高屏澎東分署", "勞動部勞動力發展署雲嘉南分署"),
    *("衛生福利部中央健康保險署高屏業務組", "內政部移民署南區事務大隊", "法務部行政執行署高雄分署"),
)

# Units an agency of each kind has; each ends as the parser expects a unit cell to (…科, …室, …中心: kg.plan.units).
UNITS = {
    "bureau": (
        *("秘書室", "企劃科", "資訊室", "行政科", "綜合企劃科", "會計室", "人事室", "政風室", "第一科", "第二科"),
        *("第三科", "服務中心", "研考科", "業務科", "管理科", "推廣科", "檢驗科", "稽查科"),
    ),
    "district": (
        *("民政課", "社會課", "經建課", "人文課", "行政課", "秘書室", "兵役課", "農業課", "調解委員會", "會計室"),
        *("人事室", "政風室", "工務課", "財政課"),
    ),
    "central": (
        *("秘書處", "綜合企劃處", "資訊處", "人事處", "會計處", "政風處", "法制室", "參事室", "業務組", "服務科"),
        *("企劃組", "資訊組", "行政組", "稽核組", "服務中心"),
    ),
}


@dataclass(frozen=True)
class Agency:
    name: str
    kind: str  # "bureau", "district" or "central": which units it has
    city: str = "高雄市"  # the city or county it belongs to, "" for a central agency
    short: str = "高市"  # its city's short form (高市府研發字第…)


def agencies() -> list[Agency]:
    """Every agency a corpus may name: Kaohsiung's bureaus, offices and districts, other cities', the ministries'."""
    out = [Agency(f"高雄市政府{b}", "bureau") for b in KAOHSIUNG_BUREAUS]
    out += [Agency(f"高雄市政府{o}", "bureau") for o in KAOHSIUNG_OFFICES]
    out += [Agency(f"高雄市{d}區公所", "district") for d in KAOHSIUNG_DISTRICTS]
    out += [Agency(f"高雄市{d}區戶政事務所", "district") for d in KAOHSIUNG_DISTRICTS[:12]]
    out += [Agency(f"高雄市政府地政局{d}地政事務所", "bureau") for d in KAOHSIUNG_LAND_OFFICES]
    for city, short, districts in CITIES:
        out += [Agency(f"{city}政府{b}", "bureau", city, short) for b in CITY_BUREAUS]
        out += [Agency(f"{city}{d.removesuffix('區')}區公所", "district", city, short) for d in districts]
    for county, short, towns in COUNTIES:
        out += [Agency(f"{county}政府{b}", "bureau", county, short) for b in COUNTY_BUREAUS]
        out += [Agency(f"{county}{t}公所", "district", county, short) for t in towns]
    out += [Agency(n, "central", "", "") for n in (*MINISTRIES, *ADMINISTRATIONS, *FIELD_OFFICES)]
    return out


def pairs(seed: int) -> list[tuple[Agency, int]]:
    """The corpus's (agency, year) pairs in the order plans are written: a fixed draw of agencies, all their years."""
    templates()
    rng = random.Random(f"agencies-{seed}")
    pool = agencies()
    rng.shuffle(pool)
    out = [(a, y) for a in pool[:AGENCY_POOL] for y in YEARS]
    rng.shuffle(out)
    return [p for p in out if p not in SAMPLE_PAIRS]


# --------------------------------------------------------------------------- templates

NUMBERING = re.compile(r"[(（]?\s*[0-9０-９一二三四五六七八九十壹貳參叁肆伍陸柒捌玖拾]{1,3}\s*[)）.．、]")
YEAR_WORD = re.compile(r"(?<![\d０-９])(9\d|1[01]\d)(?=\s*年)")
DOC_NO_YEAR = re.compile(r"(字第\s*)(9\d|1[01]\d)(?=\d{5,})")


@dataclass(frozen=True)
class Template:
    name: str
    lines: tuple[str, ...]
    agency: str
    year: int
    measures: tuple[tuple[int, int, str], ...]  # (line_start, line_end, text) of each measure, lines from 1
    units: tuple[str, ...]  # the unit names its unit cells print, longest first


SAMPLE_PAIRS: set = set()  # the bundled samples' own agencies and years, never generated (filled by templates())


@cache
def templates() -> tuple[Template, ...]:
    out = []
    for path in bundled_plans():
        data = path.read_bytes()
        doc = parse_bytes(data, path.name)
        plan = parse_plan(doc)
        units = {re.sub(r"(?:暨|及)?(?:所屬|各所屬)(?:機關|單位)?$", "", u) for m in plan.measures for u in m.units_raw}
        units = {u for u in units if len(u) >= 2 and not u.startswith(("各", "本"))}
        out.append(
            Template(
                path.name,
                doc.lines,
                plan.agency,
                plan.year_roc,
                tuple((m.line_start, m.line_end, m.text) for m in plan.measures),
                tuple(sorted(units, key=lambda u: (-len(u), u))),
            )
        )
    SAMPLE_PAIRS.update((a, t.year) for t in out for a in agencies() if a.name == t.agency)
    return tuple(out)


@cache
def sentences() -> tuple[str, ...]:
    """The samples' measure sentences that can stand in any measure: no numbering, markup or tabs in them."""
    seen: dict[str, None] = {}
    for t in templates():
        for _, _, text in t.measures:
            for s in re.findall(r"[^。]+。", text):
                s = s.strip()
                if 8 <= len(s) <= 150 and not NUMBERING.search(s) and not re.search(r"[<>\t「」]|^[，、；]", s):
                    seen.setdefault(s, None)
    return tuple(seen)


# --------------------------------------------------------------------------- one plan

AGENCY_MARK = "\ue000"  # stands for the new agency's name while Kaohsiung's names are replaced


def _sentence(rng: random.Random) -> str:
    """One sentence of the samples, or the first clauses of one and the last of another (…，…。)."""
    pool = sentences()
    a, b = rng.choice(pool), rng.choice(pool)
    head, tail = a.split("，"), b.split("，")
    if len(head) < 2 or len(tail) < 2 or rng.random() < SPLICE_SKIP:
        return a
    return "，".join(head[: rng.randint(1, len(head) - 1)] + tail[rng.randint(1, len(tail) - 1) :])


def _new_text(rng: random.Random, old: str) -> str:
    """A measure's text re-made from the samples' sentences, about as long as the old one."""
    count = max(1, min(4, old.count("。") or 1))
    text = "".join(_sentence(rng) for _ in range(count))
    return text if old.rstrip().endswith("。") else text.rstrip("。")


def _remake_texts(lines: list[str], t: Template, rng: random.Random) -> None:
    """Each measure's text replaced where the template prints it: on one line, wrapped over several, or by sentence."""
    for start, end, text in t.measures:
        span = range(start - 1, min(end, len(lines)))
        hit = next((i for i in reversed(span) if text and text in lines[i]), None)
        if hit is not None:
            k = lines[hit].rfind(text)
            lines[hit] = lines[hit][:k] + _new_text(rng, text) + lines[hit][k + len(text) :]
            continue
        cells = {i: lines[i].split("\t") for i in span}
        whole = [(i, c) for i in span for c, cell in enumerate(cells[i]) if normalise(cell).endswith(text)]
        if whole:  # one cell holds it, printed in another width (（）, ：) or after the measure's title
            i, c = whole[-1]
            cell = normalise(cells[i][c])
            cells[i][c] = cell[: len(cell) - len(text)] + _new_text(rng, text)
            lines[i] = "\t".join(cells[i])
            continue
        parts = [(i, c) for i in span for c, cell in enumerate(cells[i]) if normalise(cell) and normalise(cell) in text]
        joined = "".join(normalise(cells[i][c]) for i, c in parts)
        if len(parts) > 1 and joined.replace(" ", "") == text.replace(" ", ""):
            new = _new_text(rng, text)  # wrapped over several lines, in one column: the new text wrapped alike
            sizes = [len(normalise(cells[i][c])) for i, c in parts]
            cuts = [round(len(new) * sum(sizes[:n]) / sum(sizes)) for n in range(len(sizes) + 1)]
            for n, (i, c) in enumerate(parts):
                cell = cells[i][c]
                cells[i][c] = cell[: len(cell) - len(cell.lstrip())] + (new[cuts[n] : cuts[n + 1]] or "。")
            for i in {i for i, _ in parts}:
                lines[i] = "\t".join(cells[i])
            continue
        for s in re.findall(r"[^。]+。", text):  # numbered sub-items (（1）…。（2）…。): sentence by sentence
            s = NUMBERING.sub("", s, count=1) if NUMBERING.match(s) else s
            hit = next((i for i in span if len(s) > 4 and s in lines[i]), None)
            if hit is not None:
                lines[hit] = lines[hit].replace(s, _new_text(rng, "。"), 1)


def _localise(text: str, a: Agency) -> str:
    """Kaohsiung's names in a template made the agency's own city's (or, for a central agency, the ministry's)."""
    if a.city == "高雄市":
        return text
    if not a.city:
        for old, new in (("高雄市政府", AGENCY_MARK), ("高市府", "府"), ("高雄市", "全國"), ("高雄", "臺灣")):
            text = text.replace(old, new)
        return text.replace("市府", "本機關").replace("本市", "全國").replace("市民", "民眾")
    text = text.replace("高雄市", a.city).replace("高市", a.short).replace("高雄", a.city[:2])
    if a.city.endswith("縣"):
        text = text.replace("市府", "縣府").replace("本市", "本縣").replace("市民", "縣民").replace("市長", "縣長")
    return text


def make_plan(seed: int, k: int, agency: Agency, year: int) -> tuple[str, Template]:
    """Plan k of the corpus of this seed, for this agency and year: its text and the template it was made from."""
    rng = random.Random(f"plan-{seed}-{k}")
    t = rng.choice(templates())
    unit_names = UNITS[agency.kind]
    units = {u: rng.choice(unit_names) for u in t.units}
    for attempt in range(TRIES + 1):
        lines = list(t.lines)
        if attempt < TRIES:
            _remake_texts(lines, t, rng)
        table = next(i for i, line in enumerate(lines) if re.match(r"^\s*肆\s*、", line))
        for i, line in enumerate(lines):
            line = line.replace(t.agency, AGENCY_MARK)
            if i > table:
                for old in t.units:
                    line = line.replace(old, units[old])
            line = _localise(line, agency)
            line = YEAR_WORD.sub(lambda m: str(int(m.group(1)) + year - t.year), line)
            line = DOC_NO_YEAR.sub(lambda m: m.group(1) + str(int(m.group(2)) + year - t.year), line)
            lines[i] = line.replace(AGENCY_MARK, agency.name)
        text = "\n".join(lines)
        if _reads_as(text, agency.name, year, len(t.measures)):
            return text, t
    raise RuntimeError(f"plan {k} ({agency.name} {year}) from {t.name} does not read back as written")


def _reads_as(text: str, agency: str, year: int, measures: int) -> bool:
    plan = parse_plan(parse_bytes(text.encode("utf-8"), "generated.txt"))
    return plan.agency == agency and plan.year_roc == year and len(plan.measures) == measures


def file_name(k: int, agency: str, year: int) -> str:
    return f"{k:05d}_{hashlib.sha1(f'{agency}|{year}'.encode()).hexdigest()[:12]}.txt"


# --------------------------------------------------------------------------- the corpus


def generate(measures: int, out: Path, seed: int = 0, progress=None) -> dict:
    """Write plans totalling about `measures` into out, then plans.tsv and READY; the counts, as READY holds them."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "READY").unlink(missing_ok=True)
    listed = out / "plans.tsv"
    if listed.is_file():  # a corpus written here before: its plans go (only those it lists), so none is left over
        for line in listed.read_text("utf-8").splitlines()[1:]:
            (out / line.split("\t")[0]).unlink(missing_ok=True)
    templates()
    rows = []
    total = 0
    for k, (agency, year) in enumerate(pairs(seed)):
        if total >= measures:
            break
        text, t = make_plan(seed, k, agency, year)
        name = file_name(k, agency.name, year)
        (out / name).write_text(text, encoding="utf-8")
        rows.append((name, agency.name, year, len(t.measures), t.name))
        total += len(t.measures)
        if progress:
            progress(len(rows), total)
    else:
        print(f"warning: only {total} measures can be made for seed {seed}", file=sys.stderr)
    with open(out / "plans.tsv", "w", encoding="utf-8") as fh:
        fh.write("file\tagency\tyear_roc\tmeasures\ttemplate\n")
        fh.writelines("\t".join(map(str, r)) + "\n" for r in rows)
    counts = {
        "plans": len(rows),
        "measures": total,
        "agencies": len({r[1] for r in rows}),
        "years": sorted({r[2] for r in rows}),
        "seed": seed,
    }
    (out / "READY").write_text(json.dumps(counts, ensure_ascii=False) + "\n", encoding="utf-8")
    return counts


def parse_size(text: str) -> int:
    """'100k' → 100000; '2500' → 2500; '1m' → 1000000."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not m:
        raise ValueError(f"not a size: {text!r} (e.g. 1000, 10k, 1m)")
    return int(float(m.group(1)) * {"": 1, "k": 1000, "m": 1_000_000}[m.group(2).lower()])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="python -m bench.scale_corpus")
    p.add_argument("--measures", required=True, help="about how many measures in all (1000, 10k, 100k)")
    p.add_argument("--out", required=True, type=Path, help="folder to write the plans into")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same corpus (default 0)")
    args = p.parse_args(argv)
    try:
        n = parse_size(args.measures)
    except ValueError as exc:
        p.error(f"--measures: {exc}")
    if args.out.exists() and not args.out.is_dir():
        p.error(f"--out: {args.out} is not a folder")

    def progress(plans: int, total: int) -> None:
        if plans % 100 == 0:
            print(f"{plans} plans, {total} measures", file=sys.stderr)

    counts = generate(n, args.out, args.seed, progress)
    print(f"{counts['plans']} plans, {counts['measures']} measures, {counts['agencies']} agencies → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
