"""Stage `generate_qa_pool`: paraphrasing-based augmentation (QA task), the part that calls the LLM.

The pool stage asks, per real training context, for `qa_gen.pairs_per_context` new QA
pairs (one per request, from the context and a few real example pairs), and for
`qa_gen.paraphrases_per_question` paraphrases of each of the first max(r) real questions
of a seeded shuffle (the answer is kept). A level stage (generate/qa.py, `gendiv generate-qa`)
then only selects from the pool.
With `generator.prompt_style = completion` (a pretrained model) both requests are documents
to continue: the context followed by a Q/A list, and a list of rewritten questions.
"""

from __future__ import annotations

import random
import re
import time
from collections import defaultdict
from pathlib import Path

import typer

from gendiv.columns import conform
from gendiv.config import load_params
from gendiv.errors import UserError
from gendiv.io import read_jsonl, write_json, write_jsonl
from gendiv.layout import GENERATED_DIR, dataset_path
from gendiv.llm import GenerationStats, Group, Reject, Template, check_answer, collect, open_llm
from gendiv.llm.cache import DEFAULT_DIR

OUT_DIR = GENERATED_DIR / "qa"
REAL_TRAIN = dataset_path("qa", "real")
PAIR_TEMPLATE = Template(
    id="qa_generate_pair",
    version="1",
    user=(
        "Read this text:\n{context}\n\nExample questions about the text, with answers:\n{examples}\n\n"
        "Write one new question about the text and its short answer, in the same format:\n"
        "Q: <question>\nA: <answer>"
    ),
)
FEW_SHOT = (
    ("Where did Tom go after school?", "After school, where did Tom go?"),
    ("Why is Mary angry with her brother?", "What made Mary angry with her brother?"),
)
PARAPHRASE_TEMPLATE = Template(
    id="qa_paraphrase_question",
    version="3",
    user="Rewrite this question in different words. Keep its meaning; do not answer it.\n\nQuestion: {question}",
)
PAIR_COMPLETION = Template(
    id="qa_generate_pair_completion",
    version="1",
    user="{context}\n\nQuestions about the text above, with short answers:\n{examples}",
)
PARAPHRASE_COMPLETION = Template(
    id="qa_paraphrase_question_completion",
    version="1",
    user=(
        "Questions rewritten in other words, with the same meaning:\n\n"
        + "".join(f"Question: {q}\nRewritten: {a}\n\n" for q, a in FEW_SHOT)
        + "Question: {question}\nRewritten:"
    ),
)
# Shown as earlier turns: SmolLM2-135M answered the question instead of rewriting it in ~80% of
# answers when the examples were inside one message (version 2); as turns, ~25% are rejected.
PARAPHRASE_SHOTS = tuple((PARAPHRASE_TEMPLATE.user.format(question=q), a) for q, a in FEW_SHOT)
_PAIR = re.compile(
    r"Q(?:uestion)?\s*\d*\s*[:.]\s*(?P<q>[^\n]+?)\s*\n+\s*A(?:nswer)?\s*\d*\s*[:.]\s*(?P<a>[^\n]+)", re.IGNORECASE
)
_LABEL = re.compile(r"^[^?:]{1,40}:\s+")  # "Paraphrase: ...", "Rewritten question: ..."


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def parse_pair(text: str, examples: list[str]) -> dict:
    """The first "Q: ... A: ..." pair of an answer, or raise Reject."""
    match = _PAIR.search(_unbold(check_answer(text)))
    if not match:
        raise Reject("no_qa_pair")
    question, answer = match["q"].strip(), match["a"].strip().strip('"')
    if not question.endswith("?") or len(_words(question)) < 3:
        raise Reject("not_a_question")
    if not 1 <= len(_words(answer)) <= 30:
        raise Reject("answer_length")
    if _words(question) in [_words(e) for e in examples]:
        raise Reject("copied_example")
    return {"question": question, "answer": answer}


def _unbold(text: str) -> str:
    """Markdown bold removed: the model often writes "**Q:**"; no parser reads the stars."""
    return text.replace("**", "")


