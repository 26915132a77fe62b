"""Names of lifecycle events, sources and outcomes, and their small-integer codes in the records."""

NAMES = (
    # lifecycle events
    "conversation_opened", "workflow_started", "message_joined", "question_asked", "question_answered",
    "question_timeout", "lookup_done", "lookup_failed", "routed", "out_of_hours", "bot_started",
    "bot_handover", "queued", "assign_timeout", "assigned", "first_response", "contact_silent",
    "handed_back", "conversation_closed",
    # outcomes (abandoned is both an event and an outcome)
    "resolved", "abandoned", "bot_resolved", "closed_by_workflow", "auto_closed", "open_at_end",
    # sources
    "contact", "user",
)
CODE = {name: code for code, name in enumerate(NAMES)}
EVENTS = (*NAMES[: NAMES.index("conversation_closed") + 1], "abandoned")
SOURCES = ("contact", "user")

CONVERSATION_OPENED = CODE["conversation_opened"]
WORKFLOW_STARTED = CODE["workflow_started"]
MESSAGE_JOINED = CODE["message_joined"]
QUESTION_ASKED = CODE["question_asked"]
QUESTION_ANSWERED = CODE["question_answered"]
QUESTION_TIMEOUT = CODE["question_timeout"]
LOOKUP_DONE = CODE["lookup_done"]
LOOKUP_FAILED = CODE["lookup_failed"]
ROUTED = CODE["routed"]
OUT_OF_HOURS = CODE["out_of_hours"]
BOT_STARTED = CODE["bot_started"]
BOT_HANDOVER = CODE["bot_handover"]
QUEUED = CODE["queued"]
ASSIGN_TIMEOUT = CODE["assign_timeout"]
ASSIGNED = CODE["assigned"]
FIRST_RESPONSE = CODE["first_response"]
CONTACT_SILENT = CODE["contact_silent"]
HANDED_BACK = CODE["handed_back"]
CONVERSATION_CLOSED = CODE["conversation_closed"]

RESOLVED = CODE["resolved"]
ABANDONED = CODE["abandoned"]
BOT_RESOLVED = CODE["bot_resolved"]
CLOSED_BY_WORKFLOW = CODE["closed_by_workflow"]
AUTO_CLOSED = CODE["auto_closed"]
OPEN_AT_END = CODE["open_at_end"]
OUTCOMES = ("resolved", "abandoned", "bot_resolved", "closed_by_workflow", "auto_closed", "open_at_end")

CONTACT = CODE["contact"]
USER = CODE["user"]
