"""Example questions and claims the chat offers as buttons: configured, or built in over the seed corpus."""

from __future__ import annotations

EXAMPLES = (
    "When did Japan rule Korea as a colony?",
    "How much did Japan export to South Korea in 2021?",
    "Who met Yoon Suk Yeol in Tokyo in March 2023?",
)
CHECK_EXAMPLES = (
    "Japan is the second-largest economy in the world.",
    "North Korea invaded South Korea in June 1950. The armistice was signed in 1953.",
)
# The built-in examples are about the seed documents: offered only when the corpus holds them.
SEED_DOCUMENTS = frozenset({"000_c6a6f3801ffa9646.txt", "002_8a6a162120bf64fe.txt", "004_34ba08f7c481c79f.txt"})


def examples_for(config, doc_ids) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(questions, claims) to offer as buttons: ``examples``/``claim_examples`` from the config, else the
    built-in ones over the seed corpus, else none (a question about Korea over someone's own documents
    would only abstain)."""
    seeds = SEED_DOCUMENTS <= set(doc_ids)
    return (config.examples or (EXAMPLES if seeds else ()), config.claim_examples or (CHECK_EXAMPLES if seeds else ()))
