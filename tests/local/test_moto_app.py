"""moto's app as the local cloud serves it: backend folders listed once, DynamoDB item
results written directly; the same answers as moto's own."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import backends, mock_aws
from moto.core.serialize import ResponseSerializer
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.responses import DynamoResult

from archway.shared.local.moto_app import (
    OWN_PREFIX,
    NotPlain,
    _list_moto_modules_once,
    _plain,
    _project_once,
    _regions_without_service_models,
    _serialize_item_results_directly,
)


def test_moto_modules_listed_once_give_the_same_answers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN moto's own listing of its backend folders (restored after the test)
    monkeypatch.setattr(backends, "list_of_moto_modules", backends.list_of_moto_modules)
    listed = list(backends.list_of_moto_modules())
    # WHEN the local cloud's moto app lists them once
    _list_moto_modules_once()
    # THEN every later call answers the same folders, in the same order, without the disk
    monkeypatch.setattr("os.listdir", lambda *_: pytest.fail("moto's folder listed again"))
    assert list(backends.list_of_moto_modules()) == listed
    assert "dynamodb" in backends.list_of_moto_modules()
    assert "dynamodb.eu-west-1.amazonaws.com" not in backends.list_of_moto_modules()


def test_regions_listed_without_service_models_are_the_same(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from boto3.session import Session

    # GIVEN boto3's own answers for the services the shortcut covers (restored after)
    monkeypatch.setattr(Session, "get_available_regions", Session.get_available_regions)
    session = Session(region_name="eu-west-1")
    expected = {(service, partition): session.get_available_regions(service, partition)
                for service in OWN_PREFIX for partition in session.get_available_partitions()}
    # WHEN the local cloud's moto app lists them from the endpoints file alone
    _regions_without_service_models()
    fresh = Session(region_name="eu-west-1")
    monkeypatch.setattr(fresh._session, "get_service_data",
                        lambda *_: pytest.fail("a service model was loaded"))
    # THEN every partition gets the same regions, without loading a service model
    assert {key: fresh.get_available_regions(*key) for key in expected} == expected
    assert "eu-west-1" in expected[("ec2", "aws")]


ITEMS = [
    {"pk": {"S": "p#1"}, "sk": {"S": "a"}, "name": {"S": "Crème brûlée torch"},
     "price": {"N": "34.90"}, "tags": {"SS": ["kitchen", "tools"]}, "sizes": {"NS": ["1", "2.5"]},
     "stock": {"M": {"eu": {"N": "3"}, "us": {"NULL": True}}}, "ok": {"BOOL": False},
     "history": {"L": [{"S": "x"}, {"N": "-1e3"}, {"M": {}}]}},
    {"pk": {"S": "p#1"}, "sk": {"S": "b"}, "name": {"S": "kettle"}, "price": {"N": "12"}},
    {"pk": {"S": "p#2"}, "sk": {"S": "a"}, "name": {"S": "blob"}, "data": {"B": b"\x00\xff"},
     "datas": {"BS": [b"\x01", b"\x02"]}},
]


def _answers(dynamodb: Any) -> list[Any]:
    """Every item operation's answer, minus the request-specific metadata."""
    table = "products"
    calls = [
        lambda: dynamodb.query(TableName=table, Limit=1, ReturnConsumedCapacity="TOTAL",
                               KeyConditionExpression="pk = :p",
                               ExpressionAttributeValues={":p": {"S": "p#1"}}),
        lambda: dynamodb.query(TableName=table, IndexName="by_name",
                               KeyConditionExpression="#n = :n",
                               ExpressionAttributeNames={"#n": "name"},
                               ExpressionAttributeValues={":n": {"S": "kettle"}}),
        lambda: dynamodb.scan(TableName=table, ProjectionExpression="pk, sk, stock"),
        lambda: dynamodb.scan(TableName=table),  # holds binary: moto's serializer
        lambda: dynamodb.get_item(TableName=table, Key={"pk": {"S": "p#1"}, "sk": {"S": "a"}}),
        lambda: dynamodb.get_item(TableName=table, Key={"pk": {"S": "none"}, "sk": {"S": "a"}}),
        lambda: dynamodb.batch_get_item(RequestItems={table: {"Keys": [
            {"pk": {"S": "p#1"}, "sk": {"S": "b"}}, {"pk": {"S": "p#2"}, "sk": {"S": "a"}}]}}),
        lambda: dynamodb.update_item(TableName=table, Key={"pk": {"S": "p#1"}, "sk": {"S": "b"}},
                                     UpdateExpression="SET price = price + :one",
                                     ExpressionAttributeValues={":one": {"N": "1"}},
                                     ReturnValues="ALL_NEW"),
        lambda: dynamodb.put_item(TableName=table, Item=ITEMS[1], ReturnValues="ALL_OLD"),
        lambda: dynamodb.delete_item(TableName=table, Key={"pk": {"S": "p#1"}, "sk": {"S": "b"}},
                                     ReturnValues="ALL_OLD"),
        lambda: dynamodb.batch_write_item(
            RequestItems={table: [{"PutRequest": {"Item": ITEMS[1]}}]}),
        lambda: dynamodb.query(TableName="missing", KeyConditionExpression="pk = :p",
                               ExpressionAttributeValues={":p": {"S": "1"}}),  # an error
    ]
    answers = []
    for call in calls:
        try:
            answer = call()
        except ClientError as exc:
            answer = exc.response
        answer.pop("ResponseMetadata", None)
        answers.append(answer)
    return answers


