"""A scan of every template and every Python module of the project for output that escapes the
auto-escaping, or markup that the Content-Security-Policy would block.

Anything found must be in the allowlists below, each entry with the reason it is safe.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.template import engines

ROOT = Path(__file__).resolve().parent.parent.parent
APPS = ("cerisepro", "accounts", "establishments", "students", "transfers")
TEMPLATES = sorted(
    path
    for folder in [ROOT / "templates", *(ROOT / app / "templates" for app in APPS)]
    if folder.is_dir()
    for path in folder.rglob("*")
    if path.suffix in (".html", ".txt", ".xml", ".svg")
)
MODULES = sorted(
    path for app in APPS for path in (ROOT / app).rglob("*.py") if "migrations" not in path.parts
)

UNESCAPED_TEMPLATE = re.compile(r"\|\s*safe(seq)?\b|{%\s*autoescape\s+off\s*%}")
UNESCAPED_PYTHON = re.compile(r"\bmark_safe\(|\bSafeString\(|\bSafeText\(|@html_safe|\bhtml_safe\(")
# Inline scripts, inline styles and event-handler attributes: refused by script-src / style-src
# 'self' without 'unsafe-inline'.
INLINE_CODE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle\s*=|\son[a-z]+\s*=\s*[\"']|javascript:", re.IGNORECASE
)

ALLOWED_UNESCAPED_TEMPLATES = {
    # Plain-text e-mails (never HTML): escaping would turn "l'élève" into "l&#x27;élève".
    "templates/transfers/email_received.txt",
    "templates/transfers/email_received_subject.txt",
    "templates/transfers/email_sent.txt",
    "templates/transfers/email_sent_subject.txt",
    "templates/transfers/email_undone.txt",
    "templates/transfers/email_undone_subject.txt",
    "templates/transfers/email_manual_authorised.txt",
    "templates/transfers/email_reminder_closing.txt",
    "templates/transfers/email_reminder_closing_subject.txt",
    "templates/transfers/email_reminder_weekly.txt",
    "templates/transfers/email_reminder_weekly_subject.txt",
}
ALLOWED_UNESCAPED_MODULES = {
    # The SVG chart: every piece is built by format_html (which escapes labels and numbers);
    # mark_safe only joins pieces that are already safe, and returns "" for an empty bar.
    "transfers/charts.py",
    # The history table's rows (_row_html): every value goes through html.escape (what Django's
    # escape runs) and the only literals are constant markup; test_escaping.py shows a "<script>"
    # name escaped on the page.
    "transfers/views.py",
}


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_scan_sees_the_templates_and_modules():
    assert len(TEMPLATES) > 30 and len(MODULES) > 30
    assert "templates/students/passport.html" in {relative(p) for p in TEMPLATES}


@pytest.mark.parametrize("path", TEMPLATES, ids=relative)
def test_no_template_turns_auto_escaping_off(path):
    found = UNESCAPED_TEMPLATE.findall(path.read_text())
    assert not found or relative(path) in ALLOWED_UNESCAPED_TEMPLATES, f"{relative(path)}: {found}"


@pytest.mark.parametrize("path", TEMPLATES, ids=relative)
def test_no_template_has_inline_scripts_styles_or_handlers(path):
    found = INLINE_CODE.findall(path.read_text())
    assert not found, f"{relative(path)}: move it to static/js or static/css ({found})"


@pytest.mark.parametrize("path", TEMPLATES, ids=relative)
def test_every_template_compiles(path):
    if path.suffix == ".html":
        engines["django"].from_string(path.read_text())


@pytest.mark.parametrize("path", MODULES, ids=relative)
def test_no_module_marks_text_safe_outside_the_allowlist(path):
    found = UNESCAPED_PYTHON.findall(path.read_text())
    assert not found or relative(path) in ALLOWED_UNESCAPED_MODULES, f"{relative(path)}: {found}"


@pytest.mark.parametrize("path", MODULES, ids=relative)
def test_no_module_builds_html_with_inline_styles_or_handlers(path):
    found = INLINE_CODE.findall(path.read_text())
    assert not found, f"{relative(path)}: use a class and static/css ({found})"


def test_the_allowlists_name_existing_files():
    for name in ALLOWED_UNESCAPED_TEMPLATES | ALLOWED_UNESCAPED_MODULES:
        assert (ROOT / name).is_file(), name
