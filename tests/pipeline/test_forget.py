"""Erasing users (`pipeline.forget`): nothing of them left in the new run and version.

One erasure of the session's parent run (`update_parent`, tests/conftest.py), on a
private copy of the run and its saved models, serves every assertion on the
outcome (`forgotten`); the cleanup's modes and the id matching are checked on
small hand-made folders without training. The parent is pseudonymous (its key in the
environment) and the copy's tables are encrypted at rest (a key file in its
config.json), so that erasure is asked with the user's raw id and runs end to end
on an encrypted run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import types
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tests.pipeline.update_fixture import parent_run
from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.pseudonymize import pseudonymize_ids
from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.export.config import ExportConfig
from tfrec_sentiment.export.versions import versions
from tfrec_sentiment.features.tables import FeatureTables
from tfrec_sentiment.io import encryption_facts, read_arrow, read_table, write_arrow
from tfrec_sentiment.pipeline.config import ForgetConfig
from tfrec_sentiment.pipeline.forget import (
    Matched,
    UnknownUsersError,
    decide_erasure,
    match_users,
    run_forget,
)
from tfrec_sentiment.pipeline.forget_cleanup import clean_up, holds
from tfrec_sentiment.pipeline.update_records import OtherLineageError
from tfrec_sentiment.privacy import create_key_file, pseudonymize, table_encryption
from tfrec_sentiment.privacy.config import PrivacyConfig
from tfrec_sentiment.privacy.encryption import TableEncryption
from tfrec_sentiment.sentiment.inference import ScoreCache, text_keys
from tfrec_sentiment.sentiment.labels import review_texts
from tfrec_sentiment.sentiment.scores import Scores

MODEL = "shop"
STRANGER = "nobody-at-all"
UNKNOWN = "never-a-user-here"


def private_copy(world: types.SimpleNamespace, folder: Path) -> tuple[Path, ExportConfig]:
    """The parent run and its saved models, copied so the erasure may delete them."""
    run = shutil.copytree(world.run, folder / "runs" / "parent-run")
    root = shutil.copytree(world.saved, folder / "saved_models")
    facts_path = root / MODEL / "1" / "assets.extra" / "export.json"
    facts = json.loads(facts_path.read_text())
    facts["source_run"] = str(run)  # the copy made version 1, not the session's run
    facts_path.write_text(json.dumps(facts))
    return run, ExportConfig(root=str(root), model_name=MODEL, top_k=5)


def encrypt_run(run: Path, key_file: Path) -> TableEncryption:
    """Turns a plain run folder into an encrypted one: every Parquet file (tables and
    score-cache parts) rewritten with Parquet modular encryption, and the key source
    in its config.json, as if it had been trained with `privacy.key_file` set."""
    privacy = PrivacyConfig(key_file=str(create_key_file(key_file)))
    encryption = table_encryption(privacy)
    tables = [p for p in sorted(run.rglob("*")) if p.is_file() and _parquet(p) == b"PAR1"]
    assert len(tables) > 5  # the split, features, score cache, ...
    for path in tables:
        write_arrow(read_arrow(path), path, encryption)
    config = config_lib.load(run / "config.json")
    config_lib.save(dataclasses.replace(config, privacy=privacy), run / "config.json")
    return encryption


def _parquet(path: Path) -> bytes | None:
    """The Parquet magic ending a file (b"PAR1" plain, b"PARE" encrypted footer), or None."""
    with open(path, "rb") as handle:
        if handle.read(4) not in (b"PAR1", b"PARE"):
            return None
        handle.seek(-4, 2)
        return handle.read(4)


def recommend(version_dir: Path, user_ids: list[str]) -> np.ndarray:
    import tensorflow_text  # noqa: F401  (the sentiment side's ops)

    loaded = tf.saved_model.load(str(version_dir))
    out = loaded.signatures["recommend"](user_id=tf.constant(user_ids))
    return out["item_ids"].numpy().astype(str)


@pytest.fixture(scope="module")
def forgotten(update_parent, tmp_path_factory) -> types.SimpleNamespace:
    folder = tmp_path_factory.mktemp("forget")
    run, export = private_copy(update_parent, folder)
    encryption = encrypt_run(run, folder / "keys.json")
    config_copy = shutil.copy(run / "config.json", folder / "parent-config.json")
    split = Split.load(run / "data", encryption)
    train = split.train
    # The user with the most training reviews: their rows shape the item aggregates.
    victim = str(train["user_id"].value_counts().index[0])
    # ... and the raw id the shop knows them by (the run stores pseudonyms only).
    raw_ids = pd.read_csv(update_parent.logs.parent, dtype=str)["user_id"].unique()
    raw = dict(zip(pseudonymize(raw_ids, update_parent.key), raw_ids))[victim]
    rows = pd.concat([f[f["user_id"] == victim] for f in split.all_parts.values()])
    model_dir = Path(export.root) / MODEL
    assert holds(model_dir / "1", [victim.encode()])  # version 1 knows them: the scan sees it
    messages: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("tfrec_sentiment")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        # Raw, unknown, and the stored pseudonym of the same user (counted once).
        result = run_forget(run, [raw, UNKNOWN, victim], ForgetConfig(epochs=1,
                                                                      unknown_ids="count"),
                            export=export, run_dir=folder / "runs" / "forget-1", progress=False)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return types.SimpleNamespace(result=result, victim=victim, raw=raw, rows=rows, parent=run,
                                 parent_train=train, model_dir=model_dir, messages=messages,
                                 encryption=encryption, parent_config=config_copy)


# --- what must not be left anywhere -----------------------------------------------------


def _needles(forgotten) -> tuple[list[bytes], set[bytes]]:
    """The victim's ids (stored and raw) and review texts (as bytes), and the
    score-cache keys of the texts."""
    texts = [t for t in forgotten.rows["text"].astype(str) if len(t) > 20]
    assert texts  # the demo's texts are sentences, unique per review
    keys = set(text_keys(review_texts(forgotten.rows)).tolist())
    ids = [forgotten.victim.encode(), forgotten.raw.encode()]
    return ids + [t.encode() for t in texts], keys


def _found_in(path: Path, needles: list[bytes], keys: set[bytes],
              encryption: TableEncryption | None = None) -> list[str]:
    """Where in one file a needle (or a cache key) occurs, files decoded by kind
    (Parquet tables and score-cache parts decrypted with `encryption`)."""
    hits = []
    if _parquet(path) is not None:
        frame = read_table(path, encryption)
        for column in frame.columns:
            values = frame[column].tolist()
            blob = "\x00".join(map(str, values)).encode()
            hits += [f"{path}:{column}" for n in needles if n in blob]
            hits += [f"{path}:{column} (text key)" for v in values
                     if isinstance(v, bytes) and v in keys]
    elif path.suffix == ".npz":
        with np.load(path) as data:
            for name in data.files:
                values = data[name]
                if values.dtype.kind in "SU":
                    blob = "\x00".join(map(str, values.ravel().tolist())).encode()
                    hits += [f"{path}:{name}" for n in needles if n in blob]
                if values.dtype.kind == "S":
                    hits += [f"{path}:{name} (text key)" for k in values.tolist() if k in keys]
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                blob = archive.read(member)
                hits += [f"{path}!{member}" for n in needles if n in blob]
    data = path.read_bytes()
    return hits + [str(path) for n in needles if n in data]


def _saved_model_strings(version_dir: Path) -> list[bytes]:
    """Every string of a SavedModel: its variables, graph constants and asset files."""
    from tensorflow.core.protobuf import saved_model_pb2

    strings: list[bytes] = []
    reader = tf.train.load_checkpoint(str(version_dir / "variables" / "variables"))
    for name, dtype in reader.get_variable_to_dtype_map().items():
        if dtype == tf.string:
            strings += np.asarray(reader.get_tensor(name)).ravel().tolist()
    proto = saved_model_pb2.SavedModel.FromString((version_dir / "saved_model.pb").read_bytes())
    for graph in proto.meta_graphs:
        nodes = list(graph.graph_def.node)
        for function in graph.graph_def.library.function:
            nodes += list(function.node_def)
        for node in nodes:
            if "value" in node.attr:
                strings += list(node.attr["value"].tensor.string_val)
    strings += [p.read_bytes() for p in (version_dir / "assets").rglob("*") if p.is_file()]
    assert strings  # the vocabularies are there to search
    return strings


def test_no_file_of_the_new_run_holds_the_users_id_or_texts(forgotten):
    needles, keys = _needles(forgotten)
    run_dir = forgotten.result.run_dir
    hits = [h for p in sorted(run_dir.rglob("*")) if p.is_file()
            for h in _found_in(p, needles, keys, forgotten.encryption)]
    assert hits == []
    # The search can fail: the parent run held both (it is deleted by now, so its
    # training table is checked through the rows the fixture read from it).
    assert any(n in "\x00".join(forgotten.parent_train["text"]).encode() for n in needles[1:])


def test_no_variable_constant_or_asset_of_the_new_version_holds_them(forgotten):
    needles, _ = _needles(forgotten)
    version_dir = forgotten.result.version_dir
    strings = _saved_model_strings(version_dir)
    assert not [n for n in needles for s in strings if n in s]
    hits = [h for p in sorted(version_dir.rglob("*")) if p.is_file()
            for h in _found_in(p, needles, set())]
    assert hits == []


def test_recommend_takes_the_unknown_user_path(forgotten):
    out = recommend(forgotten.result.version_dir, [forgotten.victim, STRANGER])
    assert (out[0] == out[1]).all() and (out[0] != "").all()


def test_erasure_is_published_and_the_old_copies_are_deleted(forgotten):
    result = forgotten.result
    decision = result.decision
    assert decision.status == "published" and decision.publish and decision.forced
    assert decision.reason.startswith("erasure")
    assert {c.metric for c in decision.checks} == {"rmse", "ndcg@10"}  # recorded anyway
    assert result.version_dir == forgotten.model_dir / "2"
    # Version 1 and the parent run held the user: deleted once version 2 was live.
    assert versions(forgotten.model_dir) == [2]
    assert result.cleanup.done and result.cleanup.versions == [1]
    assert result.cleanup.runs == [str(forgotten.parent.resolve())]
    assert not forgotten.parent.exists()
    # The new run stands alone: its classifier files are its own links.
    assert (result.run_dir / "sentiment" / "model" / "sentiment.json").is_file()


def test_the_new_score_cache_served_every_text_without_scoring(forgotten):
    scored = json.loads((forgotten.result.run_dir / "sentiment" / "forget.json").read_text())
    # Every remaining text was in the parent's cache: copied, nothing scored again.
    assert scored["cache"]["hits"] > 0 and scored["cache"].get("misses", 0) == 0


def test_lineage_counts_the_erasure_and_names_no_one(forgotten):
    result, victim = forgotten.result, forgotten.victim
    lineage = json.loads((result.run_dir / "lineage.json").read_text())
    erasure = lineage["erasure"]
    assert lineage["complete"] and lineage["published_version"] == 2
    assert erasure["users"] == 1 and erasure["unknown_ids"] == 1  # the repeat counts once
    assert erasure["created"] and erasure["cleanup"]["versions"] == [1]
    assert sum(erasure["rows_removed"].values()) == len(forgotten.rows)
    recorded = json.dumps(lineage) + (result.run_dir / "erasure.json").read_text()
    named = (victim, forgotten.raw, UNKNOWN)
    assert not [n for n in named if n in recorded]
    assert forgotten.messages and not [m for m in forgotten.messages for n in named if n in m]


def test_the_erased_run_stays_encrypted_at_rest(forgotten):
    run_dir = forgotten.result.run_dir
    tables = {p: _parquet(p) for p in sorted(run_dir.rglob("*")) if p.is_file()}
    tables = {p: magic for p, magic in tables.items() if magic is not None}
    assert any(p.parent.name == "data" for p in tables) and any(
        "scores" in p.parts for p in tables)  # the split and the new score cache
    assert {str(p): m for p, m in tables.items() if m != b"PARE"} == {}
    assert all(encryption_facts(p) == {"footer": "encrypted"} for p in tables)
    # The new run names the same key source: its readers (update, forget) open it.
    assert config_lib.load(run_dir / "config.json").privacy == config_lib.load(
        forgotten.parent_config).privacy


def test_their_reviews_leave_item_aggregates_popularity_and_histories(forgotten):
    result, victim = forgotten.result, forgotten.victim
    tables = FeatureTables.load(result.run_dir / "features", forgotten.encryption)
    train = Split.load(result.run_dir / "data", forgotten.encryption).train
    assert victim not in set(tables.ids["user"]) and victim not in set(train["user_id"])
    # Popularity is the share of the REMAINING training reviews.
    counts = train["item_id"].value_counts()
    expected = np.array([counts.get(i, 0) for i in tables.ids["item"]]) / len(train)
    np.testing.assert_allclose(tables.item_probability, expected, rtol=1e-6)
    assert len(tables.rows["user_index"]) == len(train)
    # An item they reviewed lost exactly their reviews, no more.
    parent_train = forgotten.parent_train
    mine = parent_train["user_id"] == victim
    item = str(parent_train.loc[mine, "item_id"].iloc[0])
    of_item = parent_train["item_id"] == item
    assert int(counts.get(item, 0)) == int(of_item.sum() - (of_item & mine).sum()) >= 0


# --- without training -------------------------------------------------------------------


def test_ids_match_raw_or_pseudonymised_and_unknown_ones_by_position():
    key = "k" * 16
    stored = list(pseudonymize_ids(["alice", "bob", "carol"], key=key))
    matched = match_users(["alice", stored[1], "dave"], stored, key=key)
    assert matched.stored == sorted(stored[:2]) and matched.unknown == [3]
    assert "alice" in matched.needles and stored[0] in matched.needles
    assert match_users(["alice"], stored).unknown == [1]  # without the key: as given only


def test_unknown_ids_stop_the_erasure_before_any_work(update_parent, tmp_path):
    with pytest.raises(UnknownUsersError, match=r"1 of the 2 requested id\(s\).*positions 2") \
            as caught:
        known = str(Split.load(update_parent.run / "data").train["user_id"].iloc[0])
        run_forget(update_parent.run, [known, UNKNOWN], export=ExportConfig(
            root=str(tmp_path / "saved"), model_name=MODEL), run_dir=tmp_path / "run")
    assert UNKNOWN not in str(caught.value) and known not in str(caught.value)
    assert not (tmp_path / "run").exists() and not (tmp_path / "saved").exists()


def test_an_erasure_never_publishes_over_another_lineage(update_parent, tmp_path):
    root = shutil.copytree(update_parent.saved, tmp_path / "saved")
    foreign = root / MODEL / "2" / "assets.extra"
    foreign.mkdir(parents=True)
    (foreign / "export.json").write_text(json.dumps({"source_run": str(tmp_path / "smoke")}))
    known = str(Split.load(update_parent.run / "data").train["user_id"].iloc[0])
    with pytest.raises(OtherLineageError, match="replace another model"):
        run_forget(update_parent.run, [known], export=ExportConfig(root=str(root),
                   model_name=MODEL), run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists() and versions(root / MODEL) == [1, 2]


def test_a_failing_guardrail_never_refuses_an_erasure():
    evaluation = {"published_version": 1, "counts": {"test_rows": 50, "users": 10},
                  "candidate": {"rmse": 2.0, "ndcg@10": 0.01},
                  "published": {"rmse": 1.0, "ndcg@10": 0.2}}
    decision = decide_erasure(evaluation, ForgetConfig())
    assert decision.publish and decision.forced
    assert decision.reason.startswith("erasure: published although the guardrail alone "
                                      "would refuse: worse than version 1")
    assert [c.passed for c in decision.checks] == [False, False]


def _fake_world(tmp_path: Path, user: str) -> tuple[Path, Path, Path, Path]:
    """Model folder with versions 1-3 (1 and 2 hold `user`), a parent run, a sibling
    update run from it, an unrelated run, and a shared score cache."""
    model_dir = tmp_path / "saved" / MODEL
    runs = tmp_path / "runs"
    parent, sibling, other = runs / "parent", runs / "parent-update-x", runs / "other"
    cache_dir = tmp_path / "cache"
    for run in (parent, sibling, other):
        (run / "data").mkdir(parents=True)
        (run / "config.json").write_text("{}")
    for run in (parent, sibling):
        pd.DataFrame({"user_id": [user, "x"], "text": ["mine", "theirs"]}).to_parquet(
            run / "data" / "train.parquet", compression="zstd")
    pd.DataFrame({"user_id": ["x"]}).to_parquet(other / "data" / "train.parquet")
    (sibling / "lineage.json").write_text(json.dumps({"parent_run": str(parent.resolve())}))
    for version, content in ((1, user), (2, f"vocab\n{user}\n"), (3, "vocab\nx\n")):
        (model_dir / str(version) / "assets.extra").mkdir(parents=True)
        (model_dir / str(version) / "vocab.txt").write_text(content)
        (model_dir / str(version) / "assets.extra" / "export.json").write_text(
            json.dumps({"source_run": str(parent)}))
    ScoreCache(cache_dir).add("fp", text_keys(["mine", "theirs"]),
                              Scores(np.ones([2, 3], np.float32), np.ones([2, 4], np.float32)))
    return model_dir, parent, sibling, other


@pytest.mark.parametrize("mode", ["list", "delete"])
def test_cleanup_lists_or_deletes_what_holds_them(tmp_path, mode):
    user = "A1B2C3D4E5"
    model_dir, parent, sibling, other = _fake_world(tmp_path, user)
    matched = Matched([user], [user], [], 1)
    cleanup = clean_up(model_dir, 3, parent, tmp_path / "runs" / "new", matched,
                       text_keys(["mine"]), ScoreCache(tmp_path / "cache"), mode)
    assert cleanup.versions == [1, 2]
    assert sorted(cleanup.runs) == sorted([str(parent.resolve()), str(sibling.resolve())])
    assert cleanup.cache_entries == 1 and cleanup.score_cache == str(tmp_path / "cache")
    left = ScoreCache(tmp_path / "cache").lookup("fp", text_keys(["mine", "theirs"]))
    if mode == "list":
        assert not cleanup.done and versions(model_dir) == [1, 2, 3]
        assert parent.exists() and sibling.exists() and left[0] is not None
    else:
        assert cleanup.done and versions(model_dir) == [3]
        assert not parent.exists() and not sibling.exists()
        assert left[0] is None and left[1] is not None  # only their text's entry went
    assert other.exists()  # never related, never touched


# --- a tiny real file (../shared/cases) ---------------------------------------------------


@pytest.mark.extra_large
def test_forget_on_a_tiny_real_file(shared_cases, tmp_path):
    """`tiny_sparse.csv` holds the ids "0001", "01" and "1": forgetting "01" must take
    exactly that user, in the run and in the SavedModel's vocabularies."""
    source = shared_cases / "tiny_sparse.csv"
    if not source.is_file():
        pytest.skip(f"{source} is absent")
    columns = "user_id=uid,item_id=product,rating=stars,text=body,timestamp=when"
    saved = tmp_path / "saved_models"
    run = parent_run(tmp_path, types.SimpleNamespace(parent=source), saved,
                     extra=(f"data.columns={columns}",))
    victim, neighbours = "01", {"0001", "1"}
    before = Split.load(run / "data")
    assert victim in {u for f in before.all_parts.values() for u in f["user_id"]}
    export = ExportConfig(root=str(saved), model_name=MODEL, top_k=5)
    result = run_forget(run, [victim], ForgetConfig(epochs=1), export=export,
                        run_dir=tmp_path / "forget", progress=False)
    after = Split.load(result.run_dir / "data")
    users = {u for f in after.all_parts.values() for u in f["user_id"]}
    assert victim not in users and neighbours <= users
    strings = {s for blob in _saved_model_strings(result.version_dir)
               for s in (blob.split(b"\n") if b"\n" in blob else [blob])}
    assert victim.encode() not in strings
    assert {n.encode() for n in neighbours & set(after.train["user_id"])} <= strings
    out = recommend(result.version_dir, [victim, STRANGER])
    assert (out[0] == out[1]).all()
    assert versions(Path(export.root) / MODEL) == [2] and not run.exists()


