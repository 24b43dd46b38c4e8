"""Offline analysis of a storyteller's answer.

``analyze_answer(text)`` returns an :class:`Analysis`: sentiment (seed 003's four
values), themes, the people, kin, places and years mentioned, whether the answer
is a concrete scene, and who is described.  ``facts_from_analysis`` turns an
answer into memory candidates with a normalised identity ``key`` so that repeated
facts can be matched and contradictions found (same key, different value).

Everything is rule based plus two small libraries: VADER for sentiment and YAKE
for keyphrases.  Both are built lazily on first use and cached.  YAKE costs about
0.15 ms per word, so it only sees the most content-rich sentences of a long
answer (about 30 words); the lexicons and rules always see the whole text.
"""

from __future__ import annotations

import functools
import html
import logging
import re
import threading
import warnings
from dataclasses import asdict, dataclass, field

logger = logging.getLogger(__name__)

SENTIMENTS: tuple[str, ...] = ("difficult", "emotional", "neutral", "positive")
MAX_CHARS = 100_000  # longer answers are analysed on their first 100,000 characters
MAX_THEMES = 6
YAKE_WORD_BUDGET = 30


@dataclass(frozen=True)
class Analysis:
    """What an answer contains.  ``people`` holds display labels such as
    "brother Tom", "my mother", "Aunt Mary" or "Mrs Henderson"; ``kinship`` holds
    (relation, name or None) pairs for the storyteller's own relations;
    ``describes_person`` holds the labels of people described with a trait."""

    sentiment: str = "neutral"
    sentiment_scores: dict[str, float] = field(default_factory=dict)
    key_themes: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    kinship: list[tuple[str, str | None]] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    dates_mentioned: bool = False
    is_scene: bool = False
    describes_person: list[str] = field(default_factory=list)
    word_count: int = 0

    def to_dict(self) -> dict:
        """A JSON-ready dict (kinship pairs become two-item lists)."""
        data = asdict(self)
        data["kinship"] = [list(pair) for pair in self.kinship]
        return data

    @classmethod
    def from_dict(cls, data: dict | None) -> Analysis:
        """Rebuild from :meth:`to_dict` output; missing keys take their defaults."""
        data = dict(data or {})
        kinship = [(str(p[0]), p[1] if len(p) > 1 else None) for p in data.get("kinship") or []]
        sentiment = data.get("sentiment")
        return cls(
            sentiment=sentiment if sentiment in SENTIMENTS else "neutral",
            sentiment_scores=dict(data.get("sentiment_scores") or {}),
            key_themes=list(data.get("key_themes") or []),
            people=list(data.get("people") or []),
            kinship=kinship,
            places=list(data.get("places") or []),
            years=[int(y) for y in data.get("years") or []],
            dates_mentioned=bool(data.get("dates_mentioned")),
            is_scene=bool(data.get("is_scene")),
            describes_person=list(data.get("describes_person") or []),
            word_count=int(data.get("word_count") or 0),
        )


@dataclass(frozen=True)
class MemoryCandidate:
    """Something worth remembering about the storyteller (interaction_memory).

    ``content`` always has "subject", "key" (normalised identity) and "statement"
    (the sentence it came from), plus type-specific fields such as "relation",
    "name", "place", "year", "attribute", "value" or "count"."""

    memory_type: str  # fact / person / place / preference / event
    content: dict
    confidence: float


# --------------------------------------------------------------------------- lexicons

_REL_MAP: dict[str, str] = {
    "mother": "mother", "mum": "mother", "mom": "mother", "mam": "mother", "mama": "mother",
    "mamma": "mother", "mummy": "mother", "mommy": "mother", "ma": "mother",
    "father": "father", "dad": "father", "daddy": "father", "papa": "father", "pa": "father",
    "da": "father", "pop": "father",
    "parents": "parents", "folks": "parents",
    "brother": "brother", "brothers": "brother", "sister": "sister", "sisters": "sister",
    "siblings": "sibling",
    "grandmother": "grandmother", "grandma": "grandmother", "granny": "grandmother",
    "gran": "grandmother", "nan": "grandmother", "nana": "grandmother", "nanna": "grandmother",
    "nonna": "grandmother", "oma": "grandmother", "bubbe": "grandmother",
    "grandfather": "grandfather", "grandpa": "grandfather", "granddad": "grandfather",
    "grandad": "grandfather", "gramps": "grandfather", "nonno": "grandfather",
    "opa": "grandfather", "grandparents": "grandparents",
    "aunt": "aunt", "auntie": "aunt", "aunty": "aunt", "aunts": "aunt",
    "uncle": "uncle", "uncles": "uncle", "cousin": "cousin", "cousins": "cousin",
    "son": "son", "sons": "son", "daughter": "daughter", "daughters": "daughter",
    "children": "child", "kids": "child", "child": "child",
    "husband": "husband", "hubby": "husband", "wife": "wife", "partner": "partner",
    "fiance": "fiance", "fiancé": "fiance", "fiancee": "fiancee", "fiancée": "fiancee",
    "niece": "niece", "nephew": "nephew", "nieces": "niece", "nephews": "nephew",
    "grandson": "grandson", "granddaughter": "granddaughter", "grandchildren": "grandchild",
    "grandsons": "grandson", "granddaughters": "granddaughter",
    "stepmother": "stepmother", "stepfather": "stepfather", "stepbrother": "stepbrother",
    "stepsister": "stepsister", "godmother": "godmother", "godfather": "godfather",
    "mother-in-law": "mother-in-law", "father-in-law": "father-in-law",
    "sister-in-law": "sister-in-law", "brother-in-law": "brother-in-law",
    "son-in-law": "son-in-law", "daughter-in-law": "daughter-in-law",
    "friend": "friend", "friends": "friend", "boyfriend": "boyfriend",
    "girlfriend": "girlfriend", "sweetheart": "sweetheart",
    "neighbour": "neighbour", "neighbor": "neighbour", "teacher": "teacher", "boss": "boss",
}
#: Relations that count as family (for "key family members identified").
FAMILY_RELATIONS: frozenset[str] = frozenset(
    {
        "mother", "father", "parents", "brother", "sister", "sibling", "grandmother",
        "grandfather", "grandparents", "aunt", "uncle", "cousin", "son", "daughter", "child",
        "husband", "wife", "partner", "fiance", "fiancee", "niece", "nephew", "grandson",
        "granddaughter", "grandchild", "stepmother", "stepfather", "stepbrother",
        "stepsister", "godmother", "godfather", "mother-in-law", "father-in-law",
        "sister-in-law", "brother-in-law", "son-in-law", "daughter-in-law",
    }
)
_FEMALE_RELATIONS = frozenset(
    {
        "mother", "sister", "grandmother", "aunt", "daughter", "wife", "fiancee", "niece",
        "granddaughter", "stepmother", "stepsister", "godmother", "mother-in-law",
        "sister-in-law", "daughter-in-law", "girlfriend",
    }
)
_MALE_RELATIONS = frozenset(
    {
        "father", "brother", "grandfather", "uncle", "son", "husband", "fiance", "nephew",
        "grandson", "stepfather", "stepbrother", "godfather", "father-in-law",
        "brother-in-law", "son-in-law", "boyfriend",
    }
)
_PLURAL_REL_WORDS = frozenset(
    {
        "parents", "folks", "brothers", "sisters", "siblings", "grandparents", "aunts",
        "uncles", "cousins", "sons", "daughters", "children", "kids", "nieces", "nephews",
        "grandchildren", "grandsons", "granddaughters", "friends",
    }
)
# relations whose named form reads as a title: "Aunt Mary", "Grandma Rose"
_TITLE_RELATIONS = frozenset({"aunt", "uncle", "grandmother", "grandfather", "cousin"})
# only one of these per person: a second name for the same relation is a contradiction
_SINGULAR_RELATIONS = frozenset({"mother", "father"})

