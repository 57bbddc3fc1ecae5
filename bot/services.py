"""What every listener shares (settings, content, stores, the question log, rate limits, the in-flight
tracker), and the one wiring that builds it from the settings."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field

from bot.command_names import Commands
from bot.content import ContentHolder
from bot.inflight import InFlight
from bot.limits import SharedLimits
from bot.question_log import QuestionStore
from bot.recorder import DiscardingStore, Recorder
from bot.settings import Settings, ToolSettings, question_log_target
from bot.staff_cache import StaffViewCache
from bot.state import MemorySeenStore, MemoryThreadMemory, RateLimiter, SeenStore, ThreadMemory

# Hand-offs per member in an hour, on top of once per question: each one pages a person.
HANDOFFS_PER_HOUR = 5
# Teach's Saves per staff member in a minute: each one retrains.
SAVES_PER_MINUTE = 10
# Home opens per person in a minute: each one may ask Slack for user groups and publishes a view.
HOME_OPENS_PER_MINUTE = 10
# Local mode talks to a stand-in with made-up members: nothing to protect, and a fixed secret keeps
# the same member's hash stable from one local run to the next.
LOCAL_SECRET = "confedbot-local-mode-member-hash"


@dataclass
class Services:
    settings: Settings
    content: ContentHolder
    seen: SeenStore = field(default_factory=MemorySeenStore)
    threads: ThreadMemory = field(default_factory=MemoryThreadMemory)
    inflight: InFlight = field(default_factory=InFlight)
    recorder: Recorder = field(default_factory=lambda: Recorder(DiscardingStore()))
    limiter: RateLimiter = field(init=False)  # questions, commands and clicks per member
    # Hand-offs, Saves and staff Home opens: counted in the question log's database, so they hold across
    # instances and restarts (bot/limits.py).
    limits: SharedLimits = field(init=False)
    handing_off: set[str] = field(default_factory=set)  # question ids this instance is handing off right now
    usergroups: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)  # staff groups' members
    usergroup_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    staff_views: StaffViewCache = field(default_factory=StaffViewCache)  # the staff Home's last figures

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.settings.rate_limit_count, self.settings.rate_limit_seconds)
        self.limits = SharedLimits(lambda: self.recorder)

    async def may_hand_off(self, user: str) -> bool:
        return await self.limits.allow("handoff", user, HANDOFFS_PER_HOUR, 3600)

    async def may_save(self, user: str) -> bool:
        return await self.limits.allow("save", user, SAVES_PER_MINUTE, 60)

    async def may_open_home(self, user: str) -> bool:
        return await self.limits.allow("home", user, HOME_OPENS_PER_MINUTE, 60)


def assemble(settings: Settings) -> Services:
    """Settings, content, stores: the one wiring that app.py, local mode and the tests share.
    Raises ContentError when the content file has errors."""
    commands = Commands(settings.messenger_command, settings.keypoints_command)
    services = Services(settings, ContentHolder(settings.responses_path, commands))
    from bot.question_log_sql import StoreUnavailable, open_store

    try:
        services.recorder = Recorder(open_store(question_log_target(settings.database_url), derive_secret(settings)))
    except StoreUnavailable as exc:
        # An unusable SQLite path: one line, and the bot answers without a question log (/healthz says
        # "off"). A database out of reach is not known here: the recorder retries it in the background.
        services.recorder = Recorder.off(str(exc))
    if settings.redis_url:
        from bot.state_redis import redis_state

        # Keys in Redis are hashed with the member-hash secret: Redis never names a member or channel.
        services.seen, services.threads = redis_state(settings.redis_url, secret=derive_secret(settings))
    return services


def derive_secret(settings: Settings | None, explicit: str | None = None) -> str:
    """The member-hash key: MEMBER_HASH_SECRET when set (the settings' or, without Slack credentials,
    `explicit`); otherwise derived from a Slack secret the bot already has, so nothing new must be
    configured; LOCAL_SECRET in local mode (settings None). Set MEMBER_HASH_SECRET before rotating the
    signing secret: a new key makes new hashes, and `forget` would no longer find a member's older rows."""
    chosen = (settings.member_hash_secret if settings is not None else None) or explicit or ""
    if chosen.strip():
        return chosen.strip()
    base = None if settings is None else settings.signing_secret or settings.app_token
    if base is None:
        return LOCAL_SECRET
    # A one-way derivation under its own label: the hash key reveals nothing of the signing secret.
    return hashlib.sha256(b"member-hash:" + base.encode()).hexdigest()


def store_for_tools(tools: ToolSettings) -> tuple[QuestionStore, str | None]:
    """The store the bot itself would open with these settings, for the command line; and a note to
    show when no Slack secret is set, so the local-mode key is used."""
    from bot.question_log_sql import open_store

    if tools.settings is not None:
        settings = tools.settings
        return open_store(question_log_target(settings.database_url), derive_secret(settings)), None
    secret = derive_secret(None, tools.member_hash_secret)
    note = None
    if secret == LOCAL_SECRET:
        note = (
            "note: no SLACK_* credentials or MEMBER_HASH_SECRET set, so members are hashed with local mode's "
            "key; set the deployed bot's secrets to reach the rows it wrote"
        )
    return open_store(question_log_target(tools.database_url), secret), note