def test_encrypted_tables_are_read_with_the_key_and_count_as_holding_without(tmp_path):
    from tfrec_sentiment.io import write_table
    from tfrec_sentiment.privacy import TableEncryption, create_key_file
    from tfrec_sentiment.sentiment.cache_edit import copy_scores

    encryption = TableEncryption.local(create_key_file(tmp_path / "keys.json", ["footer"]))
    run = tmp_path / "run"
    (run / "data").mkdir(parents=True)
    write_table(pd.DataFrame({"user_id": ["A1B2C3D4E5", "x"]}), run / "data" / "train.parquet",
                encryption)
    assert holds(run, [b"A1B2C3D4E5"], encryption) and not holds(run, [b"Z9Y8X7"], encryption)
    assert holds(run, [b"Z9Y8X7"])  # cannot be read without the key: counted, no crash
    cache = ScoreCache(tmp_path / "cache", encryption)
    cache.add("fp", text_keys(["mine", "theirs"]),
              Scores(np.ones([2, 3], np.float32), np.ones([2, 4], np.float32)))
    copy = copy_scores(cache, tmp_path / "copy", text_keys(["theirs"]))
    assert copy.encryption is encryption and len(copy.keys("fp")) == 1
    assert all(p.read_bytes().endswith(b"PARE") for p in (tmp_path / "copy").rglob("part-*"))
