"""Extractive QA over everyday clauses whose answers cannot be guessed: open-vocabulary objects, places and times,
questions made from the sentence by moving the asked-for part out of it.

squad_gen and reading_gen draw the things people make, give or own from short closed lists, so a small model can
score by answering with a likely item of the asked-for kind ("beans", "a saw") without reading; on paragraphs
written by hand it then names things that are not in them. Here every answer is assembled from large lists
(adjective + noun, "a jar of" + noun, numbers, streets, clock times, kin and job titles, names with titles such
as "Mr" or "Captain"), so the only way to the answer is to find the clause the question's words point at and copy
the part the question word stands for:

    Dara repaired a copper kettle behind the garage on Friday.
    Who repaired the copper kettle? / What did Dara repair? / Where did Dara repair the kettle? / When ...?

Clauses come in the past, the past perfect and the present (do-support in the question), active and passive,
with the subject named, in apposition ("Ines, the farmer, ..."), by kin ("Lotte's brother Pavel ..."), or as a
pronoun after the first sentence; with an adjunct or a lead-in phrase before the subject ("With a rusty saw,
...", "Back from the market, ..."), another predicate before a pronoun ("Dara sighed, and she ..."), the
instrument as the object of "used", one subject with two predicates ("... and then ..."); two people's clauses in
one sentence; the same verb for two people (the name picks) and the same person twice (the object or the time
picks). Adjuncts: place, time, manner or vehicle, instrument, companion, beneficiary. Between two people: a thing
passing from one to the other, written from either side ("Dara sold Pavel a kettle", "Pavel bought a kettle from
Dara", "Pavel was sent a kettle by Dara"), and one acting on the other ("Pavel was visited by Dara"), so the
first name of a sentence is not always the one who acted.

Each question kind comes in several wordings ("Where", "In what place", "Whereabouts"; "What tool did ... use
to"; "With whom"; "On which day", "What time"; "By whom was ..."), some with another adjunct of the clause in
them ("Who repaired the kettle on Friday?"), so the question's words, not only its first word, pick the fact.

What it never writes: reading_gen's held-out sentence shapes and question phrasings (clefts, "Which person",
"Whom", "To whom", "At what time", "By what means", ...: HELD_OUT_MARKERS, checked by a unit test), so the
template-disjoint set stays disjoint from everything trained on. Names come from reading_gen's training pools
(Faker's training locales, words, syllables) by the same hash rule. Seeded and versioned like the other
generators; every answer is a span of its context.

    python -m training.clause_gen --out-dir DIR     # writes DIR/{train,dev}.json (deterministic)
"""
from __future__ import annotations

import random
import sys

from training import reading_gen, squad_files

VERSION = "clause_gen-5"  # bump when the output changes: a stale generated set is rewritten
DEFAULT_SEED = 17
SPLITS = {"train": 20000, "dev": 60}
QUESTIONS_PER_PARAGRAPH = 3
QUESTION_WEIGHTS = {"what": 1.0, "who": 1.0, "passive": 0.3, "role": 1.0}  # the adjuncts' kinds: 2.0

# Words that start reading_gen's held-out question phrasings or mark its held-out sentence shapes: never generated.
HELD_OUT_MARKERS = ["Which person", "Who was it that", "At what time", "To whom", "Whom", "At which place",
                    "By what means", "Which tool", "Which colour", "What helped", "Which town", "What thing",
                    "Which animal", "What present", "call home", "was what colour", "It was ", "Born in",
                    "Everyone knew", "was all", "was what", "was where", " is where", "The house of", "Of all the",
                    "journey to", "ran into", "received", "handed", "had a job as", "that everyone admired",
                    "was given", "a surprise for", "slept by the door", "and its name was", "sat down and",
                    " waited, and"]

