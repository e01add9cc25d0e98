"""Diversity and distribution-shift measurements of every dataset (paper sec. 4, fig. 2/4, table 2).

distinct    Distinct-n, lexical diversity (story: one concatenation; QA: per context, summed)
lengths     answer / completion lengths in words and model tokens
embeddings  sentence embeddings per dataset (`gendiv embed`, one DVC output per set)
distances   MMD (RBF) with a permutation null, Frechet distance, DCScore, Vendi, mean pairwise distance
manipulation  the manipulation check: diversity per Gen-D level at equal sample counts, with s.e.
maps        2-D maps of a set against the real set
set_metrics  the numbers recorded per set: Distinct-n, embedding scores, distances to real train
stage       `gendiv measure`: every number into metrics, plot data and figures
output_diversity  `gendiv output-diversity`: how broad the fine-tuned models' own outputs are
self_preference   `gendiv self-preference`: whether a model, as a judge, prefers its own text
adversarial       `gendiv adversarial`: a prompted judge told to find the machine-written text
"""