def _table(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName="products", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"}
                              for a in ("pk", "sk", "name")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName": "by_name", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "name", "KeyType": "HASH"}]}])
    for item in ITEMS:
        dynamodb.put_item(TableName="products", Item=item)


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials for boto3 clients under mock_aws."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_item_results_written_directly_are_the_answers_of_motos_serializer(
        monkeypatch: pytest.MonkeyPatch, credentials: None) -> None:
    # GIVEN items of every attribute type (binary too) in a table with an index, read and
    # written by every item operation, answered by moto's own serializer
    monkeypatch.setattr(DynamoResult, "execute_result", DynamoResult.execute_result)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        _table(dynamodb)
        expected = _answers(dynamodb)
    # WHEN the local cloud's moto app writes item results directly
    _serialize_item_results_directly()
    serialized: list[str] = []
    serialize = ResponseSerializer.serialize

    def spy(self: Any, result: Any) -> Any:
        serialized.append(self.operation_model.name)
        return serialize(self, result)

    monkeypatch.setattr(ResponseSerializer, "serialize", spy)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        _table(dynamodb)
        serialized.clear()
        answers = _answers(dynamodb)
    # THEN every answer (items, keys, counts, capacity, binary, errors) is the same, and
    # moto's serializer wrote only the answers holding binary and BatchWriteItem's
    assert serialized == ["Scan", "BatchGetItem", "BatchWriteItem"]
    for got, want in zip(answers, expected, strict=True):
        assert got == want
    assert answers[0]["Items"][0]["stock"] == {"M": {"eu": {"N": "3"}, "us": {"NULL": True}}}
    assert answers[3]["Items"][-1]["data"] == {"B": b"\x00\xff"}
    assert answers[-1]["Error"]["Code"] == "ResourceNotFoundException"


def test_item_results_with_binary_or_times_are_not_plain() -> None:
    # GIVEN results holding binary, a time, or only JSON with empty (None) members
    # WHEN they are checked for writing directly
    # THEN binary and times are left to moto's serializer; None members are left out
    with pytest.raises(NotPlain):
        _plain({"Items": [{"data": {"B": b"\x00"}}]})
    with pytest.raises(NotPlain):
        _plain({"Table": {"CreationDateTime": datetime.now(UTC)}})
    assert _plain({"Items": [], "LastEvaluatedKey": None, "Count": 0}) == {"Items": [],
                                                                            "Count": 0}


PROJECTIONS = [
    ("id, #n, price", {"#n": "name"}),  # the catalog search's kind: top-level attributes
    ("stock.eu, history[1], ok", {}),  # nested and list elements, distinct first attributes
    ("stock, stock.eu, history[0], history[2]", {}),  # overlapping paths: moto's own method
    ("absent, pk, sizes", {}),
]


def _projected(dynamodb: Any) -> list[Any]:
    answers = []
    for expression, names in PROJECTIONS:
        extra = {"ExpressionAttributeNames": names} if names else {}
        answers.append(dynamodb.query(TableName="products", ProjectionExpression=expression,
                                      KeyConditionExpression="pk = :p",
                                      ExpressionAttributeValues={":p": {"S": "p#1"}},
                                      **extra)["Items"])
    return answers


def test_projections_converting_each_item_once_give_motos_answers(
        monkeypatch: pytest.MonkeyPatch, credentials: None) -> None:
    # GIVEN projections of top-level, nested, list and overlapping paths, answered by moto
    monkeypatch.setattr(Item, "project", Item.project)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        _table(dynamodb)
        expected = _projected(dynamodb)
    # WHEN each item is converted once per projection
    _project_once()
    conversions = []
    convert = Item.to_regular_json

    def counted(self: Any) -> Any:
        conversions.append(1)
        return convert(self)

    monkeypatch.setattr(Item, "to_regular_json", counted)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        _table(dynamodb)
        answers = _projected(dynamodb)
    # THEN the items are the same, and only the overlapping paths convert an item per path
    assert answers == expected
    assert answers[0] == [{"name": {"S": "Crème brûlée torch"}, "price": {"N": "34.90"}},
                          {"name": {"S": "kettle"}, "price": {"N": "12"}}]
    assert answers[1][0] == {"stock": {"M": {"eu": {"N": "3"}}}, "history": {"L": [{"N": "-1E+3"}]},
                             "ok": {"BOOL": False}}
    per_item = {1: 2, 2: 2, 3: 2 * 4, 4: 2}  # two items per query
    assert len(conversions) == sum(per_item.values())


