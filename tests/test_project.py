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


def _top_level_names(path: Path) -> set[str]:
    import ast

    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
    return names


def test_tests_on_the_stack_share_one_helper_module_with_one_meaning_per_name():
    shared = _top_level_names(ROOT / "tests" / "helpers.py")
    assert {"eventually", "post", "contact", "events_of", "run_schedule"} <= shared
    assert sorted(path.name for path in (ROOT / "tests").rglob("*helpers*.py")) == ["helpers.py"]
    redefined = {path.name: sorted(_top_level_names(path) & shared)
                 for path in [ROOT / "tests" / "conftest.py", *sorted((ROOT / "tests" / "api").glob("*.py"))]}
    assert {name: names for name, names in redefined.items() if names} == {}


def test_the_readme_configuration_table_lists_every_variable_the_app_reads():
    import re

    # config.py reads the settings; the local server reads its port.
    sources = [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]
    reads = re.compile(r'(?:environ|env)\.get\("([A-Z][A-Z0-9_]+)"')
    read = {name for path in sources for name in reads.findall(path.read_text())}
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration")[1].split("\n## ")[0]
    listed = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", table, flags=re.MULTILINE))
    assert {"PARCOURS_TOKEN_SECRET", "AWS_REGION", "PORT"} <= read
    assert sorted(read - listed) == [], "variables read but missing from README's configuration table"
    assert sorted(listed - read) == [], "README lists variables nothing reads"
