"""Hypothesis strategies for request values, from a registry field spec (the facts genai_serve/schema.py
validates), plus `draw`, which takes examples from a strategy deterministically.

The hostile corpus (hostile.py) draws its field values here and the property tests
(tests/unit/test_hostile_properties.py) run on the same strategies, so "what a bad value is" is written once.

`invalid(spec)` gives (what, value) pairs the field's schema must refuse: values just outside every bound, the
wrong JSON type, a non-choice, null where the field is not nullable. `odd_text(spec)` gives VALID strings for a
text field that are odd in content (control characters, other scripts), which the schema must accept.
The schema's lax coercions are respected on purpose: an int field accepts 4.0 and "4" and a bool field "yes" or
1, so those never appear as "invalid" (tests/unit/test_hostile_properties.py checks every drawn value against
the real validator).
"""
from __future__ import annotations

import string
from contextlib import contextmanager

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

# Any JSON value: what a client can put anywhere in a body.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
containers = st.lists(json_values, max_size=3) | st.dictionaries(st.text(max_size=8), json_values, max_size=3)
# Letters only: never a number in any spelling pydantic reads ("4", " 4", "1e3"); "inf"/"nan" can occur and
# are refused by every numeric field anyway (allow_inf_nan is off).
words = st.text(alphabet=string.ascii_letters + "-_", min_size=1, max_size=12)
non_finite = st.sampled_from([float("nan"), float("inf"), float("-inf")])
# The strings pydantic's lax bool accepts (lower-cased, stripped): never "invalid" for a bool field.
BOOL_WORDS = {"0", "off", "f", "false", "n", "no", "1", "on", "t", "true", "y", "yes"}


def _bounds(spec: dict) -> tuple:
    """(low, low is exclusive, high, high is exclusive) of a numeric spec; None where unbounded."""
    low = spec.get("exclusive_min", spec.get("min"))
    high = spec.get("exclusive_max", spec.get("max"))
    return low, "exclusive_min" in spec, high, "exclusive_max" in spec


def _number(spec: dict) -> list[tuple[str, st.SearchStrategy]]:
    low, low_open, high, high_open = _bounds(spec)
    out = [("non-finite", non_finite), ("boolean", st.booleans()), ("text", words)]
    if spec["type"] == "int":
        # A float with a fraction is no integer; an integral one (4.0) is accepted, so never drawn.
        finite = st.floats(allow_nan=False, allow_infinity=False)
        out.append(("fractional", finite.filter(lambda x: not x.is_integer())))
        if low is not None:
            below = st.integers(max_value=low if low_open else low - 1)
            out += [("below min", below), ("below min as text", below.map(str))]  # as a form field sends it
        if high is not None:
            above = st.integers(min_value=high if high_open else high + 1)
            out += [("above max", above), ("above max as text", above.map(str))]
    else:
        if low is not None:
            out.append(("below min", st.floats(max_value=low, exclude_max=not low_open, allow_nan=False)))
        if high is not None:
            out += [("above max", st.floats(min_value=high, exclude_min=not high_open, allow_nan=False)),
                    ("above max, an integer", st.integers(min_value=int(high) + 1))]
    if "choices" in spec:
        out.append(("not a choice", st.integers().filter(lambda x: x not in spec["choices"])))
    return out


