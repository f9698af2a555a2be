"""Spelling correction of query words (`models.search.spelling`), against term frequencies given
as a dict: which words are corrected, to what, and which are left alone."""

from __future__ import annotations

import pytest

from models.search import BM25Index, corrections
from models.search.spelling import MAX_CORRECTIONS, MAX_LOOKED_AT, edits1

# Terms as the analyser stores them (stems), with how many products hold each.
HELD = {"stainless": 40, "steel": 55, "pictur": 12, "frame": 30, "headset": 9, "header": 2, "bottl": 20,
        "water": 25, "16oz": 3, "15oz": 8, "mug": 7, "mag": 90}


def fixed(text: str, held: dict[str, int] = HELD) -> list[tuple[str, str]]:
    return [(c.word, c.replacement) for c in corrections(text, lambda t: held.get(t, 0))]


@pytest.mark.parametrize(("typo", "kind"), [
    ("stainles", "a letter dropped"), ("stainlesss", "a letter added"), ("stainlass", "a letter replaced"),
    ("stianless", "two letters swapped"),
])
def test_one_edit_away_is_corrected(typo: str, kind: str) -> None:
    assert fixed(f"{typo} steel") == [(typo, "stainless")], kind


def test_a_neighbour_of_the_stem_is_found_too() -> None:
    assert fixed("picure frame") == [("picure", "pictur")]  # "picure" stems to "picur"


def test_words_some_product_has_are_left_alone() -> None:
    assert fixed("stainless steel water bottles") == []


@pytest.mark.parametrize("text", ["muug", "16ozz", "bottle2", "caf\u00e9s", "the"])
def test_short_words_numbers_and_other_scripts_are_left_alone(text: str) -> None:
    assert fixed(text) == []


def test_the_neighbour_most_products_hold_wins_and_ties_go_alphabetically() -> None:
    assert fixed("headsat") == [("headsat", "headset")]
    assert fixed("abcdef", {"abcdxf": 5, "abcdefg": 5, "bcdef": 1}) == [("abcdef", "abcdefg")]
    assert fixed("abcdef", {"abcdxf": 6, "abcdefg": 5}) == [("abcdef", "abcdxf")]


def test_nothing_near_is_no_correction_and_the_number_is_bounded() -> None:
    assert fixed("zzzzzzz") == [] and fixed("stinles") == []  # two edits from "stainless"
    typos = " ".join(["stainles", "stianless", "stainlass", "stainlesss", "picure", "pictre"])
    assert len(fixed(typos)) == MAX_CORRECTIONS
    made_up = " ".join("qx" + "abcdefghij"[i] * 5 for i in range(MAX_LOOKED_AT))
    assert fixed(f"{made_up} stainles") == []  # past the words a query may cost
    assert fixed(f"{made_up[:-8]} stainles") == [("stainles", "stainless")]


def test_edits1_are_damerau_levenshtein_distance_one() -> None:
    edits = edits1("cat")
    assert {"at", "ct", "ca", "act", "cta", "bat", "cot", "cats", "scat"} <= edits
    assert "cat" not in edits and "tac" not in edits and "dog" not in edits  # distance 0, 2, 3


def test_with_a_keyword_index() -> None:
    index = BM25Index({"name": 1.0})
    index.add(1, {"name": ["stainless", "steel", "mug"]})
    index.add(2, {"name": ["stainless", "bottl"]})
    index.remove(2)
    assert [(c.word, c.replacement) for c in corrections("stainles mugg", index.document_frequency)] == [
        ("stainles", "stainless")]  # "mugg" has 4 letters: too short to correct
