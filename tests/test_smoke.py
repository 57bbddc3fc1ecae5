from tests.conftest import Harness


async def test_dm_gets_answer(harness: Harness) -> None:
    status, _, event = await harness.dm("what is recommendation 4?")
    assert status == 200
    [post] = await harness.posts(1)
    assert post["channel"] == "D0000001"
    assert "appraisal" in post["text"].lower()
