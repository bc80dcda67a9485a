"""One clean form of plan text, and the template matching built on it."""

from kg.framework import similarity
from kg.normalise import normalise


def test_misprints_full_width_forms_and_odd_spaces_become_one_form():
    assert normalise("ＡＢＣ１２３（帄台）\u3000褔利\xa0ｘ［＿］搥") == "ABC123(平台) 福利 x[_]捶"
    assert normalise("ＡＢＣ（帄台）\u3000\u3000褔利", keep_spaces=True) == "ABC(平台)  福利"
    assert normalise("ｚ") == "z" and normalise("｛") == "｛"  # letters and digits only, not every full-width sign


def test_similarity_is_the_dice_overlap_of_character_bigrams_each_time_asked():
    for _ in range(2):  # the second time from the cached bigrams
        assert similarity("一、便捷服務", "便捷服務") == 2 * 3 / (4 + 3)  # 一便 便捷 捷服 服務, 便捷 捷服 服務
        assert similarity("便捷服務", "便捷服務") == 1.0
        assert similarity("", "") == 1.0
