"""export stage: the sentiment model and the recommender as ONE TF Serving SavedModel.

Modules, in the order a version is built (kept out of this file so that importing
the config does not import TensorFlow):

- `config`: ExportConfig (root, model name, K, models.config settings).
- `index`: CatalogueIndex, the brute-force top-K over every item that leaves out the
  items each user reviewed in the training data (CSR table, no dense mask).
- `partitioned_index`: PartitionedIndex, k-means partitions of the item embeddings
  searched in core TF ops: the first stage of `recommend` above
  `ExportConfig.index_auto_items` items (docs/serving.md "Large catalogues").
- `explain`: AspectExplainer, the `explain` signature: in-graph lookups of the run's
  aspect profiles (the item's aspects that matter to the user, and a sentence).
- `module`: ServingModule, the one `tf.Module` with the signatures `recommend`
  (= `serving_default`), `rank`, `score`, `sentiment`, `recommend_from_reviews` and,
  with aspect profiles, `explain`; `build_serving_module(sentiment, recommender, top_k)`.
- `ops`: the op audit (core TensorFlow or TF Text, else the export fails) and the
  minimum TF Serving release that follows.
- `run_parts`: what an export reads from a run folder: the served classifier
  (teacher or distilled student), the recommender, the aspect profiles; `ExportError`.
- `saved_model`: `export_run(run_dir, config, sentiment=None, recommender=None)`,
  the pipeline's entry point; staging, versioning, export.json, models.config.

See docs/serving.md for the deployment and the REST requests.
"""
