"""The built-in interview process and the library of session templates that ship with the app."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from storyteller.models import ProcessNode, ProcessVersion, SessionTemplate, utcnow

DEFAULT_PROCESS_NAME = "Life story"
DEFAULT_PROCESS_VERSION = "1.0"


@dataclass(frozen=True)
class NodeSpec:
    name: str
    life_period: str
    objective: str
    constraints: str
    user_text: str
    event_types: tuple[str, ...] = ()


DEFAULT_NODES: tuple[NodeSpec, ...] = (
    NodeSpec(
        "Getting to know you",
        "general",
        "Learn where and when the storyteller was born, who raised them, and which periods of "
        "their life they most want to tell.",
        "Keep it light and welcoming\n"
        "Don't ask about difficult topics yet\n"
        "No more than 30 minutes",
        "We'll start gently: where you were born, who was around you, and which parts of your "
        "life you would most like to share.",
        ("birth", "family"),
    ),
    NodeSpec(
        "Childhood",
        "childhood",
        "Capture specific childhood scenes: the home, the street, the people who raised the "
        "storyteller, games, smells and sounds.",
        "Don't push on sensitive family topics without consent\nAllow the storyteller to skip",
        "Let's go back to when you were small: the house, the people, the everyday moments.",
        ("childhood", "family", "home"),
    ),
    NodeSpec(
        "School and growing up",
        "school",
        "Capture school days, teachers, friends and the moments of growing up into a young adult.",
        "Allow the storyteller to skip any question",
        "Now your school years and growing up: teachers, friends, first adventures.",
        ("education", "school"),
    ),
    NodeSpec(
        "Work and purpose",
        "work",
        "Capture the storyteller's working life: first job, trades learned, colleagues, proud "
        "moments and hard days.",
        "Respect the time limit",
        "Let's talk about the work you did and what it meant to you.",
        ("work", "career", "military"),
    ),
    NodeSpec(
        "Love and family",
        "love_and_family",
        "Capture how the storyteller met their partner, built a family, and the people they love.",
        "Don't rush painful relationship topics\nAllow the storyteller to skip",
        "Now the people you love: how you met, the family you made, the moments you treasure.",
        ("marriage", "family", "children"),
    ),
    NodeSpec(
        "Reflection and legacy",
        "later_life",
        "Explore what the storyteller has learned, what they are proud of, and what they want "
        "their family to remember.",
        "Let the storyteller lead\nEnd warmly",
        "To finish, we'll look back together: what you've learned and what you'd like to pass on.",
        ("retirement", "legacy"),
    ),
)


@dataclass(frozen=True)
class TemplateSpec:
    name: str
    description: str
    intention: str
    success: tuple[str, ...]
    completion: tuple[str, ...]
    constraints: tuple[str, ...]
    procedure: str
    duration: int
    event_types: tuple[str, ...] = field(default_factory=tuple)
    wants_photos: bool = False
    node_names: tuple[str, ...] = field(default_factory=tuple)  # steps of the default process


# Written the way an experienced oral-history interviewer plans a session: one clear
# intention, observable signs of success (the interviewer's progress check reads them:
# "scenes", "people", "places", "years", "photos", "feelings", "what it meant"), how to
# know it is done, the rules of care, and the order of the conversation with opening
# questions in the storyteller's own register.
BUILTIN_TEMPLATES: tuple[TemplateSpec, ...] = (
    TemplateSpec(
        "Getting to know you",
        "A first, light conversation: where the storyteller comes from and what they most "
        "want to tell. Use it before any other session.",
        "Learn where and when the storyteller was born, who raised them, and which periods of "
        "their life they most want to tell, while making them feel at ease with the interview.",
        (
            "Birthplace and the places where they grew up named",
            "Key family members identified: who raised them, brothers and sisters",
            "Approximate years of the main periods of life noted",
            "The storyteller names 2 or more periods or events they want to tell",
        ),
        (
            "Storyteller says they've covered the main memories for today",
            "A rough map of the life exists to plan the next sessions from",
        ),
        (
            "Keep it light and welcoming",
            "Keep the session to 30 minutes at most",
            "Leave difficult periods for later sessions unless the storyteller raises them",
            "Allow the storyteller to skip any question",
        ),
        "1. Explain how the sessions work: one question at a time, nothing needs to be "
        "perfect, any question can be skipped.\n"
        "2. Start with the simplest facts. Opening question: “Where were you born, and what "
        "do you know about the day you arrived?”\n"
        "3. Who was around you as a small child? “Who lived in the house with you?”\n"
        "4. Sketch the life in broad strokes: “If your life were a book, what would the "
        "chapters be called?”\n"
        "5. Ask which chapters matter most: “Which part of your life would you most like your "
        "family to know about?”\n"
        "6. Close by saying what the next session will be about.",
        30,
        ("birth", "family"),
        node_names=("Getting to know you",),
    ),
    TemplateSpec(
        "Childhood exploration",
        "Specific scenes from early childhood: the home, the family, the street, games, "
        "food, smells and sounds.",
        "Capture 3-5 specific childhood scenes with rich sensory details: the home, the people "
        "who raised the storyteller, and the everyday moments of being small.",
        (
            "At least 3 scenes captured with who/where/when details",
            "Key family members identified with descriptions",
            "The childhood home or street described as a place",
            "Storyteller recalls specific moments, not generalizations",
            "Approximate years of the childhood noted",
        ),
        (
            "Storyteller says they've covered the main memories",
            "We have enough material for a draft section",
        ),
        (
            "Keep the session to 30 minutes at most",
            "Don't push on sensitive family topics without consent",
            "Allow the storyteller to skip any question",
            "One question at a time; follow the storyteller's memories rather than a fixed order",
        ),
        "1. Set the scene first. Opening question: “Close your eyes for a moment: what did "
        "the house you grew up in look like from the street?”\n"
        "2. Walk through the home: “Which room was the heart of the house? Who was usually "
        "in it?”\n"
        "3. Use a photo if one is available to trigger memories: “Who took this, and what "
        "was happening that day?”\n"
        "4. Move from general to specific: from “what was a normal Sunday like?” to “tell me "
        "about one Sunday you remember”.\n"
        "5. Ask for the senses: smells from the kitchen, sounds from the street, the feel of "
        "winter.\n"
        "6. The people: “Tell me about your mother's hands” or “What did your father do when "
        "he came home?”\n"
        "7. End with reflection: “What did that childhood give you that you still have?”",
        30,
        ("childhood", "family", "home"),
        True,
        ("Childhood",),
    ),
    TemplateSpec(
        "School years",
        "Teachers, classmates, lessons, mischief and the first taste of independence.",
        "Capture memories of school and growing up: a teacher who mattered, friends, one vivid "
        "day, and how the storyteller changed from child to young adult.",
        (
            "At least 2 scenes captured with who/where/when details",
            "A teacher and at least one friend described as people",
            "The school and the way there described as places",
            "Years of starting and leaving school noted",
        ),
        (
            "Storyteller says they've covered the main memories",
            "We have enough material for a draft section",
        ),
        (
            "Keep the session to 30 minutes at most",
            "Allow the storyteller to skip any question",
            "Be gentle about school failures, bullying or leaving school early",
        ),
        "1. Start with the route. Opening question: “How did you get to school in the "
        "morning, and what did you pass on the way?”\n"
        "2. The building and the classroom: “Where did you sit? What could you see from the "
        "window?”\n"
        "3. One teacher: “Which teacher do you remember best, and why?”\n"
        "4. Friends and mischief: “Who did you spend breaks with? Did you ever get into "
        "trouble together?”\n"
        "5. Look for one day they remember clearly: a prize, an exam, a fight, a school trip.\n"
        "6. Leaving school: “How old were you when you left, and what came next?”\n"
        "7. End with meaning: “What did school teach you that wasn't on the timetable?”",
        30,
        ("education", "school"),
        node_names=("School and growing up",),
    ),
    TemplateSpec(
        "Work life",
        "From the first job to the last: skills learned, colleagues, pride and hard days.",
        "Capture the storyteller's working life through its turning points and the people in "
        "it: how they started, what they learned, what they were proud of and what it cost.",
        (
            "First job described with place and year",
            "Major milestones of the working life noted in order",
            "Key people at work identified: a boss, a mentor or a colleague",
            "At least 2 scenes captured with who/where/when details",
            "What the work meant to the storyteller is in their own words",
        ),
        (
            "Storyteller says they've covered the main memories",
            "We have enough material for a draft section",
        ),
        (
            "Respect the time limit of 45 minutes",
            "Allow the storyteller to skip any question",
            "Treat unemployment, dismissal and money worries with care",
        ),
        "1. Begin at the beginning. Opening question: “What was the very first thing you "
        "were paid to do, and what did you spend the money on?”\n"
        "2. Follow the changes of work in order: each job, where, roughly when, and why it "
        "changed.\n"
        "3. A working day: “Walk me through an ordinary day at the job you held longest.”\n"
        "4. The people: “Who taught you the most at work?”\n"
        "5. One proud moment and one hard day: “Tell me about a day you went home proud.” "
        "Then: “Was there a day you wanted to quit?”\n"
        "6. Skills and tools: what their hands or head knew that others didn't.\n"
        "7. End with what work meant: “What did your work give you, apart from the wages?”",
        45,
        ("work", "career"),
        node_names=("Work and purpose",),
    ),
    TemplateSpec(
        "Love and family",
        "How the storyteller met their partner, family life, children and grandchildren.",
        "Capture how the storyteller built a family and the moments they treasure: meeting "
        "their partner, the beginning of life together, children, and everyday family life.",
        (
            "Key family members identified with descriptions",
            "At least 3 scenes captured with who/where/when details",
            "How they met their partner told as a scene",
            "Years of the marriage or partnership and the births of children noted",
            "Feelings about family life expressed in the storyteller's own words",
        ),
        (
            "Storyteller says they've covered the main memories",
            "We have enough material for a draft section",
        ),
        (
            "Don't rush painful relationship topics",
            "Divorce, loss of a child or estrangement only if the storyteller raises it",
            "Allow the storyteller to skip any question",
            "Keep the session to 45 minutes at most",
        ),
        "1. The meeting. Opening question: “Where did you first see your husband/wife/partner, "
        "and what did you notice first?”\n"
        "2. Courting: a first outing, a letter, what their families said.\n"
        "3. The wedding or the beginning of life together: the day itself, the first home.\n"
        "4. Children: “What do you remember of the day your first child was born?”\n"
        "5. Everyday family life: meals, holidays, rules of the house, a family saying.\n"
        "6. Use a family photo if available: who is in it, what happened that day.\n"
        "7. End with what family means: “What do you hope your grandchildren know about how "
        "this family began?”",
        45,
        ("marriage", "family", "children"),
        True,
        ("Love and family",),
    ),
    TemplateSpec(
        "Military service deep dive",
        "Service years told at the storyteller's own pace: joining, training, comrades, "
        "places, and coming home.",
        "Capture the storyteller's military service: when and where they served, with whom, "
        "what everyday life was like, and how it changed them, at the pace they choose.",
        (
            "Basic timespan identified: the years of joining and leaving",
            "Places of training and service named",
            "Comrades or commanders described as people",
            "At least 2 scenes captured with who/where/when details",
            "How the service changed them is in their own words",
        ),
        (
            "Major milestones noted: joining, postings, coming home",
            "Storyteller says they've covered the main memories",
        ),
        (
            "Don't rush trauma topics; pause when the answers become short or upset",
            "Never ask for details of killing or injuries; let the storyteller choose what to tell",
            "Allow the storyteller to skip any question",
            "Check the consent for trauma topics before going into combat",
            "Keep the session to 45 minutes at most",
        ),
        "1. Facts first, which are safe. Opening question: “How old were you when you "
        "joined, and how did it come about?”\n"
        "2. Training and first impressions: the uniform, the food, the sergeant.\n"
        "3. Comrades and everyday life: “Who was your closest friend in the service? What "
        "did you do together when off duty?”\n"
        "4. Places: “Where were you stationed? What did it look and smell like?”\n"
        "5. Let the storyteller decide how far to go into hard times; offer a way out: "
        "“We can stay here or move on, whichever you prefer.”\n"
        "6. Coming home: “What was the first thing you did when you got back?”\n"
        "7. Back off gently if an answer is difficult, and end on something steadying: "
        "“What did those years teach you about yourself?”",
        45,
        ("military", "war", "service"),
        node_names=("Work and purpose",),
    ),
    TemplateSpec(
        "Migration and moving",
        "Leaving one place and making a home in another: the reasons, the journey, the "
        "arrival, and what was kept and lost.",
        "Capture the story of moving: life before leaving, why they left, the journey, the "
        "first days in the new place, and what home means to them now.",
        (
            "Places of departure and arrival named",
            "The journey described as a scene with who/where/when details",
            "Key people of the move identified: who went, who stayed behind",
            "The year of the move noted",
            "Feelings about what was kept and what was lost expressed",
        ),
        (
            "Storyteller says they've covered the main memories",
            "We have enough material for a draft section",
        ),
        (
            "Allow the storyteller to skip any question",
            "Don't rush painful partings",
            "Respect the storyteller's own words for the places and the languages",
            "Keep the session to 40 minutes at most",
        ),
        "1. Before leaving. Opening question: “Tell me about the place you came from: what "
        "did it look like from your front door?”\n"
        "2. The decision: “When did you first know you would leave? Who decided?”\n"
        "3. The journey as a scene: what they carried, how they travelled, who went with "
        "them, the moment of departure.\n"
        "4. The first days: “What surprised you most when you arrived?” Food, language, "
        "weather, the first home.\n"
        "5. Belonging: a first friend, a first job, a moment they felt at home.\n"
        "6. What was kept: a recipe, a song, an object, a habit.\n"
        "7. End with what home means now: “Where is home for you today?”",
        40,
        ("migration", "move", "emigration"),
        True,
    ),
    TemplateSpec(
        "A gentle approach for trauma and loss",
        "For loss, illness, war or hard times: slow, optional, and led entirely by the "
        "storyteller. Use only with consent for the sensitive topic.",
        "Give the storyteller space to remember a person or a time they lost, at their own "
        "pace, starting from good memories, so that the memory is kept in their own words.",
        (
            "The person or time remembered is described in the storyteller's own words",
            "At least 1 good memory of the person or time captured as a scene",
            "The storyteller's feelings are acknowledged, not explored further than they chose",
            "The session ends on a steadying or comforting memory",
        ),
        (
            "Storyteller says they have said what they wanted to say",
            "Storyteller feels complete or asks to stop",
        ),
        (
            "Gentle questions only; don't rush trauma topics",
            "Only with recorded consent for this sensitive topic",
            "Allow the storyteller to skip any question, and offer to stop at any time",
            "No questions about the details of a death, an accident or violence",
            "Keep the session to 20 minutes at most",
        ),
        "1. Begin by saying they can stop at any moment, and that nothing has to be told.\n"
        "2. Let them choose. Opening question: “Who, or what time, would you like to "
        "remember today?”\n"
        "3. Start with good memories: “What is a happy moment with them you like to think "
        "of?”\n"
        "4. Follow, don't lead: reflect back what was said (“You miss her laugh”) instead of "
        "asking for more.\n"
        "5. If the storyteller goes into the hard part, listen; don't ask for details.\n"
        "6. Check in: “Would you like to go on, or shall we stop here for today?”\n"
        "7. End on something comforting: “What would you like people to remember about "
        "them?”",
        20,
        ("loss", "illness", "bereavement"),
    ),
    TemplateSpec(
        "Photo memories",
        "Old photographs as doors to stories: who, where, when, and what happened just "
        "before and after the picture was taken.",
        "Tell the stories behind 3 photographs: who is in them, where and when they were "
        "taken, what happened that day, and why each photo was kept.",
        (
            "At least 3 photos described",
            "People in the photos identified by name and relation",
            "The place and year of each photo noted",
            "At least 2 scenes captured with who/where/when details",
        ),
        (
            "Storyteller says they've covered the main memories",
            "We have enough material for a draft section",
        ),
        (
            "Allow the storyteller to skip any question",
            "One photo at a time; let the storyteller choose the order",
            "Keep the session to 30 minutes at most",
        ),
        "1. Ask the storyteller to choose three photos before the session.\n"
        "2. For each photo, opening question: “Who is in this picture, and who took it?”\n"
        "3. Place and time: “Where was this, and how old were you?”\n"
        "4. Step outside the frame: “What happened just before this was taken? And just "
        "after?”\n"
        "5. The details: clothes, the car, the weather, what can't be seen.\n"
        "6. Why it was kept: “Why did this photo survive when so many others didn't?”",
        30,
        ("photos",),
        True,
    ),
    TemplateSpec(
        "Reflection and legacy",
        "Looking back on the whole life: lessons, pride, regrets and the words to pass on.",
        "Explore what the storyteller has learned, what they are proud of, what they would "
        "do differently, and what they want their family to remember.",
        (
            "Identified personal growth: what the storyteller learned and how they changed",
            "At least 1 moment of pride told as a scene",
            "Connected to broader story: the thread that runs through their life",
            "A message for the family or future generations in their own words",
        ),
        (
            "Storyteller feels complete",
            "Storyteller says they've covered the main memories",
        ),
        (
            "Let the storyteller lead",
            "Allow the storyteller to skip any question",
            "Regrets only if the storyteller raises them",
            "End warmly",
        ),
        "1. Look back over the sessions so far: name a few of the stories already told.\n"
        "2. Opening question: “When you look back over your life, what are you proudest "
        "of?”\n"
        "3. Turning points: “Which decision changed your life the most?”\n"
        "4. Advice: “What would you tell your twenty-year-old self?”\n"
        "5. Values: “What mattered most to you, all along?”\n"
        "6. The message: “What do you hope your grandchildren will know about you?”\n"
        "7. End warmly: thank them for the stories and say what will happen to them.",
        30,
        ("retirement", "legacy"),
        node_names=("Reflection and legacy",),
    ),
)


def ensure_default_process(db: DbSession) -> ProcessVersion:
    """The built-in life-story process, created once; active when no other process is."""
    process = db.scalar(
        select(ProcessVersion).where(
            ProcessVersion.name == DEFAULT_PROCESS_NAME,
            ProcessVersion.version_number == DEFAULT_PROCESS_VERSION,
        )
    )
    if process is None:
        process = ProcessVersion(
            name=DEFAULT_PROCESS_NAME,
            version_number=DEFAULT_PROCESS_VERSION,
            description="The built-in life-story interview, from early years to legacy.",
            is_builtin=True,
        )
        for sequence, spec in enumerate(DEFAULT_NODES, start=1):
            process.nodes.append(
                ProcessNode(
                    node_name=spec.name,
                    sequence=sequence,
                    agent_objective=spec.objective,
                    agent_constraints=spec.constraints,
                    user_facing_text=spec.user_text,
                    life_period=spec.life_period,
                    suggested_event_types=list(spec.event_types),
                )
            )
        db.add(process)
        db.flush()
    if db.scalar(select(ProcessVersion.id).where(ProcessVersion.is_active)) is None:
        process.is_active = True
        process.activated_at = utcnow()
        db.flush()
    return process


def _template_values(spec: TemplateSpec, process: ProcessVersion) -> dict[str, object]:
    nodes = {node.node_name: str(node.id) for node in process.nodes}
    return {
        "template_description": spec.description,
        "suggested_for_event_types": list(spec.event_types),
        "suggested_for_process_nodes": [nodes[n] for n in spec.node_names if n in nodes],
        "default_intention": spec.intention,
        "default_success_indicators": list(spec.success),
        "default_completion_indicators": list(spec.completion),
        "default_constraints": list(spec.constraints),
        "default_procedure_notes": spec.procedure,
        "default_duration_minutes": spec.duration,
        "wants_photos": spec.wants_photos,
    }


def ensure_builtin_templates(db: DbSession, process: ProcessVersion) -> list[SessionTemplate]:
    """The built-in library, created once and kept in step with the content shipped here.

    Idempotent: a built-in template is found by name; a missing one is added, an existing
    one gets the shipped wording (built-ins are never edited by people, they copy them).
    Whether a built-in is retired is the users' choice and is left alone.
    """
    existing = {
        t.template_name: t
        for t in db.scalars(select(SessionTemplate).where(SessionTemplate.is_builtin))
    }
    templates = []
    for spec in BUILTIN_TEMPLATES:
        values = _template_values(spec, process)
        template = existing.get(spec.name)
        if template is None:
            template = SessionTemplate(
                process_version_id=process.id,
                template_name=spec.name,
                is_builtin=True,
                is_active=True,
                **values,
            )
            db.add(template)
        else:
            if template.process_version_id is None:
                template.process_version_id = process.id
            if not process.is_builtin or template.process_version_id != process.id:
                values.pop("suggested_for_process_nodes")
            for key, value in values.items():
                if getattr(template, key) != value:
                    setattr(template, key, value)
        templates.append(template)
    db.flush()
    return templates
