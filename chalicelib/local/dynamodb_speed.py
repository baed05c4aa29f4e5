"""moto's DynamoDB, made flat in the size of its tables.

moto answers every Query by sorting the whole table (`Table.all_items`) and keeping the items
of the asked partition, or those whose index key matches; every Scan page sorts the whole
table again and hashes each item's key to find its segment. A request costs as much as the
table is large, so the local stack slowed to a crawl with a few thousand contacts.

Here moto keeps doing all the work that gives a request its answer (key conditions, sort
order, paging, filters, projections, sizes); only the items it looks at are narrowed to those
that can match, found through indexes kept beside each table:
- a Query on a table: the partition itself (moto's own dict, `items[hash]`);
- a Query on a global secondary index: the primary keys of the items carrying that index
  key, an index kept current by the writes (put, update, delete, which transactions and
  batches go through);
- a Scan page: the table's keys in moto's order, kept sorted as keys come and go, from just
  after the page's start key.
The candidates are re-read from the table and checked by moto as before, so a stale index
entry can only cost time, never change an answer.

moto also lexes every condition and filter expression anew, by trying six regular expressions
at each character run: a tenth of a write's time. The app sends a few dozen distinct
expressions, so their tokens are kept by expression text (tokens are immutable tuples). Then
moto parses each condition twice per request (once to find the names and values it uses,
once to evaluate it), a fifth of an import's time: the parsed condition is kept by its text,
names and values (evaluating it only reads it), with the names and values it was found to
use. And moto checks an item's 400 KB limit as it builds the
item, summing every attribute's size again at each attribute it adds; the item is built here
with one sum of the same sizes, read off the request's values rather than moto's objects,
checked against the same limit. An update sizes the whole item again at each attribute it
sets, and copies it whole twice (moto's handler and backend): moto's values are sized and
deep-copied by the same steps without asking each value's kind method by method and going
through `copy.deepcopy` at every level (a tenth of an update of a journey's item); an answer's
items are written out without deep-copying each value at each of its levels first, and moto's
walk of every answer to plain JSON takes plain dicts, lists and strings as they are. Likewise an UpdateItem
parses its update expression twice and deep-copies the tree before validating it: trees are
kept by expression text, and each use gets its own copy, made by walking the tree's nodes
(`children`, `parent`, `type`), several times faster than `copy.deepcopy`. Each of the
validator's ten tree walks also rebuilt its map of node classes to bound methods twice at
every node, and called a do-nothing hook at every child; a walk builds the map once and calls
the hook only where a validator has one. An update that only adds numbers to top-level attributes
(a report's counters, about half the updates of a journey) is validated once per text, names,
values and table: nothing in its validation reads the item, and applying it leaves the tree as
it was. Last, every error moto raises inside (an attribute
not there yet, a failed condition) rendered an XML body that its JSON error then replaced at
once.
"""
from __future__ import annotations

import abc
import base64
import bisect
import copy
import json
import re
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

_narrowed = threading.local()  # the items moto's all_items() returns for the request in hand
_plain = threading.local()


@contextmanager
def plain() -> Iterator[None]:
    """moto's own Query and Scan for the requests made inside (on this thread): what the
    tests compare the narrowed answers with."""
    previous = getattr(_plain, "on", False)
    _plain.on = True
    try:
        yield
    finally:
        _plain.on = previous

ITEM_SIZE_LIMIT = 405_000  # moto's LimitedSizeDict: between AWS's 400 KB and what AWS lets through

PrimaryKey = Any  # a DynamoType, or (hash, range) DynamoTypes for a table with a range key


