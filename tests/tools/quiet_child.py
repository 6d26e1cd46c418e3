"""A module `python -m tfrec_sentiment.quiet` runs in `test_train_tool.py`: it imports
TensorFlow itself, logs through it, warns, prints its argv and exits with status 3."""

import sys
import warnings

import tensorflow as tf

if __name__ == "__main__":
    tf.get_logger().warning("a TensorFlow Python warning")
    warnings.warn("the child's own warning", stacklevel=1)
    print(sys.argv[0].endswith("quiet_child.py"), sys.argv[1:],  # as `python -m` sets it
          int(tf.reduce_sum(tf.constant([1, 2]))))
    raise SystemExit(3)
