"""Phase generate: LLM-generated training sets (library `gendiv.llm` makes the calls).

topics    `gendiv generate-topics`: the topic pool every Gen-D level draws from
story     `gendiv generate-story`: topic-guided stories per Gen-D level
qa_pool   `gendiv generate-qa-pool`: QA pairs and paraphrases of real questions, every context
qa        `gendiv generate-qa`: one level's QA set, selected from the pool
source    `gendiv generate-source`: one generator's stories for the source-diversity study
estimate  `gendiv estimate`: calls, tokens and cost of a configuration before it runs
"""
