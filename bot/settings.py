"""Operator settings, read once from the environment: the only module that reads it. Secrets come only
from here. `load_settings` is the bot's (Slack credentials required); `tool_settings` is what the
command line and local mode need (none required), with the same checks on what they share."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_API_URL = "https://slack.com/api/"
PROJECT_DIR = Path(__file__).resolve().parent.parent


class SettingsError(Exception):
    """One clear line naming the variable that is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    bot_token: str
    signing_secret: str | None
    app_token: str | None = None
    port: int = 3000
    host: str = "0.0.0.0"
    api_url: str = DEFAULT_API_URL
    responses_path: Path = PROJECT_DIR / "responses.yaml"
    messenger_command: str = "/messenger"
    keypoints_command: str = "/keypoints"
    rate_limit_count: int = 10
    rate_limit_seconds: float = 10.0
    shutdown_grace_seconds: float = 10.0
    reload_interval_seconds: float = 0.5
    # How often each instance asks the question log whether staff taught it something (Teach).
    label_poll_seconds: float = 15.0
    api_timeout_seconds: float = 10.0
    redis_url: str | None = None
    log_level: str = "INFO"
    # The question log: SQLite under the project by default, or DATABASE_URL (sqlite:///PATH, postgresql://...).
    database_url: str | None = None
    question_log: bool = True  # QUESTION_LOG=off keeps counts, never the question's text
    log_retention_days: int = 90
    member_hash_secret: str | None = None  # MEMBER_HASH_SECRET; derived from the Slack secrets when unset
    # HEALTH_TOKEN: /healthz shows its details (counts, stores, the model) only to a request that carries
    # it (Authorization: Bearer ...); anyone else learns only whether the bot is up.
    health_token: str | None = None
    # Who is staff (reload, report, the staff Home, Teach, Take it) and where "Ask a person" posts: the
    # operator's to set (STAFF_USER_IDS, STAFF_USERGROUP_IDS, HANDOFF_CHANNEL), never the content file's.
    staff_user_ids: tuple[str, ...] = ()
    staff_usergroup_ids: tuple[str, ...] = ()
    handoff_channel: str | None = None

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    def secrets(self) -> tuple[str, ...]:
        candidates = (self.bot_token, self.signing_secret, self.app_token, self.redis_url, self.database_url,
                      self.member_hash_secret, self.health_token)  # fmt: skip
        return tuple(s for s in candidates if s)

    def __repr__(self) -> str:  # never print secrets, even by accident
        return (
            f"Settings(port={self.port}, api_url={self.api_url!r}, socket_mode={self.socket_mode}, "
            f"redis={bool(self.redis_url)})"
        )


_COMMAND_RE = re.compile(r"^/[a-z0-9_-]{1,31}$")
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
_GROUP_ID = re.compile(r"S[A-Z0-9]{2,30}")
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,30}")


def _ids(env: Mapping[str, str], name: str, pattern: re.Pattern[str], kind: str) -> tuple[str, ...]:
    """A list of Slack ids, separated by commas or spaces; one clear error for the first that is not one."""
    values = tuple(v for v in re.split(r"[,\s]+", env.get(name, "").strip()) if v)
    for value in values:
        if not pattern.fullmatch(value):
            raise SettingsError(f"{name} takes {kind}, separated by commas; {value[:40]!r} is not one")
    return values


_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR"}


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float, *, integer: bool) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise SettingsError(f"{name} must be {kind} from {low:g} to {high:g}, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be from {low:g} to {high:g}, got {raw!r}")
    return value


def _responses_path(env: Mapping[str, str]) -> Path:
    return Path(env.get("RESPONSES_PATH", "").strip() or PROJECT_DIR / "responses.yaml")


