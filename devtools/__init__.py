"""Developer tools, kept apart from the service in `bot/`: the local Slack stand-in, signed-request
builders, local mode (`make run` without credentials) and the sandbox page (`make sandbox`).

They may import `bot` and `intents`; nothing in `bot/` imports them at module level, and `app.py` (what
the platform runs) imports none of them, so a deploy runs with this folder deleted. `python -m bot run`
and `python -m bot sandbox` import them inside the command that needs them.
"""
