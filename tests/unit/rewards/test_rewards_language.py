"""R1's language-consistency reward: target-language units / all units of the thought, by hand."""

from __future__ import annotations

import pytest

from r1cli.errors import R1Error
from r1cli.rewards import combine_rewards, get_reward
from r1cli.rewards.language import language_consistency, language_units, thought_of


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        # Latin words First, add, and, multiply (4); CJK 然, 后 (2); the numbers 3, 4 count for nothing.
        ("First add 3 and 4, 然后 multiply", "en", 4 / 6),
        ("First add 3 and 4, 然后 multiply", "zh", 2 / 6),
        ("所以答案是七", "zh", 1.0),  # every CJK character is a unit
        ("所以答案是七", "en", 0.0),
        ("Wait да", "en", 1 / 2),  # one Latin word, one Cyrillic word
        # code is notation: only Use, then (Latin) and 好 (CJK) are language.
        ("Use `print(x, y)` then ```python\nfor i in range(3): pass\n``` 好", "en", 2 / 3),
        # math spans and LaTeX commands are notation: only "equals" is a word.
        ("$\\frac{a}{b}$ equals \\(x^2\\) or \\sqrt", "en", 2 / 2),
        ("$\\frac{a}{b}$ equals 所", "zh", 1 / 2),
        ("ｔｅｓｔ 试", "en", 1 / 2),  # full-width Latin letters are Latin
    ],
)
def test_consistency_by_hand(text, lang, expected):
    assert language_consistency(text, lang) == pytest.approx(expected)


def test_units_count_cjk_by_character_and_other_scripts_by_word():
    assert dict(language_units("Wait, 3+4=7. 所以答案是7")) == {"Latin": 1, "CJK": 5}
    assert dict(language_units("x2y")) == {"Latin": 2}  # a digit ends a word
    assert dict(language_units("abcдеф")) == {"Latin": 1, "Cyrillic": 1}  # a change of script ends one too
    assert dict(language_units("ℝ and 𝑥")) == {"Latin": 1}  # letter-like math symbols are not language


@pytest.mark.parametrize("thought", ["", "   ", "2+3=5, 10*2=20", "`x = 1`", "$a+b$"])
def test_a_thought_without_words_scores_empty(thought):
    assert language_consistency(thought, "en") == 1.0
    assert language_consistency(thought, "en", empty=0.0) == 0.0


@pytest.mark.parametrize(
    ("text", "thought"),
    [
        ("<think>Let me think</think> 答案是 7", "Let me think"),
        ("Let me think</think> 答案", "Let me think"),  # prefilled <think>
        ("cut off 所以", "cut off 所以"),  # never closed: all of it is thought
        ("<think>a</think> b </think> c", "a"),
    ],
)
def test_thought_of(text, thought):
    assert thought_of(text) == thought


def test_the_reward_scores_the_thought_only():
    fn = get_reward("language")
    texts = [
        "<think>Add 3 and 4</think> 答案是 \\boxed{7}",  # the Chinese answer is outside the thought
        "<think>Add 3 and 4, 得 7</think> \\boxed{7}",  # Add, and (2); 得 (1)
        "<think></think> \\boxed{7}",
        [{"role": "assistant", "content": "<think>所以 seven</think> 7"}],  # chat form: 1 of 3
    ]
    assert fn(texts, answer=["7"] * 4) == pytest.approx([1.0, 2 / 3, 1.0, 1 / 3])
    assert fn.__name__ == "language"
    assert get_reward("language", lang="zh")(["<think>所以 seven</think>"]) == pytest.approx([2 / 3])
    assert get_reward("language", empty="0")(["<think></think> 7"]) == [0.0]


def test_summed_with_accuracy_as_r1_does_or_logged_with_weight_zero():
    texts = ["<think>Add 3 and 4, 得 7</think> \\boxed{7}", "<think>Add 3 and 4</think> \\boxed{8}"]
    summed = combine_rewards("acc,language")
    assert summed(texts, answer=["7", "7"]) == pytest.approx([1 + 2 / 3, 0 + 1.0])
    logged = combine_rewards("acc:1,language:0")
    assert logged(texts, answer=["7", "7"]) == pytest.approx([1.0, 0.0])
    assert logged.last_components["language"] == pytest.approx([2 / 3, 1.0])


def test_bad_options_are_one_line_errors():
    with pytest.raises(R1Error, match=r"unknown lang 'eng' \(did you mean 'en'\?\)"):
        get_reward("language", lang="eng")
    with pytest.raises(R1Error, match=r"empty must be in \[0, 1\], got 2"):
        get_reward("language", empty=2)
