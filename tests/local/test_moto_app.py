"""moto's app as the local cloud serves it: backend folders listed once, DynamoDB item
results written directly; the same answers as moto's own."""

from __future__ import annotations

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
