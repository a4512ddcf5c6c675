"""Just enough HTML reading for the smoke test: elements by id, forms with their fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)  # hidden inputs
    options: dict[str, list[str]] = field(default_factory=dict)  # select name -> values


class PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, Element] = {}
        self.forms: list[Form] = []
        self.buttons: list[dict[str, str]] = []
        self._open: list[Element] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        element = Element(tag, values)
        if "id" in values:
            self.by_id[values["id"]] = element
            self._open.append(element)
        if tag == "form":
            self.forms.append(Form(values.get("action", "")))
        elif tag == "input" and values.get("type") == "hidden" and self.forms:
            self.forms[-1].fields[values["name"]] = values.get("value", "")
        elif tag == "select" and self.forms:
            self._select = values["name"]
            self.forms[-1].options[self._select] = []
        elif tag == "option" and self._select and self.forms:
            self.forms[-1].options[self._select].append(values.get("value", ""))
        elif tag == "button":
            self.buttons.append(values)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        if self._open and self._open[-1].tag == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser
