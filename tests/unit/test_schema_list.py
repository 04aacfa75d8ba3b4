"""The registry schema's `list` type (the embeddings model's `words`): item types and bounds, 400s naming the item."""
import pytest

from genai_serve.errors import InputError
from genai_serve.schema import build_request_model, json_schema, validate

SPEC = {
    "words": {"type": "list", "items": "str", "min_items": 1, "max_items": 3, "min_length": 1, "max_length": 5},
    "steps": {"type": "list", "items": "int", "min": 1, "max": 9, "max_items": 2, "default": [1]},
    "weights": {"type": "list", "items": "float", "required": True},
}
MODEL = build_request_model("t", SPEC)


def check(params):
    return validate(MODEL, SPEC, {"weights": [0.5], **params})


def test_lists_validate_with_defaults_and_numeric_strings():
    got = check({"words": ["a", "bb"], "steps": ["3", 4]})
    assert got.words == ["a", "bb"] and got.steps == [3, 4] and got.weights == [0.5]
    assert check({}).words is None and check({}).steps == [1]


@pytest.mark.parametrize("params, field, words", [
    ({"words": "king"}, "words", "valid list"),
    ({"words": []}, "words", "at least 1 item"),
    ({"words": ["a", "b", "c", "d"]}, "words", "at most 3 items"),
    ({"words": ["a", "toolong"]}, "words.1", "at most 5 characters"),
    ({"words": ["a", 7]}, "words.1", "valid string"),
    ({"steps": [10]}, "steps.0", "less than or equal to 9"),
    ({"steps": [True]}, "steps.0", "booleans are not numbers"),
    ({"weights": [float("nan")]}, "weights.0", "finite"),
])
def test_bad_lists_and_items_name_the_field_or_item_and_the_allowed_shape(params, field, words):
    with pytest.raises(InputError) as err:
        check(params)
    assert err.value.field == field and words in err.value.message
    assert "a list of" in err.value.message  # the allowed shape is spelled out


def test_missing_required_list_is_refused_and_json_schema_describes_arrays():
    with pytest.raises(InputError) as err:
        validate(MODEL, SPEC, {})
    assert err.value.field == "weights"
    words = json_schema("t", SPEC)["properties"]["words"]["anyOf"][0]
    assert words["type"] == "array" and words["maxItems"] == 3 and words["items"]["maxLength"] == 5
    assert words["description"] == "a list of 1..3 items, each a string of 1..5 characters"