class _Indexes:
    """What a table keeps beside moto's items: per global secondary index, index key -> the
    primary keys under it; and the table's keys in moto's scan order (built on first scan)."""

    def __init__(self, table: Any) -> None:
        self.gsi_keys: dict[str, tuple[str, ...]] = {}
        for index in table.global_indexes or ():
            self.gsi_keys[index.name] = tuple(part["AttributeName"] for part in index.schema
                                              if part["KeyType"] == "HASH")
        self.buckets: dict[str, dict[tuple, dict[PrimaryKey, None]]] = {name: {} for name in self.gsi_keys}
        self.placed: dict[str, dict[PrimaryKey, tuple]] = {name: {} for name in self.gsi_keys}
        self.ordered: list[PrimaryKey] | None = None
        for item in _every_item(table):
            self.add(table, item, fresh=True)

    def add(self, table: Any, item: Any, *, fresh: bool = False) -> None:
        key = primary_key(table, item)
        for name, attributes in self.gsi_keys.items():
            values = tuple(item.attrs.get(attribute) for attribute in attributes)
            where = self.placed[name]
            old = None if fresh else where.get(key)
            present = all(value is not None for value in values)  # DynamoDB indexes only those
            if old is not None:
                if present and old == values:
                    continue
                self._unplace(name, old, key)
                del where[key]
            if not present:
                continue
            where[key] = values
            self.buckets[name].setdefault(values, {})[key] = None
        if not fresh and self.ordered is not None:
            position = bisect.bisect_left(self.ordered, key)
            if position == len(self.ordered) or self.ordered[position] != key:
                self.ordered.insert(position, key)

    def remove(self, key: PrimaryKey) -> None:
        for name in self.gsi_keys:
            old = self.placed[name].pop(key, None)
            if old is not None:
                self._unplace(name, old, key)
        if self.ordered is not None:
            position = bisect.bisect_left(self.ordered, key)
            if position < len(self.ordered) and self.ordered[position] == key:
                del self.ordered[position]

    def _unplace(self, name: str, values: tuple, key: PrimaryKey) -> None:
        bucket = self.buckets[name].get(values)
        if bucket is not None:
            bucket.pop(key, None)
            if not bucket:
                del self.buckets[name][values]

    def scan_order(self, table: Any) -> list[PrimaryKey]:
        if self.ordered is None:
            self.ordered = sorted(primary_key(table, item) for item in _every_item(table))
        return self.ordered


def _every_item(table: Any) -> Iterator[Any]:
    for held in table.items.values():
        if table.range_key_attr:
            yield from held.values()
        else:
            yield held


def primary_key(table: Any, item: Any) -> PrimaryKey:
    """The item's place in moto's order: all_items() sorts on (hash, range), or hash alone."""
    return (item.hash_key, item.range_key) if table.range_key_attr else item.hash_key


def indexes(table: Any) -> _Indexes:
    found = table.__dict__.get("_parcours_indexes")
    if found is None:
        found = table._parcours_indexes = _Indexes(table)
    return found


def _current(table: Any, key: PrimaryKey) -> Any:
    if table.range_key_attr:
        return table.items.get(key[0], {}).get(key[1])
    return table.items.get(key)


def _partition(table: Any, hash_key: Any) -> list[Any]:
    held = table.items.get(hash_key)  # .get: the table's defaultdict must not grow on a read
    if held is None:
        return []
    return list(held.values()) if table.range_key_attr else [held]


def _gsi_candidates(table: Any, index_name: str, conditions: list[tuple[str, Any]]) -> list[Any] | None:
    found = indexes(table)
    attributes = found.gsi_keys.get(index_name)
    given = dict(conditions)
    if attributes is None or set(given) != set(attributes):
        return None
    keys = found.buckets[index_name].get(tuple(given[attribute] for attribute in attributes), {})
    candidates = []
    for key in keys:
        item = _current(table, key)
        if item is not None:
            candidates.append(item)
    return candidates


