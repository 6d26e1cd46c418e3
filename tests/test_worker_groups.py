"""`make test` runs two pytest-xdist workers with `--dist loadgroup` (tests/conftest.py).

The grouping keeps the tests that share a costly module or session fixture on one
worker. If it silently stops working (pytest-xdist #1386: pytest 9.2 node ids), every
such fixture is built on both workers and the suite takes minutes longer, with no
failure anywhere else; this test is that failure.
"""

from __future__ import annotations

import pytest

from tests.conftest import _worker_group


def test_the_worker_runs_this_test_under_its_group(request):
    if getattr(request.config, "workerinput", None) is None:
        pytest.skip("not running under pytest-xdist (`make test` uses -n 2 --dist loadgroup)")
    if not request.config.getvalue("loadgroup"):
        pytest.skip("pytest-xdist runs without --dist loadgroup")
    group = _worker_group(request.node)
    assert group == "tests/test_worker_groups.py"
    # pytest-xdist schedules by the "@group" suffix of the node id it sees
    assert request.node.nodeid.endswith("@" + group), request.node.nodeid
