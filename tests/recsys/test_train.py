import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tests.features.synthetic import leave_last_out, synthetic_reviews
from tests.recsys.trained_fixture import rmse, synthetic_split, tiny_config, trained_full
from tfrec_sentiment.data.splits import user_sample_mask
from tfrec_sentiment.evaluation.evaluate import evaluate_split
from tfrec_sentiment.features.tables import build_feature_tables
from tfrec_sentiment.recsys import callbacks, scoring
from tfrec_sentiment.recsys import train as train_lib
from tfrec_sentiment.recsys.data import make_dataset
from tfrec_sentiment.recsys.train import (
    EpochHistoryBackup,
    RankingMonitor,
    evaluate_model,
    train_recommender,
)
from tfrec_sentiment.recsys.trained import TrainedRecommender

TOP10 = "val_factorized_top_k/top_10_categorical_accuracy"


def test_full_model_beats_the_global_mean_on_held_out_ratings():
    data, trained = synthetic_split(), trained_full()
    test = data.split.test
    predicted = trained.predict_rating(test["user_id"].to_numpy(), test["item_id"].to_numpy())
    assert predicted.shape == (len(test),) and predicted.min() >= 1 and predicted.max() <= 5
    baseline = rmse(np.full(len(test), data.tables.global_mean), test["rating"])
    assert rmse(predicted, test["rating"]) < 0.9 * baseline


def test_early_stopping_restores_the_best_validation_epoch():
    trained = trained_full()
    best = min(trained.history["val_rmse"])
    assert trained.metrics["val_rmse"] == pytest.approx(best, rel=1e-4)


@pytest.mark.parametrize("score_mode,max_elements", [("retrieval", 1 << 22), ("blend", 1 << 22),
                                                      ("blend", 1)])
def test_ranking_monitor_measures_what_the_evaluation_measures(score_mode, max_elements):
    # max_elements=1: one validation user per batch, the memory-bounded path.
    data, trained = synthetic_split(), trained_full()
    config = dataclasses.replace(trained.config, score_mode=score_mode)
    monitor = RankingMonitor(data.tables, config, data.split.validation, k=10,
                             max_elements=max_elements)
    monitor.set_model(trained.model)
    recommender = TrainedRecommender(trained.model, data.tables, config)
    expected = evaluate_split(recommender, data.split, on="validation").metrics["ndcg@10"]
    assert monitor.ndcg() == pytest.approx(expected, abs=1e-6)
    logs = {}
    monitor.on_epoch_end(0, logs)
    assert logs == {"val_ndcg_at_10": pytest.approx(expected, abs=1e-6)}


def test_ranking_monitor_bounds_the_pairs_the_rating_head_scores(monkeypatch):
    data, trained = synthetic_split(), trained_full()
    config = dataclasses.replace(trained.config, score_mode="blend")
    monkeypatch.setattr(scoring, "MAX_PAIRS_PER_CALL", 3 * len(data.tables.ids["item"]))
    users, real = [], callbacks.score_matrix

    def counted(model, user, item, *args):
        users.append(int(user["bias"].shape[0]))
        return real(model, user, item, *args)

    monkeypatch.setattr(callbacks, "score_matrix", counted)
    monitor = RankingMonitor(data.tables, config, data.split.validation, k=10)
    monitor.set_model(trained.model)
    expected = evaluate_split(TrainedRecommender(trained.model, data.tables, config),
                              data.split, on="validation").metrics["ndcg@10"]
    assert monitor.ndcg() == pytest.approx(expected, abs=1e-6)
    assert max(users) == 3 and len(users) > 1  # 3 users x the catalogue per call


def test_rating_matrix_in_blocks_of_users_equals_one_call(monkeypatch):
    data, trained = synthetic_split(), trained_full()
    model, serving = trained.model, trained.serving
    user = serving.user_outputs(tf.constant(np.asarray(data.tables.ids["user"][:11], str)))
    item = serving._catalogue_outputs()
    whole = scoring.rating_matrix(model, user, item).numpy()
    n_items = int(item["bias"].shape[0])
    monkeypatch.setattr(scoring, "RATING_BLOCK_PAIRS", 3 * n_items)  # 3 users per block
    calls = []
    real = scoring._pair_ratings
    monkeypatch.setattr(scoring, "_pair_ratings", lambda m, u, i: calls.append(1) or real(m, u, i))
    np.testing.assert_allclose(scoring.rating_matrix(model, user, item).numpy(), whole,
                               rtol=1e-5, atol=1e-5)
    assert len(calls) == 4  # 11 users: blocks of 3, 3, 3, 2
    spec = {k: tf.TensorSpec([None, *v.shape[1:]], v.dtype) for k, v in user.items()}
    graph = tf.function(lambda u: scoring.rating_matrix(model, u, item), input_signature=[spec])
    np.testing.assert_allclose(graph(user).numpy(), whole, rtol=1e-5, atol=1e-5)
    empty = graph({k: v[:0] for k, v in user.items()})
    assert empty.shape == (0, n_items)