def _after(table: Any, start: dict[str, Any] | None) -> Iterable[Any]:
    """The table's items in moto's scan order, from just after `start` (a page's start key)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    ordered = indexes(table).scan_order(table)
    position = 0
    if start is not None:
        hash_key = DynamoType(start[table.hash_key_attr])
        key = (hash_key, DynamoType(start[table.range_key_attr])) if table.range_key_attr else hash_key
        position = bisect.bisect_right(ordered, key)

    def walk() -> Iterator[Any]:
        # By position, not over a copy: moto stops at the page limit, so a page reads one page.
        index = position
        while index < len(ordered):
            item = _current(table, ordered[index])
            index += 1
            if item is not None:
                yield item

    return walk()


def install() -> None:
    """Patch moto's Table and backend once per process (the patches keep moto's answers)."""
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodb import responses as dynamodb_responses
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models import utilities as dynamodb_utilities
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.models.utilities import bytesize
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.parsing.validators import (
        ActionCountValidator,
        OverlappingPathsValidator,
        UpdateExpressionValidator,
        UpdateHashRangeKeyValidator,
        Validator,
    )
    from werkzeug.exceptions import HTTPException

    if getattr(Table.query, "narrowed", False):
        return
    all_items, query, scan = Table.all_items, Table.query, Table.scan
    put_item, delete_item, update_item = Table.put_item, Table.delete_item, DynamoDBBackend.update_item
    lex = ConditionExpressionParser._lex_condition_expression
    make_update = UpdateExpressionParser.make
    global _Node, _dynamo_type, _item_size_too_large, _bytesize
    from moto.dynamodb.parsing.ast_nodes import Node as _Node
    _dynamo_type, _item_size_too_large, _bytesize = DynamoType, ItemSizeTooLarge, bytesize
    MOTO.update(init=DynamoType.__init__, size=DynamoType.size, deepcopy=DynamoType.__deepcopy__,
                set_attribute=LimitedSizeDict.__setitem__,
                regular_json=DynamoType.to_regular_json, to_dict=dynamodb_utilities.dynamo_to_dict)

    def narrowed_all_items(self: Any) -> Any:
        narrowed = getattr(_narrowed, "items", None)
        if narrowed is not None and narrowed[0] is self:
            return narrowed[1]
        return all_items(self)

    def run_narrowed(table: Any, candidates: Any, call: Any) -> Any:
        previous = getattr(_narrowed, "items", None)
        _narrowed.items = (table, candidates)
        try:
            return call()
        finally:
            _narrowed.items = previous

    def narrowed_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_plain, "on", False):
            return query(self, hash_key, *args, **kwargs)
        index_name = kwargs.get("index_name") if "index_name" in kwargs else (args[6] if len(args) > 6 else None)
        candidates: list[Any] | None = None
        if not index_name and hash_key is not None:
            candidates = _partition(self, hash_key)
        elif index_name and any(index.name == index_name for index in self.global_indexes or ()):
            candidates = _gsi_candidates(self, index_name, kwargs.get("hash_key_conditions") or [])
        elif index_name and hash_key is not None:  # a local index shares the table's partition
            candidates = _partition(self, hash_key)
        if candidates is None:
            return query(self, hash_key, *args, **kwargs)
        return run_narrowed(self, candidates, lambda: query(self, hash_key, *args, **kwargs))

    def narrowed_scan(self: Any, filters: Any, limit: Any, exclusive_start_key: Any, *args: Any,
                      **kwargs: Any) -> Any:
        if getattr(_plain, "on", False) or kwargs.get("index_name") or (len(args) > 1 and args[1]):
            return scan(self, filters, limit, exclusive_start_key, *args, **kwargs)
        candidates = _after(self, exclusive_start_key)
        return run_narrowed(self, candidates, lambda: scan(self, filters, limit, exclusive_start_key, *args,
                                                            **kwargs))

    def indexed_put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = put_item(self, *args, **kwargs)
        if "_parcours_indexes" in self.__dict__:
            self._parcours_indexes.add(self, item)
        return item

    def indexed_delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        item = delete_item(self, hash_key, range_key)
        if item is not None and "_parcours_indexes" in self.__dict__:
            self._parcours_indexes.remove(primary_key(self, item))
        return item

    def indexed_update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        # An update changes moto's item in place (an index key included), or creates it.
        expression = kwargs.get("update_expression", args[0] if args else None)
        names = kwargs.get("expression_attribute_names", args[1] if len(args) > 1 else None)
        _applying.update = (expression, repr(names))
        try:
            return update_item(self, table_name, key, *args, **kwargs)
        finally:
            _applying.update = None
            table = self.tables.get(table_name)
            if table is not None and "_parcours_indexes" in table.__dict__:
                _reindex(table, key)

    lexed: dict[str, tuple] = {}

    def cached_lex(self: Any) -> Any:
        tokens = lexed.get(self.condition_expression)
        if tokens is None:
            tokens = tuple(lex(self))
            if len(lexed) < 4096:  # the app's expressions are few; anything else is lexed each time
                lexed[self.condition_expression] = tokens
        return deque(tokens)

    condition_parse = ConditionExpressionParser.parse
    parsed_conditions: dict[tuple[str, str, str], tuple[Any, list[str], list[str]]] = {}

    def cached_condition_parse(self: Any) -> Any:
        if not self.condition_expression:
            return condition_parse(self)
        key = (self.condition_expression, repr(self.expression_attribute_names),
               repr(self.expression_attribute_values))
        kept = parsed_conditions.get(key)
        if kept is None:
            # the tree holds the values it was parsed with: its own copies, not the caller's
            given = self.expression_attribute_names, self.expression_attribute_values
            self.expression_attribute_names, self.expression_attribute_values = copy.deepcopy(given)
            try:
                op = condition_parse(self)  # a bad expression raises, and is not kept
            finally:
                self.expression_attribute_names, self.expression_attribute_values = given
            kept = (op, list(self.expr_attr_names_found), list(self.expr_attr_values_found))
            if len(parsed_conditions) >= 4096:  # expressions whose values change each time
                parsed_conditions.clear()
            parsed_conditions[key] = kept
        op, self.expr_attr_names_found, self.expr_attr_values_found = kept[0], list(kept[1]), list(kept[2])
        return op

    def sized_item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key, self.range_key = hash_key, range_key
        converted = {key: DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + attribute_size(value) for key, value in attrs.items()) > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict()
        dict.update(self.attrs, converted)  # dict's own update: no size sum per attribute

    parsed_updates: dict[str, Any] = {}

    def cached_update_parse(expression: str) -> Any:
        # One tree per text, shared: moto's callers read it (find_clauses) or hand it to
        # UpdateExpressionValidator, which works on a copy of its own (validator_init).
        tree = parsed_updates.get(expression)
        if tree is None:
            tree = make_update(expression)  # a bad expression raises, and is not kept
            if len(parsed_updates) < 4096:
                parsed_updates[expression] = tree
        return tree

    def validator_init(self: Any, expression: Any, expression_attribute_names: Any, expression_attribute_values: Any,
                       item: Any, table: Any) -> None:
        self.expression_attribute_names = expression_attribute_names
        self.expression_attribute_values = expression_attribute_values
        self.item = item
        self.table = table
        self.processors = self.get_ast_processors()
        self.node_to_validate = copy_tree(expression)

    def kinds_once(self: Any) -> tuple:
        kinds = self.__dict__.get("_parcours_kinds")
        if kinds is None:
            kinds = self._parcours_kinds = tuple(_processing_map(self))
        return kinds

    def process_once(self: Any, node: Any) -> Any:
        for class_key, processor in _processing_map(self).items():
            if isinstance(node, class_key):
                return processor(node)
        return None

    for node_class in _subclasses(_Node):
        node_class.__class__ = _PlainChecks
    no_hook = DepthFirstTraverser.pre_processing_of_child

    def traverse(self: Any, root: Any) -> Any:
        # moto's traverse_node_recursively, with the node kinds and the hook looked up once a walk
        kinds = kinds_once(self)
        hook = None if type(self).pre_processing_of_child is no_hook else self.pre_processing_of_child

        def visit(node: Any, child_id: int) -> Any:
            if isinstance(node, _Node):
                parent = node.parent
                if node.children is not None:
                    for index, child in enumerate(node.children):
                        if hook is not None:
                            hook(node, index)
                        visit(child, index)
                if isinstance(node, kinds):
                    node = process_once(self, node)
                    node.parent = parent
                    if parent:
                        parent.children[child_id] = node
            return node

        return visit(root, -1)

    # The validator's first three walks check the expression alone (its clauses, its paths, the
    # table's keys): once an expression passed them with the same names on a table, it passes again.
    pure_checks = (ActionCountValidator, OverlappingPathsValidator, UpdateHashRangeKeyValidator)
    passed_checks: set[tuple] = set()

    def validate_update(self: Any) -> Any:
        node = self.node_to_validate
        applying = getattr(_applying, "update", None)
        if applying is None or tuple(type(each) for each in self.processors[:3]) != pure_checks:
            return validate(self)
        adds = _numbers_added(applying[0], self.expression_attribute_values)
        if adds is not None:  # the table's key and index attributes are checked too
            adds = (*applying, adds, repr(self.table.attr))
            if (tree := _validated_adds(self.table).get(adds)) is not None:
                return tree
        passed = (*applying, tuple(self.table.table_key_attrs))
        later = self.processors[3:]
        if passed not in passed_checks:
            for processor in self.processors[:3]:
                node = processor.traverse(node)
            if len(passed_checks) >= 4096:  # expressions that change each time
                passed_checks.clear()
            passed_checks.add(passed)
        for processor in later:
            node = processor.traverse(node)
        if adds is not None:
            kept = _validated_adds(self.table)
            if len(kept) >= 4096:  # values that change each time
                kept.clear()
            kept[adds] = node
        return node

    def json_error_init(self: Any, error_type: str, message: str, _: str = "", **__: Any) -> None:
        # _RESTError's, less the XML body it renders for JsonRESTError to replace at once
        HTTPException.__init__(self)
        self.error_type, self.message = error_type, message
        self.description = json.dumps({"__type": error_type, "message": message})
        self.content_type = "application/json"

    narrowed_query.narrowed = True
    DepthFirstTraverser.nodes_to_be_processed = kinds_once
    DepthFirstTraverser.process = process_once
    DepthFirstTraverser.traverse = traverse
    JsonRESTError.__init__ = json_error_init
    UpdateExpressionParser.make = staticmethod(cached_update_parse)
    Validator.__init__ = validator_init
    validate = UpdateExpressionValidator.validate
    UpdateExpressionValidator.validate = validate_update
    Item.__init__ = sized_item_init
    DynamoType.__init__ = value_init
    DynamoType.size = value_size
    DynamoType.__deepcopy__ = value_copy
    LimitedSizeDict.__setitem__ = sized_set_attribute
    DynamoType.to_regular_json = regular_json
    dynamodb_utilities.dynamo_to_dict = dynamodb_responses.dynamo_to_dict = plain_answer
    ConditionExpressionParser._lex_condition_expression = cached_lex
    ConditionExpressionParser.parse = cached_condition_parse
    Table.all_items = narrowed_all_items
    Table.query = narrowed_query
    Table.scan = narrowed_scan
    Table.put_item = indexed_put_item
    Table.delete_item = indexed_delete_item
    DynamoDBBackend.update_item = indexed_update_item


class _PlainChecks(abc.ABCMeta):
    """moto's expression nodes are abstract classes, so each `isinstance` against one (tens of
    thousands per update, in the validators' walks) ran ABCMeta's check in Python. Nothing
    registers a virtual subclass of them, so the plain check answers the same."""

    __instancecheck__ = type.__instancecheck__
    __subclasscheck__ = type.__subclasscheck__


# An update expression that only adds numbers to attributes named at the top level, e.g. a
# report's counters: `ADD #c0 :c0, #c1 :c1`.
_ADDS_TO_NAMES = re.compile(r"\s*ADD\s+#?\w+\s+:\w+(?:\s*,\s*#?\w+\s+:\w+)*\s*", re.IGNORECASE)


def _numbers_added(expression: str | None, values: dict[str, Any] | None) -> tuple | None:
    """What an update that only adds numbers to top-level attributes adds, as a key; None for any
    other update. Such an update's validated tree depends on its text, names, values and table
    only (the validators read the item for the paths an expression reads, and for nested paths),
    and applying it reads the tree without changing it or storing its values in the item: one
    tree serves every use."""
    if not expression or not values or not _ADDS_TO_NAMES.fullmatch(expression):
        return None
    added = []
    for name, value in values.items():
        if type(value) is not dict or len(value) != 1 or type(value.get("N")) is not str:
            return None
        added.append((name, value["N"]))
    return tuple(sorted(added))


def _validated_adds(table: Any) -> dict[tuple, Any]:
    """The table's validated trees of updates that only add numbers (a table made again under the
    same name starts with none)."""
    kept = table.__dict__.get("_parcours_validated_adds")
    if kept is None:
        kept = table.__dict__["_parcours_validated_adds"] = {}
    return kept


MOTO: dict[str, Any] = {}  # moto's own methods replaced below, which the tests compare with

_SETS = ("SS", "NS", "BS")


def value_init(self: Any, type_as_dict: Any) -> None:
    """moto's `DynamoType.__init__`, the same steps without building two lists and asking two
    methods at each value: moto builds one per attribute, nested ones included, of every item it
    stores, reads back or compares. What is not a dict of one member or more moto builds itself."""
    if type(type_as_dict) is not dict or not type_as_dict:
        MOTO["init"](self, type_as_dict)
        return
    kind, value = next(iter(type_as_dict.items()))  # the first member, as moto takes it
    if kind == "L":
        value = [_dynamo_type(member) for member in value]
    elif kind == "M":
        value = {name: _dynamo_type(member) for name, member in value.items()}
    self.type, self.value = kind, value


def value_size(self: Any) -> int:
    """moto's `DynamoType.size`, the same steps without asking `is_number()`, `is_set()`... at
    every level and building a list at each: an update sizes the whole item at each attribute it
    sets, and a journey's item carries its path."""
    kind, value = self.type, self.value
    if kind == "N":
        return len(str(value))
    if kind in _SETS:
        if kind == "NS":
            return sum(len(str(member)) for member in value)
        return sum(1 if isinstance(member, bool) else _bytesize(member) for member in value)
    if kind == "L":
        return sum(member.size() for member in value)
    if kind == "M":
        return sum(_bytesize(name) + (member.size() if type(member) is _dynamo_type else _dynamo_type(member).size())
                   for name, member in value.items())
    if isinstance(value, bool):
        return 1
    return _bytesize(value)