_FEMALE_NAMES = frozenset(
    """Mary Anna Anne Ann Annie Margaret Peggy Maggie Elizabeth Betty Beth Liz Lizzie Eliza
    Helen Dorothy Dot Dolly Ruth Mildred Frances Virginia Evelyn Alice Jean Joan Marie Rose
    Rosie Rosa Lillian Lily Irene Louise Gladys Edna Florence Ethel Grace Doris Hazel Gertrude
    Kathleen Kate Katie Catherine Katherine Kitty Ellen Nellie Eileen Bridget Brigid Nora Norah
    Maureen Theresa Teresa Agnes Shirley Barbara Patricia Carol Judy Judith Nancy Linda Susan
    Sue Sarah Sally Sadie Emma Emily Clara Edith Ida Martha Esther Sophie Sophia Maria Lucia
    Lucy Giulia Francesca Carmela Concetta Angela Josephine Josie Vera Olga Irena Zofia Helga
    Greta Ingrid Hannah Miriam Rachel Rebecca Leah Sylvia Phyllis Pauline Joyce Marjorie Muriel
    Elsie Ivy Violet Daisy Mabel Winifred Winnie Vivian Audrey June Joy Hilda Elaine Janet Jane
    Joanne Lorraine Diane Diana Christine Wendy Gloria Lois Bernadette Beatrice Bea Connie
    Constance Julia Laura Jenny Jennifer Molly Polly Rita Sheila Sybil Thelma Valerie Veronica
    Yvonne Ada Amy Betsy Georgia Ella Eva Eve Isabel Isabella Nina Pearl Ruby Stella Millie
    Marion Marian Peg Bess Bessie Minnie Mamie Nettie Lena Carmen Dolores Ana Rosario Mei Ling
    Fatima Aisha Priya Anita Ingeborg Elsa Marta Hanna Birgit Tessa Maeve Siobhan Aoife
    Deirdre""".split()
)
_MALE_NAMES = frozenset(
    """John Jack Johnny James Jim Jimmy Jamie William Will Bill Billy Willie Robert Bob Bobby
    Rob Robbie Charles Charlie Chuck George Joseph Joe Joey Thomas Tom Tommy Edward Eddie Ed
    Ted Teddy Frank Frankie Francis Harry Henry Hank Walter Arthur Albert Alfred Fred Freddie
    Richard Dick Rick Michael Mike Mick Mickey Patrick Paddy Peter Paul David Dave Davy Donald
    Don Ronald Ron Raymond Ray Kenneth Ken Kenny Stanley Stan Leonard Len Lenny Ernest Ernie
    Harold Howard Herbert Bert Louis Lou Samuel Sam Sammy Daniel Dan Danny Anthony Tony
    Antonio Giuseppe Giovanni Salvatore Sal Luigi Mario Carlo Marco Paolo Pietro Vincent Vince
    Vinny Andrew Andy Stephen Steven Steve Martin Marty Hugh Sean Seamus Liam Dennis Declan
    Kevin Brian Gerald Gerry Jerry Lawrence Larry Leo Leon Max Morris Maurice Norman Oscar Otto
    Hans Karl Fritz Stefan Tadeusz Piotr Ivan Igor Abraham Abe Isaac Jacob Jake Benjamin Ben
    Benny Nathan Nat Simon Solomon Hyman Irving Sidney Sid Roy Ralph Roger Russell Eugene Gene
    Earl Elmer Clarence Cecil Clifford Cliff Gordon Douglas Doug Duncan Angus Alan Allan Alex
    Alexander Alec Archie Victor Vic Philip Phil Nick Nicholas Matthew Matt Mark Christopher Tim
    Timothy Barry Gary Graham Geoff Geoffrey Colin Keith Malcolm Neil Nigel Reg Reginald Wally
    Wilf Wilfred Hector Jose Juan Manuel Carlos Luis Pedro Miguel Ahmed Mohammed Ali Ravi Raj
    Wei Elvis Lionel Percy Horace Rupert Cyril Basil Stuart Ian Iain Gregory Greg Jeremy Dermot
    Padraig Eamon Conor Brendan Ciaran Lars Sven Erik Olaf""".split()
)
_NEUTRAL_NAMES = frozenset("Pat Chris Terry Jan Sam Jo Frankie Lee Leslie Sandy Marion".split())
FIRST_NAMES: frozenset[str] = _FEMALE_NAMES | _MALE_NAMES | _NEUTRAL_NAMES

_TITLES_FEMALE = frozenset({"Mrs", "Miss", "Ms", "Sister", "Mother", "Lady", "Madame", "Signora"})
_TITLES_MALE = frozenset({"Mr", "Father", "Brother", "Sir", "Signor", "Herr", "Monsieur"})
_TITLES_OTHER = frozenset(
    {
        "Dr", "Doctor", "Nurse", "Captain", "Capt", "Sergeant", "Sgt", "Lieutenant", "Lt",
        "Major", "Colonel", "Col", "General", "Corporal", "Private", "Professor", "Prof",
        "Reverend", "Rev", "Rabbi", "Pastor", "Judge", "Officer", "Coach",
    }
)
_TITLES = _TITLES_FEMALE | _TITLES_MALE | _TITLES_OTHER

_MONTHS = (
    "January February March April May June July August September October November December"
).split()
_WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
# capitalised words that are never a person or a place on their own
_COMMON_CAPS = frozenset(
    set(_MONTHS) - {"May", "June", "April", "August"}
    | set(_WEEKDAYS)
    | set(
        """I I'm I'd I've I'll OK Okay God Lord Jesus Christ Mass Church Heaven Bible Christmas
        Easter Thanksgiving Hanukkah Passover Ramadan Eid Halloween Diwali Sabbath Lent Advent
        New Year Years Eve English French German Italian Irish Scottish Welsh British American
        Canadian Polish Russian Jewish Catholic Protestant Methodist Baptist Lutheran Anglican
        Muslim Hindu Sikh Buddhist Greek Spanish Portuguese Dutch Swedish Norwegian Danish
        Chinese Japanese Korean Indian Mexican African Latin Hebrew Yiddish Gaelic Army Navy
        Marines Air Force RAF WWII WW2 WWI War World Great Depression Blitz King Queen President
        Prime Minister Government Mum Mom Mam Mummy Mommy Dad Daddy Papa Pa Ma Mama Grandma
        Grandpa Granny Gran Nan Nana Grandad Granddad Mr Mrs Ms Miss Dr TV Radio
        Ford Chevrolet Hoover Coca Cola Yes No Oh Well So And But Then The A An Our My We He She
        They It This That There When What Where Who Why How If In On At Of To For From By With
        After Before During Later Back Home Oh Ah Sunday-school Christian Christianity
        Communist Communists Nazi Nazis Allies German's Jews Catholics Protestants
        Yankees""".split()
    )
)

_COUNTRIES = """Afghanistan Albania Algeria Argentina Armenia Australia Austria Bangladesh
Belgium Bolivia Bosnia Brazil Bulgaria Burma Cambodia Cameroon Canada Chile China Colombia Croatia
Cuba Cyprus Czechoslovakia Denmark Egypt England Estonia Ethiopia Finland France Germany Ghana
Greece Guatemala Haiti Holland Hungary Iceland India Indonesia Iran Iraq Ireland Israel Italy
Jamaica Japan Jordan Kenya Korea Latvia Lebanon Libya Lithuania Luxembourg Malaysia Malta Mexico
Morocco Nepal Netherlands Nigeria Norway Pakistan Palestine Panama Peru Philippines Poland
Portugal Romania Russia Scotland Serbia Singapore Slovakia Slovenia Somalia Spain Sudan Sweden
Switzerland Syria Taiwan Tanzania Thailand Trinidad Tunisia Turkey Uganda Ukraine Uruguay
Venezuela Vietnam Wales Yugoslavia Zambia Zimbabwe Britain America Europe Asia Africa Australia
Antarctica Scandinavia Siberia Normandy Sicily Sardinia Bavaria Prussia Galicia Ulster Bengal
Punjab Kashmir Borneo Java Okinawa Guam Korea Burma Manchuria Flanders Lapland Tuscany
Calabria Hawaii Alaska Texas California Florida Georgia Ohio Iowa Maine Utah Idaho Nevada
Oregon Montana Wyoming Colorado Kansas Nebraska Oklahoma Arkansas Louisiana Mississippi Alabama
Tennessee Kentucky Virginia Carolina Maryland Delaware Pennsylvania Jersey Connecticut
Massachusetts Vermont Michigan Wisconsin Minnesota Illinois Indiana Missouri Arizona Washington
Dakota Ontario Quebec Manitoba Alberta Saskatchewan Newfoundland Yorkshire Lancashire Kent
Cornwall Devon Essex Sussex Surrey Norfolk Suffolk Cumbria Galway Cork Kerry Mayo Donegal
Tipperary Limerick Sligo Antrim""".split()
_CITIES = """Boston London Paris Rome Naples Milan Venice Florence Turin Palermo Genoa Berlin
Munich Hamburg Vienna Prague Warsaw Krakow Budapest Moscow Leningrad Petersburg Kiev Kyiv Odessa
Athens Istanbul Madrid Barcelona Lisbon Dublin Belfast Edinburgh Glasgow Aberdeen Cardiff Swansea
Liverpool Manchester Birmingham Leeds Sheffield Bristol Newcastle Nottingham Leicester Coventry
Southampton Portsmouth Plymouth Brighton Oxford Cambridge York Bath Blackpool Amsterdam Rotterdam
Brussels Antwerp Copenhagen Stockholm Oslo Helsinki Zurich Geneva Marseille Lyon Chicago
Philadelphia Baltimore Detroit Cleveland Pittsburgh Cincinnati Milwaukee Minneapolis Seattle
Portland Denver Houston Dallas Atlanta Miami Orlando Tampa Phoenix Memphis Nashville Richmond
Buffalo Rochester Albany Providence Hartford Newark Brooklyn Queens Bronx Manhattan Harlem
Dorchester Quincy Cambridge Worcester Springfield Toronto Montreal Vancouver Ottawa Halifax
Winnipeg Calgary Sydney Melbourne Brisbane Perth Adelaide Auckland Wellington Tokyo Osaka
Hiroshima Nagasaki Shanghai Beijing Peking Canton Bombay Mumbai Delhi Calcutta Kolkata Madras
Karachi Lahore Dhaka Manila Saigon Hanoi Seoul Bangkok Jerusalem Haifa Beirut Cairo Alexandria
Casablanca Algiers Tunis Lagos Nairobi Johannesburg Havana Kingston Lima Santiago Caracas
Anzio Salerno Dunkirk Arnhem Bastogne Tobruk Gallipoli Singapore Hamburg Dresden Cologne
Frankfurt Stuttgart Bremen Danzig Gdansk Lodz Lwow Vilnius Riga Tallinn Minsk Sarajevo
Belgrade Zagreb Bucharest Sofia Salonika Thessaloniki Smyrna Valletta Gibraltar Derry Limerick
Cork Galway Waterford Kilkenny Sligo Leeds Hull Derby Stoke Swindon Reading Norwich Exeter
Ipswich Inverness Dundee Vegas Reno Honolulu Anchorage Fresno Sacramento Oakland""".split()
_MULTI_PLACES = [
    "New York", "New York City", "New Jersey", "New England", "New Orleans", "New Mexico",
    "New Hampshire", "New Zealand", "New Delhi", "Los Angeles", "San Francisco", "San Diego",
    "San Antonio", "San Jose", "Santa Fe", "Las Vegas", "Salt Lake City", "Kansas City",
    "St Louis", "St Paul", "Long Island", "Staten Island", "Cape Cod", "North Carolina",
    "South Carolina", "North Dakota", "South Dakota", "West Virginia", "Rhode Island",
    "United States", "United Kingdom", "Soviet Union", "South Africa", "North Africa",
    "Northern Ireland", "Hong Kong", "Sri Lanka", "Puerto Rico", "Costa Rica", "Buenos Aires",
    "Rio de Janeiro", "Sao Paulo", "Mexico City", "Tel Aviv", "Great Britain", "East Germany",
    "West Germany", "East End", "West End", "Ellis Island", "Pearl Harbor", "Isle of Man",
    "Isle of Wight", "Channel Islands", "Middle East", "Far East", "Lake District",
    "Scottish Highlands", "Cape Town", "The Hague", "Nova Scotia", "British Columbia",
    "New Brunswick", "Prince Edward Island",
]
_SINGLE_PLACES = frozenset(_COUNTRIES) | frozenset(_CITIES) | frozenset({"USA", "UK", "US"})
_PLACE_SUFFIXES = frozenset(
    """Street St Road Rd Avenue Ave Lane Boulevard Drive Terrace Crescent Close Square Park
    Bridge Hill Hills River Lake Bay Island Islands Beach Harbour Harbor Church Cathedral
    Chapel School Academy College University Hospital Station County Valley Mountain Mountains
    Hall Farm Mill Mills Heights Falls Point Port Docks Dock Green Common Gardens Place Row
    Way Court Market Castle Abbey Camp Barracks Base Airport Field Fields Woods Forest Creek
    Springs Beach Pier Parish Village Town City Estate Manor Cottage Lodge Works Factory
    Shipyard Yard""".split()
)
_SAINT_WORDS = frozenset({"St", "Saint", "Ste", "San", "Santa", "Fort", "Mount", "Mt", "Lake"})
_PLACE_PREPS = frozenset(
    {"in", "at", "from", "to", "near", "into", "outside", "towards", "toward", "across",
     "through", "around", "via", "beyond", "visit", "visited", "visiting", "left", "reached"}
)

