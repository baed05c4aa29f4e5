"""The web console (GET /console): its files and headers, and each page in a real headless browser
(Debian's chromium through Selenium) against `make run`'s server. Every page is photographed into
.artifacts/console/ and a test fails on any error the browser logs: script errors, refused
resources, Content-Security-Policy violations."""
from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from chalicelib.api.console import POLICY
from chalicelib.console import assets
from tests.helpers import CONSENT, eventually, make_run, one_email, reference

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / ".artifacts" / "console"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")

# A scenario with every kind of branch, all content inline.
BRANCHING = {
    "id": "branching", "name": "Relance panier", "trigger": {"event": "cart_updated"},
    "goals": [{"event": "purchase"}],
    "steps": [
        {"id": "wait-buy", "type": "wait_for", "event": "purchase", "timeout": "PT1H",
         "then": [{"id": "done", "type": "exit"}],
         "else": [{"id": "reminder", "type": "email", "subject": "Votre panier", "html": "<p>Toujours là ?</p>"}]},
        {"id": "clicked", "type": "if",
         "condition": {"event": "email.clicked",
                       "where": {"field": "properties.step", "op": "eq", "value": "reminder"}},
         "then": [{"id": "promo", "type": "email", "subject": "Livraison offerte", "html": "<p>Offerte</p>"}],
         "else": []},
        {"id": "ab", "type": "split", "branches": [
            {"weight": 50, "steps": [{"id": "plus", "type": "score", "points": 5}]},
            {"weight": 50, "steps": [{"id": "minus", "type": "score", "points": -5}]}]},
    ],
}


# -- files and headers ----------------------------------------------------------------------------


def test_the_page_and_its_files_come_with_a_strict_policy(api):
    page = api.get("/console", key="")
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    policy = page.headers["Content-Security-Policy"]
    assert policy == POLICY
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "http" not in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    script = api.get("/console/main.js", key="")
    assert script.status_code == 200 and script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert script.headers["Content-Security-Policy"] == POLICY
    assert api.get("/console/labels.json", key="").headers["Content-Type"].startswith("application/json")


def test_the_root_leads_to_the_console_of_this_installation(api):
    from chalicelib.config import settings

    home = api.get("/", key="")
    assert home.status_code == 302
    assert home.headers["Location"] == f"{settings().public_base_url}/console"


@pytest.mark.parametrize("name", ["nothing.js", "index.html", "..%2Fconfig.py", "%2E%2E", "assets.py"])
def test_only_the_console_files_are_served(api, name):
    answer = api.get(f"/console/{name}", key="")
    assert answer.status_code == 404
    assert answer.data["error"]["code"] == "not_found"


def test_the_page_has_no_inline_script_or_style_and_names_only_its_own_files():
    html = assets.page().text
    assert "<style" not in html and " style=" not in html
    assert all(re.search(r"\ssrc=", tag) for tag in re.findall(r"<script[^>]*>", html))
    referenced = re.findall(r'(?:href|src)="console/([^"]+)"', html)
    imported = {name for asset in assets.names() for name in
                re.findall(r"from '\./([^']+)'", assets.STATIC.joinpath(asset).read_text())}
    assert set(referenced) | imported <= set(assets.names())
    assert {"main.js", "console.css"} <= set(referenced)
    for source in assets.STATIC.glob("*.js"):
        text = source.read_text()
        assert "innerHTML" not in text and "eval(" not in text and "http://" not in text and "https://" not in text


def test_every_label_exists_in_french_and_english():
    labels = json.loads((assets.STATIC / "labels.json").read_text())
    assert set(labels["fr"]) == set(labels["en"])
    used: set[str] = set()
    for source in [*assets.STATIC.glob("*.js"), assets.STATIC / "index.html"]:
        text = source.read_text()
        used |= set(re.findall(r"\bt\('([\w.]+)'", text)) | set(re.findall(r'data-i18n="([\w.]+)"', text))
        used |= set(re.findall(r"'((?:contacts|message|event)\.\w+)'", text))
    assert used and used <= set(labels["en"]), sorted(used - set(labels["en"]))
    from chalicelib.vocabulary import STEP_TYPES

    assert {f"step.{kind}" for kind in STEP_TYPES} <= set(labels["en"])
    assert all(labels["fr"][key] for key in labels["fr"])