def value_copy(self: Any, memo: dict[int, Any]) -> Any:
    """moto's `DynamoType.__deepcopy__`, calling itself for the values inside rather than going
    through `copy.deepcopy` at each (moto copies an item twice per update, whole)."""
    if id(self) in memo:
        return memo[id(self)]
    result = _dynamo_type.__new__(_dynamo_type)
    memo[id(self)] = result
    kind = result.type = self.type
    value = self.value
    if kind == "L":
        result.value = [value_copy(member, memo) if type(member) is _dynamo_type else copy.deepcopy(member, memo)
                        for member in value]
    elif kind == "M":
        result.value = {name: value_copy(member, memo) if type(member) is _dynamo_type
                        else copy.deepcopy(member, memo) for name, member in value.items()}
    elif kind in _SETS:
        result.value = list(value)
    else:
        result.value = value
    return result


def sized_set_attribute(self: Any, key: str, value: Any) -> None:
    """moto's `LimitedSizeDict.__setitem__`: the item with this attribute set stays within the
    same limit, summed without building lists of its names and values."""
    dynamo_type = _dynamo_type
    size = sum(_bytesize(str(name)) + (member.size() if type(member) is dynamo_type else _bytesize(str(member)))
               for name, member in self.items())
    size += _bytesize(key) + (value.size() if type(value) is dynamo_type else _bytesize(str(value)))
    if size > ITEM_SIZE_LIMIT:
        raise _item_size_too_large()
    dict.__setitem__(self, key, value)


