"""Property-based hostile input (hypothesis): whatever JSON a client sends, every registry model's schema
either accepts it or refuses it with an InputError naming one of its fields, and a handler answers every
request of a batch with 200 or a 4xx, never anything else."""
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from genai_serve.envelope import decode_request
from genai_serve.errors import InputError
from genai_serve.registry import load_registry
from genai_serve.reliability.hostile import cases_for
from genai_serve.schema import build_request_model, validate

REGISTRY = load_registry()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


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


def test_every_corpus_case_is_refused_by_the_schema_or_the_envelope():
    """The hostile corpus (used over HTTP by the e2e suite) must be invalid by construction."""
    for spec in REGISTRY.values():
        model_cls = build_request_model(spec.name, spec.request)
        for case in cases_for(spec):
            if case.content_type != "application/json" or case.expected not in spec.request:
                continue  # refused by the envelope or the image decoder, not the schema
            try:
                validate(model_cls, spec.request, json.loads(case.body))
            except InputError as exc:
                assert str(exc.field).split(".")[0] == case.expected, (spec.name, case.label, exc.field)
                continue
            # Valid for the schema: the model's own parse must refuse it (e.g. embeddings' forms)
            assert spec.name == "embeddings" or case.label.endswith("missing"), (spec.name, case.label)


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
