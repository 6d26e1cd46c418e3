import pytest
import tensorflow as tf

from tfrec_sentiment.distribute import strategy as strategy_lib


def test_mirrored_uses_two_logical_cpus():
    strategy = strategy_lib.make_strategy("mirrored", replicas=2)
    assert strategy.num_replicas_in_sync == 2

    @tf.function
    def replica_sum():
        ctx = tf.distribute.get_replica_context()
        return ctx.all_reduce("sum", tf.constant(1.0))

    total = strategy.experimental_local_results(strategy.run(replica_sum))[0]
    assert float(total) == 2.0


def test_default_strategy_has_one_replica():
    assert strategy_lib.make_strategy("default").num_replicas_in_sync == 1


def test_reconfiguring_after_start_names_the_problem():
    with pytest.raises(strategy_lib.StrategyError, match="before any TensorFlow op"):
        strategy_lib.configure_cpu_replicas(8)


def test_unknown_strategy_and_missing_tf_config(monkeypatch):
    with pytest.raises(strategy_lib.StrategyError, match="unknown strategy"):
        strategy_lib.make_strategy("ring")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(strategy_lib.StrategyError, match="TF_CONFIG"):
        strategy_lib.make_strategy("multi_worker")
