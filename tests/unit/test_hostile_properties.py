"""Property-based hostile input (hypothesis) and the generated hostile corpus, offline.

Whatever JSON a client sends, every registry model's schema either accepts it or refuses it with an InputError
naming one of its fields, and a handler answers every request of a batch with 200 or a 4xx. The corpus that
`make reliability` sends (loadtests/reliability/hostile.py) has 500+ cases per model, the same ones every run,
covers every registry field, and every case is what it says: refused by the layer it names (the real envelope
and validator are called here), or valid."""
import email.parser
import importlib
import json
import subprocess
import sys
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genai_serve.envelope import decode_request
from genai_serve.errors import InputError
from genai_ops.registry import REPO_ROOT, load_registry
from loadtests.reliability.hostile import CORPUS_SIZE, SHORT, cases_for, fingerprint, sample
from loadtests.reliability.case import base_params
from loadtests.reliability.strategies import invalid, json_values, odd_text
from genai_serve.schema import build_request_model, validate
from loadtests.peer_common import worker_value  # what TorchServe hands a worker for one body or part

REGISTRY = load_registry()
CORPUS = {name: cases_for(spec) for name, spec in REGISTRY.items()}


@settings(max_examples=300, deadline=None)
@given(model=st.sampled_from(sorted(REGISTRY)), data=st.data())
def test_any_json_object_is_accepted_or_refused_naming_a_field_of_the_schema(model, data):
    spec = REGISTRY[model]
    keys = st.sampled_from(sorted(spec.request)) | st.text(max_size=8) if spec.request else st.text(max_size=8)
    params = data.draw(st.dictionaries(keys, json_values, max_size=5))
    model_cls = build_request_model(model, spec.request)
    try:
        validate(model_cls, spec.request, params)
    except InputError as exc:
        assert exc.status == 400
        assert str(exc.field).split(".")[0] in spec.request, exc.field
        assert exc.message.startswith(str(exc.field))


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=400) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_body_decodes_or_is_a_400_naming_the_body(body):
    try:
        decode_request({"body": body})
    except InputError as exc:
        assert exc.status == 400 and exc.field == "body"


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_value_the_strategies_call_invalid_is_refused_naming_its_field_and_odd_text_is_valid(data):
    """The corpus draws a few hundred values per field from these strategies with fixed seeds; here hypothesis
    draws fresh ones every run, through JSON as a client sends them."""
    spec = REGISTRY[data.draw(st.sampled_from(sorted(REGISTRY)))]
    name = data.draw(st.sampled_from(sorted(spec.request)))
    model_cls, field = build_request_model(spec.name, spec.request), spec.request[name]
    what, value = data.draw(invalid(field))
    with pytest.raises(InputError) as err:
        validate(model_cls, spec.request, json.loads(json.dumps({**base_params(spec), name: value})))
    assert str(err.value.field).split(".")[0] == name, (what, value, err.value.message)
    if field["type"] == "str" and "choices" not in field:
        validate(model_cls, spec.request, {**base_params(spec), name: data.draw(odd_text(field))})


# -- the generated corpus --------------------------------------------------------------------------------------
def test_every_model_gets_500_or_more_distinct_cases():
    assert CORPUS_SIZE >= 500
    for name, cases in CORPUS.items():
        assert len(cases) >= 500, name
        assert len({c.label for c in cases}) == len(cases), f"{name}: labels must name one case each"
        assert len({(c.body, c.content_type) for c in cases}) == len(cases), f"{name}: a request sent twice"


def test_the_corpus_and_its_short_sample_are_the_same_on_every_run():
    """Same seeds, same cases: here (a process that has imported much of the project, which hypothesis would
    otherwise mine for constants) and in a fresh process that imports only the corpus, as `make reliability`."""
    spec = REGISTRY["gpt2_qa"]  # the most fields and kinds
    assert cases_for(spec) == CORPUS["gpt2_qa"]
    assert sample(cases_for(spec)) == sample(CORPUS["gpt2_qa"])
    fresh = subprocess.run([sys.executable, "-c", (
        "from genai_ops.registry import load_registry; from loadtests.reliability.hostile import cases_for, "
        "fingerprint; print([fingerprint(cases_for(spec)) for spec in load_registry().values()])")],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=300)
    assert fresh.stdout.strip() == str([fingerprint(cases) for cases in CORPUS.values()])


def test_the_short_sample_has_every_kind_of_case():
    for name, cases in CORPUS.items():
        short = sample(cases)
        assert len(short) == SHORT
        assert {c.kind for c in short} == {c.kind for c in cases}, name