def pair_complete(text: str) -> bool:
    """True once an answer's first "Q: ... A: ..." pair has its whole answer line: parse_pair
    reads nothing after it, so generation may stop there (a completion model lists on).
    A question or answer of whitespace only is not one yet: parse_pair strips the answer."""
    plain = _unbold(text)
    match = _PAIR.search(plain)
    return match is not None and bool(match["q"].strip() and match["a"].strip()) and match.end() < len(plain)


def first_line_complete(text: str) -> bool:
    """True once an answer's first line has ended: parse_paraphrase reads nothing after it."""
    return "\n" in text.lstrip()


def parse_paraphrase(text: str, original: str) -> str:
    """The first line of an answer as a question that differs from the original, or raise Reject."""
    lines = _unbold(check_answer(text)).splitlines() or [""]  # "**" alone leaves no line
    line = _LABEL.sub("", lines[0].strip()).strip().strip('"')
    if not line.endswith("?") or len(_words(line)) < 3:
        raise Reject("not_a_question")
    if _words(line) == _words(original):
        raise Reject("unchanged")
    if any(_words(line) in (_words(q), _words(a)) for q, a in FEW_SHOT):
        raise Reject("copied_example")
    if len(line) > 3 * len(original) + 20:
        raise Reject("too_long")
    return line


def contexts(real: list[dict]) -> dict[str, list[dict]]:
    by_doc: dict[str, list[dict]] = defaultdict(list)
    for row in real:
        by_doc[row["document_id"]].append(row)
    return dict(sorted(by_doc.items()))


def chosen_questions(rows: list[dict], k: int, seed: int) -> list[dict]:
    """The real questions of a context to paraphrase, a prefix of one seeded shuffle."""
    order = sorted(rows, key=lambda r: r["id"])
    random.Random(f"{seed}-paraphrase-{rows[0]['document_id']}").shuffle(order)
    return order[:k]


def pair_examples(rows: list[dict], index: int, k: int, seed: int) -> list[dict]:
    """The real pairs shown as examples when asking for generated pair `index` of a context."""
    return random.Random(f"{seed}-qa-{rows[0]['document_id']}-{index}").sample(rows, k)


def paraphrase_prompt(question: str, completion: bool) -> tuple[Template, dict]:
    if completion:
        return PARAPHRASE_COMPLETION, {"question": question}
    return PARAPHRASE_TEMPLATE, {"question": question, "shots": PARAPHRASE_SHOTS}


def pool_groups(p, by_doc: dict[str, list[dict]]) -> tuple[list[Group], dict]:
    """One group of generated pairs per context, one group of paraphrases per chosen question."""
    q = p.qa_gen
    pair_template = PAIR_COMPLETION if p.generator.prompt_style == "completion" else PAIR_TEMPLATE
    groups, meta = [], {}
    for doc, rows in by_doc.items():
        context = rows[0]["context"]

        def pair_prompt(index: int, rows=rows, context=context):
            shown = pair_examples(rows, index, q.n_example_pairs, p.seed)
            return pair_template, {
                "context": context,
                "examples": "\n".join(f"Q: {r['question']}\nA: {r['answer']}" for r in shown),
            }

        def pair_parse(text: str, index: int, rows=rows):
            shown = pair_examples(rows, index, q.n_example_pairs, p.seed)
            return parse_pair(text, [r["question"] for r in shown])

        gid = f"qa/{doc}/generated"
        # the first pair is all that is read: a model that goes on past it until the token cap still answered
        groups.append(
            Group(gid, q.pairs_per_context, pair_prompt, pair_parse, whole_lines=True, complete=pair_complete)
        )
        meta[gid] = {"document_id": doc, "kind": "generated", "source": None}
        for src in chosen_questions(rows, max(q.replaced_questions), p.seed):
            groups.append(paraphrase_group(p, doc, src, meta))
    return groups, meta


def paraphrase_group(p, doc: str, src: dict, meta: dict) -> Group:
    """The paraphrases of one real question; optional, so a question the generator cannot
    rewrite is given up and replaced (see collect_pool) instead of failing the stage."""
    completion = p.generator.prompt_style == "completion"
    gid = f"qa/{doc}/paraphrase/{src['id']}"
    meta[gid] = {"document_id": doc, "kind": "paraphrase", "source": src}
    return Group(
        gid,
        p.qa_gen.paraphrases_per_question,
        lambda _i: paraphrase_prompt(src["question"], completion),
        lambda text, _i: parse_paraphrase(text, src["question"]),
        whole_lines=True,  # only the first line is read
        optional=True,
        complete=first_line_complete,
    )


