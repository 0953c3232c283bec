"""The lessons' guides say what the lessons and exercises are: lessons/README.md and the Korean
walk-through lessons/README.ko.md name every lesson and every exercise function, and the Korean
one keeps to the Korean Deep Learning from Scratch edition's terms, without the calques it once
had."""
import glob
import importlib.util
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LESSONS = sorted(os.path.basename(p) for p in glob.glob(
    os.path.join(REPO, "lessons", "[0-9][0-9]_*.py")))


def _read(*path):
    with open(os.path.join(REPO, *path), encoding="utf-8") as f:
        return f.read()


def _exercise_functions():
    spec = importlib.util.spec_from_file_location(
        "exercise_check", os.path.join(REPO, "lessons", "exercises", "check.py"))
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    return [name for rows in check.CHECKS.values() for name, *_ in rows]


@pytest.mark.parametrize("guide", ["README.md", "README.ko.md"])
def test_guide_names_every_lesson_and_exercise(guide):
    text = _read("lessons", guide)
    for lesson in LESSONS:
        assert lesson in text, f"{guide} never names {lesson}"
    for name in _exercise_functions():
        assert f"`{name}`" in text, f"{guide} never names the exercise {name}"
    assert "check.py --mine" in text


def test_korean_guide_uses_the_korean_edition_terms():
    text = _read("lessons", "README.ko.md")
    terms = ("합성곱", "풀링", "기울기 확인", "가중치 감소", "오차역전파법", "특징 맵", "윈도우")
    for term in terms:
        assert term in text, term
    # calques: 지도 for "map", 창 for "window", and the phrases the first version had
    for calque in ("메인 작업", "자신의 구현", "살아 있는지"):
        assert calque not in text, calque
    assert not re.search(r"(^|[\s(])지도", text), "지도 for 'map'"
    assert not re.search(r"(^|[\s(])창(이|을|의|에|\b)", text), "창 for 'window'"
    assert "--lang ko" in text