_TRAITS = (
    "tall|short|small|little|tiny|petite|frail|wiry|big|thin|skinny|slim|stout|plump|strong|handsome|beautiful|"
    "pretty|lovely|funny|kind|kindly|gentle|strict|stern|quiet|shy|loud|clever|smart|bright|"
    "stubborn|generous|patient|impatient|proud|brave|wild|lively|cheerful|warm|cold|hard|"
    "tough|soft|sweet|loving|caring|hard-working|hardworking|religious|devout|serious|jolly|"
    "mischievous|naughty|cheeky|bossy|wise|fierce|calm|nervous|sickly|sporty|musical|"
    "artistic|practical|stylish|elegant|grumpy|witty|charming|fun|mean|careful|tidy|fussy|"
    "independent|determined|sharp|bookish|talented|honest|fair|good-natured|good-looking|"
    "hot-tempered|quick-tempered|easy-going|easygoing|friendly|popular|clumsy|gruff|jovial|"
    "quiet-spoken|softly-spoken|spoiled|spoilt|adventurous|curious|creative|hilarious|"
    "wonderful|marvellous|marvelous|remarkable|formidable|tender|affectionate|sensible|"
    "frugal|thrifty|strong-willed|outgoing|reserved|dark-haired|red-haired|blonde|fair-haired"
)
_DESCRIBE_RE = re.compile(
    r"^\s*,?\s*(?:who\s+)?(?:was|is|were|are|had always been|has always been|had been|"
    r"seemed|looked|always was|was always|could be|became|grew up to be)\s+"
    r"(?:(?:a|an|the|so|very|really|quite|always|such|rather|terribly|awfully|incredibly|"
    r"ever so|real|pretty|bit|kind of|sort of|tall|extremely|truly|most|never|not|both|"
    r"all|still|also|"
    r"and|,)\s+)*(?:" + _TRAITS + r")\b"
    r"|^\s*,?\s*(?:who\s+)?had\s+(?:a|an|the)\s+(?:\w+\s+)?(?:laugh|smile|voice|temper|"
    r"heart|sense of humou?r|twinkle|way with)\b",
    re.IGNORECASE,
)
_PRONOUN_DESCRIBE_RE = re.compile(r"^\s*(He|She|They)\b", re.IGNORECASE)

# ---- sentiment and theme lexicons: literal phrases, matched on lowercase word tokens
# (apostrophes split words: "couldn't" is "couldn t").
_STRONG_DIFFICULT = """died|dies|dying|death|dead|passed away|passed on|killed|funeral|funerals|
buried|burial|grave|graves|graveside|graveyard|cemetery|abuse|abused|abuses|abusive|divorce|
divorced|miscarriage|stillborn|cancer|suicide|drowned|murdered|bombed|bombing|bombings|
air raid|air raids|prisoner|prisoners|concentration camp|concentration camps|orphan|orphans|
orphanage|orphaned|beaten|beat me|beat us|beat her|beat him|assault|assaulted|rape|raped|
molested|starving|starved|starvation|famine|evicted|bankrupt|widow|widowed|grief|grieving|
grieved|mourn|mourning|mourned|terminal|heart attack|violence|violent|alcoholic|fled|massacre|
holocaust"""
_WEAK_DIFFICULT = """war|hospital|sick|ill|illness|poor|poverty|hungry|hunger|afraid|scared|
frightened|terrified|fight|fights|fighting|argued|argument|arguments|walked out|left us|
depression|lonely|alone|struggle|struggled|struggling|hard times|rationing|blackout|blackouts|
evacuated|evacuee|evacuees|lost|injured|wounded|surgery|pain|nightmare|nightmares|trauma|
ashamed|shame|guilt|regret|cruel|bullied|bully|beating|beatings|drunk|angry|anger|upset|sad|
sadness|worried|worry|fear"""
_AFFECT = """cried|cry|crying|tears|tearful|wept|weep|weeping|sobbed|sobbing|miss her|miss him|
miss them|miss it|miss those|miss that|miss my|miss the|missed her|missed him|missed them|
missed my|missing her|missing him|missing them|heartbroken|heartache|broke my heart|my heart|
ache|aching|longing|overwhelmed|moved me|touched me|choked up|lump in my throat|emotional|
homesick|bittersweet|goosebumps|shaking|trembling|nostalgic|yearn|yearned|yearning"""

_THEME_PHRASES: dict[str, str] = {
    "family": """family|families|mother|father|mum|mom|dad|daddy|brother|brothers|sister|
    sisters|parents|grandmother|grandfather|grandma|grandpa|grandparents|granny|aunt|aunts|
    auntie|uncle|uncles|cousin|cousins|siblings|relatives""",
    "childhood": """childhood|as a child|as a kid|as a boy|as a girl|when i was little|
    when i was small|when i was young|when i was a child|when i was a kid|when i was a boy|
    when i was a girl|growing up|grew up|little girl|little boy|toy|toys|playing|played with|
    played in|played outside""",
    "home": """house|home|kitchen|garden|yard|bedroom|parlour|parlor|front room|living room|
    apartment|flat|tenement|cottage|farmhouse|porch""",
    "school": """school|schools|teacher|teachers|classroom|class|lesson|lessons|exam|exams|
    homework|college|university|headmaster|headmistress|principal|nuns""",
    "work": """work|worked|working|job|jobs|career|factory|office|boss|shift|shifts|wage|wages|
    apprentice|apprenticeship|employer|business|mill|shipyard|trade|retired|retirement""",
    "war": """war|army|navy|soldier|soldiers|sailor|sailors|air force|bombing|air raid|
    air raids|evacuated|rationing|enlisted|drafted|regiment|veteran|veterans|front line|blitz|
    military|national service|conscripted|conscription""",
    "migration": """emigrated|emigrate|emigration|immigrant|immigrants|immigrated|immigration|
    new country|passport|visa|ellis island|the old country|came over|steamship|ocean liner|
    refugee|refugees""",
    "loss": """died|death|funeral|passed away|passed on|grief|grieving|widow|widowed|buried|
    grave|mourning|mourned|lost my|lost our|lost her|lost his""",
    "love": """in love|fell for|married|marriage|wedding|courting|courtship|dating|sweetheart|
    romance|husband|wife|engaged|honeymoon|kiss|kissed""",
    "faith": """church|god|pray|prayed|praying|prayer|prayers|mass|chapel|faith|synagogue|
    mosque|temple|bible|rosary|religion|religious|priest|minister|rabbi|sunday school|
    confirmation""",
    "friendship": """friend|friends|friendship|pal|pals|mates|chum|chums|best friend|gang""",
    "health": """hospital|doctor|doctors|ill|illness|sick|sickness|nurse|nurses|operation|
    surgery|cancer|polio|tuberculosis|disease|health|medicine|injury|injured|wounded""",
    "food": """cook|cooked|cooking|baked|baking|bread|dinner|supper|meal|meals|recipe|recipes|
    cake|cakes|soup|pasta|stew|kitchen table""",
    "travel": """travel|travelled|traveled|travelling|traveling|trip|trips|holiday|holidays|
    vacation|vacations|journey|voyage|abroad|train|ship|plane""",
    "music": """music|sang|sing|singing|song|songs|piano|dance|danced|dancing|dance hall|band|
    radio|record|records|gramophone|choir|fiddle|accordion""",
    "nature": """sea|beach|river|lake|fishing|mountain|mountains|woods|forest|field|fields|
    farm|countryside|gardening|harbour|harbor|boat|boats""",
    "money": """money|poor|poverty|debt|wages|pennies|shillings|cents|dollars|hard times|
    the depression|couldn t afford|paycheck|pay packet""",
    "community": """neighbour|neighbours|neighbor|neighbors|neighbourhood|neighborhood|village|
    town|community|parish|street|the block""",
    "celebration": """christmas|birthday|party|parties|celebrate|celebrated|celebration|easter|
    thanksgiving|feast|festival""",
    "sport": """football|soccer|baseball|cricket|hockey|swimming|boxing|rugby|tennis|
    basketball|match|team""",
}
_TOKEN_RE = re.compile(r"[a-z0-9]+")


