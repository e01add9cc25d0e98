"""Phase generate: LLM-generated training sets (library `gendiv.llm` makes the calls).

topics    `gendiv generate-topics`: the topic pool every Gen-D level draws from
story     `gendiv generate-story`: topic-guided stories per Gen-D level
qa        `gendiv generate-qa-pool`, `gendiv generate-qa`: QA pairs and their paraphrases
source    `gendiv generate-source`: one generator's stories for the source-diversity study
estimate  `gendiv estimate`: calls, tokens and cost of a configuration before it runs
"""