# ------------------------------------------------------------- DynamoDB item reads (moto_dynamodb)

KEY_TYPES = ("S", "N", "B")
WORDS = ["a", "ab", "abc", "b", "ba", "Z", "é", "éa", "😀", "a😀", "~", "0", "10", "9"]
NUMBERS = ["0", "1", "1.0", "-1", "2.5", "10", "-3.5e2", "0.001", "99999999", "7E+1", "-0.5"]
BLOBS = [b"\x00", b"\x00\x01", b"\x01", b"a", b"ab", b"\xff", b"\xfe\xff", b"b"]


def _key_value(rng: Any, kind: str) -> dict[str, Any]:
    if kind == "S":
        return {"S": rng.choice(WORDS)}
    if kind == "N":
        return {"N": rng.choice(NUMBERS)}
    return {"B": rng.choice(BLOBS)}


def _any_value(rng: Any, depth: int = 0) -> dict[str, Any]:
    kind = rng.choice(["S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS"]
                      + (["M", "L"] if depth < 2 else []))
    if kind in KEY_TYPES:
        return _key_value(rng, kind)
    if kind == "BOOL":
        return {"BOOL": rng.random() < 0.5}
    if kind == "NULL":
        return {"NULL": True}
    if kind == "SS":
        return {"SS": rng.sample(WORDS, rng.randint(1, 4))}
    if kind == "NS":
        return {"NS": rng.sample(["1", "2.5", "-3", "40", "0.5"], rng.randint(1, 3))}
    if kind == "BS":
        return {"BS": rng.sample(BLOBS, rng.randint(1, 3))}
    if kind == "L":
        return {"L": [_any_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]}
    return {"M": {f"m{i}": _any_value(rng, depth + 1) for i in range(rng.randint(0, 3))}}


class Schema:
    """A generated table: key types, indexes and the attributes they use."""

    def __init__(self, rng: Any) -> None:
        self.hash_type = rng.choice(KEY_TYPES)
        self.range_type = rng.choice((*KEY_TYPES, None))
        self.index_types = {"gh": rng.choice(KEY_TYPES), "gr": rng.choice(KEY_TYPES),
                            "lr": rng.choice(KEY_TYPES)}
        projections = [{"ProjectionType": "ALL"}, {"ProjectionType": "KEYS_ONLY"},
                       {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["a1", "m"]}]
        self.indexes: dict[str, tuple[str, str | None]] = {}
        self.gsis = []
        for name, hash_name, range_name in (("g_hr", "gh", "gr"), ("g_h", "gh", None),
                                            ("g_r", "gr", "gh")):
            keys = [{"AttributeName": hash_name, "KeyType": "HASH"}]
            if range_name:
                keys.append({"AttributeName": range_name, "KeyType": "RANGE"})
            self.gsis.append({"IndexName": name, "KeySchema": keys,
                              "Projection": rng.choice(projections)})
            self.indexes[name] = (hash_name, range_name)
        self.lsis = []
        if self.range_type:
            self.lsis.append({"IndexName": "l_r", "Projection": rng.choice(projections),
                              "KeySchema": [{"AttributeName": "h", "KeyType": "HASH"},
                                            {"AttributeName": "lr", "KeyType": "RANGE"}]})
            self.indexes["l_r"] = ("h", "lr")

    def type_of(self, name: str) -> str:
        return {"h": self.hash_type, "r": self.range_type or "S", **self.index_types}[name]

    def create(self, dynamodb: Any, table: str) -> None:
        keys = [{"AttributeName": "h", "KeyType": "HASH"}]
        names = {"h": self.hash_type, **self.index_types}
        if self.range_type:
            keys.append({"AttributeName": "r", "KeyType": "RANGE"})
            names["r"] = self.range_type
        else:
            names.pop("lr")
        dynamodb.create_table(
            TableName=table, BillingMode="PAY_PER_REQUEST", KeySchema=keys,
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": t}
                                  for n, t in names.items()],
            GlobalSecondaryIndexes=self.gsis, **({"LocalSecondaryIndexes": self.lsis}
                                                 if self.lsis else {}))

    def item(self, rng: Any) -> dict[str, Any]:
        item = {"h": _key_value(rng, self.hash_type)}
        if self.range_type:
            item["r"] = _key_value(rng, self.range_type)
        for name in ("gh", "gr", "lr"):
            if rng.random() < 0.75 and (name != "lr" or self.range_type):
                item[name] = _key_value(rng, self.index_types[name])
        for name in ("a1", "a2", "m", "s", "name"):
            if rng.random() < 0.7:
                item[name] = _any_value(rng)
        if rng.random() < 0.3:
            item["m"] = {"M": {"x": _any_value(rng), "y": {"L": [_any_value(rng)]}}}
        return item


