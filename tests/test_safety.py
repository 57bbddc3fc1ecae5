"""The outgoing-text filters on their own: `clean` (our content) leaves no mention however it is nested or
padded; `escape` (a member's words) is Slack's own escaping."""

from __future__ import annotations

import re

import pytest

from bot.safety import clean, escape

_SPECIAL = re.compile(r"<[!@]")


@pytest.mark.parametrize(
    "text",
    [
        "<<!channel>!channel>",
        "<<<!here>!here>!here>",
        "<<@U0VICTIM1>@U0VICTIM1>",
        "<!subteam^S0TEAM|@" + "x" * 300 + ">",
        "<@W0VICTIM1|" + "y" * 5000 + ">",
        "<" * 50 + "!everyone" + ">" * 50,
        "<!channel",
        "text <!date^1392734382^{date}|Feb 18> text",
    ],
)
def test_clean_leaves_no_special_sequence(text: str) -> None:
    assert not _SPECIAL.search(clean(text))


def test_clean_keeps_links_and_ordinary_text() -> None:
    assert clean("see <https://www.nhsconfed.org/|our page> & a < b > c") == (
        "see <https://www.nhsconfed.org/|our page> & a < b > c"
    )
    assert clean("tell @channel and @here") == "tell channel and here"


def test_escape_is_slacks_own() -> None:
    assert escape("<!channel> & <@U1> > <#C1|x>") == "&lt;!channel&gt; &amp; &lt;@U1&gt; &gt; &lt;#C1|x&gt;"