NOUNS = """kettle lantern basket ladder teapot bucket suitcase umbrella blanket mirror bench wagon cart barrel
crate jug bottle candle clock radio piano violin guitar drum trumpet flute camera telescope compass map globe
chair table sofa desk shelf cupboard drawer cabinet lamp rug curtain pillow quilt carpet stool wardrobe cradle
bicycle scooter sledge canoe kayak raft tractor wheelbarrow trailer caravan tent hammock kite balloon puppet doll
ball marble puzzle jigsaw notebook diary envelope parcel package letter postcard ticket passport wallet purse
key ring necklace bracelet brooch watch badge medal trophy coin stamp button ribbon scarf glove mitten sock boot
sandal slipper hat cap helmet jacket coat cloak apron sweater vest shirt skirt dress belt tie shawl tablecloth
towel sponge brush comb razor bowl plate saucer spoon fork knife ladle pan pot tray jar tin box sack pouch
satchel backpack briefcase trunk chest cage hutch kennel aquarium vase flowerpot birdcage fountain statue painting
sketch poster calendar banner flag sign fence gate door window roof chimney porch shed barn garage cellar attic
hedge tree bush rosebush stump log plank beam pipe hose tap sink bathtub stove oven fridge freezer heater fan
engine motor wheel tyre saddle bridle harness anchor oar sail rope chain hook net fishing-rod spade shovel rake
hoe axe hammer saw drill chisel wrench screwdriver pliers bolt nail screw needle thimble spindle loom kiln
sculpture mosaic tapestry carving tile brick stone pebble shell feather acorn pinecone seashell crystal
fossil skull bone horn antler tusk""".split()
MASS = """bread soup sand flour tea coffee rice honey milk jam wool paint water oil salt sugar cheese butter
cream chocolate porridge gravel coal firewood hay straw seed grain clay glue ink wax soap""".split()
PLURAL_FOODS = """apples pears plums cherries lemons oranges onions potatoes carrots beans peas tomatoes
cabbages turnips eggs biscuits cakes buns rolls sweets nuts grapes berries mushrooms olives peppers
sandwiches pies tarts sausages""".split()
CONTAINERS = """jar box bag basket bowl bottle tin cup crate sack bucket tray pot barrel jug pile heap row
bunch loaf slice handful plate""".split()
ADJECTIVES = """small large tiny huge old new ancient heavy light wooden copper brass iron steel glass paper
leather woollen silk cotton plastic stone clay silver golden broken cracked shiny rusty dusty clean muddy
striped spotted painted carved folded empty full leaking squeaky noisy quiet warm cold soft hard round square
long short narrow wide tall crooked bent lucky favourite spare borrowed secret""".split()
COLOURS = reading_gen.COLORS

# (base, past, participle) of verbs taking a thing as object
VERBS = [("repair", "repaired", "repaired"), ("carry", "carried", "carried"), ("clean", "cleaned", "cleaned"),
         ("paint", "painted", "painted"), ("fix", "fixed", "fixed"), ("buy", "bought", "bought"),
         ("sell", "sold", "sold"), ("find", "found", "found"), ("lose", "lost", "lost"),
         ("bring", "brought", "brought"), ("take", "took", "taken"), ("wash", "washed", "washed"),
         ("move", "moved", "moved"), ("polish", "polished", "polished"), ("open", "opened", "opened"),
         ("hide", "hid", "hidden"), ("lift", "lifted", "lifted"), ("pack", "packed", "packed"),
         ("fold", "folded", "folded"), ("mend", "mended", "mended"), ("build", "built", "built"),
         ("make", "made", "made"), ("draw", "drew", "drawn"), ("collect", "collected", "collected"),
         ("borrow", "borrowed", "borrowed"), ("order", "ordered", "ordered"), ("deliver", "delivered", "delivered"),
         ("return", "returned", "returned"), ("push", "pushed", "pushed"), ("pull", "pulled", "pulled"),
         ("throw", "threw", "thrown"), ("catch", "caught", "caught"), ("share", "shared", "shared"),
         ("sort", "sorted", "sorted"), ("check", "checked", "checked"), ("measure", "measured", "measured"),
         ("weigh", "weighed", "weighed"), ("wrap", "wrapped", "wrapped"), ("unpack", "unpacked", "unpacked"),
         ("load", "loaded", "loaded"), ("empty", "emptied", "emptied"), ("fill", "filled", "filled"),
         ("count", "counted", "counted"), ("carve", "carved", "carved"), ("sew", "sewed", "sewn"),
         ("guard", "guarded", "guarded"), ("keep", "kept", "kept"), ("show", "showed", "shown"),
         ("stack", "stacked", "stacked"), ("tie", "tied", "tied"), ("steal", "stole", "stolen"),
         ("sketch", "sketched", "sketched"), ("photograph", "photographed", "photographed"),
         ("dig up", "dug up", "dug up"), ("pick up", "picked up", "picked up"), ("drop", "dropped", "dropped"),
         ("inspect", "inspected", "inspected"), ("decorate", "decorated", "decorated"), ("rescue", "rescued", "rescued"),
         ("drag", "dragged", "dragged"), ("test", "tested", "tested"), ("win", "won", "won"), ("sell off", "sold off", "sold off"),
         ("lock", "locked", "locked"), ("scrub", "scrubbed", "scrubbed"), ("heat", "heated", "heated"),
         ("grind", "ground", "ground"), ("chop", "chopped", "chopped"), ("stir", "stirred", "stirred"),
         ("bake", "baked", "baked"), ("cook", "cooked", "cooked"), ("fry", "fried", "fried"), ("boil", "boiled", "boiled"),
         ("paint over", "painted over", "painted over"), ("replace", "replaced", "replaced"),
         ("lend out", "lent out", "lent out"), ("sharpen", "sharpened", "sharpened"), ("weave", "wove", "woven"),
         ("knit", "knitted", "knitted"), ("plant", "planted", "planted"), ("water", "watered", "watered"),
         ("feed", "fed", "fed"), ("brush", "brushed", "brushed"), ("fetch", "fetched", "fetched")]