def _commands(env: Mapping[str, str]) -> dict[str, str]:
    commands = {}
    for name, default in (("MESSENGER_COMMAND", "/messenger"), ("KEYPOINTS_COMMAND", "/keypoints")):
        value = env.get(name, "").strip() or default
        if not _COMMAND_RE.match(value):
            raise SettingsError(f"{name} must look like /name (lower case, up to 32 characters), got {value!r}")
        commands[name] = value
    return commands


@dataclass(frozen=True)
class ToolSettings:
    """What `python -m bot` and local mode read of the environment. `settings`: the bot's own settings
    when Slack credentials are set (then the command line opens the log as the bot does), else None."""

    responses_path: Path
    messenger_command: str = "/messenger"
    keypoints_command: str = "/keypoints"
    port: int = 0  # local mode: PORT, or any free port
    database_url: str | None = None
    member_hash_secret: str | None = None
    on_platform_dyno: bool = False  # DYNO is set: a platform dyno, whose disk is wiped at every restart
    settings: Settings | None = None


def tool_settings(env: Mapping[str, str] | None = None) -> ToolSettings:
    """The command line's settings (raises SettingsError naming the variable that is malformed)."""
    env = os.environ if env is None else env
    settings = load_settings(env) if has_credentials(env) else None
    commands = _commands(env)
    database_url = env.get("DATABASE_URL", "").strip() or None
    return ToolSettings(
        responses_path=_responses_path(env),
        messenger_command=commands["MESSENGER_COMMAND"],
        keypoints_command=commands["KEYPOINTS_COMMAND"],
        port=int(_number(env, "PORT", 0, 0, 65535, integer=True)),
        database_url=database_url,
        member_hash_secret=env.get("MEMBER_HASH_SECRET", "").strip() or None,
        on_platform_dyno=bool(env.get("DYNO", "").strip()),
        settings=settings,
    )