_item_size_too_large: Any = None  # moto's ItemSizeTooLarge, set by install()
_bytesize: Any = None  # moto's bytesize, set by install()


def regular_json(self: Any) -> dict[str, Any]:
    """moto's `DynamoType.to_regular_json` (an answer's item), without deep-copying the value
    first at every level: the values inside are rebuilt anyway, and the rest copied as before."""
    return _regular(self, nested=False)


def _regular(node: Any, *, nested: bool) -> dict[str, Any]:
    value = node.value
    if nested and node.type in _SETS:  # moto writes out a copy of each value inside: a set's copy is a list
        value = list(value)
    if isinstance(value, dict):
        value = {name: _regular(member, nested=True) if isinstance(member, _dynamo_type) else copy.deepcopy(member)
                 for name, member in value.items()}
    elif isinstance(value, list):
        value = [_regular(member, nested=True) if isinstance(member, _dynamo_type) else copy.deepcopy(member)
                 for member in value]
    elif type(value) not in _ATOMS:
        value = copy.deepcopy(value)
    if node.type == "B" and isinstance(value, str):
        value = base64.b64decode(value)
    return {node.type: value}


_ATOMS = (str, bytes, bool, int, float, type(None))


def plain_answer(answer: Any) -> Any:
    """moto's `dynamo_to_dict` (every DynamoDB answer goes through it), which asks each plain
    dict, list and string whether it is a date, a DynamoType or has a `to_json`: those it answers
    itself, anything else goes to moto's."""
    kind = type(answer)
    if kind is dict:
        return {name: plain_answer(member) for name, member in answer.items()}
    if kind is list:
        return [plain_answer(member) for member in answer]
    if kind in _ATOMS:
        return answer
    return MOTO["to_dict"](answer)


