"""sentiment stage (Keras 3 + keras-hub): the BERT review classifier and its scores.

Modules, in data-flow order (kept out of this file so that importing the config does
not import Keras):

- `config`: SentimentConfig.
- `labels`: LABELS, labels from stars or a column, `review_texts`, class weights.
- `preprocessor`: SingleSegmentPacker, SentimentPreprocessor (tokenizer + packer).
- `pooling`, `scorer`, `model`: MaskedMeanPooling; the in-graph scorer and
  SentimentModule on a classifier's layers; SentimentModel (`from_config`, save/load,
  `as_module()` for the export, `score` through `inference`).
- `scores`: Scores (probabilities, embedding, labels) and the scorer's FEATURE_NAMES,
  shared by `model` and `inference` (which imports no `model`: no import circle).
- `training`, `macro_f1`: fine-tuning through tf.data with checkpoints and resume.
- `inference`: length-sorted, bucket-padded batch scoring with ScoreCache.
- `metrics`, `baselines`, `datasets`, `evaluate`: evaluation with VADER on SST-2, UCI
  and time-split reviews; `run`: the stand-alone run behind tools/train_sentiment.py.
"""
