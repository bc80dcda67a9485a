"""What a unit cell looks like: unit names (…科, …室, …中心), not a phrase of a measure."""

from __future__ import annotations

import re

UNIT_SUFFIX = re.compile(r"(?:科|課|室|組|處|局|股|隊|中心|所|站|館|人員|委員會|工務段|分局|分隊|中隊|大隊)$")
NOT_A_UNIT_VERB = re.compile(
    r"提供|設置|建置|辦理|推動|強化|落實|規劃|定期|加強|鼓勵|運用|結合|建立|提升|設立|增進|維護|檢討|訂定|公開|配合|依據|透過|"
    r"場所$|之處$|處所$|住所$|廁所$|派出所$"
)
AGENCY_TAIL = re.compile(r"[\s]*(?:暨|及|與)?所屬(?:機關|單位|各機關)?$")


def unit_tokens(text: str) -> list[str] | None:
    """The unit names of a unit cell, or None when the text is not a unit cell."""
    flat = text.replace("\u3000", " ").strip().rstrip("。")
    tokens = [t for t in re.split(r"[\s、，,/]+", flat) if t]
    if not tokens or len(tokens) > 12:
        return None
    for t in tokens:
        core = AGENCY_TAIL.sub("", t)
        if core in NOT_UNIT_WORDS:
            continue
        if not core or len(core) > 16 or re.search(r"[「」：:。；()]", core) or NOT_A_UNIT_VERB.search(core):
            return None
        if not UNIT_SUFFIX.search(core):
            return None
    return tokens


NOT_UNIT_WORDS = {
    "各科室",
    "各課室",
    "各單位",
    "各科",
    "各課",
    "各組",
    "各室",
    "本所各課室",
    "全體同仁",
    "暨所屬機關",
    "所屬機關",
}
