"""Omniglot (Lake, Salakhutdinov & Tenenbaum 2015): 1,623 characters x 20 drawings."""

import hashlib
import io
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.datasets import get_data_home
from sklearn.utils import Bunch

_URL = "https://github.com/brendenlake/omniglot/raw/master/python/{}.zip"
_SPLITS = ("images_background", "images_evaluation")
# sha256 of the converted files (as in the shared copy) and of their image arrays
_NPZ_SHA256 = {
    "images_background": "8bf84167413cd00beacdce3fe582f780ab538d8dbef043a6d688f2527bbce199",
    "images_evaluation": "0b84c7ffd94c4841c0040e529c86a82eaaccb986d8eadad5673f7991b7475276",
}
_ARRAY_SHA256 = {
    "images_background": "97db6dcdf39955c3a949e197621f8f318092986b37e116c9b4996150e8d2d8a3",
    "images_evaluation": "a76180acf0908643e1a9494a1a841d2af4bbbbdc6d7e01e0db92eed7d1c6f902",
}
_FIRST_ID = {"images_background": 1, "images_evaluation": 965}

DESCR = """\
Omniglot
--------

1,623 handwritten characters from 50 alphabets, each drawn once by 20 people
(Lake, Salakhutdinov & Tenenbaum, "Human-level concept learning through
probabilistic program induction", Science 2015; MIT licence).  The 964 characters of
the 30 "background" alphabets and the 659 of the 20 "evaluation" alphabets, from the
archives images_background.zip / images_evaluation.zip of the GitHub repository
brendenlake/omniglot (python/).  Images are 105 x 105, resized here (area
averaging) to ``image_size``; ink is 1.0, background 0.0.

The few-shot literature (Vinyals et al. 2016) resizes to 28 x 28, adds 90-degree
rotations as new classes and meta-trains on 1,200 characters, testing on the others.
"""


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _convert_zip(zip_path, split):
    """The (n_characters, 20, 105, 105) bool array of one archive (True: background)."""
    from PIL import Image  # the downloader's optional dependency

    arrays = {}
    with zipfile.ZipFile(zip_path) as archive:
        for name in archive.namelist():
            if not name.endswith(".png"):
                continue
            char, drawing = Path(name).stem.split("_")
            with archive.open(name) as f:
                image = np.asarray(Image.open(io.BytesIO(f.read())).convert("1"), dtype=bool)
            arrays[int(char) - _FIRST_ID[split], int(drawing) - 1] = image
    n_chars = max(c for c, _ in arrays) + 1
    images = np.zeros((n_chars, 20, 105, 105), dtype=bool)
    for (c, d), image in arrays.items():
        images[c, d] = image
    return images


def _load_split(split, path, cache, download):
    """One split's bool array, from ``path``, the cache, or a verified download."""
    for folder in [p for p in (path, cache) if p is not None]:
        npz = Path(folder) / f"{split}.npz"
        if npz.exists():
            data = npz.read_bytes()
            if _sha256(data) != _NPZ_SHA256[split] and folder != cache:
                raise ValueError(f"{npz} does not match the published checksum.")
            return np.load(io.BytesIO(data))["images"]
        archive = Path(folder) / f"{split}.zip"
        if archive.exists():
            return _verified(_convert_zip(archive, split), split)
    if not download:
        raise OSError(f"Omniglot's {split} is not in {path or cache} and download=False.")
    try:
        import pooch
    except ImportError as exc:
        raise ImportError("Downloading Omniglot needs pooch and pillow: "
                          "pip install pooch pillow") from exc
    archive = pooch.retrieve(_URL.format(split), known_hash=None, path=cache)
    images = _verified(_convert_zip(archive, split), split)
    np.savez_compressed(Path(cache) / f"{split}.npz", images=images)
    return images


def _verified(images, split):
    if _sha256(np.ascontiguousarray(images).tobytes()) != _ARRAY_SHA256[split]:
        raise ValueError(f"Omniglot's {split} does not match the published checksum.")
    return images


def _resize(images, size, chunk=1024):
    """Area-average (n, 105, 105) ink maps to (n, 1, size, size), float32.

    A chunk of images at a time: the float32 copy of all 32,460 full-size images
    alone would take 1.4 GB.
    """
    import torch

    out = np.empty((len(images), 1, size, size), dtype=np.float32)
    for start in range(0, len(images), chunk):
        ink = torch.as_tensor(~images[start : start + chunk], dtype=torch.float32)[:, None]
        out[start : start + chunk] = torch.nn.functional.interpolate(
            ink, size=(size, size), mode="area").numpy()
    return out


def fetch_omniglot(data_home=None, *, path=None, download=True, image_size=28):
    """Load Omniglot, downloading the original archives once if needed.

    Parameters
    ----------
    data_home : str or Path, default=None
        Cache folder (scikit-learn's data home by default); converted arrays are
        kept there.
    path : str or Path, default=None
        A folder holding ``images_background`` / ``images_evaluation`` as the
        converted ``.npz`` files or the original ``.zip`` archives: nothing is
        downloaded then.  Either is checked against the published checksums.
    download : bool, default=True
        Download missing archives (needs ``pooch`` and ``pillow``).
    image_size : int, default=28
        Side of the returned images.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (32460, 1, image_size, image_size) float32 ink maps; ``target``
        (32460,) character id 0-1622 (background set first); ``alphabet``
        (32460,) alphabet names; ``background`` (32460,) True for the background
        set; ``DESCR``.

    Examples
    --------
    >>> from skmtl.datasets import fetch_omniglot
    >>> omniglot = fetch_omniglot(path="../shared/data/omniglot")  # doctest: +SKIP
    >>> omniglot.data.shape  # doctest: +SKIP
    (32460, 1, 28, 28)
    """
    cache = Path(data_home or get_data_home()) / "skmtl_omniglot"
    if path is None or download:
        cache.mkdir(parents=True, exist_ok=True)
    images = [_load_split(s, path, cache if cache.exists() else None, download)
              for s in _SPLITS]
    n_chars = [a.shape[0] for a in images]
    data = np.concatenate([_resize(a.reshape(-1, 105, 105), image_size) for a in images])
    target = np.repeat(np.arange(sum(n_chars)), 20)
    table = resources.files(__package__).joinpath("data/omniglot_alphabets.tsv").read_text()
    rows = [line.split("\t") for line in table.strip().splitlines()[1:]]
    alphabet_of = np.empty(sum(n_chars), dtype=object)
    for first, last, name in rows:
        alphabet_of[int(first) - 1 : int(last)] = name
    return Bunch(data=data, target=target,
                 alphabet=alphabet_of[target],
                 background=np.repeat(np.arange(sum(n_chars)) < n_chars[0], 20),
                 DESCR=DESCR)