def test_the_console_files_go_into_the_lambda_package_and_the_command_line_does_not(tmp_path):
    from chalice.deploy.packager import AppOnlyDeploymentPackager
    from chalice.utils import UI, OSUtils

    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "app.py", project / "app.py")
    shutil.copytree(ROOT / "chalicelib", project / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "cli", project / "cli", ignore=shutil.ignore_patterns("__pycache__"))
    zipped = AppOnlyDeploymentPackager(OSUtils(), None, UI()).create_deployment_package(str(project), "python3.11")
    names = set(zipfile.ZipFile(zipped).namelist())
    assert {f"chalicelib/console/static/{name}" for name in assets.names()} <= names
    assert not any(name.startswith("cli/") for name in names)


# -- the browser ----------------------------------------------------------------------------------


class Console:
    """One headless chromium on the console of a served stack."""

    def __init__(self, driver: Any, base: str, key: str) -> None:
        self.driver, self.base, self.key = driver, base, key

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(method, self.base + path, json=body, timeout=30,
                                headers={"Authorization": f"Bearer {self.key}"})

    def open(self, route: str = "") -> None:
        self.driver.get(f"{self.base}/console{route}")

    def find(self, css: str, timeout: float = 15) -> Any:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout).until(
            expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        """The element's text; "" while the page is being redrawn under it (callers poll)."""
        from selenium.common.exceptions import StaleElementReferenceException

        try:
            return str(self.find(css).text)
        except StaleElementReferenceException:
            return ""

    def page_ready(self) -> None:
        eventually(lambda: self.driver.execute_script(
            "const page = document.querySelector('#main .page');"
            "return document.readyState === 'complete' && (!page || !page.hasAttribute('aria-busy'));"), timeout=20)

    def settle(self, name: str) -> None:
        """The page as a person sees it: photographed, and without a single browser error."""
        self.page_ready()
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(SHOTS / f"{name}.png"))
        assert browser_errors(self.driver) == [], name


