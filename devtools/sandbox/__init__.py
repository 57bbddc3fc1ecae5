"""`make sandbox` (`python -m bot sandbox`): a local Slack page for staff. The real bot runs beside the
Slack stand-in; the page shows its replies as Slack renders them, with why each answer was chosen.

Imported only by that command, so the bot's own start-up and memory stay as they are.
"""