def attribute_size(value: Any) -> int:
    """moto's `DynamoType(value).size()` read off the value as the request carries it, without
    building moto's objects at every level (half the time). A value of any other
    form (a DynamoType already, a malformed one) is sized by moto itself."""
    if type(value) is dict and len(value) == 1:
        ((kind, inner),) = value.items()
        kind_of_inner = type(inner)
        if kind_of_inner is str and kind in ("S", "B"):
            return len(inner) if inner.isascii() else len(inner.encode("utf-8"))
        if kind_of_inner is str and kind == "N":
            return len(inner)
        if kind_of_inner is bool and kind in ("BOOL", "NULL"):
            return 1
        if kind_of_inner is bytes and kind == "B":
            return len(inner)
        if kind_of_inner is dict and kind == "M" and all(type(name) is str for name in inner):
            return sum(len(name.encode("utf-8")) + attribute_size(member) for name, member in inner.items())
        if kind_of_inner is list and kind == "L":
            return sum(attribute_size(member) for member in inner)
        if kind_of_inner is list and kind in _SETS:
            return sum(attribute_size({kind[0]: member}) for member in inner)
    return (value if type(value) is _dynamo_type else _dynamo_type(value)).size()


_dynamo_type: Any = None  # moto's DynamoType, set by install()


