import pytest

from genai_serve.errors import InputError
from genai_ops.registry import load_registry
from genai_serve.schema import build_request_model, json_schema, validate

SPEC = {
    "num_samples": {"type": "int", "default": 16, "min": 1, "max": 64},
    "seed": {"type": "int", "default": None, "min": 0, "max": 2**32 - 1},
    "temperature": {"type": "float", "default": 1.0, "min": 0.05, "max": 2.0},
    "mode": {"type": "str", "default": "greedy", "choices": ["greedy", "sample"]},
}
MODEL = build_request_model("t", SPEC)


def check(params):
    return validate(MODEL, SPEC, params)


def test_defaults_apply_and_strings_from_query_parameters_parse():
    assert check({}).num_samples == 16 and check({}).seed is None
    got = check({"num_samples": "4", "seed": "7", "temperature": "0.5"})
    assert (got.num_samples, got.seed, got.temperature) == (4, 7, 0.5)


@pytest.mark.parametrize(
    "params, field, words",
    [
        ({"num_samples": 0}, "num_samples", "[1, 64]"),
        ({"num_samples": 65}, "num_samples", "[1, 64]"),
        ({"num_samples": "x"}, "num_samples", "valid integer"),
        ({"num_samples": True}, "num_samples", "boolean"),
        ({"num_samples": 2.5}, "num_samples", "fractional"),
        ({"num_samples": [4]}, "num_samples", "integer"),
        ({"num_samples": None}, "num_samples", "integer"),
        ({"seed": -1}, "seed", "[0, 4294967295]"),
        ({"temperature": float("nan")}, "temperature", "finite"),
        ({"temperature": float("inf")}, "temperature", "finite"),
        ({"mode": "beam"}, "mode", "'greedy', 'sample'"),
    ],
)
def test_bad_values_name_the_field_and_the_allowed_range(params, field, words):
    with pytest.raises(InputError) as err:
        check(params)
    assert err.value.field == field
    assert err.value.status == 400
    assert words in err.value.message


def test_unknown_fields_are_ignored():
    assert check({"num_samples": 2, "image_size": 32}).num_samples == 2


def test_every_registry_schema_builds_and_exports_json_schema():
    for spec in load_registry().values():
        schema = json_schema(spec.name, spec.request)
        assert set(schema.get("properties", {})) == set(spec.request)
