"""Content translations beside the English files: read, checked, stored by sync_course, shown.

The fixture course tests/fixtures/course_zh translates tracks.yaml, the module, the first lesson
and both of its exercises into zh-Hans; the second lesson has no translation.
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from course.content import load_course
from course.models import Exercise, Lesson, Module, Track, User
from course.translations import source_hash, text_mismatches, translation_path
from grader.course_check import course_check

ZH = "zh-hans"
LESSON = Path("basics/01-first-steps/lesson.md")
UNTRANSLATED_LESSON = Path("basics/02-second-steps/lesson.md")
EXERCISE = Path("basics/01-first-steps/scaled-square.yaml")


def sync(path: Path) -> str:
    out = io.StringIO()
    call_command("sync_course", str(path), stdout=out)
    return out.getvalue()


def problems_of(root: Path) -> list[str]:
    return [str(p) for p in load_course(root).translation_problems()]


def rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# --- reading and checking ------------------------------------------------------------------------


def test_the_fixture_translations_are_complete_and_current(course_zh_dir: Path) -> None:
    course = load_course(course_zh_dir)
    assert problems_of(course_zh_dir) == []
    assert [e.slug for e in course.exercises] == ["scaled-square", "square-derivative"]
    lesson = next(le for le in course.lessons if le.slug == "first-steps")
    assert lesson.translations["zh-Hans"].fields["title"] == "第一步"
    assert course.tracks[0].translations["zh-Hans"].fields == {
        "title": "应用",
        "summary": "一条供测试用的小学习路线。",
    }


def test_the_source_hash_is_twelve_hex_digits_of_sha256() -> None:
    assert source_hash(b"abc") == hashlib.sha256(b"abc").hexdigest()[:12]
    assert translation_path(Path("a/lesson.md"), "zh-Hans") == Path("a/lesson.zh-Hans.md")
    assert translation_path(Path("a/x.yaml"), "zh-Hans") == Path("a/x.zh-Hans.yaml")


def test_a_changed_english_file_makes_its_translation_stale(course_zh_dir: Path) -> None:
    english = course_zh_dir / LESSON
    rewrite(english, "The sigmoid is", "The logistic sigmoid is")
    translated = translation_path(english, "zh-Hans")
    found = problems_of(course_zh_dir)
    assert len(found) == 1
    assert found[0].startswith(f"{translated}:{line_of(translated, 'source:')}: stale: ")
    assert source_hash(english.read_bytes()) in found[0]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("对 $x^2$ 使用", "对 $x^3$ 使用", "hints[0]: the math differs from the English"),
        ("设 $a = {{a}}$", "设 $a = 3$", "prompt: placeholders differ"),
        ("并用 `x` 表示", "并用 `y` 表示", "prompt: the code in backticks must stay"),
        ("  - 常数因子保持不变。\n", "", "hints: the English has 2 items, the translation 1"),
        ("title: 带系数的平方的导数\n", "", "title: missing translation"),
        ("title: 带系数的平方的导数\n", "title: 带系数\nanswer: x\n", "answer: not a field"),
    ],
)
def test_a_translation_must_mirror_the_english(
    course_zh_dir: Path, old: str, new: str, expected: str
) -> None:
    translated = translation_path(course_zh_dir / EXERCISE, "zh-Hans")
    rewrite(translated, old, new)
    found = problems_of(course_zh_dir)
    assert any(expected in problem for problem in found), found
    assert all(problem.startswith(f"{translated}:") for problem in found)


@pytest.mark.parametrize(
    ("english", "translated", "ok"),
    [
        (r"Give $\frac{a}{b}$.", r"给出 $\frac{a}{b}$。", True),
        (r"$\text{loss} = x^2$", r"$\text{损失} = x^2$", True),  # words inside \text{} translate
        (r"row $n$ of $X$", r"$X$ 的第 $n$ 行", True),  # a formula may move in the sentence
        (r"$x^2$ then $y$", r"先 $y$ 再 $y$", False),  # but each formula stays, as often
        (r"$$\sum_i x_i$$", r"$$\sum_{i} x_i$$", False),
        (r"\(a+b\) and {{n}}", r"\(a+b\) 与 {{ n }}", True),
        ("Type `sigmoid(x)`.", "输入 `sigmoid(x)`。", True),
    ],
)
def test_the_text_check(english: str, translated: str, ok: bool) -> None:
    assert (text_mismatches(english, translated) == []) is ok


def test_check_course_names_a_translation_problem_with_its_file_and_line(
    course_zh_dir: Path,
) -> None:
    translated = translation_path(course_zh_dir / EXERCISE, "zh-Hans")
    rewrite(translated, "对 $x^2$ 使用", "对 $x^3$ 使用")
    report = course_check(course_zh_dir / EXERCISE, seeds=1, jobs=1)
    [result] = report.exercises
    assert [str(p) for p in result.problems] == [
        f"{translated}:{line_of(translated, '$x^3$')}: hints[0]: the math differs from the "
        "English (not in the English: 'x^3'; missing: 'x^2')"
    ]


def test_check_course_reports_a_stale_lesson_translation(course_zh_dir: Path) -> None:
    rewrite(course_zh_dir / LESSON, "The sigmoid is", "The logistic sigmoid is")
    report = course_check(course_zh_dir, seeds=1, jobs=1)
    assert not report.ok
    assert [p.path.name for p in report.problems] == ["lesson.zh-Hans.md"]
    assert "stale" in report.problems[0].message


def test_a_glossary_needs_one_rendering_per_term(course_zh_dir: Path) -> None:
    rewrite(course_zh_dir / "glossary.zh-Hans.yaml", "gradient: 梯度", "gradient:")
    assert problems_of(course_zh_dir) == [
        f"{course_zh_dir / 'glossary.zh-Hans.yaml'}:2: term 'gradient': give its one rendering "
        "as text"
    ]


# --- stored and shown ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_sync_stores_usable_translations_only(course_zh_dir: Path) -> None:
    rewrite(course_zh_dir / EXERCISE, "A constant factor stays.", "A constant factor stays put.")
    out = sync(course_zh_dir)
    assert "1 problem(s) in translations" in out
    assert Track.objects.get().translations["zh-Hans"]["title"] == "应用"
    assert Module.objects.get().translations["zh-Hans"]["skill"] == "基本导数"
    lesson = Lesson.objects.get(slug="first-steps")
    assert "链式法则" in lesson.translations["zh-Hans"]["body_html"]
    assert "<script" not in lesson.translations["zh-Hans"]["body_html"]
    assert Lesson.objects.get(slug="second-steps").translations == {}
    assert Exercise.objects.get(slug="scaled-square").translations == {}  # stale: not shown
    assert Exercise.objects.get(slug="square-derivative").translations["zh-Hans"]["mistakes"] == [
        {"feedback": "幂法则把指数作为因子拿到前面。"}
    ]
    assert "0 added, 0 changed, 0 retired, 6 unchanged" in sync(course_zh_dir)


@pytest.mark.django_db
def test_a_chinese_reader_sees_the_translation_and_english_marked(course_zh_dir: Path) -> None:
    sync(course_zh_dir)
    translated = Lesson.objects.get(slug="first-steps").get_absolute_url()
    untranslated = Lesson.objects.get(slug="second-steps").get_absolute_url()

    body = Client(HTTP_ACCEPT_LANGUAGE="zh-CN").get(translated).content.decode()
    assert "<h1>第一步</h1>" in body and "反向传播" in body
    assert body.count("badge-english") == 1  # only the link to the next, untranslated, lesson
    assert "带系数的平方的导数" in body and "基础" in body

    body = Client(HTTP_ACCEPT_LANGUAGE="zh-CN").get(untranslated).content.decode()
    assert (
        '<h1><span lang="en">Second steps</span> <span class="badge badge-english" lang="en"'
        in (body)
    )
    assert re.search(r'<div lang="en"> <span class="badge badge-english"[^>]*>English</span>', body)

    body = Client(HTTP_ACCEPT_LANGUAGE="en").get(translated).content.decode()
    assert "<h1>First steps</h1>" in body and "badge-english" not in body


@pytest.mark.django_db
def test_the_exercise_page_fills_the_translated_prompt(course_zh_dir: Path, student: User) -> None:
    sync(course_zh_dir)
    exercise = Exercise.objects.get(slug="scaled-square")
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    client.force_login(student)
    body = client.get(exercise.get_absolute_url()).content.decode()
    value = re.search(r'设 <span class="math math-inline">a = (\d)</span>，求', body)
    assert value and value[1] in "345", "the variant's value fills {{a}} in the translation"
    assert "<h1>带系数的平方的导数</h1>" in body and "{{" not in body


def _graded(student: User, exercise: Exercise, answer: str) -> str:
    """Grade an answer with the real engine and store it as a finished submission; its URL."""
    from django.utils import timezone

    from grader import engine
    from grader.models import Submission

    seed = exercise.seed_for(student.pk)
    verdict = engine.grade(exercise.spec, answer, seed=seed)
    now = timezone.now()
    submission = Submission.objects.create(
        user=student,
        exercise=exercise,
        seed=seed,
        answer=answer,
        status=Submission.Status.FINISHED,
        queue="symbolic",
        verdict=verdict.to_dict(),
        created_at=now,
        enqueued_at=now,
    )
    return submission.get_absolute_url()


@pytest.mark.django_db
def test_a_wrong_answer_is_explained_in_the_readers_language(
    course_zh_dir: Path, student: User
) -> None:
    sync(course_zh_dir)
    url = _graded(student, Exercise.objects.get(slug="square-derivative"), "x")
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    client.force_login(student)
    body = client.get(url).content.decode()
    assert "幂法则把指数作为因子拿到前面。" in body  # the author's feedback, from the translation
    assert "在 x = " in body and "你的答案给出" in body  # the grader's counterexample
    assert "The power rule" not in body and "badge-english" not in body

    client.post("/i18n/setlang/", {"language": "en", "next": url})
    body = client.get(url).content.decode()
    assert "The power rule brings the exponent down as a factor." in body
    assert "At x = " in body and "your answer gives" in body


@pytest.mark.django_db
def test_feedback_without_a_translation_is_marked_english(
    course_zh_dir: Path, student: User
) -> None:
    rewrite(course_zh_dir / EXERCISE, "A constant factor stays.", "A constant factor stays put.")
    sync(course_zh_dir)  # the translation is stale now: not used
    url = _graded(student, Exercise.objects.get(slug="scaled-square"), "2*x")
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    client.force_login(student)
    body = client.get(url).content.decode()
    assert re.search(r'<li class="diagnosis" lang="en"[^>]*>.*Keep the constant', body)
    assert "badge-english" in body and "你的答案给出" in body


def test_a_code_exercise_translation_mirrors_tests_and_the_subgradient_note(
    tmp_path: Path,
) -> None:
    """The course's relu-backward: named tests, no check texts, a subgradient note."""
    from django.conf import settings

    from course.translations import exercise_visible, read_yaml_translation, source_hash

    english = tmp_path / "relu-backward.yaml"
    source = Path(settings.BASE_DIR) / "exercises/backprop-by-hand/01-relu-and-linear-layers"
    english.write_bytes((source / "relu-backward.yaml").read_bytes())
    import yaml

    spec = yaml.safe_load(english.read_text(encoding="utf-8"))
    visible = exercise_visible(spec)
    assert sorted(visible) == [
        "hints",
        "mistakes",
        "prompt",
        "solution",
        "subgradient",
        "tests",
        "title",
    ]
    assert visible["subgradient"] == {"note": spec["subgradient"]["note"]}
    translated = {
        "source": source_hash(english.read_bytes()),
        **{key: value for key, value in visible.items()},
    }
    translation_path(english, "zh-Hans").write_text(
        yaml.safe_dump(translated, allow_unicode=True), encoding="utf-8"
    )
    found = read_yaml_translation(english, visible, "zh-Hans")
    assert found is not None and found.problems == []

    translated["tests"] = translated["tests"][:-1]
    translated["subgradient"] = {"feedback": "注意"}
    translation_path(english, "zh-Hans").write_text(
        yaml.safe_dump(translated, allow_unicode=True), encoding="utf-8"
    )
    found = read_yaml_translation(english, visible, "zh-Hans")
    assert found is not None
    assert [p.message for p in found.problems] == [
        "tests: the English has 4 items, the translation 3; keep the same items in the same order",
        "subgradient.note: missing translation",
        "subgradient.feedback: not a field to translate here",
    ]


def test_an_authors_message_comes_from_the_translation_at_its_path() -> None:
    from django.utils import translation

    from grader.rendering import message_text

    exercise = Exercise(
        spec={"subgradient": {"note": "Any value in [0, 1] is valid."}},
        translations={"zh-Hans": {"subgradient": {"note": "[0, 1] 中的任何值都可以。"}}},
    )
    stored = {
        "code": "subgradient_convention",
        "text": "Any value in [0, 1] is valid.",
        "source": ["subgradient", "note"],
    }
    with translation.override(ZH):
        assert message_text(stored, exercise) == ("[0, 1] 中的任何值都可以。", False)
        assert message_text(stored, Exercise(spec={})) == ("Any value in [0, 1] is valid.", True)
    with translation.override("en"):
        assert message_text(stored, exercise) == ("Any value in [0, 1] is valid.", False)