def test_ranking_monitor_ranks_a_fixed_sample_of_users():
    data, trained = synthetic_split(), trained_full()
    validation = data.split.validation
    monitor = RankingMonitor(data.tables, trained.config, validation, k=10, max_users=7)
    monitor.set_model(trained.model)
    chosen = validation[user_sample_mask(validation["user_id"].to_numpy(), 7)]
    split = type(data.split)(train=data.split.train, validation=chosen, test=data.split.test)
    expected = evaluate_split(trained, split, on="validation").metrics["ndcg@10"]
    assert monitor.num_users == 7 and monitor.ndcg() == pytest.approx(expected, abs=1e-6)


def test_ranking_monitor_with_validation_users_unknown_to_training():
    # A global time cut-off puts new users into validation: they own no training rows.
    data, trained = synthetic_split(), trained_full()
    validation = data.split.validation
    strangers = validation.assign(user_id=[f"new{n}" for n in range(len(validation))])
    both = pd.concat([validation, strangers], ignore_index=True)
    split = type(data.split)(train=data.split.train, validation=both, test=data.split.test)
    monitor = RankingMonitor(data.tables, trained.config, both, k=10)
    monitor.set_model(trained.model)
    expected = evaluate_split(trained, split, on="validation").metrics["ndcg@10"]
    assert monitor.ndcg() == pytest.approx(expected, abs=1e-6)


def test_early_stopping_falls_back_to_rmse_when_no_validation_item_is_known():
    """... and data smaller than one batch train with a smaller batch: one training
    shows both fallbacks (formerly two tests, a training each)."""
    data = synthetic_split()
    unknown = data.split.validation.assign(item_id="never-reviewed")
    split = type(data.split)(train=data.split.train, validation=unknown, test=data.split.test)
    rows = len(data.tables.rows["rating"])
    config = tiny_config(epochs=2, monitor="val_ndcg_at_10", batch_size=4 * rows)
    with pytest.warns(UserWarning, match="early stopping on val_rmse"), \
            pytest.warns(UserWarning, match=f"lowered to {2 ** int(np.log2(rows))}"):
        trained = train_recommender(config, split, data.tables, seed=0)
    assert "val_ndcg_at_10" not in trained.history
    assert trained.metrics["val_rmse"] == pytest.approx(min(trained.history["val_rmse"]),
                                                        rel=1e-4)
    assert trained.config.batch_size <= rows and trained.metrics["epochs_run"] == 2


def test_early_stopping_on_validation_ndcg():
    data = synthetic_split()
    config = tiny_config(epochs=3, early_stopping_patience=1, monitor="val_ndcg_at_10")
    trained = train_recommender(config, data.split, data.tables, seed=0)
    curve = trained.history["val_ndcg_at_10"]
    assert len(curve) == trained.metrics["epochs_run"] and max(curve) > 0
    best = evaluate_split(trained, data.split, on="validation").metrics["ndcg@10"]
    assert best == pytest.approx(max(curve), abs=1e-6)  # the best epoch was restored


class _Interrupt(tf.keras.callbacks.Callback):
    def __init__(self, after_epoch):
        super().__init__()
        self.after_epoch = after_epoch
        self.logs = []  # the epochs' logs as the interrupted run saw them

    def on_epoch_end(self, epoch, logs=None):
        self.logs.append({k: float(v) for k, v in (logs or {}).items()})
        if epoch == self.after_epoch:
            raise KeyboardInterrupt("simulated crash")


