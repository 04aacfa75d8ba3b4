"""Word lists for the project's own story corpus (training/corpus_gen.py). Written for this project.

Words are grouped by the slots they fill, and gendered roles carry their pronouns, so the corpus has the
structure the text models should find: an LSTM can keep a character's name and pronoun across sentences
(a bigram cannot), and word vectors put king near prince and queen near princess.
"""

FEMALE_NAMES = """anna beth clara dora elsa fiona greta hannah iris june kate lena maria nora olive
paula rose sara tessa uma vera wendy alice bella cora daisy emma flora grace holly ivy julia lucy mabel
molly nell opal pearl ruby sophie tilly violet willa zoe agnes edith hazel ada""".split()

MALE_NAMES = """adam ben carl david edward felix george henry isaac jack karl leo martin nick oscar
peter quentin robert sam tom victor walter arthur bruno colin dennis eric frank gus hugo ivan james
kevin luke max noah otto paul ralph simon toby will alfred basil cyril""".split()

# (role, gender): gender "f"/"m" fixes the pronoun; "x" roles take the character's own gender.
ROLES = [("king", "m"), ("queen", "f"), ("prince", "m"), ("princess", "f"), ("knight", "x"), ("lord", "m"),
         ("lady", "f"), ("farmer", "x"), ("baker", "x"), ("miller", "x"), ("sailor", "x"), ("fisherman", "m"),
         ("shepherd", "x"), ("weaver", "x"), ("potter", "x"), ("carpenter", "x"), ("blacksmith", "x"),
         ("teacher", "x"), ("doctor", "x"), ("merchant", "x"), ("painter", "x"), ("poet", "x"),
         ("gardener", "x"), ("hunter", "x"), ("soldier", "x"), ("student", "x"), ("widow", "f"),
         ("tailor", "x"), ("cook", "x"), ("wizard", "m"), ("witch", "f"), ("girl", "f"), ("boy", "m"),
         ("woman", "f"), ("man", "m"), ("grandmother", "f"), ("grandfather", "m")]

ROYALS = [("king", "m"), ("queen", "f"), ("prince", "m"), ("princess", "f"), ("duke", "m"), ("duchess", "f"),
          ("lord", "m"), ("lady", "f")]

FAMILY = [("mother", "f"), ("father", "m"), ("sister", "f"), ("brother", "m"), ("aunt", "f"), ("uncle", "m"),
          ("daughter", "f"), ("son", "m"), ("cousin", "x"), ("grandmother", "f"), ("grandfather", "m")]

# animal -> plural, sound, a habit
ANIMALS = {
    "dog": ("dogs", "barked", "liked to sleep by the fire"),
    "cat": ("cats", "purred", "hunted mice in the barn"),
    "fox": ("foxes", "yelped", "knew every path in the woods"),
    "wolf": ("wolves", "howled", "was afraid of nothing"),
    "horse": ("horses", "neighed", "could run faster than the wind"),
    "owl": ("owls", "hooted", "stayed awake all night"),
    "rabbit": ("rabbits", "squeaked", "ate the lettuce in the garden"),
    "bear": ("bears", "growled", "loved honey more than anything"),
    "goat": ("goats", "bleated", "climbed on the roof of the house"),
    "crow": ("crows", "cawed", "collected shiny buttons"),
    "mouse": ("mice", "squeaked", "lived in a hole under the stairs"),
    "deer": ("deer", "called", "walked softly through the trees"),
    "goose": ("geese", "honked", "chased the children in the yard"),
    "donkey": ("donkeys", "brayed", "carried heavy bags to the market"),
    "pig": ("pigs", "grunted", "rolled in the mud every afternoon"),
    "duck": ("ducks", "quacked", "swam in the pond behind the mill"),
    "sheep": ("sheep", "bleated", "had the softest wool in the valley"),
    "cow": ("cows", "mooed", "gave sweet milk every morning"),
    "hen": ("hens", "clucked", "laid brown eggs in the straw"),
    "swan": ("swans", "hissed", "glided on the lake like a white boat"),
    "badger": ("badgers", "snorted", "dug long tunnels under the hill"),
    "squirrel": ("squirrels", "chattered", "hid nuts in every tree"),
    "frog": ("frogs", "croaked", "sang in the reeds at night"),
    "parrot": ("parrots", "squawked", "could say three words"),
}

