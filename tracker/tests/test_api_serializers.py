"""The input serializers' plain path (api/serializers.validated) gives exactly what the
serializer gives, and leaves every body it is not sure of, errors included, to it."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from rest_framework import serializers

from tracker.api import serializers as s

HOT_INPUTS = {
    s.IssueCreateInput: {"title": "Crash", "assignee_id": 1},
    s.IssueUpdateInput: {"title": "patched", "version": 1},
    s.CommentInput: {"body": "Seen it", "author_id": 2},
}
INPUTS = [
    *HOT_INPUTS,
    s.UserInput,
    s.IssueLabelsInput,
    s.BulkStatusInput,
]
VALUES = [
    "x",
    "",
    "  ",
    "open",
    "closed ",
    1,
    0,
    -1,
    2**70,
    1.0,
    1.5,
    "1",
    True,
    False,
    None,
    [],
    ["a", "B"],
    ["a", 1],
    [None],
    {},
    {"a": 1},
]


def full(serializer_class, data) -> tuple[bool, Any]:
    serializer = serializer_class(data=data)
    if serializer.is_valid():
        return True, list(dict(serializer.validated_data).items())
    return False, serializer.errors


def bodies(serializer_class):
    names = list(serializer_class().fields)
    yield {}
    yield []
    yield "text"
    yield {"titel": "x"}
    yield {**dict.fromkeys(names, "x"), "id": 5, "created_at": "now"}
    for name, value in itertools.product(names, VALUES):
        yield {name: value}
        yield {**HOT_INPUTS.get(serializer_class, {}), name: value}
        yield {**HOT_INPUTS.get(serializer_class, {}), name: value, "unknown": 1}
        yield {**HOT_INPUTS.get(serializer_class, {}), name: value, "comments": []}


@pytest.mark.parametrize("serializer_class", INPUTS, ids=lambda c: c.__name__)
def test_the_plain_path_gives_the_serializers_data_or_leaves_the_body_to_it(serializer_class):
    for body in bodies(serializer_class):
        plain = s._plainly_valid(serializer_class, body)
        if plain is None:
            continue
        assert full(serializer_class, body) == (True, list(plain.items())), body
        assert [type(value) for value in plain.values()] == [
            type(value) for _, value in full(serializer_class, body)[1]
        ]


@pytest.mark.parametrize(("serializer_class", "body"), HOT_INPUTS.items())
def test_the_hot_writes_usual_bodies_take_the_plain_path(serializer_class, body):
    assert s._plainly_valid(serializer_class, body) is not None
    for ignored in serializer_class.ignored_fields:
        assert s._plainly_valid(serializer_class, {**body, ignored: 7}) is not None


def test_a_serializer_with_a_field_not_read_here_always_goes_through_the_serializer():
    class WithEmail(s.StrictInput):
        email = serializers.EmailField()

    assert s._plainly_valid(WithEmail, {"email": "a@example.com"}) is None
    assert s.validated(WithEmail, {"email": "a@example.com"}) == {"email": "a@example.com"}
