"""What every listener shares (settings, content, stores, the question log, rate limits, the in-flight
tracker), and the one wiring that builds it from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.blocks import Commands
from bot.content import ContentHolder
from bot.inflight import InFlight
from bot.recorder import DiscardingStore, Recorder
from bot.settings import Settings
from bot.stores import MemorySeenStore, MemoryThreadMemory, RateLimiter, SeenStore, ThreadMemory

# Hand-offs per member in an hour, on top of once per question: each one pages a person.
HANDOFFS_PER_HOUR = 5
# Teach's Saves per staff member in a minute: each one retrains.
SAVES_PER_MINUTE = 10


@dataclass
class Services:
    settings: Settings
    content: ContentHolder
    seen: SeenStore = field(default_factory=MemorySeenStore)
    threads: ThreadMemory = field(default_factory=MemoryThreadMemory)
    inflight: InFlight = field(default_factory=InFlight)
    recorder: Recorder = field(default_factory=lambda: Recorder(DiscardingStore()))
    limiter: RateLimiter = field(init=False)  # questions, commands and clicks per member
    handoff_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(HANDOFFS_PER_HOUR, 3600.0))
    save_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(SAVES_PER_MINUTE, 60.0))
    handing_off: set[str] = field(default_factory=set)  # question ids this instance is handing off right now

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.settings.rate_limit_count, self.settings.rate_limit_seconds)


def assemble(settings: Settings) -> Services:
    """Settings, content, stores: the one wiring that app.py, local mode and the tests share.
    Raises ContentError when the content file has errors."""
    commands = Commands(settings.messenger_command, settings.keypoints_command)
    services = Services(settings, ContentHolder(settings.responses_path, commands))
    from bot.storage_sql import StoreUnavailable, derive_secret, open_store

    try:
        services.recorder = Recorder(open_store(settings.database_url, derive_secret(settings)))
    except StoreUnavailable as exc:
        # An unusable SQLite path: one line, and the bot answers without a question log (/healthz says
        # "off"). A database out of reach is not known here: the recorder retries it in the background.
        services.recorder = Recorder.off(str(exc))
    if settings.redis_url:
        from bot.redis_stores import redis_stores

        # Keys in Redis are hashed with the member-hash secret: Redis never names a member or channel.
        services.seen, services.threads = redis_stores(settings.redis_url, secret=derive_secret(settings))
    return services
