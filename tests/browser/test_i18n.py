"""A Chinese-speaking learner: the browser asks for Chinese, the switcher changes it, the choice sticks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command

from config.celery import app
from course.models import User
from course.translations import source_hash, translation_path
from tests.conftest import screenshot
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Chinese prose around inline and display math, with Chinese inside \text{}: what a translated
# lesson looks like, written into the temporary copy of the fixture course (as the lesson's
# zh-Hans translation, course.translations, with the same math in its English).
CHINESE_LESSON = r"""
## 用链式法则求梯度

损失函数 $L(\theta) = -\log p(y \mid x; \theta)$ 是负对数似然。它对参数的导数，也就是梯度
$\nabla_\theta L$，要用反向传播逐层相乘得到：每一层把上游传来的梯度乘上本层的局部导数，即
$\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\cdot\frac{\partial y}{\partial x}$。

$$\text{梯度} = \frac{\partial L}{\partial \theta} = \sum_{i=1}^{n} \frac{\partial L}{\partial z_i}\,\frac{\partial z_i}{\partial \theta} \quad \text{（对所有中间变量求和）}$$

一个很长的标识符也不应撑宽页面：`softmax_cross_entropy_with_logits_and_label_smoothing`。
"""


def _fits_the_screen(page) -> bool:  # noqa: ANN001 - a Playwright page
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _punctuation_stays_with_math(page) -> bool:  # noqa: ANN001 - a Playwright page
    """Say whether every "，" or "。" right after inline math sits on the formula's last line."""
    return page.evaluate(
        """() => [...document.querySelectorAll(".prose .math-inline")].every(el => {
            const next = el.nextSibling || el.parentNode.lastChild;
            if (!next || next.nodeType !== Node.TEXT_NODE) return true;
            const at = next.data.search(/[，。]/);
            if (at < 0 || at > 1) return true;
            const range = document.createRange();
            range.setStart(next, at);
            range.setEnd(next, at + 1);
            const mark = range.getBoundingClientRect();
            const rects = el.getClientRects();
            const last = rects[rects.length - 1];
            return mark.top < last.bottom && mark.bottom > last.top;
        })"""
    )