def _text(spec: dict) -> list[tuple[str, st.SearchStrategy]]:
    out = [("not a string", st.integers() | st.floats() | st.booleans())]
    if spec.get("max_length") is not None:
        limit = spec["max_length"]
        # A short piece repeated past the limit: hypothesis need not build one 8,000-character string.
        out.append(("too long", st.tuples(st.text(min_size=1, max_size=8), st.integers(1, 50))
                    .map(lambda t: t[0] * (limit // len(t[0]) + 1) + "x" * t[1])))
    if spec.get("min_length"):
        out.append(("empty", st.just("")))
    if "choices" in spec:
        out.append(("not a choice", st.text(max_size=20).filter(lambda s: s not in spec["choices"])))
    return out


def _boolean(spec: dict) -> list[tuple[str, st.SearchStrategy]]:
    return [("number", st.integers().filter(lambda x: x not in (0, 1))
             | st.floats().filter(lambda x: x not in (0.0, 1.0))),
            ("text", st.text(max_size=12).filter(lambda s: s.strip().lower() not in BOOL_WORDS))]


def valid_item(spec: dict) -> st.SearchStrategy:
    """One valid item of a list field (only str items are in the registry today)."""
    kind = spec.get("items", "str")
    if kind != "str":
        raise NotImplementedError(f"list items of type {kind}: add their strategy here")
    return st.text(min_size=max(1, spec.get("min_length", 0)), max_size=min(spec.get("max_length", 20), 20))


def _list(spec: dict) -> list[tuple[str, st.SearchStrategy]]:
    item_spec = {k: v for k, v in spec.items() if k not in ("items", "min_items", "max_items", "default", "required")}
    item_spec["type"] = spec.get("items", "str")
    bad_items = st.one_of(*(s for _, s in _by_type(item_spec)), st.none())
    scalars_and_objects = st.integers() | st.booleans() | st.text(max_size=20) | st.dictionaries(words, json_values,
                                                                                               max_size=2)
    out = [("not a list", scalars_and_objects),
           ("a bad item", st.tuples(st.lists(valid_item(spec), max_size=4), bad_items, st.integers(0, 4))
            .map(lambda t: t[0][: t[2]] + [t[1]] + t[0][t[2]:]))]
    if spec.get("max_items") is not None:
        n = spec["max_items"]
        out.append(("too many items", st.lists(valid_item(spec), min_size=n + 1, max_size=n + 5)))
    if spec.get("min_items"):
        out.append(("empty list", st.just([])))
    return out


def _by_type(spec: dict) -> list[tuple[str, st.SearchStrategy]]:
    return {"int": _number, "float": _number, "str": _text, "bool": _boolean, "list": _list}[spec["type"]](spec)


def invalid(spec: dict) -> st.SearchStrategy:
    """(what, value): a value this field's schema refuses, whatever else the body holds."""
    parts = _by_type(spec)
    if spec["type"] != "list":
        parts.append(("array or object", containers))
    if spec.get("default") is not None or spec.get("required"):
        parts.append(("null", st.none()))  # null is only valid for optional fields without a default
    return st.one_of(*(st.tuples(st.just(what), values) for what, values in parts))


def odd_text(spec: dict) -> st.SearchStrategy:
    """A valid value for a free-text field (no choices) that is odd in content: control characters, NUL,
    other scripts. Never a lone surrogate (those are not text; the corpus sends them as invalid)."""
    chars = st.characters(codec="utf-8") | st.sampled_from("\x00\x01\x07\x08\x0b\x0c\x1b\x7f\u200b\u202e\ufeff")
    low, high = max(1, spec.get("min_length", 0)), min(spec.get("max_length") or 40, 40)
    return st.text(alphabet=chars, min_size=low, max_size=high)


def draw(strategy: st.SearchStrategy, n: int, at: int) -> list:
    """Up to n examples of strategy, the same ones on every run and machine: hypothesis generates them from the
    seed `at` (no example database, generate phase only). `strategy.example()` would draw fresh ones each call."""
    out: list = []

    @seed(at)
    @settings(max_examples=n, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value):
        out.append(value)

    with _without_local_constants():
        collect()
    return out


@contextmanager
def _without_local_constants():
    """Hypothesis mixes literals found in the project's imported modules into what it draws (its "local
    constants", hypothesis/internal/conjecture/providers.py), so the same seed drew a different corpus in a
    process that had imported more of the project (measured: the unit tests vs `make reliability`). Off while
    `draw` runs, by the module function the provider calls, with the cache of constants emptied around it.
    This reaches into hypothesis' internals (pinned in pyproject.toml); tests/unit/test_hostile_properties.py
    compares the corpus with one drawn in a fresh process, so a hypothesis upgrade that moves them fails there."""
    from hypothesis.internal.conjecture import providers

    saved = providers._get_local_constants
    providers._get_local_constants = lambda: providers.Constants()
    providers.CONSTANTS_CACHE.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = saved
        providers.CONSTANTS_CACHE.cache.clear()