FOOD_VERBS = {"bake", "cook", "fry", "boil", "grind", "chop", "stir", "sell", "buy", "bring", "share", "carry",
              "order", "deliver", "pack", "count", "sort", "weigh", "fetch", "steal", "collect", "plant", "water"}

PLACE_NOUNS = """house shed barn attic cellar kitchen garden bridge station market school church river lake
harbour garage hall library bakery shop workshop stable orchard meadow yard square pier beach cottage farmhouse
mill tower castle chapel museum gallery cafe inn hotel hospital playground park field forest wood hill cliff
quarry dock warehouse factory classroom corridor staircase balcony greenhouse pantry porch lighthouse""".split()
SPATIAL = ["in the", "behind the", "under the", "near the", "beside the", "next to the", "outside the", "inside the",
           "above the", "at the", "on the roof of the", "at the back of the", "by the"]
DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December"]
PLURAL_WORDS = {"two", "three", "four", "five", "six", "seven", "ten", "twelve", "some"}  # how thing() counts
CLOCK_WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
MEALS = ["breakfast", "lunch", "dinner", "supper", "school", "work", "church", "the match", "the storm", "the party",
         "the concert", "the harvest", "the wedding", "the flood", "the holidays", "the fair"]
PARTS_OF_DAY = ["morning", "afternoon", "evening", "night"]
VEHICLES = ["train", "bus", "ferry", "tram", "taxi", "bike", "boat", "plane", "coach", "car", "cart", "sledge",
            "canoe", "lorry", "van", "motorbike", "scooter"]
RIDES = ["bicycle", "scooter", "horse", "pony", "motorbike", "tricycle", "skateboard", "mule", "donkey"]
TOOLS = """hammer wrench spoon brush knife saw rope ladder torch spade rag crowbar stick needle chisel file magnet net
bucket towel toothbrush wheelbarrow fork paintbrush sponge cloth mallet trowel sieve funnel tongs pitchfork scraper
whisk ladle skewer hook pole broom mop shovel""".split()
TOOL_ADJECTIVES = ["old", "small", "big", "borrowed", "rusty", "wooden", "new", "long", "bent", "sharp", "blunt",
                   "heavy", "tiny", "steel", "plastic", "kitchen", "garden", "spare", "cheap", "clean", "wet"]
KIN = {"f": ["sister", "aunt", "mother", "daughter", "grandmother", "wife", "cousin", "niece", "neighbour", "friend",
             "colleague", "classmate", "landlady"],
       "m": ["brother", "uncle", "father", "son", "grandfather", "husband", "cousin", "nephew", "neighbour", "friend",
             "colleague", "classmate", "landlord"]}
TITLES = {"f": ["Mrs", "Ms", "Miss", "Dr", "Aunt", "Granny", "Sister", "Captain", "Old", "Professor", "Lady"],
          "m": ["Mr", "Dr", "Uncle", "Captain", "Old", "Father", "Professor", "Sir", "Grandpa", "Young"]}
EXTRA_JOBS = ["fisherwoman", "shopkeeper", "innkeeper", "blacksmith", "ferryman", "harbour master", "headteacher",
              "lighthouse keeper", "stationmaster", "caretaker", "gamekeeper", "cobbler", "saddler", "clockmaker",
              "road sweeper", "bus driver", "taxi driver", "lorry driver", "nurse", "midwife", "grocer", "greengrocer",
              "fishmonger", "chemist", "vicar", "mayor", "postwoman", "milkman", "coach driver", "tailor",
              "history teacher", "music teacher", "cook", "chef", "waitress", "janitor", "porter", "farmhand"]
JOBS = reading_gen.JOBS + EXTRA_JOBS
FILLERS = ["It rained all week.", "The wind was strong that day.", "Nobody was in a hurry.", "The road was muddy.",
           "That was the coldest day of the year.", "The town was quiet.", "Most people stayed indoors.",
           "The light was fading.", "There was a smell of smoke in the air.", "The clock in the square struck {n}.",
           "A {noun} lay forgotten in the {place}.", "The {place} smelled of {mass}.", "Someone was singing in the {place}.",
           "The {job} waved from across the street.", "Nobody knew who owned the {noun}."]

# Phrases that come before a clause's subject or its first predicate, so the subject is not always the first word
# and a pronoun must be tied to the name before it. None of them is a time: a when-question's answer stays unique.
LEAD_INS = ["Back from the market", "Humming a tune", "Without a word", "As usual", "Tired but happy",
            "Wearing a thick coat", "Full of hope", "Still half asleep", "Whistling softly", "With great care",
            "Having finished the washing", "Having read the letter", "Out of breath", "To everyone's surprise",
            "Feeling brave", "Quietly", "In a good mood", "After a long walk", "Laughing", "Without any help"]
# Verbs of no clause and no thing of NOUNS, so no question about a clause can also fit one of these.
FIRST_ACTS = ["sighed", "looked around", "rolled up {his} sleeves", "yawned", "stretched", "put on {his} boots",
              "took a deep breath", "said nothing", "nodded", "waved to a neighbour", "smiled", "sat down for a moment",
              "called out a greeting", "thought for a while", "hummed a tune"]


