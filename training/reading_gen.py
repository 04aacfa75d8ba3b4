"""Extractive QA that teaches reading rather than one generator's world: many relations, many sentence shapes per
relation, several question phrasings each, names of many shapes and sources, and distractor facts.

training/squad_gen.py writes one small world (ten fact kinds, a few templates, syllable names); a model trained
only on it learns that world's templates. This generator widens every axis a reader meets in short everyday
paragraphs:

- relations: where someone lives, their job, what they made (baked, built, painted, wrote, ...), when, for whom,
  with what tool, what colour something of theirs was, what they gave to whom, whom they met where, their
  animal and its name, where they travelled and how;
- sentence shapes per relation: active and passive voice, fronted phrases, relative clauses, apposition, cleft
  sentences, two or three facts in one sentence;
- question phrasings per relation, asking for the object, the place, the time, the tool, or the person;
- names and places from Faker (first names, surnames and city names of many locales), common English words used
  as names ("Whisk", "Pepper", "Harbour"), and squad_gen's syllable names;
- distractors: paragraphs of one to three people who share relations (two people bake; one person bakes twice,
  on two days; two coats of two colours), so the question's words are needed to pick the fact, plus filler
  sentences that share words with the questions.

Splits. `train`: the TRAIN shapes and phrasings, names of the TRAIN locales and words whose hash is not held out.
`dev`: the template-disjoint held-out set: only the HELD-OUT sentence shapes and question phrasings (never used
in training), names and places only from OTHER Faker locales and held-out words (by the same hash rule as
squad_gen: a name whose crc32 is 0 mod 5 is never a training name). Every answer is a span of its context
(`answer_start` is its character offset); the output is seeded and versioned like squad_gen's.

    python -m training.reading_gen --out-dir DIR     # writes DIR/{train,dev}.json (deterministic)
"""
from __future__ import annotations

import random
import sys
import re
import zlib

from training import squad_files, squad_gen

VERSION = "reading_gen-2"  # bump when the output changes: a stale generated set is rewritten
DEFAULT_SEED = 11
SPLITS = {"train": 20000, "dev": 70}  # paragraphs (up to QUESTIONS_PER_PARAGRAPH questions each)
QUESTIONS_PER_PARAGRAPH = 3
HELD_OUT_BUCKETS = squad_gen.HELD_OUT_BUCKETS

# Faker locales: training names come from these, the template-disjoint set's from the others (another source).
TRAIN_LOCALES = ["en_US", "en_GB", "en_IE", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "sv_SE",
                 "pt_BR", "tr_TR"]
HELD_OUT_LOCALES = ["fi_FI", "cs_CZ", "hu_HU", "ro_RO", "da_DK", "no_NO", "hr_HR", "sk_SK", "et_EE", "sl_SI",
                    "lt_LT", "id_ID"]
NAME_RE = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ÿ'-]{2,13}$")
CITY_RE = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ÿ' -]{3,22}$")

# Common English words that are also names of people, pets or places ("Whisk", "Pepper", "Brook").
WORD_NAMES = """whisk rusk pepper clover maple brook river willow ash birch hazel ember sparrow robin wren lark
finch dove hawk fox badger otter bramble thistle fern moss pebble stone flint slate copper amber ruby jade pearl
coral sky storm rain frost snow winter summer autumn april june may august dawn honey ginger cinnamon nutmeg
sage basil rosemary olive plum cherry berry apple peach button biscuit cookie muffin pudding toffee fudge
marble chestnut acorn pine cedar oak rowan holly ivy heather daisy poppy lily iris rose violet meadow dale
glen heath moor ford bridge mill tower castle harbour anchor compass arrow archer hunter baker miller potter
carter fisher mason cooper taylor smith turner walker spencer parker chase hope joy grace faith patience
sunny breeze cloud misty shadow smoky sooty rusty dusty lucky chance scout ranger captain major bishop king
duke earl noble sterling silver goldie penny nickel cash bolt flash spark blaze comet star luna sol echo
quill ink page inkwell rook knight pawn tinker tailor sailor piper fiddler drummer""".split()

