"""clause_gen: open-vocabulary answers that only reading finds, spans, seeds, and nothing of reading_gen's held-out
shapes or phrasings (the template-disjoint set must stay disjoint from all training data)."""
import re

import pytest

from training import clause_gen, gpt2_axes, reading_gen


@pytest.fixture(scope="module")
def train():
    return clause_gen.build(splits={"train": 500})["train"]


def rows(doc):
    return [(p["context"], qa) for d in doc["data"] for p in d["paragraphs"] for qa in p["qas"]]


def test_every_answer_is_a_span_and_the_output_is_seeded(train):
    for context, qa in rows(train):
        a = qa["answers"][0]
        assert context[a["answer_start"]:a["answer_start"] + len(a["text"])] == a["text"]
    assert train["version"] == clause_gen.VERSION
    assert clause_gen.build(splits={"train": 500})["train"] == train
    assert clause_gen.build(seed=1, splits={"train": 500})["train"] != train


def test_answers_are_open_vocabulary_so_a_guess_of_the_right_kind_fails(train):
    # the things asked for by "What did/does X <verb>?" (once per paragraph), against the distinct strings among them
    objects = {(c, qa["answers"][0]["text"]) for c, qa in rows(train) if re.match(r"What (did|does) .+ \w+\?$", qa["question"])}
    assert len(objects) >= 200
    assert len({answer for _, answer in objects}) >= 0.9 * len(objects)  # nearly all unique: no list to guess from
    firsts = {qa["question"].split()[0] for _, qa in rows(train)}
    assert {"What", "Who", "Where", "When", "How"} <= firsts


def test_nothing_of_reading_gens_held_out_shapes_or_phrasings_is_written(train):
    texts = [c for c, _ in rows(train)] + [qa["question"] for _, qa in rows(train)]
    for marker in clause_gen.HELD_OUT_MARKERS:
        assert not [t for t in texts if marker in t], marker
    # every held-out question phrasing of reading_gen, its fields as wildcards, matches no question written here
    # (a question that fits a training phrasing too, such as "What was hidden by Grandpa Jeff?", is one of those)
    def patterns(split):
        return [gpt2_axes.template_pattern(q)
                for spec in reading_gen.RELATIONS.values() for q, _ in reading_gen.usable(spec["questions"], "questions", split)]

    held, trained = patterns("dev"), patterns("train")
    questions = [gpt2_axes.lower_first(qa["question"]) for _, qa in rows(train)]
    assert not [q for q in questions if any(p.match(q) for p in held) and not any(p.match(q) for p in trained)]


def test_the_question_words_pick_between_similar_facts(train):
    """Paragraphs with two people doing the same verb exist, and their who-questions name the object."""
    both = 0
    for context, qa in rows(train):
        m = re.match(r"Who (\w+) the", qa["question"])
        if m and context.count(f" {m.group(1)} ") >= 2:
            both += 1
    assert both >= 10


def test_each_question_kind_is_asked_in_several_wordings(train):
    """A reader must map new question words onto the fact they ask for: the same kind comes in several wordings."""
    questions = [qa["question"] for _, qa in rows(train)]
    for wordings in (["Where ", "In what place ", "Whereabouts ", "At what spot "],
                     ["What did ", "What tool did ", "With what did "],
                     ["Who did ", "With whom did ", "For whom did "],
                     ["When did ", "On which day ", "On what day ", "What time "]):
        seen = [w for w in wordings if any(q.startswith(w) for q in questions)]
        assert len(seen) >= len(wordings) - 1, (wordings, seen)
    assert any(q.startswith("By whom was ") for q in questions)


def test_the_subject_is_not_always_the_sentence_start(train):
    """Fronted adjuncts and lead-in phrases, one subject with two predicates, the past perfect."""
    sentences = [s for c, _ in rows(train) for s in re.split(r"(?<=\.) ", c)]
    assert any(s.startswith(tuple(clause_gen.LEAD_INS)) for s in sentences)
    assert any(re.match(r"(With|Using|On|In|Behind|Near|For) [^,]+, [A-Z]", s) for s in sentences)
    assert any(" and then " in s or ", and later " in s for s in sentences)
    assert any(" had " in s for s in sentences)


def test_who_did_what_to_whom_is_asked_when_the_sentence_starts_with_the_other_person(train):
    """"Pavel bought a kettle from Dara" / "Who sold the kettle to Pavel?" -> Dara; "Pavel was visited by Dara"
    / "Who visited Pavel?" -> Dara: the sentence's first name is not always the one asked for."""
    def asked_about_the_one_after(pattern):
        return [qa for context, qa in rows(train) if qa["question"].startswith("Who ") and
                re.search(pattern.format(re.escape(qa["answers"][0]["text"])), context)]

    assert len(asked_about_the_one_after(r"\b(bought|borrowed|rented|got) [^.]+ from {}\.")) >= 5
    assert len(asked_about_the_one_after(r"\bwas \w+ by {}\b")) >= 10