class _PhraseLexicon:
    """Counts literal phrases per label in one pass over the word tokens."""

    def __init__(self, groups: dict[str, str]) -> None:
        self.single: dict[str, str] = {}
        self.multi: dict[tuple[str, ...], str] = {}
        self.longest: dict[str, int] = {}  # first word -> longest phrase starting with it
        for label, phrases in groups.items():
            for phrase in phrases.split("|"):
                words = tuple(_TOKEN_RE.findall(phrase.lower()))
                if len(words) == 1:
                    self.single.setdefault(words[0], label)
                elif words and words not in self.multi:
                    self.multi[words] = label
                    self.longest[words[0]] = max(self.longest.get(words[0], 0), len(words))

    def scan(self, tokens: list[str]) -> dict[str, tuple[int, int]]:
        """label -> (hits, position of the first hit); the longest phrase wins."""
        found: dict[str, tuple[int, int]] = {}
        i, n = 0, len(tokens)
        while i < n:
            token, size, label = tokens[i], 1, None
            longest = self.longest.get(token)
            if longest:
                for size in range(min(longest, n - i), 1, -1):
                    label = self.multi.get(tuple(tokens[i:i + size]))
                    if label is not None:
                        break
            if label is None:
                size, label = 1, self.single.get(token)
            if label is not None:
                hits, first = found.get(label, (0, i))
                found[label] = (hits + 1, first)
            i += size
        return found


_SENTIMENT_LEXICON = _PhraseLexicon(
    {"strong": _STRONG_DIFFICULT, "weak": _WEAK_DIFFICULT, "affect": _AFFECT}
)
_THEME_LEXICON = _PhraseLexicon(_THEME_PHRASES)
_THEME_ORDER = {name: order for order, name in enumerate(_THEME_PHRASES)}
_LOST_KIN_RE = re.compile(
    r"\blost (?:my|our|his|her|their) (?:\w+ )?(?:mother|mum|mom|father|dad|husband|wife|son|"
    r"daughter|baby|child|children|brother|sister|home|house|farm|job|everything|family|"
    r"friend|parents|leg|arm|sight)\b",
    re.IGNORECASE,
)

_GENERIC_WORDS = frozenset(  # never a theme on their own
    """back time times thing things way lot lots day days year years people person one first
    last little big good great nice lovely new old bit kind sort much many well just still
    even every everything something nothing anything someone everyone quite rather able whole
    part place life lives long short around along later early yes course home house family
    mother father brother sister really truly though although always never also ago god rest
    one two three four five six seven eight nine ten nineteen twenty thirty forty fifty sixty
    seventy eighty ninety hundred thousand fifty-two""".split()
)
_GENERIC_VERBS = frozenset(  # never part of a theme
    """remember remembered got get went go going came come made make said say told tell
    thought think knew know took take bought buy saw see seen heard felt feel found find gave
    give left put kept keep brought ran sat stood walked watched grew lived live worked
    started moved called looked wanted liked loved love like need needed used mean""".split()
)
_STOPWORDS = frozenset(
    """a an the and or but if so of to in on at by for from with about into over after before
    i me my we us our you your he him his she her they them their it its this that these those
    was were is are be been being had has have do did does not no yes as than then there here
    when where who what which why how all any some very just too also would could should will
    can may might must shall""".split()
)

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "a couple of": 2, "a few": 3, "several": 3,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9}
_TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
          "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_DECADE_WORDS = {"twenties": 20, "thirties": 30, "forties": 40, "fifties": 50, "sixties": 60,
                 "seventies": 70, "eighties": 80, "nineties": 90}
_NOT_YEAR_FOLLOWERS = frozenset(
    """miles mile dollars pounds francs lire feet foot yards metres meters km kilometres
    kilometers people men women soldiers hours calories acres tons pages words copies
    times steps""".split()
)

_YEAR_RE = re.compile(r"(?<![\d$£€.,])\b(19\d\d|20[0-2]\d|2030)\b(?![.,]\d)(?:\s+([A-Za-z]+))?")
_DECADE_NUM_RE = re.compile(r"\b(19[0-9]0|20[0-2]0)['’]?s\b")
_DECADE_SHORT_RE = re.compile(r"\bthe\s+['’]?([2-9]0)['’]?s\b", re.IGNORECASE)
_DECADE_WORD_RE = re.compile(
    r"\b(?:the|early|late|mid)[\s-]+(?:nineteen[\s-]+)?(" + "|".join(_DECADE_WORDS) + r")\b",
    re.IGNORECASE,
)
_SHORT_YEAR_RE = re.compile(r"(?:^|\s)['’](\d\d)\b(?!['’]?s)")
_SPELLED_YEAR_RE = re.compile(
    r"\bnineteen[\s-]+(?:(" + "|".join(_TENS) + r")(?:[\s-]+(" + "|".join(_UNITS) + r"))?|("
    + "|".join(_TEENS) + r")|hundred|oh[\s-]+(" + "|".join(_UNITS) + r"))\b",
    re.IGNORECASE,
)
_MONTH_DATE_RE = re.compile(
    r"\b(?:January|February|March|April|June|July|August|September|October|November|December"
    r"|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Christmas|Easter|"
    r"Thanksgiving|New Year)\b|\b(?:in|of|early|late|last|next) May\b|\bMay \d|"
    r"\b(?:birthday|anniversary)\b",
)
_AGE_RE = re.compile(
    r"\bwhen (?:I|he|she|we) (?:was|were) (?:about |around |only |just |nearly |almost )?"
    r"(?:\d{1,2}|" + "|".join(_NUMBER_WORDS) + r"|" + "|".join(_TENS) + r")\b|"
    r"\b(?:aged|at the age of|age) \d{1,2}\b|\b\d{1,2} years old\b",
    re.IGNORECASE,
)

_TIME_WORDS = (
    r"summer|winter|spring|autumn|fall|morning|afternoon|evening|night|day|weekend|"
    r"sunday|monday|tuesday|wednesday|thursday|friday|saturday|christmas|easter|holiday|"
    r"year|week|dawn|dusk"
)
_WHEN_SPECIFIC_RE = re.compile(
    r"\b(?:one|that|early one|late one)\s+(?:(?:cold|hot|warm|rainy|snowy|sunny|bright|dark|"
    r"particular|early|late|fine|beautiful|lovely|grey|gray|foggy|wet|freezing|spring|"
    r"summer|winter|autumn)\s+)*(?:" + _TIME_WORDS + r")\b|"
    r"\bthe (?:day|night|morning|evening|afternoon|summer|winter|year|week) (?:of|when|that|"
    r"before|after|I|we|my|he|she|they)\b|"
    r"\bon (?:my|his|her|our|their|the) (?:\w+ )?(?:birthday|wedding day|first day|last day)\b|"
    r"\bchristmas (?:eve|day|morning)\b|\bwhen I was (?:about |around |only |just )?(?:\d{1,2}|"
    + "|".join(_NUMBER_WORDS) + r")\b",
    re.IGNORECASE,
)
_WHEN_WEAK_RE = re.compile(
    r"\b(?:morning|afternoon|evening|night|dawn|dusk|noon|midnight|sunrise|sunset|summer|"
    r"winter|spring|autumn)\b",
    re.IGNORECASE,
)
_HABITUAL_RE = re.compile(
    r"\b(?:used to|would always|always|usually|often|every (?:day|morning|evening|night|week|"
    r"weekend|summer|winter|year|sunday|saturday|time)|each (?:day|morning|week|summer|year|"
    r"sunday)|most days|on sundays|on saturdays|in general|generally)\b",
    re.IGNORECASE,
)
_WHERE_NOUNS_RE = re.compile(
    r"\b(?:kitchen|harbou?r|beach|church|school|street|yard|garden|farm|station|porch|house|"
    r"shop|store|market|field|river|lake|sea|park|hospital|docks?|pier|platform|ship|train|"
    r"bus|car|barn|attic|cellar|classroom|factory|office|camp|base|village|town|square|"
    r"bridge|hill|woods|forest|cinema|pictures|dance hall|pub|bakery|caf[eé]|restaurant|"
    r"bedroom|living room|parlou?r|front room|doorstep|stairs|window|table|shore|quay|"
    r"boat|deck|playground|schoolyard|chapel|orchard|meadow|cottage|tent|trench|barracks)\b",
    re.IGNORECASE,
)
_WHO_WE_RE = re.compile(r"\b(?:we|us)\b", re.IGNORECASE)
_DETAIL_RE = re.compile(
    r"\b(?:smell(?:ed|s)?|smelt|scent|taste[ds]?|sound(?:ed|s)?|heard|noise|loud|quiet|"
    r"silent|silence|saw|bright|dark|cold|warm|hot|wet|rain(?:ed|ing)?|snow(?:ed|ing)?|sun|"
    r"sunshine|wind|windy|fog|foggy|red|blue|green|yellow|white|black|grey|gray|golden|soft|"
    r"rough|shiny|sweet|salt|salty|bitter|creak(?:ed|ing)?|hum(?:med|ming)?|ring(?:ing)?|"
    r"rang|whistle[ds]?|crackl(?:e|ed|ing)|glow(?:ed|ing)?|took|walked|ran|watched|sat|"
    r"stood|carried|opened|held|drove|sailed|climbed|cooked|danced|sang|played|laughed|"
    r"cried|bought|rode|pulled|jumped|swam|knocked|shouted|whispered|handed|kissed|hugged|"
    r"waved|grabbed|dropped|picked|threw|caught|pushed|arrived|boarded|marched|waited|"
    r"turned|wore|baked|ate|drank|lit|peeled|poured|dug|shook|slipped|fell)\b",
    re.IGNORECASE,
)
_DONE_RE = re.compile(
    r"\b(?:that'?s all|that is all|that'?s about (?:it|all)|that'?s it(?: for (?:now|today))?|"
    r"that'?s everything|nothing (?:else|more)|i'?m done|i am done|i'?m finished|"
    r"i am finished|we'?ve covered|we have covered|covered (?:it all|everything|the main|"
    r"most|all)|enough for (?:today|now)|can'?t think of anything (?:else|more)|"
    r"i think we'?re done|that covers it|let'?s stop|let'?s finish|i'?d like to stop)\b",
    re.IGNORECASE,
)
_NOT_DONE_RE = re.compile(r"\b(?:not|n't) (?:done|finished)\b|\bnot all\b", re.IGNORECASE)