JOBS = """baker teacher nurse driver painter farmer plumber doctor pilot cook tailor carpenter gardener librarian
fisherman mechanic dentist singer writer potter butcher engineer waiter florist lawyer banker builder barber
cleaner guard judge miner sailor soldier vet chemist architect cashier clerk electrician photographer poet
shepherd weaver jeweller miller brewer nanny postman firefighter dancer actor drummer surgeon beekeeper
locksmith glassblower bookbinder ranger zookeeper optician""".split()

# verb (past, base, participle) -> things made with it: (noun, article) where article is "a", "an" or "" (mass/plural)
MAKE = {
    ("baked", "bake", "baked"): ["bread", "a cake", "a pie", "cookies", "muffins", "rolls", "biscuits", "scones",
                                 "a loaf", "a tart", "pretzels", "a pizza", "a birthday cake", "cinnamon buns"],
    ("built", "build", "built"): ["a shed", "a fence", "a boat", "a table", "a kite", "a birdhouse", "a wall",
                                  "a chair", "a treehouse", "a raft", "a bench", "a cabinet", "a sandcastle"],
    ("painted", "paint", "painted"): ["the fence", "the door", "a portrait", "the kitchen", "a picture", "the gate",
                                      "a mural", "the barn", "a landscape", "the ceiling", "the shutters"],
    ("wrote", "write", "written"): ["a letter", "a poem", "a song", "a book", "a report", "a story", "a postcard",
                                    "a speech", "a recipe", "a play", "a diary entry", "an essay"],
    ("sewed", "sew", "sewn"): ["a dress", "a coat", "a quilt", "a scarf", "a bag", "a curtain", "a shirt",
                               "a pillow", "a costume", "an apron"],
    ("fixed", "fix", "fixed"): ["the clock", "the bicycle", "the roof", "the radio", "the sink", "a lamp",
                                "the car", "the printer", "the piano", "the tap", "the washing machine"],
    ("cooked", "cook", "cooked"): ["soup", "dinner", "rice", "a stew", "pancakes", "noodles", "an omelette",
                                   "curry", "dumplings", "porridge", "lasagne", "fish soup"],
    ("planted", "plant", "planted"): ["tomatoes", "roses", "an apple tree", "beans", "tulips", "potatoes",
                                      "carrots", "sunflowers", "an oak tree", "herbs", "lettuce"],
    ("knitted", "knit", "knitted"): ["a sweater", "socks", "a hat", "mittens", "a blanket", "a scarf"],
    ("carved", "carve", "carved"): ["a spoon", "a bowl", "a bird", "a mask", "a walking stick", "a toy horse"],
}
GIFTS = ["a book", "a scarf", "a watch", "flowers", "a letter", "a lamp", "a bicycle", "a puzzle", "a cup",
         "a ring", "a map", "a camera", "a blanket", "a kite", "a guitar", "a painting", "a necklace", "chocolates",
         "a plant", "a teapot", "a compass", "a backpack", "a pair of gloves", "a telescope", "an umbrella"]
TOOLS = ["a knife", "a hammer", "a saw", "scissors", "a spoon", "a brush", "a pencil", "a shovel", "an axe",
         "a needle", "a ladder", "a key", "a torch", "a rake", "a wrench", "a screwdriver", "a cloth", "a sponge",
         "a broom", "pliers", "a chisel", "a bucket", "a stick", "a fork", "a rope"]
# (past, base) of actions done with a tool
ACTIONS = [("cut the rope", "cut the rope"), ("opened the box", "open the box"), ("dug a hole", "dig a hole"),
           ("fixed the chair", "fix the chair"), ("cleaned the window", "clean the window"),
           ("chopped the wood", "chop the wood"), ("stirred the soup", "stir the soup"),
           ("opened the door", "open the door"), ("swept the floor", "sweep the floor"),
           ("trimmed the hedge", "trim the hedge"), ("mended the net", "mend the net"),
           ("reached the shelf", "reach the shelf"), ("loosened the bolt", "loosen the bolt"),
           ("scraped the paint", "scrape the paint"), ("washed the car", "wash the car")]