PROJECTION_EXPRESSIONS = [
    ("a1, #n, h", {"#n": "name"}), ("m.x, a2", {}), ("m, m.x", {}), ("m.y[0], s", {}),
    ("a1, a1, missing", {}), ("#k", {"#k": "gh"}), ("s[1], a2.deep", {}),
]
COMPARISONS = ["=", "<", "<=", ">", ">=", "BETWEEN", "BEGINS_WITH"]


def _query_request(rng: Any, schema: Schema, table: str) -> dict[str, Any]:
    index = rng.choice([None, None, *schema.indexes])
    hash_name, range_name = schema.indexes[index] if index else (
        "h", "r" if schema.range_type else None)
    values = {":h": _key_value(rng, schema.type_of(hash_name))}
    condition = "#hk = :h"
    names = {"#hk": hash_name}
    if range_name and rng.random() < 0.6:
        kind = schema.type_of(range_name)
        comparison = rng.choice(COMPARISONS if kind != "N" else COMPARISONS[:-1])
        values[":a"] = _key_value(rng, kind)
        names["#rk"] = range_name
        if comparison == "BETWEEN":
            values[":b"] = _key_value(rng, kind)
            condition += " AND #rk BETWEEN :a AND :b"
        elif comparison == "BEGINS_WITH":
            condition += " AND begins_with(#rk, :a)"
        else:
            condition += f" AND #rk {comparison} :a"
    request: dict[str, Any] = {"TableName": table, "KeyConditionExpression": condition,
                               "ExpressionAttributeValues": values}
    if index:
        request["IndexName"] = index
    if rng.random() < 0.6:
        request["Limit"] = rng.randint(1, 4)
    if rng.random() < 0.5:
        request["ScanIndexForward"] = False
    if rng.random() < 0.5:
        expression, more = rng.choice(PROJECTION_EXPRESSIONS)
        request["ProjectionExpression"] = expression
        names.update(more)
    if rng.random() < 0.2:
        request["FilterExpression"] = "attribute_exists(a1)"
    if rng.random() < 0.1:
        request["Select"] = "COUNT"
    if rng.random() < 0.1:
        request["ConsistentRead"] = True  # an error on a GSI
    if rng.random() < 0.1:
        request["ReturnConsumedCapacity"] = "TOTAL"
    request["ExpressionAttributeNames"] = names
    return request


def _pages(dynamodb: Any, request: dict[str, Any]) -> list[Any]:
    """Every page of a query (following LastEvaluatedKey), or the error."""
    pages = []
    request = dict(request)
    for _ in range(60):
        try:
            answer = dynamodb.query(**request)
        except ClientError as exc:
            answer = exc.response
        except Exception as exc:  # noqa: BLE001 - moto's own bugs must be the same too
            answer = {"raised": f"{type(exc).__name__}: {exc}"}
        answer.pop("ResponseMetadata", None)
        pages.append(answer)
        if "LastEvaluatedKey" not in answer:
            break
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return pages


class Answered:
    """Counts the queries the fast path answered, and those it left to moto."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from archway.shared.local import moto_dynamodb

        self.fast = self.moto = 0
        real = moto_dynamodb.fast_query

        def counted(*args: Any, **kwargs: Any) -> Any:
            try:
                answer = real(*args, **kwargs)
            except Exception:
                self.moto += 1
                raise
            self.fast += 1
            return answer

        monkeypatch.setattr(moto_dynamodb, "fast_query", counted)


def _both(monkeypatch: pytest.MonkeyPatch, call: Any) -> tuple[Any, Any]:
    """``call()`` answered by moto's own Table.query and Item.project, then by the fast."""
    from moto.dynamodb import responses
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.models.utilities import dynamo_to_dict

    fast_query, fast_project = Table.query, Item.project
    with monkeypatch.context() as moto_only:
        moto_only.setattr(Table, "query", fast_query.archway_original)
        moto_only.setattr(Item, "project", _moto_project(fast_project))
        moto_only.setattr(responses, "dynamo_to_dict", dynamo_to_dict)
        expected = call()
    return expected, call()


