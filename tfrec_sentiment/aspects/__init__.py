"""aspects stage: what reviews praise or blame, aspect by aspect (docs/aspects.md).

Modules, in data-flow order (spaCy and Keras are imported only where used):

- `config`: AspectConfig (with the spaCy step's `text.linguistic.LinguisticConfig`).
- `extract`: aspect-term candidates of a parsed review and their opinion words.
- `vocabulary`: AspectVocabulary, ranked against general English; saved as JSON.
- `mentions`: AspectExtractor (spaCy -> candidates -> vocabulary -> mention table).
- `polarity`: the package's BERT classifier and VADER on each mention's sentence/clause.
- `profiles`: AspectProfiles, item aspect quality and user aspect attention (the
  contract with the recommender's `aspects` variant and the `explain` signature).
- `semeval`: the SemEval-2014 Task 4 reader and evaluation (tools/eval_aspects.py).
"""