COLORS = ["red", "blue", "green", "yellow", "orange", "purple", "pink", "brown", "black", "white", "grey", "silver",
          "gold", "teal", "navy", "crimson", "violet", "beige", "olive", "turquoise", "maroon", "lime", "cream",
          "scarlet", "lilac", "amber", "bronze", "indigo", "mint green", "dark blue", "pale yellow", "bright red"]
COLOURED = ["car", "coat", "hat", "door", "bicycle", "umbrella", "boat", "scarf", "house", "kite", "bag", "dress",
            "boots", "cup", "fence", "van", "tent", "shirt", "sofa", "gate", "mug", "jacket", "notebook", "bus"]
ANIMALS = ["dog", "cat", "horse", "parrot", "goat", "rabbit", "hamster", "turtle", "pony", "goose", "duck",
           "lizard", "ferret", "canary", "pig", "cow", "sheep", "donkey", "owl", "frog", "snake", "mouse",
           "hedgehog", "tortoise", "goldfish", "puppy", "kitten", "llama", "chicken", "crow"]
SPOTS = ["the market", "the station", "the park", "the library", "the bakery", "the harbour", "the museum",
         "the post office", "the school", "the cafe", "the bus stop", "the beach", "the bridge", "the church",
         "the town hall", "the hospital", "the swimming pool", "the cinema", "the garden centre", "the square"]
VEHICLES = ["train", "bus", "bike", "boat", "car", "ferry", "plane", "tram", "taxi", "van", "horse", "motorbike"]
DAYS = ["on Monday", "on Tuesday", "on Wednesday", "on Thursday", "on Friday", "on Saturday", "on Sunday"]
MONTHS = ["in January", "in February", "in March", "in April", "in May", "in June", "in July", "in August",
          "in September", "in October", "in November", "in December"]
CLOCK = ["at noon", "at dawn", "at midnight", "at six o'clock", "at nine in the morning", "at half past four",
         "at sunset", "at ten o'clock"]
TIMES = DAYS + MONTHS + CLOCK + [f"in {y}" for y in (1850, 1903, 1921, 1964, 1978, 1987, 1999, 2004, 2012, 2019)]
PLACE_KINDS = ["town", "village", "city", "port", "valley", "hamlet"]
FILLERS = ["It was a busy week.", "The weather was cold and grey.", "Nobody expected the rain.",
           "The street was quiet that morning.", "Everyone was tired by the evening.", "The sun came out at last.",
           "It had been a long winter.", "The shops opened late that day.", "Most of the neighbours were away.",
           "The {thing} in the shop window was {color}.", "A {job} from the next town came to visit.",
           "Everyone in the street liked the old {animal}.", "There was a fair at {spot} that week.",
           "Someone had left a {thing} by the door.", "The {job} was late again."]

PRONOUNS = {"f": ("she", "her", "her"), "m": ("he", "him", "his")}


def split_of(name: str) -> str:
    return "dev" if zlib.crc32(name.lower().encode()) % HELD_OUT_BUCKETS == 0 else "train"


def definite(np_: str) -> str:
    """'a cake' -> 'the cake', 'bread' -> 'the bread', 'the door' stays."""
    for art in ("a ", "an "):
        if np_.startswith(art):
            return "the " + np_[len(art):]
    return np_ if np_.startswith("the ") else "the " + np_


def bare(np_: str) -> str:
    for art in ("a ", "an ", "the "):
        if np_.startswith(art):
            return np_[len(art):]
    return np_