def test_a_chinese_learner_signs_up_switches_language_and_keeps_it(
    live_server,  # noqa: ANN001
    browser,  # noqa: ANN001
    course_dir: Path,
) -> None:
    lesson = course_dir / "basics" / "01-first-steps" / "lesson.md"
    lesson.write_text(lesson.read_text(encoding="utf-8") + CHINESE_LESSON, encoding="utf-8")
    body = lesson.read_text(encoding="utf-8").split("---\n", 2)[2]
    translation = f"---\ntitle: 第一步\nsource: {source_hash(lesson.read_bytes())}\n---\n{body}"
    translation_path(lesson, "zh-Hans").write_text(translation, encoding="utf-8")
    call_command("sync_course", str(course_dir), verbosity=0)

    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()

    # Accept-Language: zh-CN gives the Chinese interface at the same URL.
    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.get_by_role("heading", name="两条学习路线").wait_for()
    screenshot(page, "i18n-home-zh")

    page.get_by_role("link", name="注册").first.click()
    page.get_by_role("heading", name="创建账号").wait_for()
    page.locator("#id_username").fill("lin")
    page.locator("#id_email").fill("lin@example.com")
    page.locator("#id_password1").fill("a-long-pass-phrase")
    page.locator("#id_password2").fill("a-long-pass-phrase")
    page.get_by_role("button", name="注册").click()
    page.get_by_text("欢迎来到 Chainrule，lin。").wait_for()

    header = page.locator(".site-header")
    for word in ("我的主页", "学习小组", "退出登录"):
        header.get_by_text(word).wait_for()
    assert User.objects.get(username="lin").language == "zh-hans"

    page.get_by_role("link", name="查看 applied 学习路线").click()
    page.get_by_role("button", name="加入 applied 学习路线").click()
    page.get_by_text("你已加入“Applied”学习路线。").wait_for()
    screenshot(page, "i18n-track-zh")

    page.get_by_role("link", name="第一步").click()
    page.locator(".math-display .katex-display").nth(1).wait_for()
    # \text{梯度} is typeset by KaTeX, in a font stack that has Chinese glyphs.
    text_font = page.locator(".katex .mord.text").first.evaluate(
        "e => getComputedStyle(e).fontFamily"
    )
    assert "Noto Sans CJK SC" in text_font and "PingFang SC" in text_font
    body_font = page.locator(".prose p").last.evaluate("e => getComputedStyle(e).fontFamily")
    assert body_font.startswith('"PingFang SC"')
    screenshot(page, "i18n-lesson-zh")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.locator(".math-display .katex-display").nth(1).wait_for()
    assert _fits_the_screen(page), "the Chinese lesson is wider than a phone"
    assert _punctuation_stays_with_math(page), "a line starts with the comma after a formula"
    screenshot(page, "i18n-lesson-zh-phone")

    # The switcher: a form that POSTs to set_language, one button per language. On a phone the
    # header's links and the switcher fold behind a menu button.
    page.get_by_role("button", name="菜单").click()
    page.get_by_role("button", name="English").click()
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("link", name="Dashboard").wait_for()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.url.endswith("/modules/basics/first-steps/?track=applied")  # the same page
    assert User.objects.get(username="lin").language == "en"
    screenshot(page, "i18n-lesson-en-phone")

    page.get_by_role("button", name="简体中文").click()
    page.get_by_role("button", name="菜单").click()
    page.get_by_role("link", name="我的主页").wait_for()
    assert User.objects.get(username="lin").language == "zh-hans"
    page.get_by_role("link", name="我的主页").click()
    page.get_by_role("heading", name="欢迎回来，lin").wait_for()
    assert _fits_the_screen(page), "the Chinese dashboard is wider than a phone"
    screenshot(page, "i18n-dashboard-zh-phone")
    page.get_by_role("button", name="菜单").click()
    page.get_by_role("button", name="退出登录").click()
    context.close()

    # A new browser that prefers English: the stored preference wins once lin logs in.
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_role("heading", name="Log in").wait_for()
    page.locator("#id_username").fill("lin")
    page.locator("#id_password").fill("a-long-pass-phrase")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="欢迎回来，lin").wait_for()
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    screenshot(page, "i18n-dashboard-zh")
    context.close()


@pytest.fixture
def eager_grading() -> Iterator[None]:
    """Grade in the web process: this test is about the page's language, not the worker."""
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_the_exercise_page_speaks_chinese_around_the_verdict(
    live_server,  # noqa: ANN001
    browser,  # noqa: ANN001
    course_dir: Path,
    eager_grading: None,
    password: str,
) -> None:
    call_command("sync_course", str(course_dir), verbosity=0)
    UserFactory(username="mei", language="zh-hans")
    context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_username").fill("mei")
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="欢迎回来，mei").wait_for()

    page.goto(live_server.url + "/exercises/square-derivative/")
    page.get_by_text("输入时，系统对你答案的理解会显示在这里。").wait_for()
    page.locator("#answer").fill("x")
    page.get_by_text("识别为").wait_for()
    page.get_by_role("button", name="检查").click()
    verdict = page.locator("#result [data-verdict]")
    verdict.wait_for()
    assert verdict.get_attribute("data-verdict") == "incorrect"
    assert "还不对" in verdict.inner_text() and "第 1 次尝试" in verdict.inner_text()
    page.get_by_role("heading", name="你的提交记录").wait_for()
    page.get_by_role("heading", name="提示").wait_for()
    assert "目前已尝试：1 次" in page.locator("#progress").inner_text()
    assert _fits_the_screen(page), "the Chinese exercise page is wider than a phone"
    screenshot(page, "i18n-exercise-zh-phone")
    context.close()


