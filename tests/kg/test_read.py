import pytest

from kg.errors import PlanReadError
from kg.normalise import normalise
from kg.read import MAX_BYTES, read_document
from tests.conftest import sample


def test_utf8_bom_and_big5_read_the_same(tmp_path):
    text = "高雄市政府勞工局\n107 年度提升服務工作計畫\n壹、依據\n一、政府服務躍升方案。\n"
    (tmp_path / "a.txt").write_bytes(text.encode("utf-8"))
    (tmp_path / "b.txt").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (tmp_path / "c.txt").write_bytes(text.encode("cp950"))
    docs = [read_document(tmp_path / n) for n in ("a.txt", "b.txt", "c.txt")]
    assert [d.encoding for d in docs] == ["utf-8", "utf-8-sig", "cp950"]
    assert docs[0].lines == docs[1].lines == docs[2].lines


@pytest.mark.parametrize(
    "content, why",
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        (bytes([0xFF, 0xFE, 0x41]) * 0 + b"\xc3\x28\xa0\xa1\xff\xfe\xfd" * 10, "neither UTF-8 nor Big5"),
    ],
)
def test_bad_files_are_refused_with_their_name(tmp_path, content, why):
    path = tmp_path / "bad-plan.txt"
    path.write_bytes(content)
    with pytest.raises(PlanReadError) as err:
        read_document(path)
    assert "bad-plan.txt" in str(err.value)
    assert why in str(err.value)


def test_huge_file_is_refused(tmp_path):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:
        f.truncate(MAX_BYTES + 1)
    with pytest.raises(PlanReadError, match="huge.txt.*MB"):
        read_document(path)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(PlanReadError, match="nope.txt"):
        read_document(tmp_path / "nope.txt")


def test_normalise_fixes_extraction_artefacts():
    assert normalise("<p>高雄市政府開放資料帄臺</p>") == "高雄市政府開放資料平臺"
    assert normalise("**建置單位**與單位間") == "建置單位與單位間"
    assert normalise("遠距民眾需求,以數位科技") == "遠距民眾需求，以數位科技"
    assert normalise("重服務特性 差異化。") == "重服務特性差異化。"
    assert normalise("常見問題集（FAQ）") == "常見問題集(FAQ)"
    assert normalise("身障幸福就業 APP 積極", keep_spaces=True) == "身障幸福就業 APP 積極"


def test_sample_keeps_original_lines():
    doc = read_document(sample("004"))
    assert doc.lines[2] == "高雄市政府勞工局博愛職業技能訓練中心"
