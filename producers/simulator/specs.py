"""Per-subcategory templates for the simulated catalogue: vocabulary, brands, attributes, prices.

Everything here is plain data. Product names use `nouns` and attribute values; `synonyms` are words a
shopper may type that never appear in a product name (some descriptions use them), so that keyword and
semantic search behave differently on them.

>>> len(TOP_CATEGORIES), len(SUBCATEGORIES) >= 30
(10, True)
>>> SPEC_BY_KEY["Home & Kitchen > Coffee Grinders"].synonyms[0]
'burr mill for coffee'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class AttributeSpec:
    """One attribute of a subcategory.

    `query` is how a shopper writes a value in a search box (`{v}` is the lower-cased value), and
    `suffix` says whether it goes after the product noun ("running shoes size 10") or before it
    ("black running shoes"). `lower` says whether the value is lower-cased inside a sentence.
    """

    key: str
    values: tuple[str, ...]
    query: str = "{v}"
    suffix: bool = False
    lower: bool = True


@dataclass(frozen=True)
class SubcategorySpec:
    top: str
    name: str
    nouns: tuple[str, ...]
    synonyms: tuple[str, ...]
    brands: tuple[str, ...]
    attributes: tuple[AttributeSpec, ...]
    name_templates: tuple[str, ...]
    benefits: tuple[str, ...]
    uses: tuple[str, ...]
    price: tuple[float, float]
    models: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    mass: bool = False
    """A mass noun ("coffee", "dog food"): no article in front of it."""
    openers: tuple[str, ...] = ()
    qualities: tuple[str, ...] = ()
    title_templates: tuple[str, ...] = ()
    title_words: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    has_author: bool = False

    @property
    def key(self) -> str:
        return f"{self.top} > {self.name}"

    @property
    def path(self) -> list[str]:
        return [self.top, self.name]

    def attribute(self, key: str) -> AttributeSpec:
        for attr in self.attributes:
            if attr.key == key:
                return attr
        raise KeyError(key)


def _a(key: str, *values: str, query: str = "{v}", suffix: bool = False, lower: bool = True) -> AttributeSpec:
    return AttributeSpec(key, values, query, suffix, lower)


_GENDER = _a("gender", "Men's", "Women's", lower=False)
_BOOK_OPENERS = (
    "{title} is {a_quality} {noun_text} by {author}, published by {brand}.",
    "From {author} and {brand} comes {title}, {a_quality} {noun_text}.",
    "{title} by {author} ({brand}) is {a_quality} {noun_text} that readers keep recommending.",
)
_BOOK_QUALITIES = ("gripping", "much-loved", "bestselling", "beautifully written", "highly rated", "new")

SUBCATEGORIES: tuple[SubcategorySpec, ...] = (
    # ------------------------------------------------------------------ Electronics
    SubcategorySpec(
        top="Electronics",
        name="Headphones",
        nouns=("Headphones", "Headset"),
        synonyms=("earphones", "cans", "earbuds", "noise cancellers"),
        brands=("Sony", "Bose", "Sennheiser", "JBL", "Audio-Technica", "Anker Soundcore", "Beyerdynamic"),
        attributes=(
            _a("connectivity", "Wireless", "Bluetooth", "Wired"),
            _a("style", "Noise-Cancelling", "Studio Monitor", "Sports", "Gaming", "Travel"),
            _a("fit", "Over-Ear", "On-Ear", "In-Ear"),
            _a("colour", "Black", "White", "Silver", "Midnight Blue", "Rose Gold"),
        ),
        name_templates=(
            "{brand} {model} {connectivity} {style} {noun}, {colour}",
            "{brand} {model} {fit} {connectivity} {noun} - {colour}",
            "{brand} {style} {fit} {noun} {model}, {colour}",
        ),
        benefits=(
            "Active noise cancellation hushes engine drone, traffic and office chatter.",
            "Soft memory-foam ear cushions stay comfortable through hours of listening.",
            "The battery lasts up to 30 hours, and ten minutes of charging adds three more.",
            "Tuned 40 mm drivers deliver deep bass with clear, detailed highs.",
            "A built-in microphone handles calls and voice assistants with ease.",
            "They fold flat into the included hard travel case.",
        ),
        uses=("commuting", "long flights", "working from home", "gaming sessions", "studying", "the gym"),
        price=(19.99, 399.99),
        models=("WH-####", "QC##", "HD ###", "Q##", "ATH-M##x", "Life Q##"),
        related=("Bluetooth Speakers",),
    ),
    SubcategorySpec(
        top="Electronics",
        name="Bluetooth Speakers",
        nouns=("Bluetooth Speaker", "Portable Speaker"),
        synonyms=("boombox", "wireless sound system", "outdoor music player"),
        brands=("JBL", "Bose", "Ultimate Ears", "Sony", "Marshall", "Anker Soundcore", "Tribit"),
        attributes=(
            _a("size", "Mini", "Compact", "Large"),
            _a("rating", "IPX7 Waterproof", "IP67 Dustproof", "Splash-Resistant", lower=False),
            _a("colour", "Black", "Blue", "Red", "Teal", "Camo Green"),
        ),
        name_templates=(
            "{brand} {model} {size} {rating} {noun}, {colour}",
            "{brand} {model} {noun} - {rating}, {colour}",
        ),
        benefits=(
            "360-degree sound fills a living room or a back garden.",
            "Up to 20 hours of playtime on a single charge.",
            "Pair two units for true stereo sound.",
            "A built-in strap makes it easy to clip onto a backpack.",
            "Dual passive radiators add rich, punchy bass.",
            "It survives drops, sand and a dunk in the pool.",
        ),
        uses=("beach days", "pool parties", "camping trips", "the kitchen", "picnics", "the shower"),
        price=(24.99, 299.99),
        models=("Flip #", "Charge #", "SoundLink ###", "BOOM #", "XB##", "Emberton #"),
        related=("Headphones",),
    ),
    SubcategorySpec(
        top="Electronics",
        name="Smartwatches",
        nouns=("Smartwatch", "Fitness Watch"),
        synonyms=("fitness tracker", "activity band", "wrist computer", "gps running watch"),
        brands=("Garmin", "Samsung", "Fitbit", "Amazfit", "Polar", "Withings", "Huawei"),
        attributes=(
            _a("connectivity", "GPS", "GPS + Cellular", "Bluetooth", lower=False),
            _a("case_size", "40 mm", "42 mm", "44 mm", "46 mm"),
            _a("colour", "Black", "Silver", "Graphite", "Pink", "Olive"),
            _a("band", "Silicone Band", "Leather Band", "Metal Band", "Nylon Band"),
        ),
        name_templates=(
            "{brand} {model} {connectivity} {noun} {case_size}, {colour} with {band}",
            "{brand} {model} {noun}, {case_size} {colour} Case, {band}",
        ),
        benefits=(
            "It tracks heart rate, sleep stages and blood oxygen around the clock.",
            "Built-in satellite positioning maps your runs and rides without a phone.",
            "Read notifications, reply to messages and pay with a tap of the wrist.",
            "The always-on AMOLED display stays readable in bright sunlight.",
            "The battery lasts up to a week with typical use.",
            "Water resistant to 50 metres, so it can track your swims.",
        ),
        uses=(
            "marathon training",
            "tracking sleep",
            "daily workouts",
            "swimming laps",
            "hiking",
            "staying connected",
        ),
        price=(49.99, 799.99),
        models=("Pace ###", "Venu #", "Active #", "Versa #", "GTR #", "Vantage V#"),
    ),
    # ------------------------------------------------------------------ Home & Kitchen
    SubcategorySpec(
        top="Home & Kitchen",
        name="Coffee Makers",
        nouns=("Coffee Maker", "Coffee Machine", "Espresso Machine"),
        synonyms=("coffee brewer", "drip brewer", "java machine", "cappuccino maker"),
        brands=("Breville", "De'Longhi", "Cuisinart", "Keurig", "Nespresso", "Philips", "Smeg"),
        attributes=(
            _a("type", "Drip", "Single-Serve", "Bean-to-Cup", "Pod", "Pour-Over"),
            _a("capacity", "1 Cup", "4 Cup", "10 Cup", "12 Cup"),
            _a("colour", "Black", "Stainless Steel", "Cream", "Red"),
        ),
        name_templates=(
            "{brand} {model} {capacity} {type} {noun}, {colour}",
            "{brand} {type} {noun} with Milk Frother, {colour}",
            "{brand} {model} Programmable {type} {noun}, {capacity}, {colour}",
        ),
        benefits=(
            "A programmable timer means fresh coffee is ready when you wake up.",
            "The 15-bar pump pulls rich espresso with a golden crema.",
            "A steam wand froths milk for lattes and cappuccinos.",
            "The thermal carafe keeps coffee hot for hours without a warming plate.",
            "Brew strength control lets you choose mild or bold.",
            "Removable parts are dishwasher safe for easy cleaning.",
        ),
        uses=(
            "busy mornings",
            "the office break room",
            "weekend brunch",
            "making lattes at home",
            "entertaining guests",
        ),
        price=(29.99, 899.99),
        models=("ES-###", "CM####", "K-###", "EC###", "Dinamica ##", "Barista ##"),
        related=("Coffee Grinders", "Coffee"),
    ),
    SubcategorySpec(
        top="Home & Kitchen",
        name="Coffee Grinders",
        nouns=("Coffee Grinder", "Coffee Mill"),
        synonyms=("burr mill for coffee", "bean grinder", "espresso grinder", "grinder for beans"),
        brands=("Baratza", "Breville", "Hario", "Bodum", "KitchenAid", "Krups", "Timemore"),
        attributes=(
            _a("type", "Conical Burr", "Flat Burr", "Blade", "Manual"),
            _a("material", "Stainless Steel", "Ceramic", "Aluminium", "Plastic"),
            _a("colour", "Black", "Silver", "White", "Matte Grey"),
        ),
        name_templates=(
            "{brand} {model} {type} {noun}, {material}, {colour}",
            "{brand} {material} {type} {noun} - {colour}",
        ),
        benefits=(
            "It delivers a consistent grind from fine espresso to coarse French press.",
            "Choose from 40 grind settings with a simple twist of the dial.",
            "A low-speed motor keeps the beans cool and preserves their aroma.",
            "The anti-static container means less mess on the counter.",
            "It grinds enough beans for a full pot in under 30 seconds.",
            "It also handles spices, peppercorns and dried herbs.",
        ),
        uses=("espresso", "pour-over coffee", "French press brewing", "cold brew", "travel and camping"),
        price=(14.99, 499.99),
        models=("Encore ##", "Smart Grinder ##", "Skerton #", "C# Pro", "GX-###", "Virtuoso #"),
        related=("Coffee Makers", "Coffee"),
    ),
    SubcategorySpec(
        top="Home & Kitchen",
        name="Blenders",
        nouns=("Blender", "Smoothie Maker"),
        synonyms=("liquidiser", "smoothie machine", "shake mixer", "food liquefier"),
        brands=("Vitamix", "Ninja", "NutriBullet", "KitchenAid", "Oster", "Kenwood", "Breville"),
        attributes=(
            _a("type", "Countertop", "Personal", "High-Speed", "Immersion"),
            _a("power", "600 W", "1000 W", "1500 W", "2000 W", lower=False),
            _a("capacity", "0.7 L", "1.5 L", "2 L", lower=False),
            _a("colour", "Black", "Red", "White", "Brushed Steel"),
        ),
        name_templates=(
            "{brand} {model} {type} {noun}, {power}, {capacity} Jar, {colour}",
            "{brand} {power} {type} {noun} - {colour}",
        ),
        benefits=(
            "Hardened steel blades crush ice and frozen fruit in seconds.",
            "Variable speed control plus a pulse setting for chunky salsas.",
            "The BPA-free jar is dishwasher safe.",
            "Preset programs cover smoothies, soups and nut butters.",
            "Friction heating can turn cold ingredients into hot soup.",
            "A to-go cup with a leak-proof lid is included.",
        ),
        uses=("morning smoothies", "protein shakes", "soups", "frozen cocktails", "baby food"),
        price=(24.99, 649.99),
        models=("E###", "BL###", "Pro ###", "A####", "Nutri ###"),
    ),
    SubcategorySpec(
        top="Home & Kitchen",
        name="Frying Pans",
        nouns=("Frying Pan", "Skillet", "Saute Pan"),
        synonyms=("fry pan", "omelette pan", "griddle pan", "non stick cookware"),
        brands=("Tefal", "Le Creuset", "Lodge", "All-Clad", "Scanpan", "Circulon", "GreenPan"),
        attributes=(
            _a("surface", "Non-Stick", "Cast Iron", "Stainless Steel", "Carbon Steel", "Ceramic"),
            _a("size", "20 cm", "24 cm", "28 cm", "30 cm", lower=False),
            _a("handle", "Stay-Cool Handle", "Oven-Safe Handle", "Detachable Handle"),
        ),
        name_templates=(
            "{brand} {model} {surface} {noun}, {size}, {handle}",
            "{brand} {size} {surface} {noun} - Induction Compatible",
        ),
        benefits=(
            "A PFOA-free coating releases eggs and pancakes with almost no oil.",
            "It heats evenly across the base with no hot spots.",
            "Works on gas, electric, ceramic and induction hobs.",
            "Oven safe up to 260°C for finishing steaks.",
            "Pre-seasoned and ready to use straight out of the box.",
            "The riveted handle stays cool on the stovetop.",
        ),
        uses=("searing steaks", "frying eggs", "stir-fries", "pancake breakfasts", "one-pan dinners"),
        price=(12.99, 249.99),
        models=("Ingenio ##", "Signature ##", "Pro S#", "HA#", "Tri-Ply ##"),
    ),
    # ------------------------------------------------------------------ Sports & Outdoors
    SubcategorySpec(
        top="Sports & Outdoors",
        name="Running Shoes",
        nouns=("Running Shoes", "Running Trainers"),
        synonyms=("jogging sneakers", "runners", "trainers for jogging", "marathon sneakers"),
        brands=("Nike", "Adidas", "ASICS", "Brooks", "Hoka", "New Balance", "Saucony"),
        attributes=(
            _GENDER,
            _a("support", "Cushioned", "Lightweight", "Stability"),
            _a("terrain", "Road", "Trail"),
            _a("colour", "Black", "White", "Navy", "Grey", "Neon Yellow", "Red"),
            _a("size", "7", "8", "9", "10", "11", "12", query="size {v}", suffix=True, lower=False),
        ),
        name_templates=(
            "{brand} {model} {gender} {support} {terrain} {noun}, {colour}, Size {size}",
            "{brand} {gender} {model} {terrain} {noun} - {colour}, Size {size}",
        ),
        benefits=(
            "A responsive foam midsole returns energy with every stride.",
            "The breathable engineered mesh upper keeps feet cool over long miles.",
            "A grippy rubber outsole holds firm on wet roads and loose trails.",
            "An 8 mm heel-to-toe drop suits heel and midfoot strikers.",
            "Reflective details keep you visible on early morning runs.",
            "Extra cushioning under the forefoot softens every landing.",
        ),
        uses=("marathon training", "daily 5K runs", "trail running", "treadmill workouts", "long walks"),
        price=(39.99, 229.99),
        models=("Pegasus ##", "Gel-Nimbus ##", "Ghost ##", "Clifton #", "Fresh Foam ###", "Ultraboost ##"),
    ),
    SubcategorySpec(
        top="Sports & Outdoors",
        name="Yoga Mats",
        nouns=("Yoga Mat", "Exercise Mat"),
        synonyms=("pilates mat", "workout mat", "fitness mat", "stretching pad"),
        brands=("Manduka", "Gaiam", "Liforme", "Lululemon", "JadeYoga", "Hugger Mugger"),
        attributes=(
            _a("thickness", "3 mm", "5 mm", "6 mm", "10 mm", lower=False),
            _a("material", "Natural Rubber", "TPE", "PVC", "Cork"),
            _a("colour", "Purple", "Black", "Sage Green", "Blue", "Pink"),
        ),
        name_templates=(
            "{brand} {model} {material} {noun}, {thickness}, {colour}",
            "{brand} {thickness} Non-Slip {noun} in {colour} - {material}",
        ),
        benefits=(
            "A non-slip textured surface keeps hands and feet in place even when sweaty.",
            "Extra cushioning protects knees and wrists on hard floors.",
            "Alignment lines help you position hands and feet in each pose.",
            "Lightweight, it rolls up with the included carrying strap.",
            "Free from latex and toxic phthalates.",
            "The closed-cell surface wipes clean after class.",
        ),
        uses=("hot yoga", "pilates", "home workouts", "stretching", "meditation"),
        price=(14.99, 149.99),
        models=("PRO", "Premium", "Align", "Harmony", "Voyager", "Original"),
    ),
    SubcategorySpec(
        top="Sports & Outdoors",
        name="Camping Tents",
        nouns=("Camping Tent", "Dome Tent", "Backpacking Tent"),
        synonyms=("shelter for camping", "bivvy", "pop-up shelter", "outdoor shelter"),
        brands=("Coleman", "The North Face", "MSR", "Big Agnes", "Vango", "Quechua", "Kelty"),
        attributes=(
            _a("capacity", "1-Person", "2-Person", "4-Person", "6-Person", query="{v}"),
            _a("season", "3-Season", "4-Season"),
            _a("colour", "Green", "Orange", "Grey", "Blue"),
        ),
        name_templates=(
            "{brand} {model} {capacity} {season} {noun}, {colour}",
            "{brand} {capacity} {noun} - {season}, {colour}",
        ),
        benefits=(
            "Colour-coded poles make pitching quick, even in the dark.",
            "A waterproof flysheet with taped seams keeps you dry in heavy rain.",
            "Mesh panels improve airflow and cut condensation.",
            "It packs down small enough to strap to a rucksack.",
            "Two doors and porches leave room for boots and gear.",
            "It weighs under 2 kg for fast-and-light trips.",
        ),
        uses=("family camping", "music festivals", "backpacking trips", "wild camping", "car camping"),
        price=(39.99, 699.99),
        models=("Sundome #", "Hubba Hubba NX#", "Stormbreak #", "Copper Spur UL#", "Banshee ###"),
    ),
    SubcategorySpec(
        top="Sports & Outdoors",
        name="Water Bottles",
        nouns=("Water Bottle", "Insulated Bottle", "Sports Bottle"),
        synonyms=("drinks flask", "thermos", "hydration flask", "reusable canteen"),
        brands=("Hydro Flask", "Stanley", "CamelBak", "Nalgene", "Chilly's", "Klean Kanteen", "Contigo"),
        attributes=(
            _a("capacity", "500 ml", "750 ml", "1 L", "1.2 L", lower=False),
            _a("material", "Stainless Steel", "Tritan Plastic", "Glass"),
            _a("colour", "Black", "White", "Ocean Blue", "Mint", "Coral"),
        ),
        name_templates=(
            "{brand} {capacity} {material} {noun}, {colour}",
            "{brand} {model} {noun} {capacity} - {colour}",
        ),
        benefits=(
            "Double-wall vacuum insulation keeps drinks cold for 24 hours or hot for 12.",
            "The leak-proof lid can be thrown into a bag without worry.",
            "BPA-free, with no lingering tastes.",
            "A wide mouth fits ice cubes and makes cleaning easy.",
            "It fits most car cup holders.",
            "A carry loop clips onto a backpack or bike.",
        ),
        uses=("the gym", "hiking", "school lunches", "the office", "cycling"),
        price=(9.99, 59.99),
        models=("Wide Mouth", "Quencher H#.#", "Chute Mag", "Series #", "Podium"),
    ),
    # ------------------------------------------------------------------ Books
    SubcategorySpec(
        top="Books",
        name="Fiction",
        nouns=("Novel",),
        synonyms=("fiction book", "page-turner", "beach read", "story for adults"),
        brands=("Penguin", "HarperCollins", "Vintage", "Bloomsbury", "Orbit", "Tor", "Faber & Faber"),
        attributes=(
            _a("genre", "Mystery", "Thriller", "Fantasy", "Science Fiction", "Romance", "Historical"),
            _a("format", "Paperback", "Hardcover", "Large Print", "Audiobook CD"),
        ),
        name_templates=(
            "{title}: A {genre} {noun} by {author}, {format}",
            "{title} ({genre} {noun}) - {format}",
        ),
        benefits=(
            "A gripping story with twists you will not see coming.",
            "Critics called it impossible to put down.",
            "It is told in alternating voices across two timelines.",
            "The first book in a new series from a bestselling author.",
            "Rich, atmospheric writing brings its setting to life.",
            "Winner of a major literary prize.",
        ),
        uses=("book clubs", "holiday reading", "long train journeys", "cosy evenings", "gifting"),
        price=(6.99, 29.99),
        openers=_BOOK_OPENERS,
        qualities=_BOOK_QUALITIES,
        title_templates=(
            "The {adj} {thing}",
            "{thing} of {place}",
            "A {thing} in {place}",
            "The {adj} {thing} of {place}",
        ),
        title_words=MappingProxyType(
            {
                "adj": (
                    "Silent",
                    "Last",
                    "Hidden",
                    "Broken",
                    "Golden",
                    "Winter",
                    "Forgotten",
                    "Crimson",
                    "Midnight",
                ),
                "thing": (
                    "River",
                    "Garden",
                    "Crown",
                    "Lighthouse",
                    "Letter",
                    "Orchard",
                    "Witness",
                    "Map",
                    "Storm",
                ),
                "place": ("Ashes", "Salt", "Glass", "Stars", "Venice", "the North", "Tomorrow", "Shadows"),
            }
        ),
        has_author=True,
    ),
    SubcategorySpec(
        top="Books",
        name="Cookbooks",
        nouns=("Cookbook",),
        synonyms=("recipe book", "cooking guide", "recipe collection", "kitchen bible"),
        brands=("Phaidon", "Ebury Press", "Quadrille", "Mitchell Beazley", "Clarkson Potter", "Penguin"),
        attributes=(
            _a(
                "cuisine",
                "Italian",
                "Vegan",
                "Baking",
                "Mediterranean",
                "Japanese",
                "Quick & Easy",
                lower=False,
            ),
            _a("format", "Hardcover", "Paperback", "Spiral-Bound"),
        ),
        name_templates=(
            "{title}: {cuisine} Recipes for Every Day by {author}, {format}",
            "{title} - The {cuisine} {noun}, {format}",
        ),
        benefits=(
            "Over 100 recipes with step-by-step photos.",
            "Most dishes take 30 minutes or less.",
            "It includes weekly meal plans and shopping lists.",
            "Recipes use easy-to-find supermarket ingredients.",
            "Chapters cover breakfasts, weeknight dinners and desserts.",
            "Written by an award-winning chef and food writer.",
        ),
        uses=("weeknight dinners", "learning to cook", "dinner parties", "meal prep", "food lovers"),
        price=(9.99, 39.99),
        openers=_BOOK_OPENERS,
        qualities=("inspiring", "much-loved", "bestselling", "beautifully photographed", "practical", "new"),
        title_templates=("The {adj} Kitchen", "Simply {food}", "{adj} {food}", "Cook {adj}"),
        title_words=MappingProxyType(
            {
                "adj": ("Green", "Everyday", "Modern", "Slow", "Sunny", "Simple", "Homemade", "Honest"),
                "food": ("Pasta", "Bread", "Vegetables", "Noodles", "Bakes", "Suppers", "Salads"),
            }
        ),
        has_author=True,
    ),
    SubcategorySpec(
        top="Books",
        name="Children's Books",
        nouns=("Picture Book", "Children's Book"),
        synonyms=("kids book", "bedtime story", "storybook for toddlers", "book for kids"),
        brands=("Scholastic", "Puffin", "Usborne", "Walker Books", "Macmillan Children's Books", "Egmont"),
        attributes=(
            _a("age", "Ages 0-3", "Ages 3-5", "Ages 5-8", "Ages 8-12", query="{v}", suffix=True),
            _a("format", "Board Book", "Paperback", "Hardcover"),
        ),
        name_templates=("{title} by {author}, {format}, {age}", "{title} ({noun}, {age}) - {format}"),
        benefits=(
            "Bright, bold illustrations fill every page.",
            "A gentle rhyming story that is perfect to read aloud.",
            "It helps little ones talk about big feelings.",
            "Sturdy pages stand up to little hands.",
            "Packed with flaps to lift and things to spot.",
            "A heartwarming tale about friendship and kindness.",
        ),
        uses=(
            "bedtime reading",
            "early readers",
            "nursery and preschool",
            "birthday presents",
            "learning to read",
        ),
        price=(4.99, 19.99),
        openers=_BOOK_OPENERS,
        qualities=("delightful", "much-loved", "award-winning", "funny", "charming", "bestselling"),
        title_templates=("The {animal} Who {verb}", "{name} and the {adj} {thing}", "Goodnight, {animal}"),
        title_words=MappingProxyType(
            {
                "animal": ("Little Fox", "Bear", "Dragon", "Owl", "Penguin", "Tiger", "Hedgehog"),
                "verb": (
                    "Lost Its Roar",
                    "Couldn't Sleep",
                    "Loved the Stars",
                    "Wanted to Fly",
                    "Came to Tea",
                ),
                "adj": ("Magic", "Enormous", "Secret", "Purple", "Runaway"),
                "thing": ("Balloon", "Treehouse", "Jam Sandwich", "Rocket", "Umbrella"),
            }
        ),
        has_author=True,
    ),
    # ------------------------------------------------------------------ Beauty
    SubcategorySpec(
        top="Beauty & Personal Care",
        name="Face Moisturisers",
        nouns=("Face Moisturiser", "Face Cream", "Day Cream"),
        synonyms=("moisturizer", "facial lotion", "hydrating lotion for face", "skin hydrator"),
        brands=("CeraVe", "La Roche-Posay", "Neutrogena", "Olay", "Clinique", "The Ordinary", "Nivea"),
        attributes=(
            _a("formula", "Fragrance-Free", "Lightweight", "Rich", "Oil-Free", "SPF 30"),
            _a(
                "skin_type",
                "Dry Skin",
                "Oily Skin",
                "Sensitive Skin",
                "All Skin Types",
                query="for {v}",
                suffix=True,
            ),
            _a("size", "50 ml", "75 ml", "100 ml", lower=False),
        ),
        name_templates=(
            "{brand} {formula} {noun} for {skin_type}, {size}",
            "{brand} {model} Hydrating {noun} - {formula}, {size}",
        ),
        benefits=(
            "Hyaluronic acid and ceramides lock in moisture for 24 hours.",
            "It absorbs quickly with no greasy finish.",
            "Dermatologist tested and non-comedogenic.",
            "Niacinamide helps calm redness and even out skin tone.",
            "It works well under make-up.",
            "Free from parabens and added colour.",
        ),
        uses=("morning skincare routines", "winter dryness", "after shaving", "reactive skin", "daily use"),
        price=(5.99, 69.99),
        models=("Hydra ##", "Daily", "Regenerist", "Toleriane", "Hydro Boost"),
    ),
    SubcategorySpec(
        top="Beauty & Personal Care",
        name="Shampoo",
        nouns=("Shampoo",),
        synonyms=("hair wash", "hair cleanser", "scalp wash"),
        brands=(
            "Pantene",
            "Head & Shoulders",
            "L'Oréal Paris",
            "Aveda",
            "Olaplex",
            "Herbal Essences",
            "Garnier",
        ),
        attributes=(
            _a("formula", "Sulphate-Free", "Anti-Dandruff", "Volumising", "Repairing", "Moisturising"),
            _a(
                "hair_type",
                "Dry Hair",
                "Oily Hair",
                "Curly Hair",
                "Colour-Treated Hair",
                "All Hair Types",
                query="for {v}",
                suffix=True,
            ),
            _a("size", "250 ml", "400 ml", "1 L", lower=False),
        ),
        name_templates=(
            "{brand} {formula} {noun} for {hair_type}, {size}",
            "{brand} {model} {formula} {noun}, {size}",
        ),
        benefits=(
            "A rich lather cleanses without stripping natural oils.",
            "Argan oil leaves hair soft, shiny and easy to detangle.",
            "Zinc pyrithione fights flakes and soothes an itchy scalp.",
            "Safe for colour-treated and keratin-treated hair.",
            "A fresh scent of citrus and green tea.",
            "A vegan formula, never tested on animals.",
        ),
        uses=("daily washing", "after the gym", "dry winter hair", "swimmers", "the whole family"),
        price=(3.49, 39.99),
        models=("No. #", "Pro-V", "Elvive", "Fructis", "Classic Clean"),
        mass=True,
    ),
    SubcategorySpec(
        top="Beauty & Personal Care",
        name="Electric Toothbrushes",
        nouns=("Electric Toothbrush", "Sonic Toothbrush"),
        synonyms=("power toothbrush", "rechargeable toothbrush", "battery tooth brush"),
        brands=("Oral-B", "Philips Sonicare", "Colgate", "Quip", "Panasonic"),
        attributes=(
            _a("feature", "Pressure Sensor", "Smart Timer", "App Connectivity"),
            _a("modes", "3 Modes", "5 Modes", "7 Modes"),
            _a("colour", "White", "Black", "Pink", "Blue"),
        ),
        name_templates=(
            "{brand} {model} {noun} with {feature}, {modes}, {colour}",
            "{brand} {model} {noun}, {modes}, {colour}",
        ),
        benefits=(
            "It removes up to ten times more plaque than a manual brush.",
            "A two-minute timer with 30-second pulses helps you brush evenly.",
            "The pressure sensor lights up if you brush too hard.",
            "One charge lasts up to three weeks.",
            "A travel case and two replacement heads are included.",
            "Gentle modes suit sensitive teeth and gums.",
        ),
        uses=("whiter teeth", "sensitive gums", "travel", "teens with braces", "daily oral care"),
        price=(19.99, 299.99),
        models=("iO Series #", "Pro ####", "DiamondClean ####", "ProtectiveClean ####", "Vitality ###"),
    ),
    # ------------------------------------------------------------------ Toys & Games
    SubcategorySpec(
        top="Toys & Games",
        name="Building Sets",
        nouns=("Building Set", "Construction Kit"),
        synonyms=("building blocks", "brick set", "construction toy", "stem toy"),
        brands=("LEGO", "Mega Bloks", "K'NEX", "Playmobil", "Meccano", "Magna-Tiles"),
        attributes=(
            _a("theme", "Space", "City", "Castle", "Dinosaur", "Race Car", "Pirate Ship"),
            _a("pieces", "150 Pieces", "500 Pieces", "1200 Pieces"),
            _a("age", "Ages 4+", "Ages 6+", "Ages 9+", "Ages 12+", suffix=True),
        ),
        name_templates=(
            "{brand} {theme} {noun} {model}, {pieces}, {age}",
            "{brand} {model} {theme} {noun} - {pieces}",
        ),
        benefits=(
            "Step-by-step illustrated instructions make the build easy to follow.",
            "It builds three different models from one box.",
            "It encourages creativity, patience and problem solving.",
            "Compatible with other sets from the same range.",
            "Moving parts and minifigures allow endless role play.",
            "A satisfying weekend project for older builders.",
        ),
        uses=(
            "birthday presents",
            "rainy afternoons",
            "STEM learning",
            "family build nights",
            "display on a shelf",
        ),
        price=(9.99, 249.99),
        models=("#####", "No. ####"),
    ),
    SubcategorySpec(
        top="Toys & Games",
        name="Board Games",
        nouns=("Board Game", "Tabletop Game"),
        synonyms=(
            "game for game night",
            "family card and dice game",
            "parlour game",
            "strategy game for adults",
        ),
        brands=("Hasbro", "Asmodee", "Ravensburger", "Mattel", "Days of Wonder", "Z-Man Games"),
        attributes=(
            _a("type", "Strategy", "Party", "Cooperative", "Family", "Word"),
            _a("players", "2-4 Players", "2-6 Players", "1-5 Players", suffix=True),
            _a("age", "Ages 8+", "Ages 10+", "Ages 14+", suffix=True),
        ),
        name_templates=(
            "{brand} {title} - {type} {noun} for {players}, {age}",
            "{title}: The {type} {noun} by {brand}, {age}",
        ),
        benefits=(
            "Easy to learn in ten minutes but with plenty of depth.",
            "Games last around 45 minutes.",
            "A beautifully illustrated board with chunky wooden pieces.",
            "Work together to beat the game before time runs out.",
            "A modular board gives high replay value.",
            "A perfect mix of luck and strategy.",
        ),
        uses=("family game night", "parties", "playing with teenagers", "couples", "holiday gatherings"),
        price=(12.99, 89.99),
        title_templates=("{place} {thing}",),
        title_words=MappingProxyType(
            {
                "place": ("Castle", "Harbour", "Dragon", "Jungle", "Galaxy", "Railway", "Orchard", "Volcano"),
                "thing": ("Quest", "Tycoon", "Rush", "Builders", "Heist", "Legends", "Kingdoms", "Explorers"),
            }
        ),
    ),
    SubcategorySpec(
        top="Toys & Games",
        name="Jigsaw Puzzles",
        nouns=("Jigsaw Puzzle",),
        synonyms=("picture puzzle", "puzzle for adults", "brain teaser puzzle"),
        brands=("Ravensburger", "Buffalo Games", "Galison", "Wentworth", "Gibsons"),
        attributes=(
            _a("pieces", "300 Pieces", "500 Pieces", "1000 Pieces", "2000 Pieces"),
            _a("theme", "Landscape", "Cats", "World Map", "Vintage Travel", "Botanical", "Cityscape"),
        ),
        name_templates=("{brand} {pieces} {noun} - {theme}", "{brand} {theme} {noun}, {pieces}"),
        benefits=(
            "Precision-cut pieces lock together snugly with no false fits.",
            "Printed on thick, glare-free board.",
            "A full-size reference poster is included in the box.",
            "A relaxing, screen-free challenge for a quiet evening.",
            "Made from recycled cardboard with plant-based inks.",
        ),
        uses=(
            "rainy weekends",
            "family time",
            "relaxing evenings",
            "gifts for grandparents",
            "mindful breaks",
        ),
        price=(7.99, 39.99),
    ),
    # ------------------------------------------------------------------ Clothing
    SubcategorySpec(
        top="Clothing",
        name="T-Shirts",
        nouns=("T-Shirt", "Tee"),
        synonyms=("tshirt", "short sleeve top", "crew neck top", "tee shirt"),
        brands=("Uniqlo", "Gap", "H&M", "Levi's", "Champion", "Patagonia", "Hanes"),
        attributes=(
            _a("gender", "Men's", "Women's", "Unisex", lower=False),
            _a("material", "100% Cotton", "Organic Cotton", "Cotton Blend", "Merino Wool"),
            _a("colour", "White", "Black", "Navy", "Heather Grey", "Olive", "Burgundy"),
            _a("size", "XS", "S", "M", "L", "XL", "XXL", query="size {v}", suffix=True, lower=False),
        ),
        name_templates=(
            "{brand} {gender} {material} Crew Neck {noun}, {colour}, Size {size}",
            "{brand} {gender} Classic {noun} - {colour} ({size})",
        ),
        benefits=(
            "Soft, breathable fabric that gets better with every wash.",
            "A relaxed fit that layers well under a jacket.",
            "Pre-shrunk, so it keeps its shape.",
            "Reinforced shoulder seams for durability.",
            "Tagless neck label for all-day comfort.",
        ),
        uses=("everyday wear", "the gym", "layering", "summer holidays", "casual Fridays"),
        price=(7.99, 59.99),
    ),
    SubcategorySpec(
        top="Clothing",
        name="Jeans",
        nouns=("Jeans",),
        synonyms=("denim trousers", "denim pants", "denims"),
        brands=("Levi's", "Wrangler", "Lee", "Diesel", "G-Star Raw", "Gap"),
        attributes=(
            _GENDER,
            _a("fit", "Slim Fit", "Straight Leg", "Skinny", "Relaxed Fit", "Bootcut"),
            _a("colour", "Dark Wash", "Light Wash", "Black", "Indigo"),
            _a("size", "28W 30L", "30W 32L", "32W 32L", "34W 32L", "36W 34L", suffix=True, lower=False),
        ),
        name_templates=(
            "{brand} {model} {gender} {fit} {noun}, {colour}, {size}",
            "{brand} {gender} {fit} {noun} - {colour}",
        ),
        benefits=(
            "Cut from stretch denim that moves with you.",
            "Classic five-pocket styling with a zip fly.",
            "A mid-rise waist that sits comfortably all day.",
            "Made with less water than conventional denim.",
            "Sturdy rivets and double stitching at the stress points.",
        ),
        uses=("everyday wear", "nights out", "weekend errands", "the office on Fridays", "travel"),
        price=(24.99, 129.99),
        models=("501", "511", "Texas", "Brooklyn", "3301", "Classic"),
        mass=True,
    ),
    SubcategorySpec(
        top="Clothing",
        name="Rain Jackets",
        nouns=("Rain Jacket", "Waterproof Jacket", "Shell Jacket"),
        synonyms=("raincoat", "anorak", "waterproof coat", "cagoule"),
        brands=(
            "The North Face",
            "Patagonia",
            "Columbia",
            "Arc'teryx",
            "Berghaus",
            "Helly Hansen",
            "Regatta",
        ),
        attributes=(
            _GENDER,
            _a("style", "Packable", "Hooded", "Breathable", "Insulated"),
            _a("colour", "Black", "Navy", "Red", "Yellow", "Forest Green"),
            _a("size", "S", "M", "L", "XL", query="size {v}", suffix=True, lower=False),
        ),
        name_templates=(
            "{brand} {model} {gender} {style} {noun}, {colour}, Size {size}",
            "{brand} {gender} {style} {noun} - {colour}",
        ),
        benefits=(
            "A fully waterproof, breathable membrane keeps rain out and lets sweat escape.",
            "Taped seams and a storm flap seal out wind-driven rain.",
            "The adjustable hood fits over a cap or helmet.",
            "It packs into its own pocket for travel.",
            "Pit zips dump heat on steep climbs.",
        ),
        uses=("hiking", "city commuting", "festivals", "dog walks", "travel"),
        price=(29.99, 449.99),
        models=("Venture #", "Torrentshell #L", "Beta LT", "Paclite", "Watertight II"),
    ),
    # ------------------------------------------------------------------ Garden
    SubcategorySpec(
        top="Garden & Outdoor",
        name="Garden Hoses",
        nouns=("Garden Hose", "Expandable Hose"),
        synonyms=("hosepipe", "watering pipe", "flexible water line"),
        brands=("Gardena", "Hozelock", "Flexzilla", "Karcher", "Draper"),
        attributes=(
            _a("length", "15 m", "25 m", "30 m", "50 m", lower=False),
            _a("material", "Rubber", "PVC", "Latex Core", "Hybrid Polymer"),
            _a("colour", "Green", "Yellow", "Blue", "Grey"),
        ),
        name_templates=(
            "{brand} {model} {length} {material} {noun}, {colour}",
            "{brand} {length} {noun} with 8-Pattern Spray Nozzle - {colour}",
        ),
        benefits=(
            "Kink-resistant and crush-proof, even when a car drives over it.",
            "Brass fittings will not rust or leak.",
            "Light enough to drag around a large garden.",
            "Stays flexible in freezing temperatures.",
            "The spray nozzle has settings from mist to jet.",
        ),
        uses=(
            "watering flower beds",
            "washing the car",
            "filling paddling pools",
            "vegetable patches",
            "cleaning patios",
        ),
        price=(14.99, 129.99),
        models=("Classic", "Superflex", "Pro ###", "HX-##"),
    ),
    SubcategorySpec(
        top="Garden & Outdoor",
        name="Pruning Shears",
        nouns=("Pruning Shears", "Secateurs", "Garden Pruner"),
        synonyms=("clippers for plants", "hand pruners", "branch cutter", "garden scissors"),
        brands=("Felco", "Fiskars", "Wolf-Garten", "Spear & Jackson", "Okatsune", "Gardena"),
        attributes=(
            _a("type", "Bypass", "Anvil", "Ratchet"),
            _a("blade", "Carbon Steel", "Stainless Steel", "Titanium-Coated"),
            _a("grip", "Ergonomic Grip", "Rotating Handle", "Left-Handed"),
        ),
        name_templates=(
            "{brand} {model} {type} {noun}, {blade} Blades, {grip}",
            "{brand} {type} {noun} - {grip}",
        ),
        benefits=(
            "Precision-ground blades make clean cuts that help plants heal.",
            "Cuts branches up to 2 cm thick.",
            "A safety lock keeps the blades closed in your pocket.",
            "Every part can be replaced, so they last for decades.",
            "Shock-absorbing bumpers reduce wrist strain.",
        ),
        uses=("rose pruning", "deadheading", "shaping shrubs", "fruit trees", "harvesting herbs"),
        price=(9.99, 89.99),
        models=("No. #", "PowerGear", "Xseries", "Razorsharp", "Comfort ###"),
    ),
    SubcategorySpec(
        top="Garden & Outdoor",
        name="Plant Pots",
        nouns=("Plant Pot", "Planter", "Flower Pot"),
        synonyms=("flowerpot", "plant container", "cachepot", "jardiniere"),
        brands=("Elho", "Bloem", "Lechuza", "Whitefurze", "Mkono"),
        attributes=(
            _a("style", "Self-Watering", "Hanging", "Indoor", "Outdoor"),
            _a("material", "Terracotta", "Ceramic", "Recycled Plastic", "Concrete", "Rattan"),
            _a("diameter", "12 cm", "17 cm", "25 cm", "35 cm", lower=False),
            _a("colour", "White", "Black", "Sage", "Grey", "Blush Pink"),
        ),
        name_templates=(
            "{brand} {style} {material} {noun}, {diameter}, {colour}",
            "{brand} {style} {noun} - {material}, {colour}",
        ),
        benefits=(
            "A drainage hole with a removable plug prevents root rot.",
            "A built-in water reservoir keeps plants happy for up to two weeks.",
            "Frost-resistant, so it can stay outside all year.",
            "A minimalist design that suits any room.",
            "The matching saucer protects shelves and windowsills.",
        ),
        uses=("houseplants", "herbs on a windowsill", "balcony gardens", "patio displays", "succulents"),
        price=(4.99, 79.99),
    ),
    # ------------------------------------------------------------------ Grocery
    SubcategorySpec(
        top="Grocery",
        name="Coffee",
        nouns=("Coffee",),
        synonyms=("java", "espresso beans", "coffee grounds", "roasted beans"),
        brands=(
            "Lavazza",
            "Illy",
            "Starbucks",
            "Peet's",
            "Union Coffee",
            "Taylors of Harrogate",
            "Kicking Horse",
        ),
        attributes=(
            _a(
                "origin",
                "Colombian",
                "Ethiopian",
                "Brazilian",
                "Guatemalan",
                "Sumatran",
                "House Blend",
                lower=False,
            ),
            _a("roast", "Light Roast", "Medium Roast", "Dark Roast", "Espresso Roast"),
            _a("form", "Whole Bean", "Ground"),
            _a("weight", "250 g", "500 g", "1 kg", suffix=True, lower=False),
        ),
        name_templates=(
            "{brand} {origin} {roast} {form} {noun}, {weight}",
            "{brand} {roast} {form} {noun} - {origin}, {weight}",
        ),
        benefits=(
            "Tasting notes of dark chocolate, caramel and toasted nuts.",
            "Ethically sourced from farmer cooperatives.",
            "Roasted in small batches for a smooth, balanced cup.",
            "A one-way valve bag locks in freshness.",
            "Bright acidity with hints of citrus and berries.",
        ),
        uses=(
            "espresso machines",
            "filter coffee",
            "French press brewing",
            "cold brew",
            "the office kitchen",
        ),
        price=(4.99, 34.99),
        related=("Coffee Makers", "Coffee Grinders"),
        mass=True,
    ),
    SubcategorySpec(
        top="Grocery",
        name="Tea",
        nouns=("Tea",),
        synonyms=("cuppa", "herbal infusion", "tisane", "brew leaves"),
        brands=("Twinings", "Yorkshire Tea", "Pukka", "Clipper", "Tetley", "Teapigs", "Lipton"),
        attributes=(
            _a(
                "type",
                "Green",
                "Earl Grey",
                "English Breakfast",
                "Chamomile",
                "Peppermint",
                "Jasmine",
                "Rooibos",
                lower=False,
            ),
            _a("form", "Tea Bags", "Loose Leaf", "Pyramid Bags"),
            _a("pack", "20 Count", "40 Count", "80 Count", "100 g"),
        ),
        name_templates=(
            "{brand} {type} {noun}, {form}, {pack}",
            "{brand} Organic {type} {noun} - {pack} {form}",
        ),
        benefits=(
            "Carefully blended for a smooth, rounded flavour.",
            "Naturally caffeine-free and calming before bed.",
            "Plastic-free biodegradable bags.",
            "Rainforest Alliance certified.",
            "Brews a strong, bright cup that stands up to milk.",
        ),
        uses=("afternoon breaks", "winding down at night", "the office", "iced tea", "breakfast"),
        price=(1.99, 19.99),
        mass=True,
    ),
    SubcategorySpec(
        top="Grocery",
        name="Pasta",
        nouns=("Pasta",),
        synonyms=("noodles", "macaroni", "italian dry pasta shapes"),
        brands=("Barilla", "De Cecco", "Garofalo", "Rummo", "Banza", "Napolina"),
        attributes=(
            _a("shape", "Spaghetti", "Penne", "Fusilli", "Rigatoni", "Linguine", "Farfalle", lower=False),
            _a("grain", "Durum Wheat", "Whole Wheat", "Gluten-Free", "Red Lentil"),
            _a("weight", "500 g", "1 kg", "3 x 500 g", suffix=True, lower=False),
        ),
        name_templates=(
            "{brand} {grain} {shape} {noun}, {weight}",
            "{brand} {shape} - {grain} {noun}, {weight}",
        ),
        benefits=(
            "Bronze-die cut for a rough surface that holds sauce.",
            "Slowly dried at low temperature for a firm bite.",
            "Cooks al dente in 9 to 11 minutes.",
            "Made with 100% Italian wheat.",
            "High in protein and fibre.",
        ),
        uses=("quick weeknight dinners", "pasta bakes", "summer salads", "family meals", "batch cooking"),
        price=(0.99, 12.99),
        mass=True,
    ),
    # ------------------------------------------------------------------ Pet Supplies
    SubcategorySpec(
        top="Pet Supplies",
        name="Dog Food",
        nouns=("Dog Food",),
        synonyms=("kibble", "dog chow", "canine nutrition", "food for puppies"),
        brands=(
            "Purina",
            "Royal Canin",
            "Hill's Science Diet",
            "Pedigree",
            "Lily's Kitchen",
            "Orijen",
            "Blue Buffalo",
        ),
        attributes=(
            _a("life_stage", "Puppy", "Adult", "Senior"),
            _a("form", "Dry", "Wet", "Grain-Free Dry"),
            _a("flavour", "Chicken", "Salmon", "Lamb & Rice", "Beef", "Turkey"),
            _a("weight", "2 kg", "6 kg", "12 kg", "12 x 400 g", suffix=True, lower=False),
        ),
        name_templates=(
            "{brand} {life_stage} {form} {noun}, {flavour}, {weight}",
            "{brand} {flavour} {form} {noun} for {life_stage} Dogs - {weight}",
        ),
        benefits=(
            "Real meat is the first ingredient.",
            "Added glucosamine supports healthy joints.",
            "Omega-3 and omega-6 oils keep coats glossy.",
            "No artificial colours, flavours or preservatives.",
            "Crunchy kibble helps reduce tartar build-up.",
        ),
        uses=("fussy eaters", "active dogs", "sensitive stomachs", "large breeds", "small breeds"),
        price=(4.99, 89.99),
        mass=True,
    ),
    SubcategorySpec(
        top="Pet Supplies",
        name="Cat Litter",
        nouns=("Cat Litter",),
        synonyms=("kitty litter", "litter box filler", "cat sand"),
        brands=("Catsan", "Tidy Cats", "Dr. Elsey's", "World's Best", "Feline Pine", "Ever Clean"),
        attributes=(
            _a("type", "Clumping", "Non-Clumping", "Silica Crystal", "Wood Pellet", "Recycled Paper"),
            _a("scent", "Unscented", "Lavender", "Fresh Scent"),
            _a("volume", "5 L", "10 L", "20 L", "30 L", suffix=True, lower=False),
        ),
        name_templates=(
            "{brand} {type} {noun}, {scent}, {volume}",
            "{brand} {scent} {type} {noun} - {volume}",
        ),
        benefits=(
            "Locks away odours for up to two weeks.",
            "Forms firm clumps that are easy to scoop.",
            "Virtually dust-free for cleaner air.",
            "Made from renewable plant fibres and fully compostable.",
            "Low tracking, so less litter on the floor.",
        ),
        uses=("multi-cat homes", "kittens", "small flats", "sensitive paws", "self-cleaning litter boxes"),
        price=(3.99, 39.99),
        mass=True,
    ),
    SubcategorySpec(
        top="Pet Supplies",
        name="Dog Beds",
        nouns=("Dog Bed", "Pet Bed"),
        synonyms=("dog mattress", "dog cushion", "puppy bed", "dog cot"),
        brands=("Furhaven", "K&H", "Scruffs", "Bedsure", "Petface", "Casper"),
        attributes=(
            _a("size", "Small", "Medium", "Large", "Extra Large"),
            _a("style", "Donut", "Bolster", "Mattress", "Elevated"),
            _a("material", "Memory Foam", "Orthopedic Foam", "Faux Fur", "Waterproof Fabric"),
            _a("colour", "Grey", "Brown", "Navy", "Beige"),
        ),
        name_templates=(
            "{brand} {size} {style} {material} {noun}, {colour}",
            "{brand} {material} {noun} - {size}, {colour}",
        ),
        benefits=(
            "The removable cover is machine washable.",
            "Raised bolsters give a secure place to rest a head.",
            "Supportive foam eases pressure on ageing joints.",
            "A non-slip base keeps it in place on hard floors.",
            "Self-warming layers reflect body heat back.",
        ),
        uses=("older dogs", "crates", "car journeys", "anxious pups", "the living room"),
        price=(14.99, 199.99),
    ),
)

SPEC_BY_KEY: Mapping[str, SubcategorySpec] = MappingProxyType({s.key: s for s in SUBCATEGORIES})
SPEC_BY_NAME: Mapping[str, SubcategorySpec] = MappingProxyType({s.name: s for s in SUBCATEGORIES})
TOP_CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(s.top for s in SUBCATEGORIES))