PET_NAMES = """pip biscuit pepper shadow button clover maple smudge patch ginger rusty socks
bramble thistle pebble sooty juniper nutmeg""".split()

ADJ_PERSON = """old young kind clever brave quiet honest proud gentle curious lazy cheerful wise poor
rich shy stubborn busy lonely careful""".split()
ADJ_ANIMAL = """little old grey black white brown clever lazy fat thin spotted fluffy noisy quiet""".split()
ADJ_THING = """old small heavy golden silver wooden broken shiny strange beautiful rusty secret tiny
ancient magic plain""".split()
COLORS = "red blue green yellow white black grey brown golden silver purple orange".split()
EMOTIONS = "happy sad afraid angry tired proud lonely hopeful worried surprised calm excited".split()
SIZES = "small little big tall narrow old quiet busy".split()

HOMES = """village town castle farm cottage mill harbour city palace tower inn monastery""".split()
LANDMARKS = ["river", "forest", "sea", "lake", "mountains", "hills", "marsh", "bridge", "old road", "great wall",
             "waterfall", "meadow"]
PLACES = """market forest river meadow garden library church bakery kitchen cellar attic barn
orchard beach harbour well square field bridge cave""".split()
DESTINATIONS = """capital castle mountain city tower island monastery palace fair harbour""".split()
TERRAIN = """forest hills marsh valley desert snow fields mountains meadows moors""".split()
REGIONS = "north south east west".split()
PLACE_START = """ash bell black bram clay elm fen glen hart holm kings lark mill oak pen red
rose stone thorn wolf""".split()
PLACE_END = "wick ford field dale bury ton moor haven brook stead".split()

OBJECTS = """key lamp book map ring coin box letter sword shield cup bell basket rope candle mirror
hat coat boat cart crown stone feather flute clock""".split()
FOODS = """bread cheese apples soup honey milk eggs cake pie plums pears fish porridge butter
carrots potatoes beans cherries nuts tea""".split()
TOPICS = """stars birds ships kings dragons plants the sea old wars the moon distant lands clocks
music herbs""".split()
SEASONS = "spring summer autumn winter".split()
TIMES = "morning afternoon evening night".split()
DAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
NUMBERS = "two three four five six seven ten".split()
WEATHER = ["the rain fell all day", "the snow lay deep on the ground", "the sun was warm on the fields",
           "the wind blew cold from the sea", "a thick fog covered the valley", "the leaves turned red and gold",
           "the birds sang in every tree", "the river was full and fast", "the sky was clear and blue",
           "a storm was coming from the hills"]

ROUTINES = ["walked to the {place} to buy {food}", "baked {food} for the people of the {home}",
            "read an old book about {topic}", "fed the {animals} and the {animals2}",
            "worked in the {place} until dark", "sang a song about {topic}",
            "fetched water from the well", "sat by the window and watched the {landmark}",
            "mended {poss} {obj} by the fire", "went fishing in the {landmark}",
            "wrote a letter to {poss} {family}", "counted {poss} coins twice"]
TRAVEL = "walked rode sailed climbed wandered marched travelled hurried".split()
CREATURES = ["a giant", "a dragon", "a troll", "an old witch", "a talking bird", "a band of thieves",
             "a lost child", "a wandering minstrel", "a hungry bear", "a wise old owl", "a ferryman",
             "a stranger in a grey cloak"]
GREETINGS = ["hello", "good morning", "good evening", "hello there", "greetings"]
FAREWELLS = ["goodbye", "farewell", "good night"]
REWARDS = ["a bag of gold", "a silver ring", "a fine horse", "a house by the sea", "a golden cup",
           "a seat at the royal table", "a map of the whole kingdom", "a box of rare seeds"]
