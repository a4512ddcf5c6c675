"""Search criteria as Zoho writes them: `((Email:equals:a@b.com)and(Status:in:Paid,Failed))`.

Values escape `(`, `)` and `,` with a backslash. `and` binds tighter than `or`; at most ten
conditions. Equality on an indexed field narrows the scan to an index look-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from app.simulators.zoho.errors import ZohoApiError, api_error
from app.simulators.zoho.schema import ModuleDef
from app.simulators.zoho.store import ModuleStore, Record, index_key

MAX_CONDITIONS = 10
EMPTY = "${EMPTY}"
_OPERATORS = frozenset(
    {
        "equals",
        "not_equal",
        "starts_with",
        "in",
        "not_in",
        "greater_than",
        "greater_equal",
        "less_than",
        "less_equal",
    }
)
_NUMERIC = frozenset({"integer", "double", "currency"})


def invalid_query(reason: str, **details: Any) -> ZohoApiError:
    return api_error(400, "INVALID_QUERY", "invalid query formed", {"reason": reason, **details})


@dataclass
class Condition:
    field: str
    operator: str
    values: list[str]


@dataclass
class Group:
    # Disjunction of conjunctions: [[a, b], [c]] means (a and b) or c.
    alternatives: list[list[Condition | Group]]


class _Parser:
    def __init__(self, text: str, module: ModuleDef) -> None:
        self.text = text
        self.pos = 0
        self.module = module
        self.conditions = 0

    def parse(self) -> Group:
        group = self._expression()
        if self.pos != len(self.text):
            raise invalid_query("invalid criteria")
        return group

    def _expression(self) -> Group:
        alternatives: list[list[Condition | Group]] = [[self._term()]]
        while self.pos < len(self.text) and self.text[self.pos] != ")":
            for word in ("and", "or"):
                if self.text.startswith(word, self.pos):
                    self.pos += len(word)
                    if word == "and":
                        alternatives[-1].append(self._term())
                    else:
                        alternatives.append([self._term()])
                    break
            else:
                raise invalid_query("invalid criteria")
        return Group(alternatives)

    def _term(self) -> Condition | Group:
        if self.pos >= len(self.text) or self.text[self.pos] != "(":
            raise invalid_query("invalid criteria")
        self.pos += 1
        node: Condition | Group
        node = self._expression() if self.text.startswith("(", self.pos) else self._condition()
        if self.pos >= len(self.text) or self.text[self.pos] != ")":
            raise invalid_query("invalid criteria")
        self.pos += 1
        return node

    def _condition(self) -> Condition:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise api_error(
                400,
                "LIMIT_EXCEEDED",
                "limit exceeded",
                {"limit": MAX_CONDITIONS, "param_name": "criteria"},
            )
        name_end = self.text.find(":", self.pos)
        op_end = self.text.find(":", name_end + 1) if name_end >= 0 else -1
        if op_end < 0:
            raise invalid_query("invalid criteria")
        field = self.text[self.pos : name_end].strip()
        operator = self.text[name_end + 1 : op_end].strip()
        self.pos = op_end + 1
        if field != "id" and self.module.field_named(field) is None:
            raise invalid_query("the field is not available for search", api_name=field)
        if operator not in _OPERATORS:
            raise invalid_query("invalid operator", operator=operator)
        values, current = [], []
        while self.pos < len(self.text) and self.text[self.pos] != ")":
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                current.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char == "," and operator in ("in", "not_in"):
                values.append("".join(current))
                current = []
            else:
                current.append(char)
            self.pos += 1
        values.append("".join(current))
        return Condition(field, operator, values)


def parse_criteria(text: str, module: ModuleDef) -> Group:
    return _Parser(text.strip(), module).parse()


def _comparable(data_type: str, value: Any) -> Any:
    if data_type in _NUMERIC:
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise invalid_query("invalid value for a number field") from None
    return str(value).casefold()


def _holds(condition: Condition, store: ModuleStore, record: Record) -> bool:
    field = store.module.field_named(condition.field)
    data_type = field.data_type if field else "text"
    stored = record.get(condition.field)
    op = condition.operator
    if op in ("equals", "not_equal", "in", "not_in"):
        keys = {
            None
            if v == EMPTY
            else index_key(_comparable(data_type, v) if data_type in _NUMERIC else v)
            for v in condition.values
        }
        hit = index_key(stored) in keys
        return hit if op in ("equals", "in") else not hit
    if stored is None:
        return False
    if op == "starts_with":
        return str(stored).casefold().startswith(condition.values[0].casefold())
    left, right = _comparable(data_type, stored), _comparable(data_type, condition.values[0])
    if op == "greater_than":
        return bool(left > right)
    if op == "greater_equal":
        return bool(left >= right)
    if op == "less_than":
        return bool(left < right)
    return bool(left <= right)


def matches(node: Condition | Group, store: ModuleStore, record: Record) -> bool:
    if isinstance(node, Condition):
        return _holds(node, store, record)
    return any(all(matches(n, store, record) for n in conj) for conj in node.alternatives)


def candidate_ids(node: Condition | Group, store: ModuleStore) -> list[str] | None:
    """Ids an index can narrow the search to, or None when every record must be checked."""
    if isinstance(node, Condition):
        if node.operator == "equals" and store.indexed(node.field) and node.values[0] != EMPTY:
            return store.find(node.field, node.values[0])
        if node.field == "id" and node.operator == "equals":
            return [node.values[0]] if node.values[0] in store.records else []
        return None
    if len(node.alternatives) != 1:
        return None
    for child in node.alternatives[0]:
        found = candidate_ids(child, store)
        if found is not None:
            return found
    return None