def third_person(base: str) -> str:
    """'carry' -> 'carries', 'fix' -> 'fixes', 'dig up' -> 'digs up'."""
    verb, _, rest = base.partition(" ")
    if verb.endswith("y") and verb[-2] not in "aeiou":
        verb = verb[:-1] + "ies"
    elif verb.endswith(("s", "x", "ch", "sh", "o", "z")):
        verb += "es"
    else:
        verb += "s"
    return f"{verb} {rest}".strip()


def plural(noun: str) -> str:
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("fe"):
        return noun[:-2] + "ves"
    return noun + "s"


def indef(words: str) -> str:
    return ("an " if words[0] in "aeiou" else "a ") + words


def was(phrase: str) -> str:
    """The passive's auxiliary for a thing phrase: "six trailers were", "a kettle was"."""
    head = phrase.split(" of ")[0].split()  # "a jar of plums" is one jar
    plural = head[0] in PLURAL_WORDS or phrase.startswith("a dozen") or head[-1] in PLURAL_FOODS
    return "were" if plural else "was"


def cap(s: str) -> str:
    return s[0].upper() + s[1:]


class Thing:
    """An object phrase as written (`text`) and the phrase a question refers to it by (`ref`)."""

    def __init__(self, text: str, ref: str):
        self.text, self.ref = text, ref


def thing(rng: random.Random, verb: str, owner_his: str) -> Thing:
    r = rng.random()
    if verb in FOOD_VERBS and r < 0.35:
        food = rng.choice(PLURAL_FOODS + MASS)
        kind = rng.random()
        if kind < 0.4:
            container = rng.choice(CONTAINERS)
            text = indef(f"{container} of {food}")
            return Thing(text, f"the {container} of {food}")
        if kind < 0.7 and food in PLURAL_FOODS:
            n = rng.choice(["two", "three", "four", "five", "six", "ten", "twelve", "a dozen", "some"])
            return Thing(f"{n} {food}", f"the {food}")
        adj = rng.choice(ADJECTIVES[:8] + ["fresh", "warm", "sweet", "sour", "homemade", "stale", "spiced"])
        return Thing(f"{adj} {food}" if food in MASS or rng.random() < 0.5 else f"the {adj} {food}", f"the {food}")
    noun = rng.choice(NOUNS).replace("-", " ")
    adj = rng.choice(ADJECTIVES + COLOURS)
    if r < 0.5:
        text = indef(f"{adj} {noun}")
    elif r < 0.65:
        text = f"{owner_his} {adj} {noun}"
        return Thing(text, text)
    elif r < 0.8:
        text = f"the {adj} {noun}"
    elif r < 0.9:
        adj2 = rng.choice([c for c in COLOURS if c != adj])
        text = indef(f"{adj} {adj2} {noun}") if adj not in COLOURS else indef(f"{adj} {noun}")
    else:
        n = rng.choice(["two", "three", "four", "five", "six", "seven", "ten"])
        return Thing(f"{n} {adj} {plural(noun)}", f"the {plural(noun)}")
    ref = f"the {noun}" if rng.random() < 0.5 else "the " + text.split(" ", 1)[1]
    return Thing(text, ref)


def place(rng: random.Random, names: reading_gen.Names, street_pool: list[str]) -> tuple[str, str]:
    """(phrase as written, the answer a where-question gets)."""
    r = rng.random()
    if r < 0.6:
        adj = rng.choice(["", "", "old ", "new ", "little ", "big ", "empty ", "village ", "school ", "back "])
        phrase = f"{rng.choice(SPATIAL)} {adj}{rng.choice(PLACE_NOUNS)}"
        return phrase, phrase
    if r < 0.8 and street_pool:
        street = rng.choice(street_pool)
        return f"on {street}", street
    city = rng.choice(names.pool["city"])
    return f"in {city}", city


def when(rng: random.Random, habitual: bool) -> str:
    day, r = rng.choice(DAY_NAMES), rng.random()
    if habitual:
        options = [f"every {day}", f"on {day}s", f"every {rng.choice(PARTS_OF_DAY)}", f"after {rng.choice(MEALS)}",
                   f"at {rng.choice(CLOCK_WORDS)} o'clock", f"at {rng.choice(CLOCK_WORDS)}",
                   "twice a week", "once a month", "every winter", "every summer", f"before {rng.choice(MEALS)}"]
    else:
        options = [f"on {day}", f"last {day}", f"on {day} {rng.choice(PARTS_OF_DAY)}", f"in {rng.choice(MONTH_NAMES)}",
                   f"at {rng.choice(CLOCK_WORDS)} o'clock", f"after {rng.choice(MEALS)}", f"before {rng.choice(MEALS)}",
                   f"in {rng.randint(1890, 2024)}", "at dawn", "at midnight", "at sunset", "the next morning",
                   f"on the {rng.choice(['first', 'second', 'third', 'fifth', 'tenth'])} of {rng.choice(MONTH_NAMES)}",
                   f"during {rng.choice(MEALS)}", "that evening", "yesterday"]
    return rng.choice(options) if r < 0.9 else f"until {rng.choice(['sunset', 'midnight', 'noon', 'dark'])}"


