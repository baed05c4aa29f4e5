"""/templates: CRUD, save-time checks (syntax, unknown filters, sandbox escapes), preview, and use by id."""
from __future__ import annotations

import pytest

from tests.helpers import DAY, email_to, message, publish, scenario

WELCOME = {"id": "welcome", "channel": "email", "name": "Welcome",
           "subject": "Bienvenue {{ contact.first_name | default('à vous') }}",
           "html": "<h1>Bonjour {{ contact.first_name }}</h1>\n<p>Votre code : {{ event.code }}</p>"}


def _problems(response) -> list[tuple[str, str]]:
    assert response.status_code == 422, response.data
    return [(item["path"], item["message"]) for item in response.data["error"]["details"]]


def test_email_template_crud(api):
    created = api.post("/templates", WELCOME)
    assert created.status_code == 201, created.data
    assert created.data["text"] is None and created.data["text_generated"] is True
    assert created.data["created_at"] == created.data["updated_at"]
    assert api.post("/templates", WELCOME).status_code == 409
    assert api.get("/templates/welcome").data["subject"] == WELCOME["subject"]
    replaced = api.put("/templates/welcome", {**WELCOME, "text": "Bonjour {{ contact.first_name }}"})
    assert replaced.status_code == 200 and replaced.data["text_generated"] is False
    assert replaced.data["created_at"] == created.data["created_at"]
    new = api.put("/templates/other", {"channel": "email", "subject": "S", "text": "T"})
    assert new.status_code == 201 and new.data["id"] == "other"
    assert api.put("/templates/other", {"id": "not-other", "channel": "email", "subject": "S", "text": "T"}
                   ).status_code == 422
    first = api.get("/templates?limit=1").data
    assert len(first["items"]) == 1 and first["next"]
    second = api.get(f"/templates?limit=1&cursor={first['next']}").data
    assert {first["items"][0]["id"], second["items"][0]["id"]} == {"welcome", "other"}
    assert api.delete("/templates/other").status_code == 204
    assert api.get("/templates/other").status_code == 404
    assert api.delete("/templates/other").status_code == 404
    assert api.post("/templates/missing/preview", {"contact": {}}).status_code == 404


def test_sms_template_reports_its_length(api):
    gsm = api.post("/templates", {"id": "promo", "channel": "sms", "text": "Promo -20% ce week-end [code: X]"})
    assert gsm.status_code == 201
    assert gsm.data["length"]["encoding"] == "GSM-7" and gsm.data["length"]["segments"] == 1
    assert gsm.data["length"]["characters"] == 34  # [ and ] take two septets
    ucs = api.post("/templates", {"id": "emoji", "channel": "sms", "text": "Bonjour 🎉 " + "x" * 70})
    assert ucs.data["length"]["encoding"] == "UCS-2" and ucs.data["length"]["segments"] == 2
    assert ucs.data["length"]["non_gsm"] == ["🎉"]
    assert _problems(api.post("/templates", {"id": "s2", "channel": "sms", "text": "Hi", "subject": "No"})) == [
        ("subject", "an SMS template has no subject; put the message in text")]


def test_invalid_templates_are_refused_with_every_problem(api):
    problems = _problems(api.post("/templates", {"id": "bad id!", "channel": "fax", "colour": "red"}))
    assert {path for path, _ in problems} == {"colour", "id", "channel"}
    assert _problems(api.post("/templates", {"id": "e", "channel": "email", "html": "<p>x</p>"})) == [
        ("subject", "an email template needs a subject")]
    assert _problems(api.post("/templates", {"id": "e", "channel": "email", "subject": "S"})) == [
        ("html", "an email template needs html and/or text")]
    assert _problems(api.post("/templates", {"id": "e", "channel": "email", "subject": 3, "text": ["x"]})) == [
        ("subject", "subject must be a string"), ("text", "text must be a string")]
    assert _problems(api.post("/templates", {"id": "e", "channel": "email", "subject": "S",
                                             "html": "x" * 400_000}))[0][0] == ""
    assert api.post("/templates", raw="{not json").status_code == 400
    assert _problems(api.post("/templates", [1, 2])) == [("", "a JSON object is expected")]


