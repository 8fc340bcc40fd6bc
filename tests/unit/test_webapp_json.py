"""Putting JSON texts built by Postgres together without parsing them."""

import json

from webapp.queries import JsonText, json_object, merge_objects


def test_merged_objects_hold_every_member_of_each_in_order():
    built = JsonText('{"latest" : [{"symbol" : "AAPL"}], "movers" : []}')  # json_build_object's spacing
    merged = merge_objects(json_object(window="1m", symbol=None), built, JsonText("{}"), json_object(n=1))
    assert list(json.loads(merged).items()) == [
        ("window", "1m"),
        ("symbol", None),
        ("latest", [{"symbol": "AAPL"}]),
        ("movers", []),
        ("n", 1),
    ]


def test_json_object_keeps_json_text_members_as_they_are_and_serializes_others():
    assert json_object(rows=JsonText("[1, 2]"), name='a "b"') == '{"rows": [1, 2], "name": "a \\"b\\""}'
