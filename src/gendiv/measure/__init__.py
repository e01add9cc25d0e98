"""Diversity and distribution-shift measurements of every dataset (paper sec. 4, fig. 2/4, table 2).

distinct    Distinct-n, lexical diversity (story: one concatenation; QA: per context, summed)
lengths     answer / completion lengths in words and model tokens
embeddings  sentence embeddings per dataset (`gendiv embed`, one DVC output per set)
distances   MMD (RBF), Frechet distance, DCScore and Vendi score over embeddings
maps        2-D maps of a set against the real set
stage       `gendiv measure`: every number into metrics, plot data and figures
"""
