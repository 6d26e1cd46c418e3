"""The stage packages' lazy public names (tfrec_sentiment/lazy.py)."""

import subprocess
import sys

import pytest

from tfrec_sentiment.lazy import lazy_exports


def test_lazy_exports_import_on_first_access():
    getattr_, names = lazy_exports("tfrec_sentiment.features", {
        "FeatureConfig": "config", "copy_statistics": "fusion"})
    assert names == ["FeatureConfig", "copy_statistics"]
    from tfrec_sentiment.features.config import FeatureConfig
    assert getattr_("FeatureConfig") is FeatureConfig
    with pytest.raises(AttributeError, match="'tfrec_sentiment.features' has no attribute 'nope'"):
        getattr_("nope")


def test_stage_packages_expose_their_names_and_stay_light():
    import tfrec_sentiment.features as features
    import tfrec_sentiment.recsys as recsys

    assert "build_feature_tables" in features.__all__ and "RecsysConfig" in recsys.__all__
    with pytest.raises(AttributeError):
        _ = recsys.NoSuchThing
    code = ("import sys, tfrec_sentiment.features.config, tfrec_sentiment.recsys.config; "
            "print('tensorflow' in sys.modules)")
    light = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True)
    assert light.stdout.strip() == "False"