def indef(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


_POOLS: dict = {}


# Faker's it_IT city() draws from a set, so its cities change with Python's string-hash seed: they would make the
# data differ from run to run. Its people's names are drawn from sequences and stay.
UNSEEDED_CITIES = {"it_IT"}


def pools(split: str) -> dict:
    """{'f': [...], 'm': [...], 'x': [...], 'surname': [...], 'city': [...]} for one split, deterministic."""
    if split in _POOLS:
        return _POOLS[split]
    from faker import Faker

    locales = TRAIN_LOCALES if split == "train" else HELD_OUT_LOCALES
    out = {"f": set(), "m": set(), "surname": set(), "city": set()}
    for i, loc in enumerate(locales):
        fake = Faker(loc)
        fake.seed_instance(1000 + i)
        for _ in range(400):
            out["f"].add(fake.first_name_female())
            out["m"].add(fake.first_name_male())
            out["surname"].add(fake.last_name())
        if loc in UNSEEDED_CITIES:
            continue
        for _ in range(150):
            out["city"].add(fake.city())
    keep = {k: sorted(n for n in v if (CITY_RE if k == "city" else NAME_RE).match(n) and split_of(n) == split)
            for k, v in out.items()}
    words = sorted(w.capitalize() for w in WORD_NAMES if split_of(w) == split)
    keep["x"] = words
    _POOLS[split] = keep
    return keep


class Names:
    """People, pets and places of many shapes; each name belongs to one split only (squad_gen's hash rule)."""

    def __init__(self, rng: random.Random, split: str):
        self.rng, self.split, self.pool = rng, split, pools(split)
        self.syllables = squad_gen.Names(rng, split) if split == "train" else None  # training only: another shape

    def person(self) -> tuple[str, str]:
        r = self.rng
        gender = r.choice("fm")
        u = r.random()
        if u < 0.12 and self.pool["x"]:
            name = r.choice(self.pool["x"])
        elif u < 0.22 and self.syllables:
            name = self.syllables.person()
        else:
            name = r.choice(self.pool[gender])
        if r.random() < 0.1:
            name = f"{name} {r.choice(self.pool['surname'])}"
        return name, gender

    def pet(self) -> str:
        r = self.rng
        u = r.random()
        if u < 0.4 and self.pool["x"]:
            return r.choice(self.pool["x"])
        if u < 0.55 and self.syllables:
            return self.syllables.pet()
        return r.choice(self.pool[r.choice("fm")])

    def place(self) -> str:
        r = self.rng
        u = r.random()
        if u < 0.15 and self.syllables:
            name = self.syllables.place()
        elif u < 0.25 and self.pool["x"]:
            name = r.choice(self.pool["x"]) + r.choice(["ton", "ford", "by", "field", "wick", " Bay", " Hill"])
        else:
            name = r.choice(self.pool["city"])
        return name if r.random() < 0.5 else f"the {r.choice(PLACE_KINDS)} of {name}"


# -- relations: each has sentence shapes and question phrasings, the last HELD of each list held out -------------
# A shape is a format string over the fact's fields; a question is (format, answer field).
# Fields: S subject, P other person, O thing (as written), Od the thing (definite), V/Vb/Vp verb past/base/
# participle, PL place, J job, Ja job with article, T time, Tc time capitalised, TOOL, A/Ab action past/base,
# C colour, THING coloured thing, AN animal, ANa animal with article, N pet name, G gift, Gd gift definite,
# SPOT meeting place, VEH vehicle, his/he pronouns of S.
RELATIONS = {
    "live": {
        "shapes": ["{S} lived in {PL}.", "{S} has lived in {PL} for years.", "{S}'s home was in {PL}.",
                   "{S} grew up in {PL} and never left.", "In {PL} there lived a person called {S}.",
                   "{S} had a small house in {PL}.",
                   "{PL} is where {S} lives.", "The house of {S} stood in {PL}."],
        "questions": [("Where did {S} live?", "PL"), ("Where does {S} live?", "PL"), ("Where was {S}'s home?", "PL"),
                      ("Which place did {S} live in?", "PL"), ("Who lived in {PL}?", "S"),
                      ("In which town was {S}'s home?", "PL"), ("What place did {S} call home?", "PL"),
                      ("Which person lived in {PL}?", "S")],
    },
    "job": {
        "shapes": ["{S} was {Ja}.", "{S} worked as {Ja}.", "By trade, {S} was {Ja}.", "{S} earned a living as {Ja}.",
                   "{S} had worked as {Ja} for many years.",
                   "{S} had a job as {Ja}.", "Everyone knew {S} as the local {J}."],
        "questions": [("What was {S}'s job?", "J"), ("What did {S} do for a living?", "J"),
                      ("What did {S} work as?", "J"), ("Who was the {J}?", "S"),
                      ("What work did {S} do?", "J"), ("Which person worked as {Ja}?", "S")],
    },
    "job_live": {  # two facts in one sentence
        "shapes": ["{S}, {Ja} from {PL}, was well known.", "{S} was {Ja} who lived in {PL}.",
                   "{S}, who worked as {Ja}, lived in {PL}.", "{S} lived in {PL} and worked as {Ja}.",
                   "In {PL}, {S} worked as {Ja}.",
                   "{S} lived in {PL}, where {he} worked as {Ja}.", "Born in {PL}, {S} became {Ja}."],
        "questions": [("Where did {S} live?", "PL"), ("What was {S}'s job?", "J"), ("Where was {S} from?", "PL"),
                      ("What did {S} do for a living?", "J"), ("Who was the {J}?", "S"),
                      ("What kind of work did {S} do?", "J"), ("Which town did {S} live in?", "PL"),
                      ("Who worked as {Ja} in {PL}?", "S")],
    },
    "make": {
        "shapes": ["{S} {V} {O}.", "{Od} was {Vp} by {S}.", "It was {S} who {V} {Od}.",
                   "Yesterday {S} {V} {O}.", "{S} proudly {V} {O}.", "That week {S} {V} {O} at home.",
                   "After lunch, {S} sat down and {V} {O}.", "{Od} that everyone admired had been {Vp} by {S}."],
        "questions": [("What did {S} {Vb}?", "O"), ("What was {Vp} by {S}?", "O"), ("Who {V} {Od}?", "S"),
                      ("Which person {V} {Od}?", "S"), ("What did {S} {Vb} that week?", "O"),
                      ("What thing did {S} {Vb}?", "O"), ("Who was it that {V} {Od}?", "S")],
    },
    "when": {
        "shapes": ["{S} {V} {O} {T}.", "{Tc}, {S} {V} {O}.", "{Od} was {Vp} by {S} {T}.",
                   "{S} finally {V} {O} {T}.",
                   "It was {T} that {S} {V} {O}.", "{S} waited, and {T} {he} {V} {O}."],
        "questions": [("When did {S} {Vb} {Od}?", "T"), ("When was {Od} {Vp}?", "T"),
                      ("What did {S} {Vb} {T}?", "O"), ("Who {V} {Od} {T}?", "S"),
                      ("At what time did {S} {Vb} {Od}?", "T"), ("What was {Vp} by {S} {T}?", "O")],
    },
    "for": {
        "shapes": ["{S} {V} {O} for {P}.", "For {P}, {S} {V} {O}.", "{Od} that {S} {V} was for {P}.",
                   "{S} {V} {O} as a present for {P}.",
                   "{S} {V} {O}, a surprise for {P}.", "{P} was given {Od} that {S} had {Vp}."],
        "questions": [("Who did {S} {Vb} {Od} for?", "P"), ("For whom did {S} {Vb} {Od}?", "P"),
                      ("What did {S} {Vb} for {P}?", "O"), ("Who {V} {Od} for {P}?", "S"),
                      ("Who was {Od} {Vp} for?", "P"), ("What did {P} get from {S}?", "O")],
    },
    "tool": {
        "shapes": ["{S} {A} with {TOOL}.", "Using {TOOL}, {S} {A}.", "{S} took {TOOL} and {A}.",
                   "With {TOOL} in hand, {S} {A}.", "{S} {A} using only {TOOL}.",
                   "{S} {A}; {TOOL} was all {he} needed.", "{TOOL} was what {S} used when {he} {A}."],
        "questions": [("What did {S} use to {Ab}?", "TOOL"), ("What did {S} {Ab} with?", "TOOL"),
                      ("With what did {S} {Ab}?", "TOOL"), ("Who {A} with {TOOL}?", "S"),
                      ("Which tool did {S} {Ab} with?", "TOOL"), ("What helped {S} {Ab}?", "TOOL")],
    },
    "colour": {
        "shapes": ["{S}'s {THING} was {C}.", "{S} had a {C} {THING}.", "{S} owned a {THING} that was {C}.",
                   "The {THING} that belonged to {S} was {C}.", "{S} bought a {C} {THING}.",
                   "{C} was the colour of {S}'s {THING}.", "Of all the colours, {S} chose {C} for {his} {THING}."],
        "questions": [("What colour was {S}'s {THING}?", "C"), ("What was the colour of {S}'s {THING}?", "C"),
                      ("What colour {THING} did {S} have?", "C"),
                      ("Which colour was {S}'s {THING}?", "C"), ("{S}'s {THING} was what colour?", "C")],
    },
    "give": {
        "shapes": ["{S} gave {G} to {P}.", "{S} gave {P} {G}.", "{Gd} was a gift from {S} to {P}.",
                   "For {P}'s birthday, {S} bought {G}.", "{S} sent {P} {G}.",
                   "{P} received {G} from {S}.", "{S} handed {G} to {P}."],
        "questions": [("What did {S} give {P}?", "G"), ("What did {S} give to {P}?", "G"),
                      ("Who did {S} give {Gd} to?", "P"), ("Who gave {Gd} to {P}?", "S"),
                      ("To whom did {S} give {Gd}?", "P"), ("What present did {P} get from {S}?", "G")],
    },
    "meet": {
        "shapes": ["{S} met {P} at {SPOT}.", "At {SPOT}, {S} met {P}.", "{S} and {P} met at {SPOT}.",
                   "{S} saw {P} at {SPOT}.", "{S} went to {SPOT} to meet {P}.",
                   "{P} ran into {S} at {SPOT}.", "It was at {SPOT} that {S} first met {P}."],
        "questions": [("Who did {S} meet at {SPOT}?", "P"), ("Who did {S} meet?", "P"),
                      ("Where did {S} meet {P}?", "SPOT"), ("Who met {P} at {SPOT}?", "S"),
                      ("Whom did {S} see at {SPOT}?", "P"), ("At which place did {S} and {P} meet?", "SPOT")],
    },
    "pet": {
        "shapes": ["{S} had {ANa} named {N}.", "{S}'s {AN} was called {N}.", "{S} kept {ANa} called {N}.",
                   "{N} was {S}'s {AN}.", "{S} looked after {ANa} whose name was {N}.",
                   "{S} owned {ANa}, and its name was {N}.", "{N}, {S}'s {AN}, slept by the door."],
        "questions": [("What was the name of {S}'s {AN}?", "N"), ("What was {S}'s {AN} called?", "N"),
                      ("What animal did {S} have?", "AN"), ("What kind of animal was {N}?", "AN"),
                      ("Whose {AN} was {N}?", "S"),
                      ("What did {S} call {his} {AN}?", "N"), ("Which animal did {S} keep?", "AN")],
    },
    "travel": {
        "shapes": ["{S} went to {PL} by {VEH}.", "{S} travelled to {PL} by {VEH}.", "By {VEH}, {S} went to {PL}.",
                   "{S} took the {VEH} to {PL}.", "{S} made the trip to {PL} by {VEH}.",
                   "{S}'s journey to {PL} was by {VEH}.", "{PL} was where {S} went, and {he} went by {VEH}."],
        "questions": [("Where did {S} go?", "PL"), ("How did {S} travel to {PL}?", "VEH"),
                      ("Where did {S} travel to?", "PL"), ("Who went to {PL}?", "S"),
                      ("By what means did {S} go to {PL}?", "VEH"), ("Which place did {S} travel to?", "PL")],
    },
}
HELD = {"shapes": 2, "questions": 2}  # the last 2 shapes and the last 2 phrasings of each relation: dev only
RELATION_WEIGHTS = {"live": 2, "job": 2, "job_live": 2, "make": 3, "when": 2, "for": 2, "tool": 2, "colour": 2,
                    "give": 2, "meet": 2, "pet": 2, "travel": 2}
# Relations whose fact of two people can share a verb or a thing (the question's name or words must pick one).
SHARED = ["make", "when", "colour", "tool", "give", "pet", "meet"]


def usable(items: list, kind: str, split: str) -> list:
    n = HELD[kind]
    return items[:-n] if split == "train" else items[-n:]


class Fact:
    def __init__(self, rel: str, fields: dict):
        self.rel, self.fields = rel, fields


def make_fact(rel: str, rng: random.Random, names: Names, person: dict, like: Fact | None = None) -> Fact:
    """A new fact of relation `rel` about `person`; `like` (a fact of the same relation) makes a near twin: same
    verb or thing kind, another value, so only the question's words tell them apart."""
    f = {"S": person["name"], "he": PRONOUNS[person["g"]][0], "his": PRONOUNS[person["g"]][2]}
    if rel in ("live", "travel"):
        f["PL"] = names.place()
    if rel in ("job", "job_live"):
        f["J"] = rng.choice(JOBS)
        f["Ja"] = indef(f["J"])
        if rel == "job_live":
            f["PL"] = names.place()
    if rel in ("make", "when", "for"):
        verb = like.fields["verb"] if like else rng.choice(list(MAKE))
        things = [t for t in MAKE[verb] if not like or t != like.fields["O"]]
        f["verb"] = verb
        f["V"], f["Vb"], f["Vp"] = verb
        f["O"] = rng.choice(things)
        f["Od"] = definite(f["O"])
        if rel == "when":
            f["T"] = rng.choice([t for t in TIMES if not like or t != like.fields["T"]])
            f["Tc"] = f["T"][0].upper() + f["T"][1:]
    if rel in ("for", "give", "meet"):
        f["P"] = names.person()[0]
    if rel == "tool":
        f["A"], f["Ab"] = like.fields["action"] if like and rng.random() < 0.5 else rng.choice(ACTIONS)
        f["action"] = (f["A"], f["Ab"])
        f["TOOL"] = rng.choice([t for t in TOOLS if not like or t != like.fields["TOOL"]])
    if rel == "colour":
        f["THING"] = like.fields["THING"] if like and rng.random() < 0.5 else rng.choice(COLOURED)
        f["C"] = rng.choice([c for c in COLORS if not like or c != like.fields["C"]])
    if rel == "give":
        f["G"] = rng.choice([g for g in GIFTS if not like or g != like.fields["G"]])
        f["Gd"] = definite(f["G"])
    if rel == "meet":
        f["SPOT"] = rng.choice(SPOTS)
    if rel == "pet":
        f["AN"] = rng.choice([a for a in ANIMALS if not like or a != like.fields["AN"]])
        f["ANa"] = indef(f["AN"])
        f["N"] = names.pet()
    if rel == "travel":
        f["VEH"] = rng.choice(VEHICLES)
    return Fact(rel, f)


def cap(s: str) -> str:
    return s[0].upper() + s[1:]


def render(fact: Fact, rng: random.Random, split: str) -> str:
    shape = rng.choice(usable(RELATIONS[fact.rel]["shapes"], "shapes", split))
    return cap(shape.format(**fact.fields))


def ask(fact: Fact, rng: random.Random, split: str, text: str) -> tuple[str, str] | None:
    """(question, answer) about the fact whose answer is a span of `text` that picks one reading: the answer
    occurs once in the text, or is a person's name (a name can recur; the first occurrence is the span)."""
    options = usable(RELATIONS[fact.rel]["questions"], "questions", split)
    rng.shuffle(options)
    for q, field in options:
        answer = fact.fields[field]
        question = cap(q.format(**fact.fields))
        if answer not in text:
            continue
        if field != "S" and field != "P" and text.count(answer) != 1:
            continue
        if field == "S" and text.count(f"{fact.fields['S']}") == 0:
            continue
        return question, answer
    return None


def filler(rng: random.Random) -> str:
    return rng.choice(FILLERS).format(thing=rng.choice(COLOURED), color=rng.choice(COLORS), job=rng.choice(JOBS),
                                      animal=rng.choice(ANIMALS), spot=rng.choice(SPOTS))


def paragraph(rng: random.Random, names: Names, split: str, questions_from: str | None = None
              ) -> tuple[str, list[tuple[str, str]]]:
    """A paragraph written with `split`'s sentence shapes and asked with `questions_from`'s phrasings (default the
    same split; training/gpt2_axes.py crosses them to score one held-out axis at a time)."""
    n_people = rng.choices([1, 2, 3], weights=[0.35, 0.45, 0.2])[0]
    people = []
    while len(people) < n_people:
        name, g = names.person()
        if all(name not in p["name"] and p["name"] not in name for p in people):
            people.append({"name": name, "g": g})
    rels = list(RELATION_WEIGHTS)
    weights = [RELATION_WEIGHTS[r] for r in rels]
    facts: list[Fact] = []
    for i, person in enumerate(people):
        k = rng.randint(1, 3) if n_people > 1 else rng.randint(2, 4)
        chosen: list[str] = []
        if i > 0 and rng.random() < 0.7:  # share a relation with an earlier person: the name must pick
            prev = rng.choice([f for f in facts if f.rel in SHARED] or facts)
            facts.append(make_fact(prev.rel, rng, names, person, like=prev if prev.rel in SHARED else None))
            chosen.append(prev.rel)
        while len(chosen) < k:
            rel = rng.choices(rels, weights)[0]
            if rel in chosen or (rel.startswith("job") and any(c.startswith("job") for c in chosen)) \
                    or (rel in ("live", "job_live") and any(c in ("live", "job_live") for c in chosen)):
                continue
            chosen.append(rel)
            facts.append(make_fact(rel, rng, names, person))
        if rng.random() < 0.25:  # a near twin of the same person: another day, another colour, another tool
            twins = [f for f in facts if f.fields["S"] == person["name"] and f.rel in ("when", "colour", "tool", "give")]
            if twins:
                facts.append(make_fact(twins[0].rel, rng, names, person, like=twins[0]))
    sentences = [(f, render(f, rng, split)) for f in facts]
    if n_people == 1 and len(sentences) > 1 and rng.random() < 0.4:  # a pronoun instead of the name, later on
        person = people[0]
        f, s = sentences[-1]
        if s.startswith(person["name"] + " ") and f.rel not in ("job",):
            sentences[-1] = (f, cap(PRONOUNS[person["g"]][0]) + s[len(person["name"]):])
            f.fields["pronoun"] = True  # a who-question about this sentence would need coreference: not asked
    order = list(range(len(sentences)))
    if rng.random() < 0.5:
        rng.shuffle(order)
    parts = [sentences[i][1] for i in order]
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        parts.insert(rng.randrange(len(parts) + 1), filler(rng))
    text = " ".join(parts)
    qas = []
    for f in rng.sample(facts, len(facts)):
        qa = ask(f, rng, questions_from or split, text)
        if qa and not clash(qa, f, facts, text):
            qas.append(qa)
        if len(qas) == QUESTIONS_PER_PARAGRAPH:
            break
    return text, qas


def clash(qa: tuple[str, str], fact: Fact, facts: list[Fact], text: str) -> bool:
    """The question fits another fact too, with another answer: e.g. 'Who baked the bread?' when two people did,
    'Where did Ana go?' when Ana's sentence was replaced by a pronoun. Such a question is dropped."""
    question, answer = qa
    if fact.fields.get("pronoun") and answer == fact.fields["S"]:
        return True
    for other in facts:
        if other is fact or other.rel != fact.rel:
            continue
        same_subject = other.fields["S"] == fact.fields["S"]
        if same_subject and answer != fact.fields["S"]:
            # same person, same relation: only a question naming the differing detail is unambiguous
            detail = [fact.fields[k] for k in ("T", "THING", "P", "A", "Od", "Gd", "PL", "SPOT", "N")
                      if k in fact.fields and fact.fields[k] != other.fields.get(k)]
            if not any(d in question for d in detail):
                return True
        if answer == fact.fields["S"] and not same_subject:
            # a who-question: the other person must not fit the question's details
            keys = [k for k in ("Od", "PL", "J", "Ja", "T", "TOOL", "Gd", "P", "SPOT", "N", "A") if k in fact.fields]
            if all(other.fields.get(k) == fact.fields[k] or fact.fields[k] not in question for k in keys):
                return True
    return False


def build(seed: int = DEFAULT_SEED, splits: dict[str, int] = SPLITS) -> dict[str, dict]:
    out = {}
    for split, n in splits.items():
        rng = random.Random(f"{seed}-{split}")
        names = Names(rng, split)
        data, p = [], 0
        while len(data) < n:
            context, qas = paragraph(rng, names, split)
            p += 1
            if not qas:
                continue
            data.append(squad_files.paragraph_entry(split, p, context, qas))
        out[split] = squad_files.document(VERSION, seed, data)
    return out


if __name__ == "__main__":
    squad_files.cli(sys.modules[__name__])
