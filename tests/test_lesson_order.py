"""The lessons' order: no lesson uses an idea that a later lesson introduces.

IDEAS lists each idea, the lesson that introduces it, and how its use shows in a lesson's source
(code or printed text, the module docstring left out). A lesson before the introducing one may
use the idea only after a primer for it (a paragraph that starts "Primer: <name>", in that
lesson or an earlier one), or name the idea in passing with a pointer to its lesson ("lesson 06")
close by.
"""
import glob
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LESSONS = {int(os.path.basename(p)[:2]): p
           for p in sorted(glob.glob(os.path.join(REPO, "lessons", "[0-9][0-9]_*.py")))}
NEAR = 160          # characters either side of a use where a pointer to the lesson excuses it

# (idea, the lesson that introduces it, its uses, the primer that may come first or None)
IDEAS = [
    ("im2col", 1, r"im2col", None),
    ("the backward pass", 2, r"\.backward\(", None),
    ("the gradient check", 2, r"gradcheck|gradient check", None),
    ("convolutionization", 3, r"convolutioni[sz]", None),
    ("the optimizer: SGD, momentum, weight decay", 6,
     r"optim\.SGD|momentum|weight_decay|weight decay", "Primer: the optimizer"),
    ("the transposed convolution", 4, r"ConvTranspose2d|conv_transpose2d", None),
    ("Adam", 6, r"optim\.Adam|\bAdam\b", None),
    ("skip layers", 5, r"\bscore_pool|\bfuse_pool|\.skips\b", None),
    ("crop offsets and conv1_1's padding", 5,
     r"crop_offset|coord_map|geometry\.|nn\.Crop|conv1_1_padding|pad(ding)? (of |by )?100",
     None),
    ("mean IU and the confusion matrix", 7,
     r"mean_iu|mean IU|ConfusionMatrix|confusion matrix", "Primer: mean IU"),
    ("shift-and-stitch", 8, r"shift_and_stitch|shift-and-stitch", None),
    ("unpooling", 8, r"[Uu]npool", None),
    ("dilated convolution", 8, r"dilation=|dilated", None),
    ("the CuPy stand-in", 9, r"use_fake_cupy|count_device_ops|count_transfers", None),
]


def body(path):
    """The lesson's source without its module docstring."""
    with open(path, encoding="utf-8") as f:
        source = f.read()
    match = re.match(r'\s*"""(.*?)"""', source, re.S)
    return source[match.end():] if match else source


def test_every_idea_has_its_lesson():
    for idea, lesson, pattern, _ in IDEAS:
        assert lesson in LESSONS, idea
        assert re.search(pattern, body(LESSONS[lesson])), f"lesson {lesson:02d} never uses {idea}"


@pytest.mark.parametrize("idea, intro, pattern, primer", IDEAS, ids=[i[0] for i in IDEAS])
def test_no_lesson_uses_a_later_idea(idea, intro, pattern, primer):
    primed_in = None                            # the first lesson that holds the primer
    for lesson in sorted(n for n in LESSONS if n < intro):
        text = body(LESSONS[lesson])
        primer_at = text.find(primer) if primer else -1
        if primer_at >= 0 and primed_in is None:
            primed_in = lesson
        for use in re.finditer(pattern, text):
            if primed_in is not None and (primed_in < lesson or use.start() > primer_at):
                continue
            near = text[max(0, use.start() - NEAR):use.end() + NEAR]
            if re.search(rf"lessons? (\d\d, )*0?{intro}\b", near):
                continue
            line = text.count("\n", 0, use.start()) + 1
            raise AssertionError(
                f"lesson {lesson:02d} uses {idea} ({use.group(0)!r}, line {line} after the "
                f"docstring) before lesson {intro:02d} introduces it, with no primer before it"
                + (f" ({primer!r})" if primer else "") + " and no pointer to that lesson near it")


def test_the_primers_come_before_their_lesson():
    for idea, intro, _, primer in IDEAS:
        if primer:
            holders = [n for n, p in LESSONS.items() if primer in body(p)]
            assert holders and min(holders) < intro, f"{primer!r} is missing or too late"