_TAG_RE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>|<[^>]{0,500}>", re.IGNORECASE | re.DOTALL)
_ABBREV_RE = re.compile(r"\b(Mr|Mrs|Ms|Dr|St|Mt|Jr|Sr|Prof|Capt|Sgt|Lt|Col|Gen|Rev|Ft)\.")
_SENT_SPLIT_RE = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")
_WORD_RE = re.compile(r"[^\W\d_]+(?:['\-][^\W\d_]+)*")
_NAME = r"(?:Mc|Mac|O'|D')?[A-Z][a-z\u00e0-\u00ff]+(?:['\-][A-Z]?[a-z\u00e0-\u00ff]+)*"
_CAP_GROUP_RE = re.compile(
    r"(?<![\w'])[A-Z][\w'\-]*(?:\s+(?:(?:of|de|da|di|del|la|le|von|van|upon|on)\s+)?[A-Z][\w'\-]*)*"
)
_REL_ALT = "|".join(sorted((re.escape(k) for k in _REL_MAP), key=len, reverse=True))
_ADJ = (
    r"late|dear|dearest|beloved|darling|older|elder|younger|little|big|baby|eldest|oldest|"
    r"youngest|twin|favourite|favorite|best|only|first|second|third|two|three|four|five|six|"
    r"seven|eight|nine|ten|half|step|new|old|poor|great|great-|lovely|wonderful|dear old"
)
_KIN_RE = re.compile(
    r"\b(?i:my|our|I had|I have|we had)\s+(?:(?i:a|an)\s+)?(?:(?i:" + _ADJ + r")[\s-]+)*"
    r"(?i:(" + _REL_ALT + r"))\b(?!-)(?:(?:\s*,\s*|\s+)(?:(?i:called|named)\s+)?("
    + _NAME + r"(?:\s*,\s*" + _NAME + r")*(?:,?\s+and\s+" + _NAME + r")?))?"
)
_APPOSITIVE_RE = re.compile(
    r"\b((?:(?:" + "|".join(sorted(_TITLES, key=len, reverse=True)) + r")\.?\s+)?" + _NAME
    + r")(?:\s*[,(]\s*|\s+(?:was|is|became)\s+)(?i:my|our)\s+(?:(?i:" + _ADJ
    + r")[\s-]+)*(?i:(" + _REL_ALT + r"))\b"
)
_KIN_TITLE_RE = re.compile(
    r"\b(Aunt|Auntie|Aunty|Uncle|Grandma|Grandpa|Granny|Gran|Nana|Nan|Nanna|Grandad|Granddad|"
    r"Nonna|Nonno|Oma|Opa|Cousin|Great-Aunt|Great-Uncle|Great Aunt|Great Uncle)\s+(" + _NAME
    + r")"
)
_TITLE_RE = re.compile(
    r"\b(" + "|".join(sorted(_TITLES, key=len, reverse=True)) + r")\.?\s+(" + _NAME
    + r"(?:\s+" + _NAME + r")?)"
)
_BARE_KIN_RE = re.compile(
    r"\b(Mum|Mom|Mam|Mummy|Mommy|Mama|Mother|Dad|Daddy|Papa|Father|Grandma|Grandpa|Granny|"
    r"Gran|Nana|Nan|Grandad|Granddad|Nonna|Nonno)\b(?!\s+[A-Z])"
)
_NAME_SPLIT_RE = re.compile(r"\s*,\s*|,?\s+and\s+")


# --------------------------------------------------------------------------- helpers


def clean_text(text: str | None) -> str:
    """Plain text: tags removed, entities decoded, quotes straightened, capped in size."""
    if not text:
        return ""
    text = str(text)[:MAX_CHARS]
    text = _TAG_RE.sub(" ", text)
    text = html.unescape(text)
    text = text.translate(str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"',
                                         "\u201d": '"', "\u00a0": " "}))
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    return text.strip()


def split_sentences(text: str) -> list[str]:
    """Sentences of already-cleaned text (abbreviations such as "Mr." kept whole)."""
    text = _ABBREV_RE.sub(r"\1", text)
    return [s.strip() for s in _SENT_SPLIT_RE.split(text) if s and s.strip()]


def is_done_signal(text: str | None) -> bool:
    """True when an answer says the storyteller has nothing more to add."""
    text = clean_text(text)
    if not text or _NOT_DONE_RE.search(text):
        return False
    return bool(_DONE_RE.search(text))


def person_gender(label: str) -> str | None:
    """"female", "male", "plural" or None for a people label from :class:`Analysis`."""
    words = label.replace("-", " - ").split()
    if not words:
        return None
    first = words[0]
    if first.lower() == "my" and len(words) > 1:
        rel_word = label.split(None, 1)[1].lower()
        if rel_word in _PLURAL_REL_WORDS:
            return "plural"
        return _relation_gender(_REL_MAP.get(rel_word, rel_word))
    if first in _TITLES_FEMALE:
        return "female"
    if first in _TITLES_MALE:
        return "male"
    rel = _REL_MAP.get(first.lower())
    if rel:
        gender = _relation_gender(rel)
        if gender:
            return gender
        words = words[1:]
    for word in words:
        if word in _FEMALE_NAMES and word not in _NEUTRAL_NAMES:
            return "female"
        if word in _MALE_NAMES and word not in _NEUTRAL_NAMES:
            return "male"
    return None


_PROPER_EXTRA = frozenset(
    """English French German Italian Irish Scottish Welsh British American Canadian Polish
    Russian Jewish Catholic Protestant Greek Spanish Portuguese Dutch Swedish Norwegian Danish
    Chinese Japanese Korean Indian Mexican African Christmas Easter Thanksgiving Hanukkah
    Passover Ramadan God I Army Navy RAF""".split()
) | frozenset(_MONTHS) | frozenset(_WEEKDAYS)


def is_proper_word(word: str) -> bool:
    """True for a word that keeps its capital in running text (a place, a first name, a
    nationality, a month, an acronym), so "Military Service" can become "military
    service" while "Boston" stays "Boston"."""
    word = _strip_possessive(word.strip(",.;:!?()\"'"))
    if not word:
        return False
    if word.isupper() and len(word) > 1:
        return True
    return (
        word in _SINGLE_PLACES
        or word in FIRST_NAMES
        or word in _PROPER_EXTRA
        or word in _MULTI_PLACE_WORDS
    )


def _relation_gender(relation: str) -> str | None:
    if relation in _FEMALE_RELATIONS:
        return "female"
    if relation in _MALE_RELATIONS:
        return "male"
    return None


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _strip_possessive(word: str) -> str:
    return word[:-2] if word.endswith("'s") else word


# --------------------------------------------------------------------------- entities


class _Entities:
    """Collects people, kin and places across the sentences of one answer."""

    def __init__(self) -> None:
        self.people: dict[str, str] = {}  # identity key -> label
        self.kin: dict[tuple[str, str | None], None] = {}
        self.places: dict[str, tuple[tuple[int, int], str]] = {}
        self.sentence_no = 0
        self.described: dict[str, None] = {}
        self.gender: dict[str, str | None] = {}
        self._last_mentions: list[str] = []

    # -- recording
    def add_person(self, label: str, key: str, gender: str | None = None) -> str:
        if key in self.people:
            existing = self.people[key]
            # a bare name upgraded once we learn the relation: "Tom" -> "brother Tom"
            if " " in label and " " not in existing:
                self.people[key] = label
            label = self.people[key]
        else:
            self.people[key] = label
        self.gender.setdefault(label, gender or person_gender(label))
        return label

    def add_kin(self, rel_word: str, name: str | None) -> str:
        relation = _REL_MAP.get(rel_word.lower(), rel_word.lower())
        if name:
            name = _strip_possessive(name)
            if name.split()[0] in _TITLES:
                label = name  # "Mrs Henderson, my teacher"
            elif relation in _TITLE_RELATIONS:
                label = f"{rel_word[:1].upper()}{rel_word[1:].lower()} {name}"
            else:
                label = f"{relation} {name}"
            key = name.lower()
        else:
            plural = rel_word.lower() in _PLURAL_REL_WORDS
            label = f"my {rel_word.lower()}" if plural else f"my {relation}"
            if rel_word.lower() in {"folks"}:
                label = "my parents"
            key = f"rel:{label}"
        self.kin[(relation, name)] = None
        return self.add_person(label, key, _relation_gender(relation))

    def add_place(self, place: str, position: int = 0) -> None:
        place = place.strip(" ,;:")
        if len(place) < 2:
            return
        self.places.setdefault(place.lower(), ((self.sentence_no, position), place))

    def place_list(self) -> list[str]:
        return [place for _order, place in sorted(self.places.values())]

    # -- results
    def people_list(self) -> list[str]:
        named_relations = {rel for rel, name in self.kin if name}
        drop = set()
        for rel, name in self.kin:
            if name is None and rel in named_relations:
                drop.update(lbl for lbl in self.people.values() if lbl in (f"my {rel}",))
        return [lbl for lbl in self.people.values() if lbl not in drop]

    def kin_list(self) -> list[tuple[str, str | None]]:
        named_relations = {rel for rel, name in self.kin if name}
        return [(rel, name) for rel, name in self.kin if name or rel not in named_relations]


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in taken)


