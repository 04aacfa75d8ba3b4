import base64

import pytest

from genai_serve.envelope import decode_request
from genai_serve.errors import InputError

IMG = ("file", "image")


def test_parsed_json_body_becomes_params():
    assert decode_request({"body": {"num_samples": 3}}).params == {"num_samples": 3}


def test_json_bytes_as_sent_over_grpc_or_without_content_type():
    assert decode_request({"data": b' {"num_samples": 3}'}).params == {"num_samples": 3}


def test_malformed_json_is_a_400_on_the_body():
    with pytest.raises(InputError) as err:
        decode_request({"body": b'{"num_samples": '})
    assert err.value.field == "body" and "not valid JSON" in err.value.message


def test_non_json_body_for_a_json_model_is_refused():
    with pytest.raises(InputError, match="JSON object"):
        decode_request({"body": b"\x89PNG..."})


def test_json_array_is_not_an_object():
    with pytest.raises(InputError, match="JSON object"):
        decode_request({"body": [1, 2]})


def test_raw_bytes_for_an_image_model():
    got = decode_request({"body": b"\x89PNG\r\n"}, IMG)
    assert got.raw == b"\x89PNG\r\n" and got.params == {}


def test_multipart_file_field_and_form_params():
    got = decode_request({"file": b"\xff\xd8jpeg", "topk": b"5"}, IMG)
    assert got.raw == b"\xff\xd8jpeg" and got.raw_field == "file" and got.params == {"topk": "5"}


def test_base64_image_inside_json():
    payload = base64.b64encode(b"\x89PNGdata").decode()
    got = decode_request({"body": {"image": payload, "topk": 2}}, IMG)
    assert got.raw == b"\x89PNGdata" and got.raw_field == "image" and got.params == {"topk": 2}


def test_bad_base64_names_the_field():
    with pytest.raises(InputError) as err:
        decode_request({"body": {"image": "!!not base64!!"}}, IMG)
    assert err.value.field == "image"


def test_non_utf8_query_parameter():
    with pytest.raises(InputError) as err:
        decode_request({"body": b"", "seed": b"\xff\xfe"})
    assert err.value.field == "seed"


def test_empty_body_means_defaults():
    assert decode_request({"body": b""}).params == {}


def test_json_nested_deeper_than_the_parser_can_recurse_is_a_400_not_a_crash():
    # Found by the hostile-input suite: json.loads raised RecursionError, which escaped as TorchServe's 503.
    with pytest.raises(InputError) as err:
        decode_request({"body": b"[" * 5000 + b"]" * 5000})
    assert err.value.field == "body" and "too deeply" in err.value.message


def test_an_integer_too_long_for_python_is_a_400_naming_the_body_not_a_crash():
    # Found by the generated hostile corpus: json.loads raises a plain ValueError for an integer
    # literal over Python's 4,300-digit limit, which escaped the envelope and became a 500.
    with pytest.raises(InputError) as err:
        decode_request({"body": b'{"seed": ' + b"9" * 5000 + b"}"})
    assert err.value.field == "body" and "number" in err.value.message