def how(rng: random.Random, his: str) -> str:
    r = rng.random()
    if r < 0.4:
        return f"by {rng.choice(VEHICLES)}"
    if r < 0.7:
        return f"on {his} {rng.choice(['', 'old ', 'new ', 'red ', 'blue '])}{rng.choice(RIDES)}".replace("  ", " ")
    if r < 0.85:
        return "on foot"
    return f"in {his} {rng.choice(['old', 'new', 'green', 'rusty', 'white'])} {rng.choice(['van', 'car', 'boat', 'lorry', 'truck'])}"


class Person:
    def __init__(self, name: str, gender: str):
        self.name, self.g = name, gender
        self.he, self.him, self.his = reading_gen.PRONOUNS[gender]


def person(rng: random.Random, names: reading_gen.Names) -> Person:
    name, g = names.person()
    if rng.random() < 0.2 and " " not in name:
        name = f"{rng.choice(TITLES[g])} {name}"
    return Person(name, g)


class Clause:
    """One event: who did what (and where, when, how, with what, with whom, for whom). `adjuncts` maps each
    adjunct's kind to (the phrase as written, the answer a question about it gets); `questions` asks about all."""

    def __init__(self, subj: Person, verb: tuple, obj: Thing, present: bool):
        self.subj, self.verb, self.obj, self.present = subj, verb, obj, present
        self.adjuncts: dict[str, tuple[str, str]] = {}  # kind -> (phrase as written, answer)
        self.pronoun = False


def make_clause(rng: random.Random, names, streets, subj: Person, other: Person | None,
                verb: tuple | None = None) -> Clause:
    verb = verb or rng.choice(VERBS)
    present = rng.random() < 0.3
    c = Clause(subj, verb, thing(rng, verb[0], subj.his), present)
    kinds = rng.sample(["where", "when", "how", "with", "tool", "for"], k=rng.choice([1, 1, 2, 2, 3]))
    for kind in kinds:
        if kind == "where":
            c.adjuncts["where"] = place(rng, names, streets)
        elif kind == "when":
            t = when(rng, present)
            c.adjuncts["when"] = (t, t)
        elif kind == "how":
            m = how(rng, subj.his)
            c.adjuncts["how"] = (m, m)
        elif kind == "tool":
            t = indef(f"{rng.choice(TOOL_ADJECTIVES)} {rng.choice(TOOLS)}") if rng.random() < 0.8 else indef(rng.choice(TOOLS))
            c.adjuncts["tool"] = (f"with {t}", t)
        elif kind in ("with", "for") and other is not None and "with" not in c.adjuncts and "for" not in c.adjuncts:
            if rng.random() < 0.5:
                c.adjuncts[kind] = (f"{kind} {other.name}", other.name)
            else:
                kin = f"{subj.his} {rng.choice(KIN[other.g])}"
                c.adjuncts[kind] = (f"{kind} {kin}", kin)
    return c


def verb_form(c: Clause) -> str:
    return third_person(c.verb[0]) if c.present else c.verb[1]


def render(c: Clause, rng: random.Random, subject_text: str) -> str:
    """The clause as one sentence: active (adjuncts after the object, or one of them fronted: "On Sundays, he
    ...", "With a rusty saw, Dara ..."), passive, or with its instrument as the object of "used"."""
    adjuncts = [phrase for kind, (phrase, _) in c.adjuncts.items()]
    rng.shuffle(adjuncts)
    front = ""
    if "when" in c.adjuncts and rng.random() < 0.3:  # a fronted time: "On Sundays, he ..."
        front = c.adjuncts["when"][0]
    elif adjuncts and rng.random() < 0.2:  # a fronted place, instrument, vehicle, beneficiary or companion
        front = adjuncts[0]
    if front:
        adjuncts.remove(front)
    tail = "".join(" " + a for a in adjuncts)
    if subject_text == c.subj.name and not c.present and not front and rng.random() < 0.15:
        return cap(f"{c.obj.text} {was(c.obj.text)} {c.verb[2]} by {subject_text}{tail}.")
    if "tool" in c.adjuncts and not front and rng.random() < 0.3:  # "Dara used a rusty saw to cut the plank"
        rest = "".join(" " + a for a in adjuncts if a != c.adjuncts["tool"][0])
        used = "uses" if c.present else "used"
        return cap(f"{subject_text} {used} {c.adjuncts['tool'][1]} to {c.verb[0]} {c.obj.text}{rest}.")
    verb = verb_form(c)
    if not c.present and rng.random() < 0.15:  # the past perfect: "Dara had repaired a kettle"
        verb = f"had {c.verb[2]}"
    body = f"{subject_text} {verb} {c.obj.text}{tail}"
    inner = body[0].lower() + body[1:] if body.startswith("The ") else body  # "Until noon, the cook, Ines, ..."
    if front:
        return f"{cap(front)}, {inner}."
    r = rng.random()
    if r < 0.1:  # a participle phrase before the subject: "Back from the market, Dara ..."
        return f"{rng.choice(LEAD_INS)}, {inner}."
    if r < 0.2 and subject_text == c.subj.name:  # another predicate first, then a pronoun: "Dara sighed, and she ..."
        state = rng.choice(FIRST_ACTS).format(his=c.subj.his)
        return cap(f"{subject_text} {state}, and {c.subj.he} {verb} {c.obj.text}{tail}.")
    return cap(body + ".")