class _EpochLog(tf.keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_interrupted_training_resumes_from_the_last_epoch(tmp_path):
    data = synthetic_split()
    # Early stopping on the retrieval hit rate (the default monitor): top-k metrics
    # are then computed, over a re-indexed catalogue, in every validation pass.
    # 3 epochs: two before the crash (so the history has a kept part), one after.
    config = tiny_config(epochs=3, early_stopping_patience=10, monitor=TOP10)
    crash = _Interrupt(after_epoch=1)
    with pytest.raises(KeyboardInterrupt):
        train_recommender(config, data.split, data.tables, out_dir=tmp_path, seed=1,
                          callbacks=[crash])
    assert list((tmp_path / "checkpoints" / "backup").rglob("*.index"))
    stored = json.loads((tmp_path / "checkpoints" / "history.json").read_text())
    assert [epoch["total_loss"] for epoch in stored] == pytest.approx(
        [epoch["total_loss"] for epoch in crash.logs])
    log = _EpochLog()
    resumed = train_recommender(config, data.split, data.tables, out_dir=tmp_path, seed=1,
                                callbacks=[log])
    assert log.epochs == [2]  # epochs 0 and 1 were done before the crash
    assert not list((tmp_path / "checkpoints").rglob("*.index"))  # backup cleaned after success
    assert list((tmp_path / "tensorboard").rglob("events.out.tfevents.*"))
    # The history holds all 3 epochs: 0 and 1 as the interrupted run logged them.
    assert len(resumed.history[TOP10]) == len(resumed.history["total_loss"]) == 3
    for key in ("total_loss", "val_rmse", TOP10):
        assert resumed.history[key][:2] == pytest.approx([e[key] for e in crash.logs])
    assert resumed.metrics["epochs_run"] == 3 and resumed.metrics["resumed_from_epoch"] == 2
    assert not (tmp_path / "checkpoints" / "history.json").exists()  # removed after success
    assert json.loads((tmp_path / "recsys.json").read_text())["history"]["total_loss"] == (
        pytest.approx(resumed.history["total_loss"]))
    assert 0.0 < resumed.metrics[TOP10] <= 1.0
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["val_rmse"] == pytest.approx(resumed.metrics["val_rmse"])
    baseline = rmse(np.full(len(data.split.validation), data.tables.global_mean),
                    data.split.validation["rating"])
    assert resumed.metrics["val_rmse"] < baseline


def test_cold_start_items_are_scored_from_text_and_aggregates():
    reviews = synthetic_reviews(num_users=150, num_items=40, per_user=10, text_dim=8, seed=5)
    cold = {f"i{i:03d}" for i in range(0, 40, 4)}  # 10 items never seen in training
    is_cold = reviews.frame["item_id"].isin(cold).to_numpy()
    warm = reviews.frame[~is_cold].reset_index(drop=True)
    split = leave_last_out(warm)
    rows = np.flatnonzero(~is_cold)[split.train_rows]
    tables = build_feature_tables(split.train, reviews.probabilities[rows],
                                  reviews.embeddings[rows])
    trained = train_recommender(tiny_config(id_dropout=0.3), split, tables, seed=0)
    # The cold items' reviews arrive later (by other users): aggregates, no id row.
    grown = trained.with_tables(tables.with_reviews(
        reviews.frame[is_cold], reviews.probabilities[is_cold], reviews.embeddings[is_cold]))
    items = np.array(sorted(cold))
    assert set(items).isdisjoint(trained.model.item_tower.vocabulary)
    users = split.test["user_id"].unique()[:50]
    pairs = pd.MultiIndex.from_product([users, items]).to_frame(index=False)
    predicted = grown.predict_rating(pairs[0].to_numpy(), pairs[1].to_numpy())
    mean_by_item = pd.Series(predicted).groupby(pairs[1].to_numpy()).mean()
    quality = reviews.item_quality[[int(i[1:]) for i in mean_by_item.index]]
    # Unknown ids, yet the items are told apart by their features, in the right order.
    assert mean_by_item.std() > 0.1
    assert np.corrcoef(mean_by_item.to_numpy(), quality)[0, 1] > 0.7


def test_history_backup_keeps_earlier_epochs_and_marks_a_lost_one_nan(tmp_path):
    path = tmp_path / "checkpoints" / "history.json"
    path.parent.mkdir()
    # Epochs 0 and 1 were logged; the backup says 3 epochs are done (epoch 2's log
    # was lost in a crash between the two writes), so fit resumes at epoch 3.
    path.write_text(json.dumps([{"total_loss": 0.9, "val_rmse": 1.2},
                                {"total_loss": 0.7, "val_rmse": 1.1}]))
    kept = EpochHistoryBackup(path)
    kept.on_train_begin()
    kept.on_epoch_begin(3)
    kept.on_epoch_end(3, {"total_loss": np.float32(0.5), "val_rmse": 1.0})
    assert json.loads(path.read_text()) == [
        {"total_loss": 0.9, "val_rmse": 1.2}, {"total_loss": 0.7, "val_rmse": 1.1}, {},
        {"total_loss": 0.5, "val_rmse": 1.0}]
    merged = kept.merged({"total_loss": [0.5], "val_rmse": [1.0]})
    assert merged["total_loss"][:2] == [0.9, 0.7] and merged["total_loss"][3] == 0.5
    assert np.isnan(merged["total_loss"][2]) and len(merged["val_rmse"]) == 4
    kept.on_train_end()
    assert not path.exists()
    # A fresh run (epoch 0) ignores whatever an older run left.
    path.write_text(json.dumps([{"total_loss": 9.0}] * 5))
    fresh = EpochHistoryBackup(path)
    fresh.on_train_begin()
    fresh.on_epoch_begin(0)
    assert fresh.merged({"total_loss": [0.4]}) == {"total_loss": [0.4]}


def test_progress_writes_one_line_per_fit_and_no_rmse_without_a_rating_loss(capsys):
    from tfrec_sentiment.recsys.callbacks import TqdmProgress

    progress = TqdmProgress(steps=2, epochs=3, ratings=False)
    progress.on_train_begin()
    for epoch in range(3):
        progress.on_epoch_begin(epoch)
        for batch in range(2):
            progress.on_train_batch_end(batch, {"total_loss": 1.0})
        progress.on_epoch_end(epoch, {"total_loss": 0.5 - epoch / 10, "rmse": 0.0})
    progress.on_train_end()
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines == ["recsys: 3 epoch(s), last {'total_loss': 0.3}"]
    assert progress.bar.n == 6


def test_progress_reads_the_batch_loss_at_most_every_postfix_seconds(monkeypatch):
    from tfrec_sentiment.recsys import callbacks

    clock = iter([0.0, 0.1, 0.2, 0.6, 0.7])
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: next(clock))
    read = []

    class Loss:  # counts each time the callback reads the loss (a sync with the step)
        def __array__(self, dtype=None, copy=None):
            read.append(1)
            return np.array(1.0)

    progress = callbacks.TqdmProgress(steps=5, epochs=1)
    progress.on_train_begin()
    progress.on_epoch_begin(0)
    for batch in range(5):
        progress.on_train_batch_end(batch, {"total_loss": Loss()})
    assert len(read) == 2  # at 0.0 and 0.6 s: POSTFIX_SECONDS = 0.5 apart
    assert progress.bar.n == 5
    progress.bar.close()


