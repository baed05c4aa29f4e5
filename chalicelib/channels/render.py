"""How a message reads: the one renderer behind sending, template preview and simulate.

Sending adds tracked links and the open pixel; preview and simulate leave links as written.
Only links the template writes itself are tracked: an href that data makes is left as it is,
never signed, and `javascript:` / `data:` hrefs are removed, for the three alike.
Everything else (the subject cleaned for a header, the text part generated from the HTML, an
HTML part made from text, the unsubscribe link every marketing email carries) is the same for
the three, because it is this code.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.channels import templates, tracking
from chalicelib.channels.headers import clean_header_value


@dataclass(frozen=True)
class Links:
    """The links of one message: its unsubscribe URL, and, when sending, how links are tracked."""

    unsubscribe_url: str
    click: Callable[[str], str] | None = None  # a link's tracked redirect
    open_pixel: str | None = None


class PartError(templates.TemplateError):
    """A part (subject, html or text) failed to render."""

    def __init__(self, part: str, error: templates.TemplateError) -> None:
        super().__init__(error.message, error.line)
        self.part = part


def variables(contact: Mapping[str, Any], event: Mapping[str, Any] | None, scenario: Mapping[str, Any] | None,
              links: Links) -> dict[str, Any]:
    return templates.template_variables(contact=contact, event=event, scenario=scenario,
                                        unsubscribe_url=links.unsubscribe_url)


def email(content: Mapping[str, Any], values: Mapping[str, Any], links: Links, *, transactional: bool,
          errors: list[PartError] | None = None) -> dict[str, str]:
    """{"subject", "html", "text"} of an email. A part that fails raises PartError, or, when
    `errors` is given, is collected there and left empty."""
    def part(name: str, autoescape: bool, source: str | None = None) -> str:
        source = source or content.get(name)
        if not source:
            return ""
        try:
            return templates.render(source, dict(values), autoescape=autoescape)
        except templates.TemplateError as error:
            if errors is None:
                raise PartError(name, error) from error
            errors.append(PartError(name, error))
            return ""

    subject = clean_header_value(part("subject", False))
    marker = secrets.token_hex(8)
    marked, origins = tracking.mark_template_links(content.get("html") or "", marker)
    html = part("html", True, marked)
    text = part("text", False) if content.get("text") else templates.html_to_text(html)
    if not html:
        html = "<p>" + templates.render("{{ t }}", {"t": text}, autoescape=True).replace("\n", "<br>") + "</p>"
    html = tracking.finish_links(html, marker, origins, links.click, unsubscribe_url=links.unsubscribe_url)
    if not transactional:
        html, text = tracking.ensure_unsubscribe_link(html, text, links.unsubscribe_url)
    if links.open_pixel is not None:
        html = tracking.add_open_pixel(html, links.open_pixel)
    return {"subject": subject, "html": html, "text": text}


def sms(content: Mapping[str, Any], values: Mapping[str, Any]) -> str:
    try:
        return templates.render(content.get("text") or "", dict(values), autoescape=False)
    except templates.TemplateError as error:
        raise PartError("text", error) from error


def content_of(step: Mapping[str, Any], template: Callable[[str], dict[str, Any] | None]) -> dict[str, Any]:
    """Subject, html and text of a step: inline, or from the template it names (`template` looks it up)."""
    if step.get("template"):
        content = template(step["template"])
        if content is None:
            raise templates.TemplateError(f"template '{step['template']}' does not exist")
        return content
    return {"subject": step.get("subject"), "html": step.get("html"), "text": step.get("text")}