def _moto_project(project: Any) -> Any:
    while hasattr(project, "archway_original"):
        project = project.archway_original
    return project


@pytest.fixture
def fast_reads(monkeypatch: pytest.MonkeyPatch, credentials: None) -> None:
    """moto_dynamodb installed (restored after the test)."""
    from moto.dynamodb import responses
    from moto.dynamodb.models.table import Table

    from archway.shared.local import moto_dynamodb

    monkeypatch.setattr(Table, "query", Table.query)
    monkeypatch.setattr(Item, "project", Item.project)
    monkeypatch.setattr(responses, "dynamo_to_dict", responses.dynamo_to_dict)
    assert moto_dynamodb.install()


@pytest.mark.parametrize("seed", range(12))
def test_fast_queries_answer_what_moto_answers(
        seed: int, monkeypatch: pytest.MonkeyPatch, fast_reads: None) -> None:
    import random

    # GIVEN a generated table (string, number or binary keys, with or without a range key,
    # GSIs with and without a range key, an LSI, every projection type) of items of every
    # attribute type, some missing an index's keys
    rng = random.Random(seed)
    schema = Schema(rng)
    answered = Answered(monkeypatch)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        schema.create(dynamodb, "t")
        for _ in range(rng.randint(20, 60)):
            dynamodb.put_item(TableName="t", Item=schema.item(rng))
        keys = [item for item in dynamodb.scan(TableName="t")["Items"]]
        # WHEN generated queries (hash equality, every range condition, Limit, both
        # directions, projections, filters, counts, errors) are answered page by page,
        # by moto and by the fast path
        for _ in range(40):
            request = _query_request(rng, schema, "t")
            if keys and rng.random() < 0.7:  # mostly partitions that exist
                hash_name = schema.indexes[request["IndexName"]][0] \
                    if "IndexName" in request else "h"
                holder = rng.choice([k for k in keys if hash_name in k] or keys)
                if hash_name in holder:
                    request["ExpressionAttributeValues"][":h"] = holder[hash_name]
            expected, got = _both(monkeypatch, lambda r=request: _pages(dynamodb, r))
            # THEN every page is the same: items, their order, counts, keys and errors
            assert got == expected, request
    # AND the fast path answered most of them (not only moto's own)
    assert answered.fast > answered.moto


