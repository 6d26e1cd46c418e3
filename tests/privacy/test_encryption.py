"""Encryption at rest of run tables (privacy/encryption.py, io.read_table / write_table)."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.config_checks import ConfigError
from tfrec_sentiment.io import EncryptedTableError, encryption_facts, read_table, write_table
from tfrec_sentiment.privacy import (
    KeySourceError,
    PrivacyConfig,
    TableEncryption,
    create_key_file,
    run_encryption,
)

FRAME = pd.DataFrame({"user_id": ["alice", "bob"], "item_id": ["i1", "i2"],
                      "text": ["secret words", "more words"], "rating": [5.0, 2.0]})


@pytest.fixture()
def keys(tmp_path):
    return create_key_file(tmp_path / "keys.json", ["footer", "ids", "texts"])


def test_round_trip_hides_the_data_and_reads_it_back(keys, tmp_path):
    encryption = TableEncryption.local(keys)
    path = write_table(FRAME, tmp_path / "t.parquet", encryption)
    raw = path.read_bytes()
    assert raw.endswith(b"PARE") and b"alice" not in raw and b"secret words" not in raw
    pd.testing.assert_frame_equal(read_table(path, encryption), FRAME)
    plain = write_table(FRAME, tmp_path / "p.parquet")
    assert b"alice" in plain.read_bytes() and encryption_facts(plain) is None
    pd.testing.assert_frame_equal(read_table(plain, encryption), FRAME)  # key not needed


def test_missing_key_names_the_file_and_the_option(keys, tmp_path):
    path = write_table(FRAME, tmp_path / "t.parquet", TableEncryption.local(keys))
    with pytest.raises(EncryptedTableError, match=r"t\.parquet: encrypted .*privacy\.key_file"):
        read_table(path)


def test_wrong_key_file_fails_clearly(keys, tmp_path):
    path = write_table(FRAME, tmp_path / "t.parquet", TableEncryption.local(keys))
    other = create_key_file(tmp_path / "other.json", ["footer"])
    with pytest.raises(EncryptedTableError,
                       match=r"t\.parquet: cannot decrypt with key file .*other\.json.*"
                             r"master key 'footer' .*does not open"):
        read_table(path, TableEncryption.local(other))
    no_ids = TableEncryption.local(other, column_keys={"user_id": "footer"})
    with pytest.raises(KeySourceError, match=r"no master key 'ids'"):
        TableEncryption.local(other, column_keys={"user_id": "ids"})
    assert no_ids.column_keys == {"user_id": "footer"}
    with pytest.raises(KeySourceError, match=r"key file .*absent\.json does not exist"):
        TableEncryption.local(tmp_path / "absent.json")


def test_column_keys_leave_counts_and_ratings_readable(keys, tmp_path):
    encryption = TableEncryption.local(keys, column_keys={"user_id": "ids", "text": "texts"},
                                       plaintext_footer=True)
    path = write_table(FRAME, tmp_path / "t.parquet", encryption)
    raw = path.read_bytes()
    assert b"alice" not in raw and b"secret words" not in raw
    readable = read_table(path, columns=["item_id", "rating"])
    pd.testing.assert_frame_equal(readable, FRAME[["item_id", "rating"]])
    # Asking for a protected column without keys is refused before pyarrow reads it.
    with pytest.raises(EncryptedTableError, match=r"user_id \(master key 'ids'\)"):
        read_table(path)
    with pytest.raises(EncryptedTableError, match=r"text \(master key 'texts'\)"):
        read_table(path, columns=["text", "rating"])
    pd.testing.assert_frame_equal(read_table(path, encryption), FRAME)
    # A table without any of the named columns has nothing to hide: written plain.
    counts = write_table(FRAME[["item_id", "rating"]], tmp_path / "c.parquet", encryption)
    assert encryption_facts(counts) is None


def test_reading_an_encrypted_column_without_keys_would_abort(keys, tmp_path):
    """Why io decides from the stored facts: pyarrow itself kills the process."""
    encryption = TableEncryption.local(keys, column_keys={"user_id": "ids"},
                                       plaintext_footer=True)
    path = write_table(FRAME, tmp_path / "t.parquet", encryption)
    code = f"import pandas as pd; pd.read_parquet({str(path)!r})"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert result.returncode != 0


def test_parquet_is_read_only_through_io():
    """Since a keyless read of an encrypted column aborts the process, every reader of
    a run's tables (the CLIs, forget's cleanup scan, ...) goes through `io.read_table`
    / `read_arrow`, which refuse first: no other module calls a Parquet reader, but
    the input readers (data/readers: a user's data set, never a run's table)."""
    root = Path(__file__).resolve().parents[2]
    reader = re.compile(r"read_parquet|pq\.read_table|ParquetFile|ParquetDataset")
    exempt = {root / "tfrec_sentiment" / "io.py",
              *(root / "tfrec_sentiment" / "data" / "readers").rglob("*.py")}
    sources = [p for folder in ("tfrec_sentiment", "tools")
               for p in sorted((root / folder).rglob("*.py")) if p not in exempt]
    assert len(sources) > 50
    found = [f"{p.relative_to(root)}:{number}" for p in sources
             for number, line in enumerate(p.read_text().splitlines(), 1)
             if reader.search(line)]
    assert found == []


def test_run_tables_and_score_cache_are_encrypted(keys, tmp_path):
    from tfrec_sentiment.data.prepare import PreparedReviews, prepare_reviews
    from tfrec_sentiment.data.splits import Split
    from tfrec_sentiment.sentiment.inference import ScoreCache
    from tfrec_sentiment.sentiment.scores import Scores

    encryption = TableEncryption.local(keys)
    frame = pd.DataFrame({"user_id": ["alice", "alice", "bob", "bob"],
                          "item_id": ["i1", "i2", "i1", "x"], "rating": [5, 4, 1, 9],
                          "text": ["great strings", "nice", "broke at once", "bad rating"],
                          "timestamp": [1.4e9, 1.41e9, 1.42e9, 1.43e9]})
    prepared = prepare_reviews(frame)
    assert prepared.rejections  # the rating of 9
    folder = prepared.save(tmp_path / "data", encryption)
    assert (folder / "rejected.parquet").is_file() and not (folder / "rejected.jsonl").exists()
    split = Split(train=prepared.reviews, validation=prepared.reviews.iloc[:0],
                  test=prepared.reviews.iloc[:0])
    split.save(folder, encryption)
    for path in folder.glob("*.parquet"):
        assert encryption_facts(path) == {"footer": "encrypted"}, path
        assert b"alice" not in path.read_bytes()
    with pytest.raises(EncryptedTableError, match=r"data/\w+\.parquet: encrypted"):
        PreparedReviews.load(folder)
    loaded = PreparedReviews.load(folder, encryption)
    pd.testing.assert_frame_equal(loaded.reviews, prepared.reviews)
    assert loaded.rejections == prepared.rejections
    pd.testing.assert_frame_equal(Split.load(folder, encryption).train, split.train)

    cache = ScoreCache(tmp_path / "scores", encryption)
    scores = Scores(np.full((2, 3), 1 / 3, np.float32), np.arange(8, dtype=np.float32)
                    .reshape(2, 4))
    cache.add("fp", np.array([b"k1", b"k2"], "S32"), scores)
    (shard,) = (tmp_path / "scores" / "fp").iterdir()
    assert encryption_facts(shard) == {"footer": "encrypted"}
    found = ScoreCache(tmp_path / "scores", encryption).lookup("fp", np.array([b"k2"], "S32"))
    np.testing.assert_array_equal(found[0][1], scores.embedding[1])
    with pytest.raises(EncryptedTableError, match=shard.name):
        ScoreCache(tmp_path / "scores").lookup("fp", np.array([b"k2"], "S32"))


def test_config_validates_and_reaches_the_run(keys, tmp_path):
    config = config_lib.resolve("demo", [f"privacy.key_file={keys}",
                                         "privacy.column_keys=user_id=ids,text=texts",
                                         "privacy.plaintext_footer=true"])
    assert config.privacy.column_key_map() == {"user_id": "ids", "text": "texts"}
    config_lib.save(config, tmp_path / "run" / "config.json")
    encryption = run_encryption(tmp_path / "run")
    assert encryption.column_keys == {"user_id": "ids", "text": "texts"}
    assert encryption.plaintext_footer and run_encryption(tmp_path / "none") is None
    bad = [("privacy.column_keys=user_id", "write column=key_id"),
           ("privacy.plaintext_footer=true", "plaintext footer needs column_keys"),
           ("privacy.kms_client=not a factory", "package.module:factory"),
           ("privacy.footer_key=a b", "footer_key")]
    for override, message in bad:
        with pytest.raises(ConfigError, match=message):
            config_lib.resolve("demo", [f"privacy.key_file={keys}", override])
    with pytest.raises(ConfigError, match="no key source"):
        PrivacyConfig(column_keys=("user_id=ids",))
    with pytest.raises(ConfigError, match="not both"):
        PrivacyConfig(key_file=str(keys), kms_client="m:f")
    with pytest.raises(ConfigError, match="one key only"):
        PrivacyConfig(key_file=str(keys), column_keys=("text=ids", "text=texts"))
    assert not dataclasses.replace(config.privacy, key_file=None, column_keys=(),
                                   plaintext_footer=False).encrypted


class _XorKms:
    """A stand-in cloud KMS for the plug-in path (never use XOR for real keys)."""

    def __init__(self, connection):
        import pyarrow.parquet.encryption as pe

        class Client(pe.KmsClient):
            def wrap_key(self, key_bytes, master_key_identifier):
                return bytes(b ^ 0x5A for b in key_bytes).hex()

            def unwrap_key(self, wrapped_key, master_key_identifier):
                return bytes(b ^ 0x5A for b in bytes.fromhex(wrapped_key))

        self.client = Client()
        self.url = connection.kms_instance_url


def xor_kms(connection):
    assert connection.kms_instance_url == "https://kms.example"
    return _XorKms(connection).client


def test_a_plugged_kms_client_is_imported_from_the_config(tmp_path):
    config = PrivacyConfig(kms_client=f"{__name__}:xor_kms",
                           kms_instance_url="https://kms.example")
    encryption = TableEncryption.from_config(config)
    path = write_table(FRAME, tmp_path / "t.parquet", encryption)
    pd.testing.assert_frame_equal(read_table(path, encryption), FRAME)
    with pytest.raises(KeySourceError, match="cannot import"):
        TableEncryption.from_config(PrivacyConfig(kms_client="no_such_module:f"))


def test_aspect_profiles_keep_their_users_encrypted_at_rest(keys, tmp_path):
    from tfrec_sentiment.aspects.profiles import PROFILES_FILE, USERS_FILE, AspectProfiles

    profiles = AspectProfiles(
        aspects=np.array(["sound", "cable"]), item_ids=np.array(["i1"]),
        item_mentions=np.array([[3, 1]], np.int32),
        item_polarity=np.array([[0.5, -0.5]], np.float32),
        user_ids=np.array(["alice", "bob"]),
        user_attention=np.array([[1.0, 0.0], [0.25, 0.75]], np.float32),
        population_attention=np.array([0.6, 0.4], np.float32))
    encryption = TableEncryption.local(keys)
    profiles.save(tmp_path / "aspects", encryption)
    for path in (tmp_path / "aspects").iterdir():  # no user id in the clear anywhere
        assert b"alice" not in path.read_bytes(), path.name
    assert (tmp_path / "aspects" / USERS_FILE).is_file()
    back = AspectProfiles.load(tmp_path / "aspects", encryption)
    np.testing.assert_array_equal(back.user_ids, profiles.user_ids)
    np.testing.assert_array_equal(back.user_attention, profiles.user_attention)
    np.testing.assert_array_equal(back.item_polarity, profiles.item_polarity)
    with pytest.raises(EncryptedTableError, match=r"aspect_users\.parquet: encrypted"):
        AspectProfiles.load(tmp_path / "aspects")
    profiles.save(tmp_path / "plain")  # without a key source: one npz, as before
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == [PROFILES_FILE]
    assert AspectProfiles.load(tmp_path / "plain").num_users == 2
