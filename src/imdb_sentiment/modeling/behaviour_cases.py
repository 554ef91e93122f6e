"""Behaviour-check cases (CheckList-style), generated from the hand-written templates below.

Each case pairs an original review with a variant and names the rule the pair must obey
(see `modeling.behaviour`). Generation is deterministic: no draw, so every model is checked
on the same cases, and a template edit is visible in the diff.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

# Rules: the variant keeps the label and about the probability ("invariant"); scores lower
# ("lower"); scores not lower / not higher beyond a tolerance ("not_lower" / "not_higher");
# gets the expected label ("label").
RULES = ("invariant", "lower", "not_lower", "not_higher", "label")

POSITIVE_WORDS = ["good", "great", "wonderful", "excellent", "enjoyable", "brilliant"]
NEGATIVE_WORDS = ["bad", "awful", "boring", "terrible", "dull", "weak"]
SUBJECTS = ["the acting", "the script", "this film", "the soundtrack", "the ending"]
SENTENCES = ["{subject} was {word}.", "I thought {subject} was {word}."]
INTENSIFIERS = ["very", "really", "truly"]
# Invented names, two sets swapped for each other.
PEOPLE = [("Mara Lindgren", "Tobias Achterberg"), ("Joel Okonkwo", "Priya Venkatesan")]
FILMS = [("The Glass Orchard", "Northbound Lanterns"), ("Copper Sky", "A Winter at Fenwick")]
NAME_TEMPLATES = [
    "{person} gives a {word} performance in {film}.",
    "{film} is {word}, and {person} is the reason why.",
]
# Neutral plot summary for the front of a long review; the verdict comes last.
FILLER = [
    "The story follows a family who move to a small town near the coast.",
    "Most of the film takes place over one summer in their new house.",
    "The father works at the harbour and the mother teaches at the local school.",
    "Their two children spend their days exploring the cliffs and the old lighthouse.",
]
VERDICTS = {
    1: ["All in all, it was {word} and I would watch it again.", "In the end, {word}: go see it."],
    0: ["All in all, it was {word} and I want my time back.", "In the end, {word}: skip it."],
}


@dataclass(frozen=True)
class Case:
    check: str
    rule: str  # one of RULES
    original: str
    variant: str
    expected_label: int | None = None  # for the "label" rule


def simple_reviews(words: list[str]) -> Iterator[tuple[str, str, str]]:
    """(sentence template, subject, word) for every combination, in a fixed order."""
    for template in SENTENCES:
        for subject in SUBJECTS:
            for word in words:
                yield template, subject, word


def fill(template: str, subject: str, word: str) -> str:
    text = template.format(subject=subject, word=word)
    return text[0].upper() + text[1:]


def negation_cases() -> list[Case]:
    """'The script was good.' -> 'The script was not good.' must score lower."""
    return [
        Case("negation", "lower", fill(t, s, w), fill(t, s, f"not {w}"))
        for t, s, w in simple_reviews(POSITIVE_WORDS)
    ]


def intensifier_cases() -> list[Case]:
    """'good' -> 'very good' must not score lower; 'bad' -> 'very bad' not higher."""
    cases = []
    for rule, words in (("not_lower", POSITIVE_WORDS), ("not_higher", NEGATIVE_WORDS)):
        for i, (t, s, w) in enumerate(simple_reviews(words)):
            very = INTENSIFIERS[i % len(INTENSIFIERS)]
            cases.append(Case("intensifier", rule, fill(t, s, w), fill(t, s, f"{very} {w}")))
    return cases


def two_sentence_reviews() -> list[tuple[str, str]]:
    """Pairs of sentences with the same sentiment, positive then negative."""
    pairs = []
    for words in (POSITIVE_WORDS, NEGATIVE_WORDS):
        for i, (t, s, w) in enumerate(simple_reviews(words)):
            other = words[(i + 1) % len(words)]
            pairs.append((fill(t, s, w), fill("overall it was {word}.", "", other)))
    return pairs


def noise_cases() -> list[Case]:
    """Line-break tags and whitespace between sentences must not matter."""
    seps = ["<br /><br />", "<br/>", "  ", "\n\n", " \t "]
    return [
        Case("noise", "invariant", f"{a} {b}", f"{a}{seps[i % len(seps)]}{b}")
        for i, (a, b) in enumerate(two_sentence_reviews())
    ]


def with_typo(text: str) -> str:
    """Swap two different neighbouring letters of the longest word: 'brilliant' -> 'brililant'.

    The pair is the first from the word's middle whose letters differ.
    """
    words = text.split(" ")
    i = max(range(len(words)), key=lambda k: (len(words[k].strip(".,:")), -k))
    word = words[i]
    core = len(word.strip(".,:"))
    for j in range(core // 2, core - 1):
        if word[j] != word[j + 1]:
            words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
            break
    return " ".join(words)


def typo_cases() -> list[Case]:
    """One swapped pair of letters: mostly the same answer (the word may leave the vocabulary)."""
    return [
        Case("typo", "invariant", f"{a} {b}", with_typo(f"{a} {b}"))
        for a, b in two_sentence_reviews()
    ]


def name_cases() -> list[Case]:
    """Swapping one invented person or film name for another must not matter."""
    cases = []
    for template in NAME_TEMPLATES:
        for word in [*POSITIVE_WORDS, *NEGATIVE_WORDS]:
            for (person, person_b), (film, film_b) in zip(PEOPLE, FILMS, strict=True):
                original = fill(template.format(person=person, film=film, word="{word}"), "", word)
                swapped = fill(
                    template.format(person=person_b, film=film_b, word="{word}"), "", word
                )
                cases.append(Case("names", "invariant", original, swapped))
    return cases


def truncation_cases(maxlen: int) -> list[Case]:
    """A verdict at the end of a review padded in front beyond `maxlen` tokens must decide it.

    Rows keep a review's last `maxlen` tokens, so the verdict is what the model reads.
    """
    words = 0
    padding = []
    while words <= 2 * maxlen:
        sentence = FILLER[len(padding) % len(FILLER)]
        padding.append(sentence)
        words += len(sentence.split())
    front = " ".join(padding)
    cases = []
    for label, words_of in ((1, POSITIVE_WORDS), (0, NEGATIVE_WORDS)):
        for template in VERDICTS[label]:
            for word in words_of:
                verdict = template.format(word=word)
                cases.append(Case("truncation", "label", verdict, f"{front} {verdict}", label))
    return cases


def all_cases(maxlen: int) -> list[Case]:
    """Every check's cases; `maxlen` is the model's row length (for the truncation check)."""
    return [
        *negation_cases(),
        *intensifier_cases(),
        *noise_cases(),
        *typo_cases(),
        *name_cases(),
        *truncation_cases(maxlen),
    ]