def _never_name(word: str) -> bool:
    word = _strip_possessive(word)
    return word in _COMMON_CAPS or (word.endswith("s") and word[:-1] in _COMMON_CAPS)


def _valid_name(name: str) -> bool:
    words = name.split()
    first = (words[1] if len(words) > 1 and words[0].rstrip(".") in _TITLES else words[0])
    first = first.rstrip(",")
    return not _never_name(first)


def _scan_kin(sentence: str, ents: _Entities, taken: list, mentions: list) -> None:
    for m in _APPOSITIVE_RE.finditer(sentence):
        name, rel = m.group(1), m.group(2)
        if _valid_name(name) and not _overlaps(m.span(), taken):
            mentions.append((m.start(), m.end(), ents.add_kin(rel, name)))
            taken.append(m.span())
    for m in _KIN_RE.finditer(sentence):
        if _overlaps(m.span(), taken):
            continue
        rel, names = m.group(1), m.group(2)
        valid = [n for n in _NAME_SPLIT_RE.split(names) if n and _valid_name(n)] if names else []
        if names and not valid:
            end = m.end(1)
        else:
            end = m.end()
        if valid:
            for name in valid:
                mentions.append((m.start(), end, ents.add_kin(rel, name)))
        else:
            mentions.append((m.start(), end, ents.add_kin(rel, None)))
        taken.append((m.start(), end))
    for m in _KIN_TITLE_RE.finditer(sentence):
        if not _overlaps(m.span(), taken) and _valid_name(m.group(2)):
            title = m.group(1).replace(" ", "-")
            rel = _REL_MAP.get(title.lower(), title.lower().replace("great-", ""))
            label = ents.add_kin(title if rel in _TITLE_RELATIONS else rel, m.group(2))
            mentions.append((m.start(), m.end(), label))
            taken.append(m.span())


def _scan_titles(sentence: str, ents: _Entities, taken: list, mentions: list) -> None:
    for m in _TITLE_RE.finditer(sentence):
        if _overlaps(m.span(), taken) or not _valid_name(m.group(2)):
            continue
        title = m.group(1).rstrip(".")
        title = {"Doctor": "Dr"}.get(title, title)
        name = _strip_possessive(m.group(2))
        label = f"{title} {name}"
        gender = "female" if title in _TITLES_FEMALE else "male" if title in _TITLES_MALE else None
        mentions.append((m.start(), m.end(), ents.add_person(label, label.lower(), gender)))
        taken.append(m.span())
    for m in _BARE_KIN_RE.finditer(sentence):
        if not _overlaps(m.span(), taken):
            mentions.append((m.start(), m.end(), ents.add_kin(m.group(1), None)))
            taken.append(m.span())


def _gazetteer_place(words: list[str]) -> str | None:
    """The longest known place the capitalised words start with."""
    for size in (4, 3, 2):
        candidate = " ".join(words[:size])
        if len(words) >= size and candidate in _MULTI_PLACE_SET:
            return " ".join(words)
    if words and _strip_possessive(words[0]) in _SINGLE_PLACES:
        return " ".join(_strip_possessive(w) for w in words)
    return None


_MULTI_PLACE_SET = frozenset(_MULTI_PLACES)
_MULTI_PLACE_WORDS = frozenset(
    w for place in _MULTI_PLACES for w in place.split() if w not in {"of", "de", "The"}
)


_CALLED_ME_RE = re.compile(r"\b(?:call(?:ed|s)? me|name is|I'm|I am)\s+$", re.IGNORECASE)


def _previous_word(prefix: str) -> str:
    m = re.search(r"([A-Za-z']+)\s+(?:the\s+)?$", prefix)
    return m.group(1).lower() if m else ""


_MONTH_PREPS = frozenset({"in", "of", "since", "until", "till", "by", "early", "late", "last",
                          "next", "that", "this", "every", "mid", "from", "through"})


def _classify_group(words: list[str], prefix: str, suffix: str, ents: _Entities) -> str | None:
    """"place", "person" or None for a run of capitalised words inside a sentence."""
    stripped = prefix.rstrip()
    initial = not stripped or stripped[-1] in "\"'(:-\u2014\u2013"
    prev = _previous_word(prefix)
    after_prep = prev in _PLACE_PREPS
    if _CALLED_ME_RE.search(prefix):
        return None  # "call me Peggy" names the storyteller
    first = _strip_possessive(words[0])
    if first in _MONTHS and (_previous_word(prefix) in _MONTH_PREPS or suffix[:1].isdigit()):
        return None  # "in May", "June 1950"
    known_person = " ".join(words).lower() in ents.people or first.lower() in ents.people
    is_name = first in FIRST_NAMES or known_person
    if _gazetteer_place(words) and (after_prep or not is_name):
        return "place"
    if first in _SAINT_WORDS and len(words) > 1:
        return "place"
    if len(words) > 1 and _strip_possessive(words[-1]) in _PLACE_SUFFIXES:
        return "place"
    if is_name:
        return "person"
    if after_prep:
        return "place"
    if initial:
        return None
    return "person"


def _scan_groups(sentence: str, ents: _Entities, taken: list, mentions: list) -> None:
    for m in _CAP_GROUP_RE.finditer(sentence):
        if _overlaps(m.span(), taken):
            continue
        # split the run at words that are never names ("Boston I" -> "Boston")
        pos = m.start()
        chunk: list[str] = []
        chunk_start = pos
        for word_match in re.finditer(r"\S+", m.group(0)):
            word = word_match.group(0)
            start = m.start() + word_match.start()
            if _never_name(word) or (
                word.isupper() and len(word) > 1 and word not in _SINGLE_PLACES
            ):
                _take_group(chunk, sentence, chunk_start, ents, mentions)
                chunk, chunk_start = [], start + len(word) + 1
                continue
            if not chunk:
                chunk_start = start
            chunk.append(word)
        _take_group(chunk, sentence, chunk_start, ents, mentions)


def _take_group(words: list[str], sentence: str, start: int, ents: _Entities,
                mentions: list) -> None:
    while words and words[-1].lower() in {"of", "de", "da", "di", "del", "la", "le", "von",
                                          "van", "upon", "on"}:
        words = words[:-1]
    if not words:
        return
    end = start + len(" ".join(words))
    kind = _classify_group(words, sentence[max(0, start - 40):start],
                           sentence[end:end + 8].lstrip(), ents)
    if words[0] in _SAINT_WORDS:
        name = " ".join(words)  # keep "St Mary's"
    else:
        name = " ".join(words[:-1] + [_strip_possessive(words[-1])])
    if kind == "place":
        ents.add_place(name, start)
    elif kind == "person":
        label = ents.add_person(name, name.lower())
        mentions.append((start, end, label))


def _scan_gazetteer_anywhere(sentence: str, ents: _Entities, taken: list) -> None:
    """Multi-word places ("New York") even at the start of a sentence."""
    for place in _MULTI_PLACES:
        if place in sentence:
            for m in re.finditer(r"\b" + re.escape(place) + r"\b", sentence):
                if not _overlaps(m.span(), taken):
                    ents.add_place(place, m.start())
                    taken.append(m.span())


def _scan_descriptions(sentence: str, mentions: list, ents: _Entities) -> None:
    mentions.sort()
    for index, (_start, end, label) in enumerate(mentions):
        if _DESCRIBE_RE.match(sentence[end:end + 160]):
            ents.described[label] = None
            # "my mother and my father were strict" describes both
            back = index
            while back > 0 and re.fullmatch(
                r"\s*(?:,|and|,\s*and)\s*", sentence[mentions[back - 1][1]:mentions[back][0]]
            ):
                back -= 1
                ents.described[mentions[back][2]] = None
    pm = _PRONOUN_DESCRIBE_RE.match(sentence)
    if pm and _DESCRIBE_RE.match(sentence[pm.end():pm.end() + 160]):
        wanted = {"he": "male", "she": "female", "they": "plural"}[pm.group(1).lower()]
        for label in reversed(ents._last_mentions):
            gender = ents.gender.get(label)
            if gender == wanted or (gender is None and wanted != "plural"):
                ents.described[label] = None
                break
    if mentions:
        ents._last_mentions = [label for _s, _e, label in mentions]


def _extract_entities(sentences: list[str]) -> _Entities:
    ents = _Entities()
    for number, sentence in enumerate(sentences):
        ents.sentence_no = number
        taken: list[tuple[int, int]] = []
        mentions: list[tuple[int, int, str]] = []
        _scan_kin(sentence, ents, taken, mentions)
        _scan_titles(sentence, ents, taken, mentions)
        _scan_gazetteer_anywhere(sentence, ents, taken)
        _scan_groups(sentence, ents, taken, mentions)
        _scan_descriptions(sentence, mentions, ents)
    return ents


# --------------------------------------------------------------------------- years


