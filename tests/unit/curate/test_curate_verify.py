"""verify: reference solutions must reach the gold answer."""

from r1cli.curate.verify import verify_rows


def test_verify_with_the_accuracy_reward():
    rows = [
        {"id": "ok", "problem": "2+2?", "answer": "4", "solution": "<think>2+2=4</think> The answer is \\boxed{4}."},
        {"id": "bad", "problem": "2+3?", "answer": "5", "solution": "So the answer is \\boxed{6}."},
        {"id": "frac", "problem": "half?", "answer": "\\frac{1}{2}", "trace": "It is \\boxed{0.5}"},
        {"id": "none", "problem": "no solution here", "answer": "1"},
        {"id": "nogold", "problem": "p", "solution": "\\boxed{3}"},
    ]
    kept, removed = verify_rows(rows)
    # 0.5 == 1/2 under Math-Verify; rows without a solution pass through untouched
    assert [r["id"] for r in kept] == ["ok", "frac", "none"]
    reasons = {r["id"]: r["reason"] for r in removed}
    assert reasons == {"bad": "reference solution fails accuracy (score 0 < 1)",
                       "nogold": "unverifiable: no gold answer"}


def test_verify_unjudgeable_rows_follow_drop_unverifiable():
    def reward(completions, answer, **columns):  # judges only golds that are digits
        return [float(c.endswith(a)) if a.isdigit() else None for c, a in zip(completions, answer, strict=True)]

    rows = [{"id": "a", "problem": "p", "answer": "7", "solution": "... 7"},
            {"id": "b", "problem": "p", "answer": "x^2", "solution": "... x^2"}]
    kept, removed = verify_rows(rows, reward=reward)
    assert [r["id"] for r in kept] == ["a"]
    assert removed[0]["reason"] == "unverifiable: reward cannot judge this answer"
    kept, removed = verify_rows(rows, reward=reward, drop_unverifiable=False)
    assert [r["id"] for r in kept] == ["a", "b"] and removed == []