def time_wordings(t: str) -> list[str]:
    """Question words for a time phrase: "When" always, and the wording its form invites."""
    if t.startswith("on ") and t.split()[1].rstrip("s") in DAY_NAMES:
        return ["When", "On which day", "On what day"]
    if t.startswith("in ") and t.split()[1] in MONTH_NAMES:
        return ["When", "In which month", "In what month"]
    if t.startswith("in ") and t.split()[1].isdigit():
        return ["When", "In which year", "In what year"]
    if t.endswith("o'clock") or (t.startswith("at ") and t.split()[1] in CLOCK_WORDS):
        return ["When", "What time"]
    return ["When"]


def questions(c: Clause, ask_name: str) -> list[tuple[str, list[str], str]]:
    """(kind, wordings, answer) about the clause, the subject named `ask_name` in the question: every wording asks
    the same thing, and the paragraph picks one. A wording with one of the clause's other adjuncts in it ("Who
    repaired the kettle on Friday?") is one the question's words must match, not only its names."""
    base, past, part = c.verb
    aux = "does" if c.present else "did"
    obj_ref = c.obj.ref
    v = third_person(base) if c.present else past
    extra = [phrase for kind, (phrase, _) in c.adjuncts.items() if kind in ("where", "when")]
    detail = f" {extra[0]}" if extra else ""
    what = [f"What {aux} {ask_name} {base}?"] + ([f"What {aux} {ask_name} {base}{detail}?"] if detail else [])
    out = [("what", what, c.obj.text)]
    if not c.pronoun:
        who = [f"Who {v} {obj_ref}?"] + ([f"Who {v} {obj_ref}{detail}?"] if detail else [])
        if not c.present:
            who.append(f"By whom was {obj_ref} {part}?")
        out.append(("who", who, c.subj.name))
    if not c.present:
        out.append(("passive", [f"What was {part} by {ask_name}?"], c.obj.text))
    tail = f"{ask_name} {base} {obj_ref}"
    for kind, (_, answer) in c.adjuncts.items():
        wordings = {
            "where": [f"Where {aux} {tail}?", f"In what place {aux} {tail}?", f"Whereabouts {aux} {tail}?",
                      f"At what spot {aux} {tail}?"],
            "when": [f"{w} {aux} {tail}?" for w in time_wordings(answer)],
            "how": [f"How {aux} {tail}?", f"In what way {aux} {tail}?"],
            "tool": [f"What {aux} {tail} with?", f"What {aux} {ask_name} use to {base} {obj_ref}?",
                     f"With what {aux} {tail}?", f"What tool {aux} {ask_name} use to {base} {obj_ref}?"],
            "with": [f"Who {aux} {tail} with?", f"With whom {aux} {tail}?"],
            "for": [f"Who {aux} {tail} for?", f"For whom {aux} {tail}?"]}[kind]
        out.append((kind, wordings, answer))
        if kind == "when" and not c.present:
            out.append((kind, [f"When was {obj_ref} {part}?"], answer))
    return out


def introduce(rng: random.Random, p: Person, anchor: Person | None, c: Clause) -> tuple[str, list[tuple[str, str]]]:
    """The subject as the sentence writes it, and the questions about who they are."""
    r = rng.random()
    if r < 0.2:
        job = rng.choice(JOBS)
        form = rng.choice([f"{p.name}, the {job},", f"The {job}, {p.name},", f"The {job} {p.name}", f"{p.name} the {job}"])
        qs = [(f"Who was the {job}?", p.name),
              (rng.choice([f"What was {p.name}'s job?", f"What was {p.name}'s trade?", f"What was {p.name}'s occupation?"]), job)]
        if form.startswith(("The ", p.name + ",")):
            qs.append((f"What does {p.name} do?", job) if rng.random() < 0.3 else (f"Who is the {job}?", p.name))
        return form, qs
    if r < 0.35 and anchor is not None:
        kin = rng.choice(KIN[p.g])
        form = rng.choice([f"{anchor.name}'s {kin}, {p.name},", f"{anchor.name}'s {kin} {p.name}",
                           f"{p.name}, {anchor.name}'s {kin},"])
        return form, [(f"Who was {anchor.name}'s {kin}?", p.name), (f"Who is {anchor.name}'s {kin}?", p.name)]
    return p.name, []