def extract_years(text: str) -> list[int]:
    """Years 1900-2030 mentioned as digits, decades ("the fifties" -> 1950) or words."""
    found: list[int] = []
    for m in _YEAR_RE.finditer(text):
        follower = (m.group(2) or "").lower()
        if follower in _NOT_YEAR_FOLLOWERS or follower.capitalize() in {"Street", "Road",
                                                                         "Avenue"}:
            continue
        found.append(int(m.group(1)))
    found.extend(int(m.group(1)) for m in _DECADE_NUM_RE.finditer(text))
    found.extend(1900 + int(m.group(1)) for m in _DECADE_SHORT_RE.finditer(text))
    found.extend(1900 + _DECADE_WORDS[m.group(1).lower()] for m in _DECADE_WORD_RE.finditer(text))
    for m in _SHORT_YEAR_RE.finditer(text):
        value = int(m.group(1))
        found.append(1900 + value if value > 30 else 2000 + value)
    for m in _SPELLED_YEAR_RE.finditer(text):
        found.append(_spelled_year(m))
    return sorted({y for y in found if 1900 <= y <= 2030})


def _spelled_year(m: re.Match) -> int:
    tens, unit, teen, oh_unit = m.group(1), m.group(2), m.group(3), m.group(4)
    if tens:
        return 1900 + _TENS[tens.lower()] + (_UNITS[unit.lower()] if unit else 0)
    if teen:
        return 1900 + _TEENS[teen.lower()]
    if oh_unit:
        return 1900 + _UNITS[oh_unit.lower()]
    return 1900


# --------------------------------------------------------------------------- sentiment


@functools.cache
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


_VADER_CHUNK_WORDS = 60
_TOPIC_WORDS_RE = re.compile(r"\b(?:war|wars|wartime)\b", re.IGNORECASE)


def _vader_units(sentences: list[str]) -> list[str]:
    """Sentences, with very long ones cut into chunks: VADER is quadratic in length."""
    units = []
    for sentence in sentences:
        words = sentence.split()
        if len(words) <= _VADER_CHUNK_WORDS:
            units.append(sentence)
        else:
            units.extend(" ".join(words[i:i + _VADER_CHUNK_WORDS])
                         for i in range(0, len(words), _VADER_CHUNK_WORDS))
    return units


def _vader_scores(sentences: list[str]) -> tuple[dict[str, float], float]:
    """Paragraph scores from sentence scores (VADER is built for sentences):
    neg/neu/pos weighted by length, compound averaged over the sentences that carry
    sentiment.  Also returns the most negative sentence compound."""
    analyzer = _vader()
    total_words = 0
    sums = {"neg": 0.0, "neu": 0.0, "pos": 0.0}
    compounds = []
    for unit in _vader_units(sentences):
        # "war" is a topic here, not a feeling: "when the war ended" is not sad in itself
        scores = analyzer.polarity_scores(_TOPIC_WORDS_RE.sub("time", unit))
        words = max(1, len(unit.split()))
        total_words += words
        for key in sums:
            sums[key] += scores[key] * words
        if scores["compound"]:
            compounds.append(scores["compound"])
    if not total_words:
        return {"neg": 0.0, "neu": 1.0, "pos": 0.0, "compound": 0.0}, 0.0
    result = {key: round(value / total_words, 4) for key, value in sums.items()}
    result["compound"] = round(sum(compounds) / len(compounds), 4) if compounds else 0.0
    return result, min(compounds, default=0.0)


def _sentiment(text: str, sentences: list[str], tokens: list[str]) -> tuple[str, dict]:
    if not text:
        return "neutral", {"neg": 0.0, "neu": 1.0, "pos": 0.0, "compound": 0.0}
    scores, lowest = _vader_scores(sentences)
    c, neg, pos = scores["compound"], scores["neg"], scores["pos"]
    hits = _SENTIMENT_LEXICON.scan(tokens)
    strong = hits.get("strong", (0, 0))[0] + len(_LOST_KIN_RE.findall(text))
    weak = hits.get("weak", (0, 0))[0]
    affect = hits.get("affect", (0, 0))[0]
    if (
        c <= -0.6
        or (c <= -0.45 and weak)
        or (strong and (c < 0.3 or lowest <= -0.5))
        or (weak >= 2 and c <= -0.15)
        or (weak and c <= -0.35)
    ):
        return "difficult", scores
    if affect or strong or (pos >= 0.15 and neg >= 0.12) or neg >= 0.25:
        return "emotional", scores
    if c >= 0.3:
        return "positive", scores
    return "neutral", scores


# --------------------------------------------------------------------------- themes


@functools.cache
def _keyword_extractor():
    import yake

    return yake.KeywordExtractor(lan="en", n=2, top=12, dedup_lim=0.8)


_yake_lock = threading.Lock()


def _yake_sample(sentences: list[str]) -> str:
    """The most content-rich sentences, in their original order, within the word budget."""
    counted = [(s, _WORD_RE.findall(s)) for s in sentences]
    total = sum(len(words) for _s, words in counted)
    if total <= YAKE_WORD_BUDGET:
        return " ".join(s for s, _w in counted)
    scored = []
    for index, (_s, words) in enumerate(counted):
        content = sum(1 for w in words if len(w) > 3 and w.lower() not in _STOPWORDS)
        caps = sum(1 for w in words[1:] if w[:1].isupper() and w not in _COMMON_CAPS)
        scored.append((-(content + 2 * caps) / (len(words) ** 0.5 or 1), index))
    chosen: list[int] = []
    budget = YAKE_WORD_BUDGET
    for _score, index in sorted(scored):
        words = counted[index][1]
        if not words:
            continue
        if len(words) > budget:
            if not chosen:
                return " ".join(words[:budget])
            continue
        chosen.append(index)
        budget -= len(words)
        if budget < 5:
            break
    return " ".join(counted[i][0] for i in sorted(chosen))


def _yake_phrases(sample: str) -> list[str]:
    if not sample.strip():
        return []
    try:
        with _yake_lock, warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return [kw for kw, _score in _keyword_extractor().extract_keywords(sample)]
    except Exception:  # an analyser must never break an interview
        logger.warning("keyword extraction failed", exc_info=True)
        return []


def _good_phrase(phrase: str, blocked: set[str]) -> bool:
    words = phrase.lower().split()
    if not words or len(phrase) < 4:
        return False
    for word in words:
        if not re.fullmatch(r"[a-z][a-z'\-]+", word) or word in blocked:
            return False
        if word in _GENERIC_VERBS or word in _STOPWORDS or word in _REL_MAP:
            return False
    if all(word in _GENERIC_WORDS for word in words):
        return False
    if words[-1].endswith("ed") and len(words[-1]) > 4:
        return False  # "air smelled": verbs make poor themes
    return not (len(words) == 1 and len(words[0]) < 4)


def _themes(text: str, tokens: list[str], sentences: list[str], ents: _Entities) -> list[str]:
    found = _THEME_LEXICON.scan(tokens)
    lexicon = sorted(found, key=lambda name: (-found[name][0], found[name][1], _THEME_ORDER[name]))
    themes = lexicon[:4]
    blocked = {w.lower() for label in ents.people.values() for w in label.split()}
    blocked |= {w.lower() for place in ents.place_list() for w in place.split()}
    blocked |= {_strip_possessive(w) for w in blocked}
    token_counts: dict[str, int] = {}
    for token in tokens:
        token_counts[token] = token_counts.get(token, 0) + 1
    blocked |= {m.lower() for m in _MONTHS + _WEEKDAYS}
    for phrase in _yake_phrases(_yake_sample(sentences)):
        if len(themes) >= MAX_THEMES:
            break
        phrase = phrase.lower()
        if " " not in phrase and token_counts.get(phrase, 0) < 2 and not _WHERE_NOUNS_RE.fullmatch(
            phrase
        ):
            continue  # a single word said once is rarely a theme
        if _good_phrase(phrase, blocked) and phrase not in themes and not any(
            phrase in t or t in phrase for t in themes
        ):
            themes.append(phrase)
    for name in lexicon[4:]:
        if len(themes) >= MAX_THEMES:
            break
        themes.append(name)
    return themes[:MAX_THEMES]


# --------------------------------------------------------------------------- scene


def _is_scene(text: str, ents: _Entities, years: list[int], word_count: int) -> bool:
    if word_count < 10:
        return False
    specific = bool(_WHEN_SPECIFIC_RE.search(text)) or bool(_YEAR_RE.search(text))
    habitual = bool(_HABITUAL_RE.search(text))
    if habitual and not specific:
        return False
    who = bool(ents.people) or bool(_WHO_WE_RE.search(text))
    where = bool(ents.places) or bool(_WHERE_NOUNS_RE.search(text))
    when = specific or bool(_WHEN_WEAK_RE.search(text))
    if sum((who, where, when)) < 2:
        return False
    return bool(_DETAIL_RE.search(text))


# --------------------------------------------------------------------------- public API


def analyze_answer(text: str | None) -> Analysis:
    """Analyse one answer.  Safe on empty, huge, non-English or HTML-laden text."""
    cached = _analyze_cached(clean_text(text))
    return Analysis(
        sentiment=cached.sentiment,
        sentiment_scores=dict(cached.sentiment_scores),
        key_themes=list(cached.key_themes),
        people=list(cached.people),
        kinship=list(cached.kinship),
        places=list(cached.places),
        years=list(cached.years),
        dates_mentioned=cached.dates_mentioned,
        is_scene=cached.is_scene,
        describes_person=list(cached.describes_person),
        word_count=cached.word_count,
    )


@functools.lru_cache(maxsize=512)
def _analyze_cached(text: str) -> Analysis:
    if not text:
        return Analysis(sentiment_scores={"neg": 0.0, "neu": 1.0, "pos": 0.0, "compound": 0.0})
    sentences = split_sentences(text)
    word_count = len(text.split())
    ents = _extract_entities(sentences)
    years = extract_years(text)
    tokens = _TOKEN_RE.findall(text.lower())
    sentiment, scores = _sentiment(text, sentences, tokens)
    dates = bool(years) or bool(_MONTH_DATE_RE.search(text)) or bool(_AGE_RE.search(text))
    people = ents.people_list()
    return Analysis(
        sentiment=sentiment,
        sentiment_scores=scores,
        key_themes=_themes(text, tokens, sentences, ents),
        people=people,
        kinship=ents.kin_list(),
        places=ents.place_list(),
        years=years,
        dates_mentioned=dates,
        is_scene=_is_scene(text, ents, years, word_count),
        describes_person=[p for p in people if p in ents.described],
        word_count=word_count,
    )


