"""Text normal forms used by normalize / dedup / decontam."""

from r1cli.curate.text import clean_text, garbled_ratio, match_key, text_hash, words


def test_clean_text_nfkc_and_whitespace():
    # NFKC maps the full-width "Ｘ" to "X" and the ligature "ﬁ" to "fi"; tabs/space runs -> one space
    assert clean_text("  Ｘ  plus\t\t ﬁve  ") == "X plus five"
    # lines are stripped, 3+ newlines collapse to one blank line, single newlines are kept
    assert clean_text("a  b \n\n\n\n c\nd") == "a b\n\nc\nd"
    assert clean_text("a \n b", keep_newlines=False) == "a b"


def test_match_key_and_hash_ignore_case_and_whitespace():
    assert match_key("  What IS\n2 +  2? ") == "what is 2 + 2?"
    assert match_key("Compute 17 times 23.", strip_digits=True) == "compute times ."
    assert text_hash("What is 2+2?") == text_hash("what   is 2+2?\n")
    assert text_hash("What is 2+2?") != text_hash("What is 2+3?")
    assert text_hash("What is 2+2?", strip_digits=True) == text_hash("What is 7+9?", strip_digits=True)


def test_words_drop_markup():
    assert words("Find $x^2$ if \\(x = 3\\).") == ["find", "x", "2", "if", "x", "3"]


def test_garbled_ratio():
    assert garbled_ratio("") == 0.0
    assert garbled_ratio("plain text") == 0.0
    # 4 visible characters, 2 replacement characters -> 2 / 4 = 0.5
    assert garbled_ratio("ab\ufffd\ufffd") == 0.5
    # control character \x07: 1 bad of 4 visible -> 0.25; \n and \t do not count
    assert garbled_ratio("ab\x07c\n\t") == 0.25
    # mojibake "Ã©" counts one bad per pair: "cafÃ©" has 5 visible characters, 1 pair -> 0.2
    assert garbled_ratio("cafÃ©") == 0.2