def collect_pool(llm, p, by_doc: dict[str, list[dict]], groups: list[Group], meta: dict, given_up: list[str]) -> dict:
    """Collect every group; a real question whose paraphrases were given up (the generator kept
    copying it back) is replaced by the next question of its context's seeded order. Appends the
    replacement groups to `groups` and the given-up question ids to `given_up`."""
    order = {doc: chosen_questions(rows, len(rows), p.seed) for doc, rows in by_doc.items()}
    used = dict.fromkeys(by_doc, max(p.qa_gen.replaced_questions))
    accepted, pending, desc = {}, list(groups), "qa pool"
    while pending:
        got = collect(llm, pending, p.generator.max_rejects, desc=desc)
        accepted.update(got)
        replacements = []
        for g in pending:
            if got[g.id] or not g.optional:
                continue
            doc = meta[g.id]["document_id"]
            given_up.append(meta[g.id]["source"]["id"])
            if used[doc] == len(order[doc]):
                raise UserError(
                    f"context {doc}: the generator could not paraphrase enough of its real questions "
                    f"(given up: {', '.join(given_up)}); qa_gen.replaced_questions needs "
                    f"{max(p.qa_gen.replaced_questions)} per context"
                )
            replacements.append(paraphrase_group(p, doc, order[doc][used[doc]], meta))
            used[doc] += 1
        groups += replacements
        pending, desc = replacements, "qa pool (replaced questions)"
    return accepted


def pool_main(
    params: Path = typer.Option(Path("params.yaml"), help="params file"),
    cache_dir: Path = typer.Option(DEFAULT_DIR, help="LLM call cache (kept across runs)"),
    out_dir: Path = typer.Option(OUT_DIR, help="output folder"),
) -> None:
    """Generate QA pairs and question paraphrases for every real training context (pool.jsonl)."""
    p = load_params(params)
    by_doc = contexts(read_jsonl(REAL_TRAIN))
    start, stats = time.perf_counter(), GenerationStats()
    llm = open_llm(p.generator, p.seed, stats, cache_dir)
    groups, meta = pool_groups(p, by_doc)
    given_up: list[str] = []
    try:
        accepted = collect_pool(llm, p, by_doc, groups, meta, given_up)
    finally:
        write_json(
            out_dir / "pool.report.json",
            {
                **stats.as_dict(p.generator),
                "contexts": len(by_doc),
                "groups": len(groups),
                "questions_not_paraphrased": given_up,
                "templates": [
                    f"{t.id}@{t.version}"
                    for t in (
                        (PAIR_COMPLETION, PARAPHRASE_COMPLETION)
                        if p.generator.prompt_style == "completion"
                        else (PAIR_TEMPLATE, PARAPHRASE_TEMPLATE)
                    )
                ],
                "elapsed_s": round(time.perf_counter() - start, 1),
            },
        )
    rows = []
    for g in groups:
        m = meta[g.id]
        doc = m["document_id"]
        for a in accepted[g.id]:
            common = {
                "document_id": doc,
                "context": by_doc[doc][0]["context"],
                "kind": m["kind"],
                "generator": llm.label,
                "template_version": f"{a.template.id}@{a.template.version}",
            }
            if m["kind"] == "generated":
                rows.append({"id": f"{doc}-g{a.index}", **common, **a.value})
            else:
                src = m["source"]
                rows.append(
                    {
                        "id": f"{src['id']}-p{a.index}",
                        **common,
                        "question": a.value,
                        "answer": src["answer"],
                        "source_question": src["question"],
                        "source_id": src["id"],
                    }
                )
    write_jsonl(out_dir / "pool.jsonl", [conform("qa", row, source="pool") for row in rows])
    print(
        f"qa pool: {len(rows)} rows for {len(by_doc)} contexts, {stats.calls} calls, "
        f"{stats.cache_hits} cached, {sum(stats.rejects.values())} rejected, {stats.dropped} dropped"
    )


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(pool_main)