# Things passing from one person to another: (base, past, participle) of the giver's verb, and the receiver's
# verb with the same meaning seen from the other side (base, past) or None. A reader must know that in "Pavel
# bought a kettle from Dara" Dara is the one who sold it.
TRANSFERS = [(("sell", "sold", "sold"), ("buy", "bought")), (("lend", "lent", "lent"), ("borrow", "borrowed")),
             (("rent out", "rented out", "rented out"), ("rent", "rented")), (("give", "gave", None), ("get", "got")),
             (("send", "sent", "sent"), None), (("post", "posted", "posted"), None), (("offer", "offered", "offered"), None),
             (("bring", "brought", "brought"), None), (("pass", "passed", "passed"), None)]
# Verbs with a person as object; "meet" is symmetric (either person met the other).
PERSON_VERBS = [("visit", "visited", "visited"), ("help", "helped", "helped"), ("thank", "thanked", "thanked"),
                ("phone", "phoned", "phoned"), ("greet", "greeted", "greeted"), ("follow", "followed", "followed"),
                ("invite", "invited", "invited"), ("meet", "met", "met"), ("interview", "interviewed", "interviewed"),
                ("teach", "taught", "taught"), ("drive", "drove", "driven"), ("warn", "warned", "warned")]

Asks = list  # [(kind, wordings, answer)]: questions about one fact, each wording asking the same thing


def transfer(rng: random.Random, giver: Person, taker: Person) -> tuple[str, Asks]:
    """One thing passing from `giver` to `taker`, written from either side (active, converse verb, passive)."""
    (base, past, part), converse = rng.choice(TRANSFERS)
    obj = thing(rng, "bring", giver.his)
    g, t, ref = giver.name, taker.name, obj.ref
    forms = [f"{g} {past} {t} {obj.text}", f"{g} {past} {obj.text} to {t}"]
    if converse:
        forms += [f"{t} {converse[1]} {obj.text} from {g}"] * 2
    if part:
        forms += [f"{t} was {part} {obj.text} by {g}", f"{obj.text} {was(obj.text)} {part} to {t} by {g}"]
    asks = [("giver", [f"Who {past} {ref} to {t}?", f"Who {past} {t} {ref}?"], g),
            ("taker", [f"Who did {g} {base} {ref} to?"], t),
            ("what", [f"What did {g} {base} to {t}?", f"What did {g} {base} {t}?"], obj.text)]
    if converse and converse[0] != "get":  # "get from" is one of reading_gen's held-out question phrasings
        asks += [("giver", [f"Who did {t} {converse[0]} {ref} from?"], g),
                 ("taker", [f"Who {converse[1]} {ref} from {g}?"], t),
                 ("what", [f"What did {t} {converse[0]} from {g}?"], obj.text)]
    return cap(rng.choice(forms)) + ".", asks


def person_act(rng: random.Random, names, streets, actor: Person, other: Person) -> tuple[str, Asks]:
    """`actor` visits, helps, meets ... `other`: the person asked about may be the sentence's object, or its
    subject in the passive ("Pavel was visited by Dara")."""
    base, past, part = rng.choice(PERSON_VERBS)
    where, answer = place(rng, names, streets)
    a, o = actor.name, other.name
    forms = [f"{a} {past} {o} {where}", f"{o} was {part} by {a} {where}", f"{cap(where)}, {a} {past} {o}"]
    asks = [("who", [f"Who {past} {o}?", f"Who {past} {o} {where}?"], a),
            ("object", [f"Who did {a} {base}?", f"Who did {a} {base} {where}?"], o),
            ("where", [f"Where did {a} {base} {o}?", f"In what place did {a} {base} {o}?"], answer)]
    if base == "meet":  # either one met the other
        forms.append(f"{o} met {a} {where}")
        asks += [("object", [f"Who did {o} meet?"], a), ("where", [f"Where did {o} meet {a}?"], answer)]
    return cap(rng.choice(forms)) + ".", asks


