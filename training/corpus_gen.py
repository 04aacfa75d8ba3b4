"""The project's own English corpus: seeded stories, letters, recipes and descriptions from a small grammar.

No public-domain text ships with an installed package here, and no dataset host is reachable, so the
project writes its corpus itself (data/README.md). One line is one text. Each story keeps its cast
(name, role, pronoun, companion animal, home) across ten or so sentences: a word-level LSTM can use that
context, a bigram cannot. The same slots are filled by words of one kind (roles, animals, foods, places),
which is what gives the word vectors their neighbours.

    python -m training.corpus_gen                      # rewrites data/corpus/stories.txt (deterministic)
    python -m training.corpus_gen --check              # exit 1 unless the committed file is what we generate
"""
from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

from training import corpus_lexicon as L

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "data" / "corpus" / "stories.txt"
DEFAULT_TEXTS, DEFAULT_SEED = 1500, 2024
PRONOUNS = {"f": ("she", "her", "her"), "m": ("he", "him", "his")}  # subject, object, possessive


def a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


class Character:
    def __init__(self, rng: random.Random):
        self.role, gender = rng.choice(L.ROLES)
        self.gender = gender if gender != "x" else rng.choice("fm")
        self.name = rng.choice(L.FEMALE_NAMES if self.gender == "f" else L.MALE_NAMES).capitalize()
        self.he, self.him, self.his = PRONOUNS[self.gender]
        self.adj = rng.choice(L.ADJ_PERSON)
        self.animal = rng.choice(list(L.ANIMALS))
        self.pet = rng.choice(L.PET_NAMES).capitalize()
        self.home = rng.choice(L.HOMES)
        self.landmark = rng.choice(L.LANDMARKS)
        self.place_name = (rng.choice(L.PLACE_START) + rng.choice(L.PLACE_END)).capitalize()