REFUSED = [  # (part, source, line, words in the message): syntax, unknown names, sandbox escapes, limits
    ("html", "<p>ok</p>\n<p>{{ contact.first_name </p>", 2, "unexpected"),
    ("html", "<p>\n\n{{ contact.first_name | shout }}</p>", 3, "unknown filter 'shout'"),
    ("subject", "{% if contact.first_name %}Hi", 1, "end of template"),
    ("text", "{{ contact is fancy }}", 1, "unknown test 'fancy'"),
    ("html", "{{ contact.__class__ }}", 1, "'__class__' is not allowed"),
    ("html", "{{ contact.__class__.__mro__ }}", 1, "is not allowed"),
    ("html", "{{ ''.__class__.__base__.__subclasses__() }}", 1, "not allowed"),
    ("text", "{{ cycler.__init__.__globals__.os }}", 1, "not allowed"),
    ("text", "{{ contact['_secret'] }}", 1, "'_secret' is not allowed"),
    ("text", "{{ contact | attr('__dict__') }}", 1, "'__dict__' is not allowed"),
    ("html", "{% include '/etc/passwd' %}", 1, "cannot include"),
    ("html", "{% extends 'base.html' %}", 1, "cannot include"),
    ("html", "{% import 'macros' as m %}", 1, "cannot include"),
    ("text", "{% for i in range(10**9) %}x{% endfor %}", 1, "range() is limited"),
    ("text", "{{ 'x' * 10**8 }}", 1, "too large"),
]


def test_template_errors_and_sandbox_escapes_are_refused_at_save_time(api):
    for part, source, line, words in REFUSED:
        body = {"id": "t", "channel": "email", "subject": "S", "text": "T", part: source}
        [(path, text)] = _problems(api.post("/templates", body))
        assert path == part, source
        assert text.startswith(f"line {line}: ") and words in text, (source, text)
        assert api.put("/templates/t", body).status_code == 422
    assert api.get("/templates/t").status_code == 404


def test_preview_for_a_contact_or_inline_data(api):
    api.post("/templates", WELCOME)
    stored = api.post("/contacts", {"email": "ana@example.com", "first_name": "Ana"}).data
    by_id = api.post("/templates/welcome/preview", {"contact_id": stored["id"], "event": {"code": "X1"}})
    assert by_id.status_code == 200, by_id.data
    assert by_id.data["subject"] == "Bienvenue Ana"
    assert by_id.data["html"].startswith("<h1>Bonjour Ana</h1>\n<p>Votre code : X1</p>")
    assert by_id.data["text"].startswith("Bonjour Ana\n\nVotre code : X1")  # generated from the HTML
    assert "Unsubscribe" in by_id.data["text"] and "Unsubscribe" in by_id.data["html"]
    inline = api.post("/templates/welcome/preview", {"contact": {"first_name": "<b>Léa</b>"}})
    assert inline.data["subject"] == "Bienvenue <b>Léa</b>"  # subjects are text
    assert "<h1>Bonjour &lt;b&gt;Léa&lt;/b&gt;</h1>" in inline.data["html"]  # HTML is escaped
    missing = api.post("/templates/welcome/preview", {"contact": {}})
    assert missing.data["subject"] == "Bienvenue à vous"  # default
    assert missing.data["html"].startswith("<h1>Bonjour </h1>\n<p>Votre code : </p>")  # missing: empty
    api.post("/templates", {"id": "sms", "channel": "sms", "text": "Hi {{ contact.first_name }} 😀"})
    sms = api.post("/templates/sms/preview", {"contact": {"first_name": "Ana"}}).data
    assert sms == {"channel": "sms", "text": "Hi Ana 😀", "length": sms["length"]}
    assert sms["length"]["encoding"] == "UCS-2"