# --------------------------------------------------------------------------- memory facts

_BORN_YEAR_RE = re.compile(r"\bI was born\b[^.!?]{0,40}?\b(19\d\d|20[0-2]\d)\b")
_BORN_PLACE_RE = re.compile(r"\bI was born\b[^.!?]{0,30}?\b(?:in|at)\s+(?:the\s+)?(" + _NAME
                            + r"(?:\s+" + _NAME + r")*)")
_REL_EVENT_RE = re.compile(
    r"\b(?i:my|our)\s+(?:(?i:" + _ADJ + r")\s+)*(?i:(" + _REL_ALT + r"))(?:,?\s+(" + _NAME
    + r"),?)?\s+(died|passed away|passed on|was killed|was born|were born)\b[^.!?]{0,40}?"
    r"\b(19\d\d|20[0-2]\d)\b"
)
_MARRIED_RE = re.compile(
    r"\b(?:we|I)\s+(?:got married|were married|was married|married)\b[^.!?]{0,40}?"
    r"\b(19\d\d|20[0-2]\d)\b",
    re.IGNORECASE,
)
_MOVED_RE = re.compile(
    r"\b(?:moved|emigrated|immigrated|relocated|came over)\s+to\s+"
    r"(?:the\s+)?(" + _NAME + r"(?:\s+" + _NAME + r")*)(?:[^.!?]{0,30}?\b(19\d\d|20[0-2]\d)\b)?"
)
_COUNT_RE = re.compile(
    r"\b(?:I had|I have|and|but)\s+(\d{1,2}|" + "|".join(k for k in _NUMBER_WORDS
                                                       if " " not in k) + r"|no)\s+"
    r"(?:older |younger |little |big )?(brothers?|sisters?|siblings|children|kids|sons?|"
    r"daughters?|grandchildren)\b",
    re.IGNORECASE,
)
_PREFERRED_NAME_RE = re.compile(
    r"\b(?i:please call me|(?:everyone|everybody|my friends|people) call(?:s|ed)? me|I go by|"
    r"I prefer to be called|I'd rather be called)\s+(" + _NAME + r")"
)


def _sentence_with(sentences: list[str], needle: str) -> str:
    low = needle.lower()
    for sentence in sentences:
        if low in sentence.lower():
            return sentence[:300]
    return sentences[0][:300] if sentences else ""


def _explicit_facts(text: str, sentences: list[str]) -> list[MemoryCandidate]:
    out: list[MemoryCandidate] = []
    for m in _BORN_YEAR_RE.finditer(text):
        out.append(MemoryCandidate("fact", {
            "subject": "storyteller", "attribute": "birth_year", "year": int(m.group(1)),
            "key": "fact:storyteller:birth_year",
            "statement": _sentence_with(sentences, m.group(0)),
        }, 0.85))
    for m in _BORN_PLACE_RE.finditer(text):
        out.append(MemoryCandidate("fact", {
            "subject": "storyteller", "attribute": "birthplace", "place": m.group(1),
            "key": "fact:storyteller:birthplace",
            "statement": _sentence_with(sentences, m.group(0)),
        }, 0.8))
    for m in _REL_EVENT_RE.finditer(text):
        rel = _REL_MAP.get(m.group(1).lower(), m.group(1).lower())
        name = m.group(2)
        attribute = "birth_year" if "born" in m.group(3) else "death_year"
        who = f"{rel}:{name.lower()}" if name and rel not in _SINGULAR_RELATIONS else rel
        out.append(MemoryCandidate("fact", {
            "subject": f"{rel} {name}" if name else f"my {rel}", "relation": rel, "name": name,
            "attribute": attribute, "year": int(m.group(4)), "key": f"fact:{who}:{attribute}",
            "statement": _sentence_with(sentences, m.group(0)),
        }, 0.8))
    for m in _MARRIED_RE.finditer(text):
        out.append(MemoryCandidate("fact", {
            "subject": "storyteller", "attribute": "marriage_year", "year": int(m.group(1)),
            "key": "fact:storyteller:marriage_year",
            "statement": _sentence_with(sentences, m.group(0)),
        }, 0.7))
    return out


def _other_facts(text: str, sentences: list[str]) -> list[MemoryCandidate]:
    out: list[MemoryCandidate] = []
    for m in _MOVED_RE.finditer(text):
        place = m.group(1)
        if place in _COMMON_CAPS:
            continue
        content = {"subject": place, "place": place, "key": f"event:moved_to:{_norm(place)}",
                   "statement": _sentence_with(sentences, m.group(0))}
        if m.group(2):
            content["year"] = int(m.group(2))
        out.append(MemoryCandidate("event", content, 0.75))
    for m in _COUNT_RE.finditer(text):
        raw = m.group(1).lower()
        count = 0 if raw == "no" else int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
        noun = m.group(2).lower()
        noun = {"kids": "children", "siblings": "siblings"}.get(noun, noun)
        noun = noun if noun.endswith(("s", "children", "grandchildren")) else noun + "s"
        out.append(MemoryCandidate("fact", {
            "subject": "storyteller", "attribute": f"number_of_{noun}", "count": count,
            "key": f"fact:storyteller:number_of_{noun}",
            "statement": _sentence_with(sentences, m.group(0)),
        }, 0.75))
    for m in _PREFERRED_NAME_RE.finditer(text):
        out.append(MemoryCandidate("preference", {
            "subject": "storyteller", "attribute": "preferred_name",
            "preferred_name": m.group(1), "value": m.group(1),
            "key": "preference:storyteller:preferred_name",
            "statement": _sentence_with(sentences, m.group(0)),
        }, 0.85))
    return out


def _entity_facts(analysis: Analysis, sentences: list[str]) -> list[MemoryCandidate]:
    out: list[MemoryCandidate] = []
    named = set()
    for relation, name in analysis.kinship:
        if name:
            named.add(name.lower())
            label = next((p for p in analysis.people if p.endswith(" " + name)),
                         f"{relation} {name}")
        else:
            label = next((p for p in analysis.people if p == f"my {relation}"
                          or p.startswith(f"my {relation}")), f"my {relation}")
        identity = relation if relation in _SINGULAR_RELATIONS or not name else (
            f"{relation}:{name.lower()}")
        content = {"subject": label, "relation": relation, "name": name,
                   "key": f"person:{identity}",
                   "statement": _sentence_with(sentences, name or relation)}
        if label in analysis.describes_person:
            content["described"] = True
        out.append(MemoryCandidate("person", content, 0.75 if name else 0.55))
    for label in analysis.people:
        words = label.split()
        if label.startswith("my ") or words[-1].lower() in named:
            continue
        content = {"subject": label, "name": label, "key": f"person:name:{_norm(label)}",
                   "statement": _sentence_with(sentences, label)}
        out.append(MemoryCandidate("person", content, 0.5))
    for place in analysis.places:
        known = _gazetteer_place(place.split()) is not None
        out.append(MemoryCandidate("place", {
            "subject": place, "place": place, "key": f"place:{_norm(place)}",
            "statement": _sentence_with(sentences, place),
        }, 0.7 if known else 0.55))
    return out


def _year_events(sentences: list[str], seen_years: set[int]) -> list[MemoryCandidate]:
    out = []
    for sentence in sentences:
        for m in _YEAR_RE.finditer(sentence):
            year = int(m.group(1))
            if year in seen_years:
                continue
            seen_years.add(year)
            words = [w.lower() for w in _WORD_RE.findall(sentence)
                     if w.lower() not in _STOPWORDS and len(w) > 2][:4]
            out.append(MemoryCandidate("event", {
                "subject": sentence[:120], "year": year, "statement": sentence[:300],
                "key": f"event:{year}:{'-'.join(words)}",
            }, 0.5))
    return out


def facts_from_analysis(
    text: str | None, analysis: Analysis | None = None
) -> list[MemoryCandidate]:
    """Memory candidates from an answer (and its analysis, computed if not given).

    Explicit facts (birth year and place, a relative's birth or death year, the
    marriage year, moves, numbers of siblings or children, a preferred name) come
    first, then people, places and dated events.  Candidates with the same
    ``content["key"]`` describe the same thing; see :func:`detect_contradiction`.
    """
    cleaned = clean_text(text)
    if not cleaned:
        return []
    analysis = analysis or analyze_answer(cleaned)
    sentences = split_sentences(cleaned)
    explicit = _explicit_facts(cleaned, sentences) + _other_facts(cleaned, sentences)
    used_years = {c.content["year"] for c in explicit if isinstance(c.content.get("year"), int)}
    out = explicit + _entity_facts(analysis, sentences) + _year_events(sentences, used_years)
    seen: set[tuple[str, str]] = set()
    unique = []
    for candidate in out:
        ident = (candidate.content["key"], repr(sorted(
            (k, str(v)) for k, v in candidate.content.items() if k in _VALUE_FIELDS)))
        if ident not in seen:
            seen.add(ident)
            unique.append(candidate)
    return unique


_VALUE_FIELDS = ("year", "place", "name", "value", "count", "preferred_name")


def detect_contradiction(a: dict, b: dict) -> bool:
    """True when two memory contents have the same ``key`` but disagree on a value."""
    key_a, key_b = a.get("key"), b.get("key")
    if not key_a or key_a != key_b:
        return False
    for name in _VALUE_FIELDS:
        va, vb = a.get(name), b.get(name)
        if va is None or vb is None:
            continue
        if _norm(str(va)) != _norm(str(vb)):
            return True
    return False
