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


BUILTIN_TEMPLATES: tuple[TemplateSpec, ...] = (
    TemplateSpec(
        "Childhood exploration",
        "Specific scenes from early childhood: the home, the family, the neighbourhood.",
        "Capture 3-5 specific childhood scenes with rich sensory details",
        (
            "Storyteller recalls specific moments, not generalizations",
            "At least 3 scenes captured with who/where/when details",
            "Key family members identified with descriptions",
        ),
        (
            "Storyteller says they've covered the main memories",
            "We have enough material for a draft section",
        ),
        (
            "Keep session to 30 minutes max",
            "Don't push on sensitive family topics without consent",
            "Allow storyteller to skip any question",
        ),
        "1. Start with scene-setting (where did you live, what did it look like)\n"
        "2. Use photo if available to trigger memories\n"
        "3. Progress from general to specific\n"
        "4. End with reflection question",
        30,
        ("childhood", "family", "home"),
        True,
    ),
    TemplateSpec(
        "School years",
        "Teachers, classmates, lessons, mischief and the first taste of independence.",
        "Capture memories of school: a teacher who mattered, friends, and one vivid day",
        (
            "At least 2 scenes captured with who/where/when details",
            "A teacher or friend described",
        ),
        ("Storyteller says they've covered the main memories",),
        ("Allow storyteller to skip any question", "Keep session to 30 minutes max"),
        "1. Ask where the school was and how they got there\n"
        "2. Ask about one teacher and one friend\n"
        "3. Look for one day they remember clearly\n"
        "4. End with what school gave them",
        30,
        ("education", "school"),
    ),
    TemplateSpec(
        "Work life",
        "From the first job to the last: skills, colleagues, pride and hardship.",
        "Capture the storyteller's working life through its turning points and the people in it",
        (
            "First job described with place and year",
            "At least 2 scenes captured with who/where/when details",
            "Key people at work identified",
        ),
        ("Major milestones noted", "Storyteller says they've covered the main memories"),
        ("Respect time limit", "Allow storyteller to skip any question"),
        "1. Start with the first paid job\n2. Follow the changes of work in order\n"
        "3. Ask for one proud moment and one hard day\n4. End with what work meant",
        45,
        ("work", "career"),
    ),
    TemplateSpec(
        "Love and family",
        "How the storyteller met their partner, family life, children and grandchildren.",
        "Capture how the storyteller built a family and the moments they treasure",
        (
            "Key family members identified with descriptions",
            "At least 3 scenes captured with who/where/when details",
        ),
        ("Storyteller says they've covered the main memories",),
        (
            "Don't rush painful relationship topics",
            "Allow storyteller to skip any question",
            "Keep session to 45 minutes max",
        ),
        "1. Ask how they met\n2. The wedding or the beginning of life together\n"
        "3. Children and everyday family life\n4. End with what family means to them",
        45,
        ("marriage", "family", "children"),
        True,
    ),
    TemplateSpec(
        "Military service deep dive",
        "Service years told at the storyteller's own pace: training, comrades, places, return.",
        "Capture the storyteller's military service: where, when, with whom, and how it changed "
        "them",
        (
            "Basic timespan identified",
            "Comrades or commanders described",
            "At least 2 scenes captured with who/where/when details",
        ),
        ("Major milestones noted", "Storyteller says they've covered the main memories"),
        (
            "Don't rush trauma topics",
            "Never ask for details of violence; let the storyteller choose",
            "Allow storyteller to skip any question",
        ),
        "1. Establish when and where they served\n2. Training and first impressions\n"
        "3. Comrades and everyday life\n4. Coming home\n"
        "5. Back off gently if the answer is difficult",
        45,
        ("military", "war"),
    ),
    TemplateSpec(
        "Migration and moving",
        "Leaving one place and making a home in another.",
        "Capture the story of moving: why, the journey, arriving, and what was kept and lost",
        (
            "Places of departure and arrival named",
            "The journey described as a scene",
            "Key people identified",
        ),
        ("Storyteller says they've covered the main memories",),
        ("Allow storyteller to skip any question", "Don't rush painful partings"),
        "1. Life before leaving\n2. The decision and the journey\n3. The first days\n"
        "4. What home means now",
        40,
        ("migration", "move"),
        True,
    ),
    TemplateSpec(
        "A gentle approach for trauma and loss",
        "For loss, illness or hard times: slow, optional, led entirely by the storyteller.",
        "Give the storyteller space to remember someone or something they lost, at their own pace",
        ("The person or time remembered is described in the storyteller's words",),
        ("Storyteller says they've covered the main memories", "Storyteller feels complete"),
        (
            "Don't rush trauma topics",
            "Gentle questions only",
            "Allow storyteller to skip any question",
            "Keep session to 20 minutes max",
        ),
        "1. Ask whom or what they'd like to remember\n2. Start with good memories\n"
        "3. Let the storyteller choose how far to go\n4. End on something comforting",
        20,
        ("loss", "illness", "bereavement"),
    ),
    TemplateSpec(
        "Photo memories",
        "Old photographs as doors to stories: who, where, when, and what happened next.",
        "Tell the stories behind 3 photographs: who is in them, where, when, and what happened",
        (
            "People in the photos identified",
            "At least 3 scenes captured with who/where/when details",
        ),
        ("Storyteller says they've covered the main memories",),
        ("Allow storyteller to skip any question",),
        "1. Use photo if available to trigger memories\n2. Who is in it, where and when\n"
        "3. What happened just before and after\n4. Why this photo was kept",
        30,
        ("photos",),
        True,
    ),
    TemplateSpec(
        "Reflection and legacy",
        "Looking back: lessons, pride, regrets and the words to pass on.",
        "Explore what the storyteller has learned and what they want their family to remember",
        ("Identified personal growth", "Connected to broader story"),
        ("Storyteller feels complete",),
        ("Let the storyteller lead", "Allow storyteller to skip any question"),
        "1. Ask what they are proudest of\n2. What they would tell their younger self\n"
        "3. What they hope the family remembers\n4. End warmly",
        30,
        ("retirement", "legacy"),
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


def ensure_builtin_templates(db: DbSession, process: ProcessVersion) -> list[SessionTemplate]:
    existing = {
        t.template_name: t
        for t in db.scalars(select(SessionTemplate).where(SessionTemplate.is_builtin))
    }
    templates = []
    for spec in BUILTIN_TEMPLATES:
        template = existing.get(spec.name)
        if template is None:
            template = SessionTemplate(
                process_version_id=process.id,
                template_name=spec.name,
                template_description=spec.description,
                suggested_for_event_types=list(spec.event_types),
                default_intention=spec.intention,
                default_success_indicators=list(spec.success),
                default_completion_indicators=list(spec.completion),
                default_constraints=list(spec.constraints),
                default_procedure_notes=spec.procedure,
                default_duration_minutes=spec.duration,
                is_builtin=True,
                wants_photos=spec.wants_photos,
            )
            db.add(template)
        templates.append(template)
    db.flush()
    return templates