def test_preview_errors(api):
    api.post("/templates", WELCOME)
    api.post("/templates", {"id": "maths", "channel": "email", "subject": "S",
                            "html": "<p>\n{{ contact.score + 'points' }}</p>"})
    assert _problems(api.post("/templates/welcome/preview", {"contact_id": "nobody"})) == [
        ("contact_id", "no contact has this id")]
    assert _problems(api.post("/templates/welcome/preview", {})) == [
        ("", 'a preview needs {"contact_id": ID} or {"contact": {...}}')]
    assert {path for path, _ in _problems(api.post("/templates/welcome/preview",
                                                   {"contact": [], "event": 1, "x": 0}))} == {"contact", "event", "x"}
    [(path, text)] = _problems(api.post("/templates/maths/preview", {"contact": {"score": 3}}))
    assert path == "html" and text.startswith("line 2: ")


def test_roles(api):
    analyst, ingest = api.key_for("analyst"), api.key_for("ingest")
    api.post("/templates", WELCOME)
    assert api.post("/templates", {**WELCOME, "id": "x"}, key=analyst).status_code == 403
    assert api.delete("/templates/welcome", key=analyst).status_code == 403
    assert api.get("/templates/welcome", key=analyst).status_code == 200
    assert api.get("/templates", key=ingest).status_code == 403
    assert api.get("/templates", key="").status_code == 401


@pytest.mark.time_scale(DAY)
def test_scenario_steps_send_templates_by_id(api):
    api.post("/templates", WELCOME)
    api.post("/templates", {"id": "hello-sms", "channel": "sms", "text": "Code {{ event.code }}"})
    publish(api, scenario("onboarding", "signup", [{"id": "mail", "type": "email", "template": "welcome"},
                                                  {"id": "text", "type": "sms", "template": "hello-sms"}]))
    response = api.post("/events", {"type": "signup", "contact": {"email": "ana@example.com"},
                                    "traits": {"first_name": "Ana", "phone": "+33612345678"},
                                    "consent": {"email": True, "sms": True, "source": "form"},
                                    "properties": {"code": "K9"}})
    assert response.status_code == 202
    assert message(api, "ana@example.com")["subject"] == "Bienvenue Ana"
    [mail] = email_to(api, "ana@example.com")
    assert "<h1>Bonjour Ana</h1>" in mail["html"] and "Votre code : K9" in mail["text"]
    assert message(api, "ana@example.com", "text")["status"] == "sent"
    # a template in use by a live scenario cannot be deleted
    refused = api.delete("/templates/welcome")
    assert refused.status_code == 409 and refused.data["error"]["code"] == "in_use"
    assert api.post("/scenarios/onboarding/archive").status_code == 200
    assert api.delete("/templates/welcome").status_code == 204


def test_a_template_error_at_send_time_fails_the_message_not_silently(api, runtime):
    """A template saved valid can still fail on data (arithmetic on a missing value): the message is
    `failed` with the reason, never left `sending`."""
    from chalicelib.channels import messages
    from chalicelib.contacts import service
    from chalicelib.store.models import Enrollment

    api.post("/templates", {"id": "maths", "channel": "email", "subject": "S",
                            "html": "<p>{{ contact.score + 'points' }}</p>"})
    stored = service.find(service.Identity(email=api.post(
        "/contacts", {"email": "ana@example.com", "consent": {"email": True}}).data["email"]))
    enrollment = Enrollment(stored.id, "manual#once", id="manual-1", scenario_id="manual", trigger={})
    from chalicelib.channels.templates import TemplateError

    with pytest.raises(TemplateError):
        messages.send_step({"id": "mail", "type": "email", "template": "maths"}, stored, enrollment,
                           {"id": "manual"})
    [failed] = api.get(f"/contacts/{stored.id}/messages").data["items"]
    assert failed["status"] == "failed" and failed["reason"].startswith("template: line 1: ")