def test_validation_topk_ranks_the_monitors_user_sample_and_losses_every_row():
    data, trained = synthetic_split(), trained_full()
    validation, strategy = data.split.validation, tf.distribute.get_strategy()
    config = dataclasses.replace(trained.config, monitor_max_users=3)

    def dataset(frame):
        return make_dataset(data.tables.lookup_examples(frame), config, training=False,
                            batch_size=4 * config.batch_size, consume=True)

    metrics = train_lib._validation_metrics(trained.model, dataset(validation), validation,
                                            data.tables, config, strategy)
    keep = user_sample_mask(validation["user_id"].to_numpy(str), 3)
    assert 0 < keep.sum() < len(validation) and metrics["topk_validation_rows"] == keep.sum()
    every = evaluate_model(trained.model, dataset(validation), data.tables, config, strategy)
    sample = evaluate_model(trained.model, dataset(validation[keep]), data.tables, config,
                            strategy)
    for name, value in metrics.items():
        if name.startswith("val_"):
            source = sample if "factorized_top_k" in name else every
            assert value == pytest.approx(source[name], abs=1e-6), name
    assert TOP10 in metrics and every[TOP10] != sample[TOP10]  # the sample is what differs
    whole = train_lib._validation_metrics(trained.model, dataset(validation), validation,
                                          data.tables, trained.config, strategy)
    assert "topk_validation_rows" not in whole and whole[TOP10] == pytest.approx(every[TOP10])