def has_credentials(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return any(env.get(n, "").strip() for n in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"))


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    bot_token = env.get("SLACK_BOT_TOKEN", "").strip()
    if not bot_token:
        raise SettingsError("SLACK_BOT_TOKEN is not set (the bot token, xoxb-..., from your Slack app's OAuth page)")
    if not bot_token.startswith("xoxb-"):
        raise SettingsError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
    app_token = env.get("SLACK_APP_TOKEN", "").strip() or None
    if app_token is not None and not app_token.startswith("xapp-"):
        raise SettingsError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
    signing_secret = env.get("SLACK_SIGNING_SECRET", "").strip() or None
    if signing_secret is None and app_token is None:
        raise SettingsError("SLACK_SIGNING_SECRET is not set (Basic Information > App Credentials in your Slack app)")
    if signing_secret is not None and not re.fullmatch(r"[0-9A-Za-z]{16,128}", signing_secret):
        raise SettingsError("SLACK_SIGNING_SECRET is malformed: expected 16 to 128 letters and digits")
    api_url = env.get("SLACK_API_URL", "").strip() or DEFAULT_API_URL
    parsed = urlparse(api_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError(f"SLACK_API_URL must be an http(s) address such as {DEFAULT_API_URL}, got {api_url!r}")
    if not api_url.endswith("/"):
        api_url += "/"
    responses_path = _responses_path(env)
    if not responses_path.is_file():
        raise SettingsError(f"RESPONSES_PATH points at {str(responses_path)!r}, which is not a file")
    commands = _commands(env)
    redis_url = env.get("REDIS_URL", "").strip() or None
    if redis_url is not None and urlparse(redis_url).scheme not in ("redis", "rediss", "unix"):
        raise SettingsError(f"REDIS_URL must be a redis:// or rediss:// address, got {redis_url!r}")
    database_url = env.get("DATABASE_URL", "").strip() or None
    if database_url is not None and urlparse(database_url).scheme not in ("sqlite", "postgresql", "postgres"):
        scheme = urlparse(database_url).scheme
        raise SettingsError(f"DATABASE_URL must be sqlite:///PATH or postgresql://user@host/db, got {scheme!r}")
    question_log = env.get("QUESTION_LOG", "on").strip().lower() or "on"
    if question_log not in ("on", "off"):
        raise SettingsError(f"QUESTION_LOG must be on or off, got {question_log!r}")
    staff_users = _ids(env, "STAFF_USER_IDS", _USER_ID, "Slack user ids (U0123ABCD)")
    staff_groups = _ids(env, "STAFF_USERGROUP_IDS", _GROUP_ID, "Slack user group ids (S0123ABCD)")
    handoff = _ids(env, "HANDOFF_CHANNEL", _CHANNEL_ID, "one Slack channel id (C0123ABCD or G0123ABCD)")
    if len(handoff) > 1:
        raise SettingsError(f"HANDOFF_CHANNEL takes one channel id, got {len(handoff)}")
    level = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if level not in _LEVELS:
        raise SettingsError(f"LOG_LEVEL must be one of {', '.join(sorted(_LEVELS))}, got {level!r}")
    return Settings(
        bot_token=bot_token,
        signing_secret=signing_secret,
        app_token=app_token,
        port=int(_number(env, "PORT", 3000, 1, 65535, integer=True)),
        host=env.get("HOST", "").strip() or "0.0.0.0",
        api_url=api_url,
        responses_path=responses_path,
        messenger_command=commands["MESSENGER_COMMAND"],
        keypoints_command=commands["KEYPOINTS_COMMAND"],
        rate_limit_count=int(_number(env, "RATE_LIMIT_COUNT", 10, 1, 10_000, integer=True)),
        rate_limit_seconds=_number(env, "RATE_LIMIT_SECONDS", 10.0, 1, 3600, integer=False),
        shutdown_grace_seconds=_number(env, "SHUTDOWN_GRACE_SECONDS", 10.0, 0, 300, integer=False),
        reload_interval_seconds=_number(env, "RELOAD_INTERVAL_SECONDS", 0.5, 0.1, 60, integer=False),
        label_poll_seconds=_number(env, "LABEL_POLL_SECONDS", 15.0, 0.1, 60, integer=False),
        api_timeout_seconds=_number(env, "SLACK_API_TIMEOUT_SECONDS", 10.0, 0.5, 60, integer=False),
        redis_url=redis_url,
        log_level=level,
        database_url=database_url,
        question_log=question_log == "on",
        staff_user_ids=staff_users,
        staff_usergroup_ids=staff_groups,
        handoff_channel=handoff[0] if handoff else None,
        log_retention_days=int(_number(env, "LOG_RETENTION_DAYS", 90, 1, 3650, integer=True)),
        member_hash_secret=env.get("MEMBER_HASH_SECRET", "").strip() or None,
        health_token=env.get("HEALTH_TOKEN", "").strip() or None,
    )


DEFAULT_SQLITE_PATH = PROJECT_DIR / ".data" / "questions.sqlite3"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_SCHEME = "sqlite:///"


def sqlite_path(database_url: str | None) -> Path:
    """The file a sqlite:/// address names; a relative path is read from the project folder, so the
    bot and `python -m bot report` find the same file wherever they are started."""
    if database_url is None or not database_url.strip():
        return DEFAULT_SQLITE_PATH
    if not database_url.startswith(SQLITE_SCHEME) or len(database_url) == len(SQLITE_SCHEME):
        raise SettingsError(
            f"DATABASE_URL must be sqlite:///PATH or postgresql://..., got {database_url.split('://')[0]}://..."
        )
    path = Path(database_url[len(SQLITE_SCHEME) :])
    return path if path.is_absolute() else PROJECT_DIR / path


def question_log_target(database_url: str | None) -> str | Path:
    """Where DATABASE_URL puts the question log: a postgresql:// address as it is, or the SQLite file."""
    if database_url is not None and database_url.startswith(POSTGRES_SCHEMES):
        return database_url
    return sqlite_path(database_url)
