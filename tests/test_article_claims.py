"""The catalog against the articles' own sentences (paddle_cnn.experiments.article_claims, written from the article
text): every sentence has rows that judge it or say why not, every row of the catalog stands for a sentence, and
each quote is verbatim in its article where the texts are at hand (the source articles folder beside the checkout)."""
from __future__ import annotations

import glob
import os

import pytest

from paddle_cnn.experiments.article_claims import SAID
from paddle_cnn.experiments.catalog import article_claims
from paddle_cnn.sources import SOURCES

SEEDS = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "seeds")


def catalog() -> dict:
    """(article, text) -> where (an experiment, or '' for not judged) of every catalog row."""
    return {(k, r["text"]): r["where"] for k in SOURCES for r in article_claims(k)}


def test_every_sentence_has_its_rows_in_the_catalog_under_its_article():
    rows = catalog()
    missing = [(s.article, t) for s in SAID for t in s.rows if (s.article, t) not in rows]
    assert missing == []


def test_every_catalog_row_stands_for_a_sentence_of_its_article():
    said = {(s.article, t) for s in SAID for t in s.rows}
    assert sorted(set(catalog()) - said) == []


def test_every_article_has_sentences_and_each_quotes_and_glosses():
    assert {s.article for s in SAID} == set(SOURCES)
    assert all(s.quote.strip() and s.gloss.strip() and s.section.strip() and s.rows for s in SAID)


@pytest.mark.skipif(not os.path.isdir(SEEDS), reason="the source articles are not beside this checkout")
def test_each_quote_is_verbatim_in_its_article():
    texts = {}
    for key in SOURCES:
        (path,) = glob.glob(os.path.join(SEEDS, f"{key[1:]}_*.txt"))
        with open(path, encoding="utf-8") as f:
            texts[key] = f.read()
    absent = [(s.article, s.quote) for s in SAID if s.quote not in texts[s.article]]
    assert absent == []