def paragraph(rng: random.Random, names, streets) -> tuple[str, list[tuple[str, str]]]:
    people: list[Person] = []
    n_people = rng.choices([1, 2, 3], weights=[0.3, 0.5, 0.2])[0]
    while len(people) < n_people:
        p = person(rng, names)
        if all(p.name.split()[-1] not in q.name and q.name.split()[-1] not in p.name for q in people):
            people.append(p)
    clauses: list[Clause] = []
    sentences, qas_pool = [], []
    for i, p in enumerate(people):
        other = rng.choice([q for q in people if q is not p]) if n_people > 1 else None
        shared = clauses and rng.random() < 0.5  # the same verb as an earlier person: the name must pick
        c = make_clause(rng, names, streets, p, other, verb=clauses[-1].verb if shared else None)
        anchor = people[0] if i > 0 else None
        subject_text, role_qs = introduce(rng, p, anchor, c)
        qas_pool += [("role", q, a) for q, a in role_qs]
        sentences.append(render(c, rng, subject_text))
        clauses.append(c)
        if rng.random() < 0.5:  # a second clause about the same person, often with a pronoun subject
            c2 = make_clause(rng, names, streets, p, other)
            same_gender_elsewhere = any(q.g == p.g for q in people if q is not p)
            active = sentences[-1].startswith(cap(p.name) + " ") and f" by {p.name}" not in sentences[-1]
            if subject_text == p.name and active and c.present == c2.present and rng.random() < 0.3:
                # one subject, two predicates: "Dara fixed the kettle and then painted the fence."
                c2.adjuncts.pop("tool", None)
                link = rng.choice([" and then", " and", ", and later", ", then"])
                second = f"{verb_form(c2)} {c2.obj.text}" + "".join(" " + ph for ph, _ in c2.adjuncts.values())
                sentences[-1] = f"{sentences[-1][:-1]}{link} {second}."
            else:
                c2.pronoun = not same_gender_elsewhere and rng.random() < 0.6
                sentences.append(render(c2, rng, p.he if c2.pronoun else p.name))
            clauses.append(c2)
    between: Asks = []
    if n_people > 1 and rng.random() < 0.6:  # a thing passing between two people, or one acting on the other
        a, b = rng.sample(people, 2)
        sentence, between = transfer(rng, a, b) if rng.random() < 0.5 else person_act(rng, names, streets, a, b)
        sentences.insert(rng.randrange(len(sentences) + 1), sentence)
    if n_people > 1 and rng.random() < 0.3:  # two people's clauses in one sentence
        a, b = rng.sample(people, 2)
        ca, cb = make_clause(rng, names, streets, a, None), make_clause(rng, names, streets, b, None)
        ca.adjuncts, cb.adjuncts = {}, {}
        joint = f"{a.name} {verb_form(ca)} {ca.obj.text}{rng.choice([', and', ' and', ', while', ' while'])} " \
                f"{b.name} {verb_form(cb)} {cb.obj.text}."
        sentences.append(cap(joint))
        clauses += [ca, cb]
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        sentences.insert(rng.randrange(len(sentences) + 1), filler(rng))
    text = " ".join(sentences)
    asks = [ask for c in clauses for ask in questions(c, c.subj.name)] + between
    qas_pool += [(kind, rng.choice(wordings), a) for kind, wordings, a in asks]
    # Weighted order without replacement (key u^(1/w)): the adjunct questions, rarer per clause, come up more often.
    qas_pool.sort(key=lambda item: -rng.random() ** (1 / QUESTION_WEIGHTS.get(item[0], 2.0)))
    qas, asked = [], set()
    for kind, q, a in qas_pool:
        if q in asked or not unambiguous(q, a, text, asks, kind):
            continue
        qas.append((cap(q), a))
        asked.add(q)
        if len(qas) == QUESTIONS_PER_PARAGRAPH:
            break
    return text, qas


PERSON_ANSWERS = ("who", "role", "with", "for", "giver", "taker", "object")  # kinds whose answer is a person


def unambiguous(question: str, answer: str, text: str, asks: Asks, kind: str) -> bool:
    """The answer is in the text once (a name may recur), and no other fact answers the question differently."""
    if answer not in text or any(m in question for m in HELD_OUT_MARKERS):
        return False
    if kind not in PERSON_ANSWERS and text.count(answer) != 1:
        return False
    return {a for _, wordings, a in asks if question in wordings} <= {answer}


def filler(rng: random.Random) -> str:
    return rng.choice(FILLERS).format(n=rng.choice(CLOCK_WORDS), noun=rng.choice(NOUNS).replace("-", " "),
                                      place=rng.choice(PLACE_NOUNS), mass=rng.choice(MASS), job=rng.choice(JOBS))


def street_names(split: str) -> list[str]:
    from faker import Faker

    out = set()
    for i, loc in enumerate(["en_US", "en_GB", "en_IE"] if split == "train" else ["en_AU", "en_NZ", "en_CA"]):
        fake = Faker(loc)
        fake.seed_instance(2000 + i)
        for _ in range(300):
            out.add(fake.street_name())
    return sorted(s for s in out if reading_gen.split_of(s.split()[0]) == split and len(s) <= 24)


def build(seed: int = DEFAULT_SEED, splits: dict[str, int] = SPLITS) -> dict[str, dict]:
    out = {}
    for split, n in splits.items():
        rng = random.Random(f"{seed}-{split}")
        names, streets = reading_gen.Names(rng, split), street_names(split)
        data, p = [], 0
        while len(data) < n:
            context, qas = paragraph(rng, names, streets)
            p += 1
            if qas:
                data.append(squad_files.paragraph_entry(split, p, context, qas))
        out[split] = squad_files.document(VERSION, seed, data)
    return out


if __name__ == "__main__":
    squad_files.cli(sys.modules[__name__])