def test_pages_cut_at_one_megabyte_are_moto_pages(
        monkeypatch: pytest.MonkeyPatch, fast_reads: None) -> None:
    import random

    # GIVEN a partition of items of 60 to 300 KB (several MB in all), on the table and on
    # an index
    rng = random.Random(7)
    answered = Answered(monkeypatch)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        dynamodb.create_table(
            TableName="big", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": t}
                                  for n, t in (("h", "S"), ("r", "N"), ("g", "S"))],
            KeySchema=[{"AttributeName": "h", "KeyType": "HASH"},
                       {"AttributeName": "r", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{"IndexName": "by_g", "Projection": {"ProjectionType": "ALL"},
                                     "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                                   {"AttributeName": "r", "KeyType": "RANGE"}]}])
        for number in range(24):
            dynamodb.put_item(TableName="big", Item={
                "h": {"S": "p"}, "r": {"N": str(number)}, "g": {"S": "x"},
                "blob": {"S": "é" * rng.randint(30_000, 150_000)}})
        requests = [{"KeyConditionExpression": "h = :h"},
                    {"KeyConditionExpression": "h = :h", "ScanIndexForward": False},
                    {"KeyConditionExpression": "h = :h AND r > :r", "Limit": 9},
                    {"KeyConditionExpression": "g = :h", "IndexName": "by_g",
                     "ProjectionExpression": "r"},
                    {"KeyConditionExpression": "g = :h", "IndexName": "by_g",
                     "ScanIndexForward": False}]
        # WHEN every page of each query is read by moto and by the fast path
        for request in requests:
            values = {":h": {"S": "x" if "IndexName" in request else "p"}, ":r": {"N": "3"}}
            query = {"TableName": "big", **request, "ExpressionAttributeValues": {
                name: value for name, value in values.items()
                if name in request["KeyConditionExpression"]}}
            expected, got = _both(monkeypatch, lambda q=query: _pages(dynamodb, q))
            # THEN the pages are the same, cut where moto's 1 MB limit cuts them
            assert [page["Count"] for page in got] == [page["Count"] for page in expected]
            assert got == expected
            assert len(got) > 2
    assert answered.moto == 0


def test_the_catalog_search_is_answered_by_the_fast_path(
        monkeypatch: pytest.MonkeyPatch, fast_reads: None) -> None:
    import json
    from decimal import Decimal
    from pathlib import Path

    from boto3.dynamodb.conditions import Key

    # GIVEN the catalog's products table and seed, read through boto3's resource as the
    # catalog's search handler reads it
    seed = Path(__file__).parents[2] / "services" / "catalog" / "seed" / "products.json"
    answered = Answered(monkeypatch)
    with mock_aws():
        resource = boto3.resource("dynamodb", region_name="eu-west-1")
        resource.create_table(
            TableName="products", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                                  for n in ("pk", "sk", "search_pk", "search_sk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "search", "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": "search_pk", "KeyType": "HASH"},
                              {"AttributeName": "search_sk", "KeyType": "RANGE"}]}])
        table = resource.Table("products")
        for product in json.loads(seed.read_text(), parse_float=Decimal):
            table.put_item(Item=product)

        def search() -> Any:
            return [table.query(
                IndexName="search", Limit=8, ProjectionExpression="id, #name, price, category",
                ExpressionAttributeNames={"#name": "name"},
                KeyConditionExpression=Key("search_pk").eq(f"PREFIX#{prefix[0]}")
                & Key("search_sk").begins_with(prefix))["Items"] for prefix in ("c", "ca", "z")]

        # WHEN the search runs on moto's own query and on the fast path
        expected, got = _both(monkeypatch, search)
    # THEN it finds the same products, in the same order, all by the fast path
    assert got == expected
    assert len(got[0]) == 8 and {"id", "name", "price", "category"} == set(got[0][0])
    assert answered.fast == 3 and answered.moto == 0


def test_sizes_are_motos_sizes() -> None:
    import random

    from moto.dynamodb.models.dynamo_type import DynamoType

    from archway.shared.local.moto_dynamodb import item_size, value_size

    # GIVEN values of every type, nested, as moto stores them
    rng = random.Random(3)
    values = [DynamoType(_any_value(rng)) for _ in range(600)]
    # WHEN sized without building a DynamoType per member
    # THEN each size is moto's, and so is each item's
    assert [value_size(value) for value in values] == [value.size() for value in values]
    items = [Item(values[i], None, {f"k{j}é": values[i + j].to_json() for j in range(5)})
             for i in range(0, 590, 7)]
    assert [item_size(item) for item in items] == [item.size() for item in items]


def test_top_level_projections_are_motos_projections(monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    from moto.dynamodb.models.dynamo_type import DynamoType

    from archway.shared.local.moto_dynamodb import Fallback, project_top_level

    # GIVEN items of every attribute type and projections of their top-level attributes
    rng = random.Random(5)
    moto_project = _moto_project(Item.project)
    checked = 0
    for _ in range(300):
        attrs = {name: _any_value(rng) for name in ("h", "a", "b", "c", "d") if rng.random() < .8}
        item = Item(DynamoType({"S": "h"}), None, attrs)
        names = rng.sample(["a", "b", "c", "d", "missing"], rng.randint(1, 4))
        # WHEN projected by moto and by converting only the projected attributes
        try:
            expected = moto_project(item, [[name] for name in names]).to_json()
        except Exception as exc:  # noqa: BLE001
            # THEN where moto fails on an attribute, the fast path leaves it to moto
            with pytest.raises(Fallback):
                project_top_level(item, names)
            assert exc is not None
            continue
        # THEN the projected items are moto's, attribute by attribute and in order
        got = project_top_level(item, names).to_json()
        assert list(got["Attributes"]) == list(expected["Attributes"])
        assert got == expected
        checked += 1
    assert checked > 250


def test_another_moto_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import moto
    from moto.dynamodb import responses
    from moto.dynamodb.models.table import Table

    from archway.shared.local import moto_dynamodb

    # GIVEN moto's own methods
    monkeypatch.setattr(Table, "query", Table.query)
    monkeypatch.setattr(Item, "project", Item.project)
    monkeypatch.setattr(responses, "dynamo_to_dict", responses.dynamo_to_dict)
    query, project, to_dict = Table.query, Item.project, responses.dynamo_to_dict
    # WHEN moto's version or a studied function's source is not the one studied
    monkeypatch.setattr(moto, "__version__", "5.2.6")
    # THEN nothing is replaced
    assert not moto_dynamodb.install()
    assert (Table.query, Item.project, responses.dynamo_to_dict) == (query, project, to_dict)
    monkeypatch.setattr(moto, "__version__", moto_dynamodb.MOTO_VERSION)
    monkeypatch.setitem(moto_dynamodb.STUDIED, "Table.query", "0" * 16)
    assert not moto_dynamodb.install()
    assert (Table.query, Item.project, responses.dynamo_to_dict) == (query, project, to_dict)
    # AND installed twice, the methods are replaced once
    monkeypatch.setitem(moto_dynamodb.STUDIED, "Table.query",
                        moto_dynamodb.source_digest(query))
    assert moto_dynamodb.install() and moto_dynamodb.install()
    assert Table.query.archway_original is query  # type: ignore[attr-defined]
    assert Item.project.archway_original is project  # type: ignore[attr-defined]
    assert responses.dynamo_to_dict is moto_dynamodb.plain_dict


def test_results_made_plain_are_motos(monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import dynamo_to_dict

    from archway.shared.local.moto_dynamodb import plain_dict

    # GIVEN answers as DynamoDB's handlers build them: items of every type (binary too),
    # keys, counts, capacities, None members, times, nested lists
    rng = random.Random(11)
    answers = []
    for _ in range(200):
        items = [Item(DynamoType({"S": "h"}), None,
                      {f"a{i}": _any_value(rng) for i in range(rng.randint(0, 6))})
                 for _ in range(rng.randint(0, 4))]
        answers.append({"Items": [item.attrs for item in items], "Count": len(items),
                        "LastEvaluatedKey": rng.choice([None, {"h": DynamoType({"S": "x"})}]),
                        "ConsumedCapacity": {"CapacityUnits": 1.0, "Table": [1, (2, 3)]},
                        "Item": items[0] if items else None, "When": datetime.now(UTC)})
    # WHEN made plain by moto's dynamo_to_dict and by the type-dispatched one
    # THEN the answers are the same
    assert [plain_dict(answer) for answer in answers] == [dynamo_to_dict(a) for a in answers]


# ------------------------------------------------------------- DynamoDB reads on the event loop

def _asgi_request(target: str, body: dict[str, Any] | bytes,
                  extra: dict[str, str] | None = None) -> tuple[dict[str, Any], bytes]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {
        "host": "127.0.0.1:5000", "content-type": "application/x-amz-json-1.0",
        "x-amz-target": f"DynamoDB_20120810.{target}", "content-length": str(len(raw)),
        "authorization": "AWS4-HMAC-SHA256 Credential=testing/20261127/eu-west-1/dynamodb/"
                         "aws4_request, SignedHeaders=host;x-amz-target, Signature=0",
        **(extra or {}),
    }
    scope = {"type": "http", "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/", "raw_path": b"/", "root_path": "", "query_string": b"",
             "server": ("127.0.0.1", 5000), "client": ("127.0.0.1", 40000),
             "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}
    return scope, raw


def _asgi_answer(front: Any, target: str, body: dict[str, Any] | bytes,
                 extra: dict[str, str] | None = None) -> tuple[int, dict[str, Any], bytes]:
    import asyncio

    scope, raw = _asgi_request(target, body, extra)
    chunks = [{"type": "http.request", "body": raw[:10], "more_body": True},
              {"type": "http.request", "body": raw[10:], "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return chunks.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(front(scope, receive, send))
    headers = dict(sent[0]["headers"])
    headers.pop(b"x-amzn-requestid")  # random
    return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


def test_dynamodb_reads_answered_on_the_event_loop_are_the_pools_answers(
        credentials: None) -> None:
    from a2wsgi import WSGIMiddleware
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from archway.shared.local.moto_app import InlineReads

    # GIVEN moto's app behind the thread pool, and behind InlineReads over the same pool
    app = DomainDispatcherApplication(create_backend_app)
    app.app_instances["dynamodb"] = app.create_app("dynamodb")
    pooled = WSGIMiddleware(app, workers=2)  # type: ignore[arg-type]
    through_pool: list[str] = []

    async def spy(scope: Any, receive: Any, send: Any) -> None:
        through_pool.append(dict(scope["headers"])[b"x-amz-target"].decode().split(".")[1])
        await pooled(scope, receive, send)

    inline = InlineReads(app, spy)
    key = {"pk": {"S": "p#1"}, "sk": {"S": "a"}}
    query = {"TableName": "products", "KeyConditionExpression": "pk = :p", "Limit": 1,
             "ExpressionAttributeValues": {":p": {"S": "p#1"}}}
    requests: list[tuple[Any, ...]] = [
        ("Query", query),
        ("GetItem", {"TableName": "products", "Key": key, "ProjectionExpression": "price"}),
        ("Scan", {"TableName": "products"}),
        ("BatchGetItem", {"RequestItems": {"products": {"Keys": [key]}}}),
        ("Query", {"TableName": "missing", "KeyConditionExpression": "pk = :p",
                   "ExpressionAttributeValues": {":p": {"S": "p#1"}}}),
        ("PutItem", {"TableName": "products", "Item": {**key, "price": {"N": "1"}}}),
        ("Query", query, {"origin": "http://127.0.0.1:8080"}),  # a browser's (CORS)
        ("Query", {**query, "KeyConditionExpression": "sk = :p"}),  # a validation error
        ("GetItem", b"{not json"),
        ("GetItem", b"TableName=products", {"content-type": "application/x-www-form-urlencoded"}),
        ("GetItem", b"", {"content-type": "text/plain"}),
    ]
    flask_calls = Counter()
    with mock_aws(), spy_on_flask(app.app_instances["dynamodb"], flask_calls):
        _table(boto3.client("dynamodb", region_name="eu-west-1"))
        # WHEN reads, errors, odd bodies and a write are sent to both
        answers = []
        for request in requests:
            want = _outcome(pooled, *request)
            before = flask_calls["wsgi"]
            answers.append((want, _outcome(inline, *request), flask_calls["wsgi"] - before))
    # THEN each answer (status, headers, body bytes; or the error moto fails with, which
    # the server turns into a 500) is the same; only the write and the
    # Scan (unbounded: the whole table) went through the pool, and the reads answered on
    # the loop did not go through moto's Flask app, unless a browser sent them (CORS)
    for (want, got, _), request in zip(answers, requests, strict=True):
        assert got == want, request
    assert answers[0][1][0] == 200 and json.loads(answers[0][1][2])["Count"] == 1
    assert answers[4][1][0] == 400 and b"ResourceNotFoundException" in answers[4][1][2]
    assert answers[7][1][0] == 400 and b"ValidationException" in answers[7][1][2]
    assert through_pool == ["Scan", "PutItem"]
    assert [through_flask for _, _, through_flask in answers] == [0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0]


def _outcome(front: Any, *request: Any) -> Any:
    try:
        return _asgi_answer(front, *request)
    except Exception as exc:  # moto fails on it: uvicorn answers 500
        return type(exc), str(exc)


@contextmanager
def spy_on_flask(flask_app: Any, calls: Counter[str]) -> Iterator[None]:
    """Counts the requests moto's Flask app handles (its wsgi_app), while in the block."""
    real = flask_app.wsgi_app

    def counted(*args: Any) -> Any:
        calls["wsgi"] += 1
        return real(*args)

    flask_app.wsgi_app = counted
    try:
        yield
    finally:
        flask_app.wsgi_app = real


def test_handler_methods_listed_once_are_motos(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core import responses
    from moto.core.utils import method_names_from_class
    from moto.dynamodb.responses import DynamoHandler
    from moto.s3.responses import S3Response

    from archway.shared.local.moto_app import _method_names_once

    # GIVEN moto's own listing of a handler class's methods (restored after the test)
    monkeypatch.setattr(responses, "method_names_from_class", method_names_from_class)
    calls: list[type] = []

    def counted(clazz: type) -> list[str]:
        calls.append(clazz)
        return method_names_from_class(clazz)

    monkeypatch.setattr(responses, "method_names_from_class", counted)
    # WHEN the local cloud's moto app lists them once
    _method_names_once()
    listed = [responses.method_names_from_class(DynamoHandler) for _ in range(3)]
    s3 = responses.method_names_from_class(S3Response)
    # THEN each class gets moto's answer, listed once, and a caller's change stays its own
    assert listed[0] == method_names_from_class(DynamoHandler) and "query" in listed[0]
    assert s3 == method_names_from_class(S3Response)
    assert calls == [DynamoHandler, S3Response]
    listed[0].clear()
    assert responses.method_names_from_class(DynamoHandler) == listed[1]


def test_reads_wait_for_the_pool_until_moto_has_its_dynamodb_app(credentials: None) -> None:
    import asyncio

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from archway.shared.local.moto_app import InlineReads

    # GIVEN moto's dispatcher before its DynamoDB app exists, behind InlineReads
    app = DomainDispatcherApplication(create_backend_app)
    pooled: list[bytes] = []

    async def pool(scope: Any, receive: Any, send: Any) -> None:
        pooled.append(dict(scope["headers"])[b"x-amz-target"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    inline = InlineReads(app, pool)
    query, body = _asgi_request("Query", {"TableName": "t"})
    other = dict(query, headers=[
        (b"x-amz-target", b"AmazonSSM.GetParameter"),
        (b"authorization", b"AWS4-HMAC-SHA256 Credential=t/20261127/eu-west-1/ssm/aws4_request")])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    # WHEN a Query arrives, and a request for another service
    asyncio.run(inline(query, receive, send))
    asyncio.run(inline(other, receive, send))
    # THEN both go through the pool (moto creates its DynamoDB app there, under its lock)
    assert pooled == [b"DynamoDB_20120810.Query", b"AmazonSSM.GetParameter"]
