"""Ask until every group has its number of samples that parse.

Each group (e.g. one diversity level, one context, one question to paraphrase) needs
`need` samples. Sample i is asked with attempt 0; an answer that does not parse is
rejected (counted by reason, never returned) and asked again with attempt + 1 (a new
call key) up to `max_rejects` times; then the sample is dropped and index need, need+1, ...
takes its place. Rounds are built in a fixed order from answers alone, so the same
answers (e.g. from the cache after a kill) always lead to the same calls.

A backend whose batches cost about the same whether full or not (`fills_batches`, the
local hf model) gets the idle rows of a round's last batch filled with the next attempts
of the round's first samples: a sample takes its first attempt that parses, later ones are
counted as unused. Without this, re-asks run as a tail of nearly empty batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gendiv.errors import UserError
from gendiv.llm.base import Request, Template


class Reject(ValueError):
    """An answer that is not usable data; `reason` is the report's counter name.

    `final`: asking again cannot help (the endpoint refused the request itself), so the
    sample is dropped at once instead of re-asked.
    """

    def __init__(self, reason: str, final: bool = False):
        super().__init__(reason)
        self.reason, self.final = reason, final


REFUSALS = ("i'm sorry", "i am sorry", "i cannot", "i can't", "as an ai")


def check_answer(text: str) -> str:
    """The stripped answer, or Reject("empty") / Reject("refusal"): every parser starts here."""
    text = text.strip()
    if not text:
        raise Reject("empty")
    if text.lower().startswith(REFUSALS):
        raise Reject("refusal")
    return text


# finish reasons of answers that are not a whole answer; each is its own reject reason
NOT_ANSWERS = {
    "length": "truncated",
    "content_filter": "content_filter",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "null_content": "null_content",
    "no_choices": "no_choices",
    "error_body": "error_body",
    "malformed_response": "malformed_response",
}


def answer_text(completion, whole_lines: bool = False, parses_cut: bool = False) -> str:
    """The text of a complete answer, or Reject by why it is not one (see Completion.finish_reason).

    A truncated answer (finish_reason "length") is re-asked like any unparsable one; a
    request the endpoint refused ("http_400", ...) is a final reject. `whole_lines`: for
    answers that are lists of independent lines (topics), a truncated answer keeps the lines
    before the one the token cap cut; `parses_cut`: the parser itself drops the cut part (a
    story keeps its first five whole sentences), so a truncated answer goes to it as it is.
    """
    reason = completion.finish_reason
    if reason.startswith("http_"):
        raise Reject(reason, final=True)
    if reason == "length" and whole_lines and "\n" in completion.text.strip():
        return completion.text.strip().rsplit("\n", 1)[0]
    if reason == "length" and parses_cut:
        return completion.text
    if reason in NOT_ANSWERS:
        raise Reject(NOT_ANSWERS[reason])
    return completion.text


class GenerationFailed(UserError):
    """A group dropped more samples than it needs: the generator mostly misses the format."""


@dataclass
class Group:
    id: str
    need: int
    prompt: Callable[[int], tuple[Template, dict]]  # sample index -> (template, its fields)
    parse: Callable[[str, int], Any]  # (answer text, sample index) -> value, or raise Reject
    parses_cut: bool = False  # parse drops the unit the token cap cut, so a "length" answer may still be whole
    whole_lines: bool = False  # parse reads only whole lines: a "length" answer loses its cut last line
    optional: bool = False  # where it would fail the stage, it is given up (returned empty) for the caller to replace
    complete: Callable[[str], bool] | None = None  # true once parse has all it reads (see Request.complete)


@dataclass(frozen=True)
class Accepted:
    index: int
    attempt: int
    value: Any
    template: Template


def collect(llm, groups: list[Group], max_rejects: int, desc: str = "generating") -> dict[str, list[Accepted]]:
    """Return, per group id, `need` accepted samples ordered by sample index (none for an
    optional group given up)."""
    stats = llm.stats
    accepted: dict[str, list[Accepted]] = {g.id: [] for g in groups}
    next_index = {g.id: g.need for g in groups}
    dropped = {g.id: 0 for g in groups}
    given_up: list[str] = []
    todo = [(g, i, 0) for g in groups for i in range(g.need)]
    unit = llm.backend.unit if getattr(llm.backend, "fills_batches", False) else 1
    round_no = 0
    while todo:
        round_no += 1
        tries = _with_spare_attempts(todo, unit, max_rejects)
        requests, templates = [], []
        for g, i, attempts in tries:
            template, fields = g.prompt(i)
            messages = template.messages(**fields)
            templates.append(template)
            requests += [
                Request(template.id, template.version, messages, f"{g.id}/{i}", a, g.complete) for a in attempts
            ]
        answers = iter(llm.complete(requests, desc=f"{desc} (round {round_no})"))
        again = []
        for (g, i, attempts), template in zip(tries, templates):
            answered = [next(answers) for _ in attempts]
            if g.id in given_up:
                continue
            attempt = _first_parsed(g, i, template, attempts, answered, accepted[g.id], stats, max_rejects)
            if attempt is None:
                continue
            if attempt < max_rejects:
                again.append((g, i, attempt + 1))
                continue
            stats.dropped += 1
            dropped[g.id] += 1
            if dropped[g.id] > 2 * g.need + 2:
                if g.optional:
                    given_up.append(g.id)
                    continue
                raise GenerationFailed(
                    f"{g.id}: {dropped[g.id]} samples failed to parse after {max_rejects} re-asks each "
                    f"(rejects so far: {dict(stats.rejects)}); the generator misses the expected format"
                )
            stats.filled += 1
            again.append((g, next_index[g.id], 0))
            next_index[g.id] += 1
        todo = [t for t in again if t[0].id not in given_up]
    for gid in given_up:
        accepted[gid] = []
    for rows in accepted.values():
        rows.sort(key=lambda a: a.index)
    return accepted


def _with_spare_attempts(todo: list, unit: int, max_rejects: int) -> list[tuple[Group, int, list[int]]]:
    """Each (group, index, attempt) with the attempts to ask now: one, plus spares up to a full batch."""
    tries = [(g, i, [attempt]) for g, i, attempt in todo]
    spare = -len(todo) % unit
    while spare:
        grew = False
        for _, _, attempts in tries:
            if spare and attempts[-1] < max_rejects:
                attempts.append(attempts[-1] + 1)
                spare, grew = spare - 1, True
        if not grew:
            break
    return tries


def _first_parsed(
    g: Group, i: int, template: Template, attempts: list[int], answered: list, accepted: list, stats, max_rejects: int
) -> int | None:
    """Accept the first attempt that parses (None); else count the rejects, return the last attempt
    (or, after a final reject, the last allowed one, so the sample is dropped)."""
    for k, (attempt, completion) in enumerate(zip(attempts, answered)):
        try:
            accepted.append(
                Accepted(i, attempt, g.parse(answer_text(completion, g.whole_lines, g.parses_cut), i), template)
            )
        except Reject as rej:
            cut = completion.finish_reason == "length"  # a cut answer that does not parse failed by the cut
            stats.rejects["truncated" if cut else rej.reason] += 1
            if rej.final:
                stats.unused += len(attempts) - k - 1
                return max(attempt, max_rejects)
            continue
        stats.unused += len(attempts) - k - 1
        return None
    return attempts[-1]