def test_every_registry_field_gets_values_its_schema_refuses():
    for name, spec in REGISTRY.items():
        for field in spec.request:
            refused = [c for c in CORPUS[name] if c.expected == field and c.refused_by == "schema"]
            assert len(refused) >= 12, (name, field)


def _binary_fields(spec) -> tuple[str, ...]:
    """The model's handler class's `binary_fields` (the fields holding file content; image models only)."""
    module = importlib.import_module(spec.handler.removesuffix(".py").replace("/", "."))
    return max((getattr(v, "binary_fields", ()) for v in vars(module).values() if isinstance(v, type)), key=len)


def handler_request(case) -> dict | None:
    """The request dict a handler receives for a case, as TorchServe 0.12 builds it (InferenceRequestHandler:
    a form or multipart body becomes one entry per field; anything else is "body", typed by its MIME type
    without parameters); None where TorchServe answers itself."""
    if case.refused_by == "torchserve":
        return None
    mime = case.content_type.split(";")[0].strip().lower()
    if mime == "application/x-www-form-urlencoded":
        return {k: v.encode() for k, v in parse_qsl(case.body.decode(), keep_blank_values=True)}
    if mime == "multipart/form-data" and "boundary=" in case.content_type:
        message = email.parser.BytesParser().parsebytes(
            f"Content-Type: {case.content_type}\r\n\r\n".encode() + case.body)
        return {part.get_param("name", header="content-disposition"):
                worker_value(part.get_payload(decode=True), part.get_content_type() if part["content-type"] else "")
                for part in message.get_payload()}
    return {"body": worker_value(case.body, mime)}


@pytest.mark.parametrize("model", list(REGISTRY))
def test_every_case_is_refused_by_the_layer_it_names_or_is_valid(model):
    """The cases may not pass by being fine: each "invalid by construction" one really fails the envelope or the
    schema (the real decode_request and validate, naming the case's field), one the model must refuse passes
    both (the model's own parsing refuses it), and one marked valid passes both."""
    from genai_serve.imaging import decode_image

    spec = REGISTRY[model]
    model_cls, binary = build_request_model(model, spec.request), _binary_fields(spec)
    for case in CORPUS[model]:
        request = handler_request(case)
        if request is None:
            continue
        try:
            decoded = decode_request(request, binary)
        except InputError as exc:
            assert case.refused_by == "envelope", (case.label, exc.message)
            assert str(exc.field).split(".")[0] == case.expected, (case.label, exc.field, case.expected)
            continue
        try:
            validate(model_cls, spec.request, decoded.params)
        except InputError as exc:
            assert case.refused_by == "schema", (case.label, exc.message)
            assert str(exc.field).split(".")[0] == case.expected, (case.label, exc.field, case.expected)
            continue
        assert case.refused_by in ("model", ""), (case.label, "passes the envelope and the schema")
        if case.refused_by == "model" and binary and decoded.raw is not None:  # the image decoder refuses it
            with pytest.raises(InputError) as err:
                decode_image(decoded.raw, decoded.raw_field)
            assert err.value.field == case.expected, case.label


def test_valid_cases_on_iterative_models_ask_for_the_least_work():
    """A valid case runs: on gpt2_qa, diffusion and ebm it must ask for one image, one step, one new token."""
    for name, spec in REGISTRY.items():
        if not spec.continuous:
            continue
        work = {k: spec.request[k]["min"] for k, v in spec.sample["json"].items()
                if spec.request[k]["type"] == "int" and "min" in spec.request[k] and k != "seed"}
        model_cls = build_request_model(name, spec.request)
        for case in CORPUS[name]:
            request = handler_request(case)
            if not case.accepts or request is None:
                continue
            params = validate(model_cls, spec.request, decode_request(request).params)
            for field, least in work.items():
                assert getattr(params, field) in (least, None), (name, case.label, field)


def test_a_gan_batch_of_arbitrary_bodies_answers_each_with_200_or_400(handler_factory):
    handler, ctx = handler_factory("gan")  # one worker for every example, as in TorchServe

    @settings(max_examples=60, deadline=None)
    @given(bodies=st.lists(st.dictionaries(st.sampled_from(["num_samples", "seed", "return", "x"]), json_values,
                                           max_size=3), min_size=1, max_size=6))
    def check(bodies):
        ctx.status.clear()
        out = handler.handle([{"body": b} for b in bodies], ctx)
        assert len(out) == len(bodies)
        for i in range(len(bodies)):
            assert ctx.status[i][0] in (200, 400), (bodies[i], out[i])

    check()
