"""The project's own SQuAD-format question-answering set: thousands of generated paragraphs whose answers
can only be found by reading them.

No dataset host is reachable here, so `gpt2_qa`'s offline default is trained on extractive QA the project
generates. Each paragraph describes one or two characters (name, role, home and its place name, landmark,
animal and its name, food, colour, object, friend) in sentences drawn from several phrasings, in any order;
each question asks for one fact in one of several phrasings, and the answer is a span of the context
(SQuAD v1.1 layout: `answer_start` is a character offset).

What makes a model copy instead of memorise: every person, pet, friend and place name is made fresh from
syllables per paragraph (tens of thousands of possible names), and a name belongs to exactly one split
(by a hash of its spelling), so a held-out question's answer is a name the model never saw in training.
Two-character paragraphs make the question's name matter: both characters have a home, a pet, a food.

    python -m training.squad_gen --out-dir DIR          # writes DIR/{train,dev}.json (deterministic)

`training.gpt2_data.load_examples(None, ...)` writes the default set under checkpoints/ on first use (it is
generated, not committed), then reads it like any SQuAD directory.
"""
from __future__ import annotations

import random
import sys
import zlib

from training import corpus_lexicon as L
from training import squad_files
from training.corpus_gen import PRONOUNS, a

VERSION = "squad_gen-4"  # bump when the generator's output changes: a stale generated set is rewritten
DEFAULT_SEED = 7
SPLITS = {"train": 20000, "dev": 200}  # paragraphs; 3 questions each (the dev split is the same at any train size)
QUESTIONS_PER_PARAGRAPH = 3
TWO_CHARACTER_SHARE = 0.35
HELD_OUT_BUCKETS = 5  # a name whose hash is 0 mod 5 is held-out only: about a fifth of all names

ONSETS = "b br c ch d dr f g gr h j k l m n p pr r s sh st t th tr v w z".split()
VOWELS = "a e i o u a e o ai ea ou".split()
CODAS = ["", "", "", "n", "r", "l", "s", "th", "m", "nd", "rk"]
PLACE_SUFFIX = L.PLACE_END + ["mere", "hollow", "gate", "wood"]
HOME_KINDS = ["village", "town", "city", "hamlet", "valley", "port"]


def split_of(name: str) -> str:
    return "dev" if zlib.crc32(name.lower().encode()) % HELD_OUT_BUCKETS == 0 else "train"


class Names:
    """Fresh syllable names, each used only in the split its hash assigns it to."""

    def __init__(self, rng: random.Random, split: str):
        self.rng, self.split = rng, split

    def _word(self, syllables: int) -> str:
        r = self.rng
        return "".join(r.choice(ONSETS) + r.choice(VOWELS) + r.choice(CODAS) for _ in range(syllables))

    def _fresh(self, make) -> str:
        while True:
            word = make().capitalize()
            if split_of(word) == self.split and 3 <= len(word) <= 12:
                return word

    def person(self) -> str:
        return self._fresh(lambda: self._word(self.rng.choice((2, 2, 3))))

    def pet(self) -> str:
        return self._fresh(lambda: self._word(self.rng.choice((1, 2))))

    def place(self) -> str:
        return self._fresh(lambda: self._word(self.rng.choice((1, 2))) + self.rng.choice(PLACE_SUFFIX))


class Person:
    def __init__(self, rng: random.Random, names: Names):
        self.role, gender = rng.choice(L.ROLES)
        gender = gender if gender != "x" else rng.choice("fm")
        self.he, self.him, self.his = PRONOUNS[gender]
        self.name, self.pet, self.friend = names.person(), names.pet(), names.person()
        self.adj = rng.choice(L.ADJ_PERSON)
        self.home = f"the {rng.choice(HOME_KINDS)} of {names.place()}"
        self.landmark = rng.choice(L.LANDMARKS)
        self.animal = rng.choice(list(L.ANIMALS))
        self.food, self.color, self.obj = rng.choice(L.FOODS), rng.choice(L.COLORS), a(rng.choice(L.OBJECTS))
        self.season = rng.choice(L.SEASONS)