def test_a_chinese_learner_reads_a_translated_lesson_and_a_chinese_diagnosis(
    live_server,  # noqa: ANN001
    browser,  # noqa: ANN001
    course_zh_dir: Path,
    eager_grading: None,
) -> None:
    """The fixture course's zh-Hans files: a translated lesson, exercise, hints and feedback."""
    call_command("sync_course", str(course_zh_dir), verbosity=0)
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    page = context.new_page()

    page.goto(live_server.url + "/accounts/signup/")
    page.locator("#id_username").fill("hua")
    page.locator("#id_email").fill("hua@example.com")
    page.locator("#id_password1").fill("a-long-pass-phrase")
    page.locator("#id_password2").fill("a-long-pass-phrase")
    page.get_by_role("button", name="注册").click()
    page.get_by_text("欢迎来到 Chainrule，hua。").wait_for()

    # The track and its module in Chinese, from tracks.zh-Hans.yaml and module.zh-Hans.yaml.
    page.goto(live_server.url + "/tracks/applied/")
    page.get_by_role("heading", name="应用 学习路线").wait_for()
    page.get_by_text("一条供测试用的小学习路线。").wait_for()
    page.get_by_role("heading", name="1. 基础").wait_for()
    assert page.locator(".badge-english").count() == 1  # the untranslated second lesson
    screenshot(page, "i18n-translated-track-zh-phone")

    page.get_by_role("link", name="第一步").click()
    page.get_by_role("heading", name="第一步", exact=True).wait_for()
    page.locator(".prose .katex-display").first.wait_for()
    assert "反向传播计算梯度的基础" in page.locator(".prose").inner_text()
    assert page.locator("article .badge-english").count() == 0
    assert _fits_the_screen(page), "the translated lesson is wider than a phone"
    assert _punctuation_stays_with_math(page), "a line starts with the comma after a formula"
    screenshot(page, "i18n-translated-lesson-zh-phone")

    # The second lesson has no translation: its English is shown, marked.
    page.locator('a[rel="next"]').click()
    page.locator("h1 .badge-english").wait_for()
    assert page.locator("h1 > span[lang=en]").first.inner_text() == "Second steps"
    assert page.locator('.prose[lang="en"], .prose [lang="en"]').count() >= 1
    screenshot(page, "i18n-untranslated-lesson-zh-phone")

    # A wrong answer: the author's feedback from the translation, then the grader's diagnosis.
    page.goto(live_server.url + "/exercises/square-derivative/")
    page.get_by_role("heading", name="平方的导数").wait_for()
    page.get_by_text("求 ").first.wait_for()
    page.locator("#answer").fill("2*x)")
    page.get_by_text("这个 ')' 没有对应的 '('").wait_for()  # the live preview, in Chinese
    page.locator("#answer").fill("x")
    page.get_by_role("button", name="检查").click()
    page.locator('#result [data-verdict="incorrect"]').wait_for()
    page.locator("#result .diagnosis").get_by_text("幂法则把指数作为因子拿到前面。").wait_for()
    page.locator("#answer").fill("-2*x")
    page.get_by_role("button", name="检查").click()
    page.locator("#result").get_by_text("你的答案符号错了：请检查每个负号。").wait_for()
    verdict = page.locator("#result").inner_text()
    assert "在 x = " in verdict and "你的答案给出" in verdict
    page.get_by_role("button", name="显示一条提示").click()  # hints on demand
    page.get_by_text("使用幂法则。").wait_for()  # the translated hint
    assert _fits_the_screen(page), "the Chinese verdict is wider than a phone"
    screenshot(page, "i18n-diagnosis-zh-phone")

    # The same verdict, said again in English after a switch, and in Chinese after switching back
    # (on a phone the header's links and the switcher are behind its menu button).
    page.get_by_role("button", name="菜单").click()
    page.get_by_role("button", name="English").click()
    page.locator("#result").get_by_text(
        "Your answer has the wrong sign: check each minus sign."
    ).wait_for()
    assert "At x = " in page.locator("#result").inner_text()
    page.get_by_role("heading", name="Derivative of a square").wait_for()
    screenshot(page, "i18n-diagnosis-en-phone")
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("button", name="简体中文").click()
    page.locator("#result").get_by_text("你的答案符号错了：请检查每个负号。").wait_for()
    page.get_by_role("heading", name="平方的导数").wait_for()
    context.close()
