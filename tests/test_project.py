"""The project's promises to a newcomer: two set-up commands, and CI that runs them."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_names_the_two_setup_commands_near_the_top():
    head = (ROOT / "README.md").read_text().split("## The HTTP API")[0]
    assert "make run" in head and "make test" in head


def test_makefile_has_both_targets():
    makefile = (ROOT / "Makefile").read_text()
    assert "\nrun:" in makefile and "\ntest:" in makefile


def test_ci_runs_make_test():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test\n" in ci


def test_make_lint_runs_ruff_and_the_type_checker_and_ci_runs_it():
    makefile = (ROOT / "Makefile").read_text()
    lint = makefile.split("\nlint:")[1].split("\n\n")[0]
    assert "ruff check" in lint and "mypy" in lint
    assert "make lint\n" in (ROOT / ".ci" / "run").read_text()