class Writer:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def pick(self, seq):
        return self.rng.choice(seq)

    # -- stories (most of the corpus) -------------------------------------------------------------
    def story(self) -> str:
        c = Character(self.rng)
        plural, sound, habit = L.ANIMALS[c.animal]
        s = [self.pick([
            f"Once upon a time there was {a(c.adj)} {c.role} named {c.name} who lived in {a(self.pick(L.SIZES))} "
            f"{c.home} near the {c.landmark}.",
            f"Long ago, in {a(c.home)} by the {c.landmark}, lived {a(c.adj)} {c.role} called {c.name}.",
            f"{c.name} was {a(c.adj)} {c.role} from the {c.home} of {c.place_name}.",
        ])]
        s.append(self.pick([f"{c.he.capitalize()} had {a(self.pick(L.ADJ_ANIMAL))} {c.animal} called {c.pet}, who {habit}.",
                            f"{c.his.capitalize()} only friend was {a(c.animal)} named {c.pet}, who {habit}."]))
        s.append(f"Every {self.pick(L.TIMES)}, {c.name} {self.routine(c)}.")
        s.append(f"It was {self.pick(L.SEASONS)}, and {self.pick(L.WEATHER)}.")
        s += self.pick([self.stranger_arrives, self.pet_is_lost, self.finds_object])(c)
        s += self.journey(c, sound)
        s.append(self.ending(c))
        return " ".join(s)

    def routine(self, c: Character) -> str:
        animal2 = self.pick([x for x in L.ANIMALS if x != c.animal])
        fam, _ = self.pick(L.FAMILY)
        return self.pick(L.ROUTINES).format(place=self.pick(L.PLACES), food=self.pick(L.FOODS), home=c.home,
                                            topic=self.pick(L.TOPICS), animals=L.ANIMALS[c.animal][0],
                                            animals2=L.ANIMALS[animal2][0], landmark=c.landmark, poss=c.his,
                                            obj=self.pick(L.OBJECTS), family=fam)

    def stranger_arrives(self, c: Character) -> list[str]:
        royal, g = self.pick(L.ROYALS)
        obj = self.pick(L.OBJECTS)
        region = self.pick(L.REGIONS)
        return [f"One {self.pick(L.TIMES)}, a stranger came to the {c.home} with {a(self.pick(L.ADJ_THING))} {obj}.",
                f"{self.pick(L.GREETINGS).capitalize()}, said the stranger to {c.name}.",
                f"The {royal} of the {region} has lost {PRONOUNS[g][2]} {self.pick(L.OBJECTS)}, and only you can find it.",
                f"{c.name} was {self.pick(L.EMOTIONS)}, but {c.he} said yes."]

    def pet_is_lost(self, c: Character) -> list[str]:
        return [f"One {self.pick(L.TIMES)}, {c.pet} the {c.animal} did not come home.",
                f"{c.name} looked in the {self.pick(L.PLACES)} and in the {self.pick(L.PLACES)}, but the {c.animal} was not there.",
                f"An old {self.pick(['man', 'woman'])} told {c.him} that {a(c.animal)} had gone towards the "
                f"{self.pick(L.DESTINATIONS)}.",
                f"{c.name} was {self.pick(L.EMOTIONS)}, so {c.he} packed some {self.pick(L.FOODS)} and set out at once."]

    def finds_object(self, c: Character) -> list[str]:
        obj = self.pick(L.OBJECTS)
        return [f"One day, {c.name} found {a(self.pick(L.ADJ_THING))} {obj} in the {self.pick(L.PLACES)}.",
                f"On the {obj} was a picture of the {self.pick(L.DESTINATIONS)} and a {self.pick(L.COLORS)} star.",
                f"{c.he.capitalize()} showed it to {c.his} {self.pick(L.FAMILY)[0]}, who said it belonged to the "
                f"{self.pick(L.ROYALS)[0]}.",
                f"So {c.name} decided to take the {obj} back, and {c.pet} the {c.animal} went with {c.him}."]

    def journey(self, c: Character, sound: str) -> list[str]:
        dest = self.pick(L.DESTINATIONS)
        royal, g = self.pick(L.ROYALS)
        creature = self.pick(L.CREATURES)
        return [f"{c.name} and {c.pet} {self.pick(L.TRAVEL)} through the {self.pick(L.TERRAIN)} and over the "
                f"{self.pick(L.TERRAIN)} for {self.pick(L.NUMBERS)} days.",
                f"On the way they met {creature}, and the {c.animal} {sound} loudly.",
                self.pick([f"But {c.name} was {self.pick(L.EMOTIONS)} and spoke kindly, so they were allowed to pass.",
                           f"{c.name} shared {c.his} {self.pick(L.FOODS)}, and in return they were shown the way.",
                           f"{c.name} was {self.pick(L.EMOTIONS)}, but {c.he} did not turn back."]),
                f"At last they reached the {dest}, where the {royal} was waiting for them.",
                f"The {royal} thanked {c.name} and gave {c.him} {self.pick(L.REWARDS)}."]

    def ending(self, c: Character) -> str:
        return self.pick([
            f"Then {c.name} went home to the {c.home}, and {c.he} never forgot the journey.",
            f"From that day on, {c.name} and {c.pet} lived happily in the {c.home} by the {c.landmark}.",
            f"When {c.name} came back, the whole {c.home} had a feast, and the {c.animal} slept for {self.pick(L.NUMBERS)} days.",
            f"{c.name} said goodbye to the {self.pick(L.ROYALS)[0]} and walked home, tired but {self.pick(L.EMOTIONS)}.",
        ])

    # -- other kinds of text, for variety ------------------------------------------------------------
    def letter(self) -> str:
        fam, g = self.pick(L.FAMILY)
        me = Character(self.rng)
        return " ".join([
            f"Dear {fam}, {self.pick(['thank you for', 'i am writing about'])} the {self.pick(L.OBJECTS)} you sent last "
            f"{self.pick(L.DAYS)}.",
            f"Here in the {me.home} it is {self.pick(L.SEASONS)}, and {self.pick(L.WEATHER)}.",
            f"My {me.animal} {me.pet} is {self.pick(L.EMOTIONS)}, and the {L.ANIMALS[self.pick(list(L.ANIMALS))][0]} "
            f"in the {self.pick(L.PLACES)} are {self.pick(L.EMOTIONS)} too.",
            f"Yesterday I {self.first_person(me)}.",
            f"Please say {self.pick(['hello', 'goodbye', 'thank you'])} to the {self.pick(L.ROLES)[0]} for me.",
            f"{self.pick(L.FAREWELLS).capitalize()} for now, and {self.pick(['with love', 'your friend', 'yours truly'])}, {me.name}.",
        ])

    def first_person(self, c: Character) -> str:
        """A routine as the letter's writer tells it: "mended his coat" -> "mended my coat"."""
        return re.sub(rf"\b{c.his}\b", "my", self.routine(c))

    def recipe(self) -> str:
        food, f2, f3 = self.rng.sample(L.FOODS, 3)
        return " ".join([
            f"How to make {food} {self.pick(['pie', 'soup', 'cake', 'bread'])}.",
            f"First, take {self.pick(L.NUMBERS)} cups of {f2} and a little {f3}.",
            f"Mix them in a {self.pick(['bowl', 'pot', 'pan'])} and add the {food}.",
            f"Cook it for {self.pick(L.NUMBERS)} minutes, until it is {self.pick(['soft', 'golden', 'brown', 'warm'])}.",
            f"Serve it with {self.pick(L.FOODS)} on a cold {self.pick(L.SEASONS)} {self.pick(L.TIMES)}.",
        ])

    def description(self) -> str:
        c = Character(self.rng)
        animal = self.pick(list(L.ANIMALS))
        plural, sound, habit = L.ANIMALS[animal]
        return " ".join([
            f"The {c.home} of {c.place_name} lies in the {self.pick(L.REGIONS)}, between the {c.landmark} and the "
            f"{self.pick(L.LANDMARKS)}.",
            f"In {self.pick(L.SEASONS)} {self.pick(L.WEATHER)}, and the {plural} {sound} in the {self.pick(L.PLACES)}.",
            f"The people there are {self.pick(L.ADJ_PERSON)} and {self.pick(L.ADJ_PERSON)}, and most of them are "
            f"{self.pick(L.ROLES)[0]}s or {self.pick(L.ROLES)[0]}s.",
            f"Every {self.pick(L.DAYS)} there is a market where you can buy {self.pick(L.FOODS)}, "
            f"{self.pick(L.FOODS)} and {self.pick(L.COLORS)} {self.pick(L.OBJECTS)}s.",
        ])

    def text(self) -> str:
        kind = self.rng.random()
        if kind < 0.7:
            return self.story()
        return self.letter() if kind < 0.8 else self.recipe() if kind < 0.9 else self.description()


def generate(n_texts: int = DEFAULT_TEXTS, seed: int = DEFAULT_SEED) -> list[str]:
    writer = Writer(seed)
    return [writer.text() for _ in range(n_texts)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_PATH)
    p.add_argument("--texts", type=int, default=DEFAULT_TEXTS)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = p.parse_args(argv)
    text = "\n".join(generate(args.texts, args.seed)) + "\n"
    if args.check:
        same = args.out.exists() and args.out.read_text() == text
        print(f"{args.out}: {'matches' if same else 'DIFFERS from'} the generator")
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}: {text.count(chr(10))} texts, {len(text.split())} words, {len(text.encode())} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
