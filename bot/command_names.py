"""The slash commands' configured names, and the placeholders staff write in content for them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Commands:
    messenger: str = "/messenger"
    keypoints: str = "/keypoints"
    # What staff may write in content, in braces: each becomes the command's configured name.
    PLACEHOLDERS: ClassVar[tuple[str, ...]] = ("messenger", "keypoints")

    def fill(self, text: str) -> str:
        """Each placeholder in the text replaced by its command's configured name."""
        return text.replace("{messenger}", self.messenger).replace("{keypoints}", self.keypoints)