def sentences(rng: random.Random, p: Person, full: bool) -> list[str]:
    """The facts about one person; the first sentence introduces the name. `full`: the pronoun is not
    enough to tell who a sentence is about (two characters), so every sentence names the person."""
    who = lambda: p.name if full or rng.random() < 0.5 else p.he.capitalize()  # noqa: E731
    whose = lambda: f"{p.name}'s" if full or rng.random() < 0.5 else p.his.capitalize()  # noqa: E731
    intro = rng.choice([
        f"{p.name} was {a(p.adj)} {p.role} who lived in {p.home}, near the {p.landmark}.",
        f"{p.name}, {a(p.adj)} {p.role}, lived in {p.home} by the {p.landmark}.",
        f"In {p.home}, near the {p.landmark}, there lived {a(p.adj)} {p.role} called {p.name}.",
        f"{p.name} lived in {p.home}. {p.his.capitalize()} house stood near the {p.landmark}, and {p.he} was {a(p.adj)} {p.role}.",
    ])
    facts = [
        rng.choice([f"{who()} had {a(p.animal)} named {p.pet}.", f"{whose()} {p.animal} was called {p.pet}.",
                    f"{who()} kept {a(p.animal)} called {p.pet}."]),
        rng.choice([f"Every {p.season} {p.name} made {p.food} for the whole village.",
                    f"In {p.season}, {p.name} liked to cook {p.food}."]),
        rng.choice([f"{whose()} favourite colour was {p.color}.", f"{who()} loved the colour {p.color} most of all."]),
        rng.choice([f"{who()} always carried {p.obj}.", f"{who()} never went out without {p.obj}."]),
        rng.choice([f"{whose()} best friend was {p.friend}.", f"{who()} was good friends with {p.friend}."]),
    ]
    rng.shuffle(facts)
    return [intro] + facts[: rng.randint(2, 4)]


def questions(rng: random.Random, p: Person, text: str) -> list[tuple[str, str]]:
    """(question, answer span) about facts the text states."""
    n = p.name
    pool = [
        (rng.choice([f"Where did {n} live?", f"Where was {n}'s home?", f"Which place was {n} from?"]), p.home),
        (rng.choice([f"What was the name of {n}'s {p.animal}?", f"What was {n}'s {p.animal} called?",
                     f"What was the name of the {p.animal}?"]), p.pet),
        (rng.choice([f"What kind of animal did {n} have?", f"What animal did {n} keep?"]), p.animal),
        (rng.choice([f"What did {n} make every {p.season}?", f"What did {n} cook in {p.season}?",
                     f"What food did {n} make?"]), p.food),
        (rng.choice([f"What was {n}'s favourite colour?", f"Which colour did {n} love?"]), p.color),
        (rng.choice([f"What did {n} always carry?", f"What did {n} carry?"]), p.obj),
        (rng.choice([f"Who was {n}'s best friend?", f"Who was {n} friends with?"]), p.friend),
        (rng.choice([f"Who was the {p.role} who lived near the {p.landmark}?", f"What was the name of the {p.adj} {p.role}?"]), n),
        (rng.choice([f"What was {n}'s home near?", f"What was near {n}'s house?"]), f"the {p.landmark}"),
        (rng.choice([f"What was {n}'s job?", f"What did {n} do for a living?"]), p.role),
    ]
    return [(q, ans) for q, ans in pool if ans in text]


def paragraph(rng: random.Random, names: Names) -> tuple[str, list[tuple[str, str]]]:
    cast = [Person(rng, names)]
    if rng.random() < TWO_CHARACTER_SHARE:
        other = Person(rng, names)
        while other.role == cast[0].role or other.animal == cast[0].animal or other.landmark == cast[0].landmark:
            other = Person(rng, names)
        cast.append(other)
    parts = [sentences(rng, p, full=len(cast) > 1) for p in cast]
    text = " ".join(s for part in parts for s in part)
    # One question per fact whose answer occurs once in the paragraph (a span is then unambiguous).
    pool = [(q, ans) for p in cast for q, ans in questions(rng, p, text) if text.count(ans) == 1 or ans == p.name]
    return text, rng.sample(pool, min(QUESTIONS_PER_PARAGRAPH, len(pool)))


def build(seed: int = DEFAULT_SEED, splits: dict[str, int] = SPLITS) -> dict[str, dict]:
    """{split: SQuAD v1.1-format dict}. Names are split-disjoint; ids are split-scoped and stable."""
    out = {}
    for split, n in splits.items():
        rng = random.Random(f"{seed}-{split}")
        names = Names(rng, split)
        data = []
        for p in range(n):
            context, qas = paragraph(rng, names)
            data.append(squad_files.paragraph_entry(split, p, context, qas))
        out[split] = squad_files.document(VERSION, seed, data)
    return out


if __name__ == "__main__":
    squad_files.cli(sys.modules[__name__])