def browser_errors(driver: Any) -> list[dict]:
    """SEVERE entries of the browser's log, but the API's own refusals that the page shows (a 401
    at sign-in, a 404 for a report that does not exist yet, a 422 with problems): those chromium
    logs as failed loads, though the console handles them."""
    errors = []
    for entry in driver.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        answered = re.search(r"^(\S+) - Failed to load resource: the server responded with a status of (4\d\d)",
                             entry["message"])
        if entry["source"] == "network" and answered and "/console" not in answered.group(1):
            continue
        errors.append(entry)
    return errors


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("chromium and chromium-driver are needed: apt-get install -y chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=en-US",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    patch = pytest.MonkeyPatch()
    try:
        with make_run(patch) as (port, runtime):
            driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
            try:
                yield Console(driver, f"http://127.0.0.1:{port}", runtime.admin_key)
            finally:
                driver.quit()
    finally:
        patch.undo()


@pytest.fixture(scope="module")
def signed_in(console: Console) -> Console:
    """The console signed in with the admin key, two scenarios published and one journey run."""
    for definition in (reference("welcome-series"), BRANCHING):
        assert console.call("POST", "/scenarios", definition).status_code == 201
        assert console.call("POST", f"/scenarios/{definition['id']}/publish").status_code == 200
    signup = {"type": "signup", "contact": {"email": "ana@example.com"}, "traits": {"first_name": "Ana"},
              "consent": CONSENT}
    assert console.call("POST", "/events", signup).status_code == 202
    eventually(lambda: console.call("GET", "/local/outbox").json()["items"], timeout=30)
    console.open()
    console.driver.execute_script("sessionStorage.clear()")
    console.driver.refresh()
    console.find("#api-key").send_keys(console.key)
    console.find("#sign-in button[type=submit]").click()
    console.find("#scenario-list")
    return console


def report_of(console: Console, scenario_id: str) -> dict | None:
    answer = console.call("GET", f"/scenarios/{scenario_id}/report")
    if answer.status_code == 404 and answer.json()["error"]["message"].startswith("No such route"):
        return None  # the reports of issue 12 are not in this build
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_sign_in_refuses_a_wrong_key_then_keeps_the_key_for_the_tab(console):
    console.open()
    console.find("#api-key").send_keys("not-a-key")
    console.find("#sign-in button[type=submit]").click()
    eventually(lambda: "not valid" in console.text("#sign-in .form-error"), timeout=10)
    console.settle("sign-in-refused")
    ingest = console.call("POST", "/keys", {"role": "ingest", "name": "site"}).json()["key"]
    field = console.find("#api-key")
    field.clear()
    field.send_keys(ingest)
    console.find("#sign-in button[type=submit]").click()
    eventually(lambda: "cannot read scenarios" in console.text("#sign-in .form-error"), timeout=10)
    assert console.driver.execute_script("return sessionStorage.getItem('parcours.key')") is None
    field = console.find("#api-key")
    field.clear()
    field.send_keys(console.key)
    console.find("#sign-in button[type=submit]").click()
    console.find("#scenario-list, .empty")
    assert console.driver.execute_script("return sessionStorage.getItem('parcours.key')") == console.key
    assert console.driver.execute_script("return localStorage.getItem('parcours.key')") is None
    console.driver.refresh()  # the tab remembers
    console.find("#scenario-list, .empty")
    console.settle("scenarios-signed-in")


def test_the_scenario_list_shows_status_version_and_the_funnel(signed_in):
    console = signed_in
    console.open("#/scenarios")
    row = console.find('#scenario-list tr[data-scenario="welcome-series"]')
    assert "Série de bienvenue" in row.text and "Live" in row.text and "v1" in row.text
    report = report_of(console, "welcome-series")
    cells = {cell.get_attribute("data-metric"): cell.text.split("\n")[0]
             for cell in row.find_elements("css selector", "td[data-metric]")}
    if report is None:
        assert cells["entered"] == "1"  # the scenario's own count
        assert {cells[name] for name in ("sent", "opened", "clicked", "converted")} == {"—"}
        assert console.find("#no-reports").is_displayed()
    else:
        assert cells == {name: f"{report['totals'][name]:,}" for name in cells}
    console.settle("scenarios")


def test_a_scenario_is_drawn_with_each_step_and_branch_and_their_counts(signed_in):
    console = signed_in
    console.open("#/scenarios/branching")
    console.find("#flow")
    drawn = [node.get_attribute("data-step") for node in console.all("#flow .node[data-step]")]
    assert drawn == ["wait-buy", "done", "reminder", "clicked", "promo", "ab", "plus", "minus"]
    assert [branch.get_attribute("data-branch") for branch in
            console.all('[data-branches-of="wait-buy"] > .branch')] == ["then", "else"]
    assert [branch.get_attribute("data-branch") for branch in
            console.all('[data-branches-of="ab"] > .branch')] == ["0", "1"]
    assert "Timed out" in console.text('[data-branches-of="wait-buy"] > [data-branch="else"] .branch-label')
    assert "purchase" in console.text(".goals")
    report = report_of(console, "branching")
    if report is None:
        assert console.find("#no-report").is_displayed()
        assert console.all("#flow [data-count]") == []
    else:
        for step in report["steps"]:
            shown = console.find(f'#flow .node[data-step="{step["id"]}"] [data-count="reached"] strong').text
            assert shown == f"{step['reached']:,}"
            for branch, count in (step.get("branches") or {}).items():
                label = console.find(f'[data-branches-of="{step["id"]}"] > [data-branch="{branch}"] [data-count]')
                assert label.text == f"{count:,}"
    console.settle("scenario-flow")


def test_a_pasted_scenario_shows_each_problem_at_its_path_then_saves_and_publishes(signed_in, tmp_path):
    console = signed_in
    console.open("#/new")
    editor = console.find("#scenario-json")
    broken = {"id": "pasted", "trigger": {"event": "signup"},
              "steps": [{"id": "pause", "type": "wait", "duration": "P99Z"}]}
    console.driver.execute_script("arguments[0].value = arguments[1]", editor, json.dumps(broken, indent=2))
    console.find("#validate").click()
    problems = {item.get_attribute("data-path"): item.text for item in
                [console.find("#problems li[data-path]")] + console.all("#problems li[data-path]")}
    assert set(problems) == {"name", "steps[0].duration"}
    assert re.split(r"\s+", problems["steps[0].duration"])[:3] == ["line", "10", "steps[0].duration"]
    assert re.split(r"\s+", problems["name"])[:3] == ["line", "1", "name"]  # absent: the object lacking it
    assert "ISO 8601 duration" in problems["steps[0].duration"]
    console.settle("editor-problems")
    path = tmp_path / "pasted.json"
    path.write_text(json.dumps(one_email("pasted"), indent=2))
    console.find("#scenario-file").send_keys(str(path))  # the upload
    eventually(lambda: '"pasted"' in console.find("#scenario-json").get_attribute("value"), timeout=10)
    console.find("#validate").click()
    eventually(lambda: "Valid and ready to publish" in console.text("#editor-result"), timeout=10)
    console.find("#save").click()
    eventually(lambda: "version 1" in console.text("#editor-result"), timeout=10)
    console.find("#publish").click()
    eventually(lambda: "is live" in console.text("#editor-result"), timeout=30)
    assert console.call("GET", "/scenarios/pasted").json()["status"] == "live"
    console.settle("editor-published")


def test_lifecycle_buttons_pause_and_archive(signed_in, monkeypatch):
    console = signed_in
    assert console.call("POST", "/scenarios", one_email("to-archive")).status_code == 201
    assert console.call("POST", "/scenarios/to-archive/publish").status_code == 200
    console.open("#/scenarios/to-archive")
    console.find('button[data-action="pause"]').click()
    eventually(lambda: "Paused" in console.text(".page-head"), timeout=10)
    console.driver.execute_script("window.confirm = () => true")
    console.find('button[data-action="archive"]').click()
    eventually(lambda: "Archived" in console.text(".page-head"), timeout=10)
    assert console.call("GET", "/scenarios/to-archive").json()["status"] == "archived"
    assert console.all("button[data-action]") == []
    console.settle("scenario-archived")


def test_a_simulation_shows_the_path_and_the_rendered_email(signed_in):
    console = signed_in
    console.open("#/scenarios/welcome-series/simulate")
    console.find("#simulate button[type=submit]").click()
    path = console.find("#sim-path")
    assert [item.get_attribute("data-step") for item in path.find_elements("css selector", "li")] == [
        "welcome", "wait-week", "profile-done", "complete-profile"]
    frame = console.find('#sim-result article[data-step="welcome"] iframe')
    assert frame.get_attribute("sandbox") == "allow-same-origin"
    console.driver.switch_to.frame(frame)
    try:
        assert "Bonjour Ana, merci de votre inscription." in console.find("body").text
    finally:
        console.driver.switch_to.default_content()
    console.settle("simulate")


def test_a_contact_page_shows_fields_consent_journeys_messages_and_events(signed_in):
    console = signed_in
    console.open("#/contacts")
    console.find("#contact-email").send_keys("ana@example.com")
    console.find("#find-contact button[type=submit]").click()
    console.find("#contact-fields")
    assert "ana@example.com" in console.text("#contact-fields")
    assert "Granted" in console.text('#contact-consent dd[data-channel="email"]')
    journey = console.find('#contact-journeys li[data-scenario="welcome-series"]')
    assert "welcome" in journey.text
    assert "Bienvenue Ana !" in console.text("#contact-messages")
    assert "signup" in console.text("#contact-events") and "email.sent" in console.text("#contact-events")
    console.settle("contact")


def test_the_outbox_renders_each_email_in_a_sandbox_without_counting_an_open(signed_in):
    console = signed_in
    console.open("#/outbox")
    console.find('#outbox article[data-to="ana@example.com"]')
    [article] = [item for item in console.all('#outbox article[data-to="ana@example.com"]')
                 if "Bienvenue Ana !" in item.find_element("css selector", "header").text]
    frame = article.find_element("css selector", "iframe")
    assert "allow-scripts" not in frame.get_attribute("sandbox")
    assert frame.get_attribute("srcdoc")
    console.driver.switch_to.frame(frame)
    try:
        assert "Bonjour Ana" in console.find("body").text
        assert console.driver.execute_script("return document.images.length") == 0  # no open pixel
        color = console.driver.execute_script(
            "return getComputedStyle(document.querySelector('[data-parcours=unsubscribe]')).color")
        assert color == "rgb(102, 102, 102)"  # the email's own inline style, applied under the policy
    finally:
        console.driver.switch_to.default_content()
    console.settle("outbox")
    contact = console.call("GET", "/contacts?email=ana@example.com").json()["items"][0]
    assert console.call("GET", f"/contacts/{contact['id']}/events?type=email.opened").json()["items"] == []


def test_labels_switch_to_french_and_focus_is_visible(signed_in):
    console = signed_in
    console.open("#/scenarios")
    console.find("#scenario-list")
    from selenium.webdriver.support.ui import Select

    Select(console.find("#lang")).select_by_value("fr")
    eventually(lambda: console.text("#main h1") == "Scénarios", timeout=10)
    assert console.driver.execute_script("return document.documentElement.lang") == "fr"
    assert "En ligne" in console.text('#scenario-list tr[data-scenario="welcome-series"]')
    assert console.text('#nav a[data-section="contacts"]') == "Contacts"
    console.find('#nav a[data-section="scenarios"]').send_keys("")  # focus by keyboard
    console.driver.switch_to.active_element.send_keys("\ue004")  # Tab
    outline = console.driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    console.settle("scenarios-fr")
    Select(console.find("#lang")).select_by_value("en")
    eventually(lambda: console.text("#main h1") == "Scenarios", timeout=10)