def _subclasses(root: type) -> list[type]:
    found, pending = [], [root]
    while pending:
        current = pending.pop()
        found.append(current)
        pending += current.__subclasses__()
    return found


_applying = threading.local()  # the update expression and names of the UpdateItem a thread applies
_LEAVES = (str, int, float, bool, type(None))
_NODE_ATTRIBUTES = {"type", "children", "parent"}
_Node: Any = None  # moto's ast_nodes.Node, set by install()


def copy_tree(node: Any, parent: Any = None) -> Any:
    """`copy.deepcopy` of an update expression's tree, for moto's nodes (whose only attributes
    are `type`, `children` and `parent`); anything else is deep-copied."""
    if parent is None and (node.parent is not None or set(vars(node)) != _NODE_ATTRIBUTES):
        return copy.deepcopy(node)
    twin = object.__new__(type(node))
    twin.type, twin.parent = node.type, parent
    children = node.children
    twin.children = None if children is None else [
        (copy_tree(child, twin) if set(vars(child)) == _NODE_ATTRIBUTES else _deep_copy_below(child, twin))
        if isinstance(child, _Node) else (child if isinstance(child, _LEAVES) else copy.deepcopy(child))
        for child in children]
    return twin


def _processing_map(traverser: Any) -> dict:
    """A traverser's map of node classes to its bound methods, built once: a traverser lives for
    one validation, and its map with it."""
    mapping = traverser.__dict__.get("_parcours_map")
    if mapping is None:
        mapping = traverser._parcours_map = traverser._processing_map()
    return mapping


def _deep_copy_below(node: Any, parent: Any) -> Any:
    return copy.deepcopy(node, {id(node.parent): parent})


def _reindex(table: Any, key: dict[str, Any]) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    if table.hash_key_attr not in key:
        return
    hash_key = DynamoType(key[table.hash_key_attr])
    if table.range_key_attr:
        if table.range_key_attr not in key:
            return
        primary: PrimaryKey = (hash_key, DynamoType(key[table.range_key_attr]))
    else:
        primary = hash_key
    item = _current(table, primary)
    if item is None:
        table._parcours_indexes.remove(primary)
    else:
        table._parcours_indexes.add(table, item)
