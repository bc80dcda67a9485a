"""The search-quality measures: the best possible similar-practice precision a label set allows."""

from bench.evaluation import label_ceiling


def _m(i: int, agency: str) -> dict:
    return {"id": f"m{i}", "agency": agency, "text": f"第{i}號措施的內容文字足夠長", "source": {"file": "f.txt"}}


def _label(i: int, primary: str, *secondary: str) -> dict:
    return {"id": f"l{i}", "file": "f.txt", "text_start": f"第{i}號措施的內容文字足夠長", "primary": primary,
            "secondary": list(secondary)}  # fmt: skip


def test_the_ceiling_counts_only_other_agencies_measures_of_the_label_up_to_k():
    measures = [_m(1, "A"), _m(2, "B"), _m(3, "C"), _m(4, "A"), _m(5, "B")]
    labels = [_label(1, "faq"), _label(2, "faq"), _label(3, "faq", "web"), _label(4, "faq"), _label(5, "web")]
    # m1: 2 other-agency faq (m2, m3); m2: 3 (m1, m3, m4); m3: 3 (m1, m2, m4) and m5 shares web; m4: 2;
    # m5's primary "web" is nobody else's primary, so m5 is not scored
    primary, shared = label_ceiling(measures, labels, k=5)
    assert primary == (2 + 3 + 3 + 2) / 5 / 4
    assert shared == (2 + 3 + 4 + 2) / 5 / 4
    assert label_ceiling(measures, labels, k=2) == (1.0, 1.0)
