"""Omniglot (Lake, Salakhutdinov & Tenenbaum 2015): 1,623 characters x 20 drawings."""

import hashlib
import io
import os
import re
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.datasets import get_data_home
from sklearn.utils import Bunch

_URL = "https://github.com/brendenlake/omniglot/raw/master/python/{}.zip"
_SPLITS = ("images_background", "images_evaluation")
# The official archives (python/*.zip of brendenlake/omniglot): their size and
# sha256 as published in tensorflow_datasets' url_checksums/omniglot.txt, the same
# sha256 in torchvision's prototype Omniglot dataset (its md5, 68d2efa1... and
# 6b91aef0..., in torchvision.datasets.Omniglot).  The shared copy holds only the
# converted arrays, so these could not be recomputed here: each archive is also
# checked through the sha256 of the array converted from it (below).
_ZIP_SHA256 = {
    "images_background": "ad41ab679c8b5d90b271ef46be6987cc81211774a695c29dcc5367b2b26ee640",
    "images_evaluation": "1f61a8f3366785b057fc117d9228e78a16e3d976c8953b2a10fcc74cf0609cee",
}
_ZIP_SIZE = {"images_background": 9464212, "images_evaluation": 6462886}
# sha256 of the (n_characters, 20, 105, 105) bool arrays (C order, True stored as
# byte 1) converted from them, as in the shared copy's images_background.npz /
# images_evaluation.npz (which store PIL's byte 255 for True: 97db6dcd... and
# a76180ac... over those bytes); _canonical makes any True byte 1 before hashing
_ARRAY_SHA256 = {
    "images_background": "9121d28f81874a5939b6e932f85c56f0c63db652bfdbd0fb391f6d5eeec01f0f",
    "images_evaluation": "ebe4b0f06a588946ccb62c6e8d9e0eede457e4242f1bfca1309a1f946313b72e",
}
_FIRST_ID = {"images_background": 1, "images_evaluation": 965}
_N_CHARS = {"images_background": 964, "images_evaluation": 659}
_SIDE, _DRAWINGS = 105, 20
# bounds on what an archive may declare before anything is decoded: a drawing is a
# 105 x 105 PNG of about 500 bytes; besides them an archive holds one folder an
# alphabet and a character
_MAX_PNG_BYTES = 64 * 1024
_MAX_ARCHIVE_BYTES = 64 * 2**20
_DRAWING = re.compile(r"(\d{4})_(\d{2})\.png")

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


def _file_sha256(path, chunk=2**20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_archive(path, split):
    """Refuse ``path`` unless it is the official archive: size, then sha256, before
    anything in it is read as a zip."""
    size = Path(path).stat().st_size
    official = f"the official {split}.zip ({_URL.format(split)})"
    if size != _ZIP_SIZE[split]:
        raise ValueError(
            f"{path} does not match the published checksum of {official}: it has {size} "
            f"bytes, not {_ZIP_SIZE[split]}.  Delete it, or put the official archive there.")
    if _file_sha256(path) != _ZIP_SHA256[split]:
        raise ValueError(
            f"{path} does not match the published checksum (sha256 {_ZIP_SHA256[split]}) "
            f"of {official}.  Delete it, or put the official archive there.")


def _drawing_of(info, where, split):
    """(character, drawing) of an archive entry, refused unless it is one of
    ``split``'s drawings of at most _MAX_PNG_BYTES."""
    match = _DRAWING.fullmatch(Path(info.filename).name)
    if match is None:
        raise ValueError(f"{where}: {info.filename} is not named like an Omniglot "
                         "drawing (NNNN_DD.png): not an Omniglot archive.")
    char, drawing = int(match[1]) - _FIRST_ID[split], int(match[2]) - 1
    if not (0 <= char < _N_CHARS[split] and 0 <= drawing < _DRAWINGS):
        raise ValueError(
            f"{where}: {info.filename} names no drawing of {split} (characters "
            f"{_FIRST_ID[split]}-{_FIRST_ID[split] + _N_CHARS[split] - 1}, drawings "
            f"1-{_DRAWINGS}): not an Omniglot archive.")
    if info.file_size > _MAX_PNG_BYTES:
        raise ValueError(
            f"{where}: {info.filename} declares {info.file_size} bytes uncompressed, more "
            f"than any Omniglot drawing ({_MAX_PNG_BYTES}): not an Omniglot archive.")
    return char, drawing


def _decode(data, name, where):
    """A 105 x 105 PNG as a bool array, its size checked before it is decoded."""
    from PIL import Image, UnidentifiedImageError  # the downloader's optional dependency

    try:
        image = Image.open(io.BytesIO(data))
        if image.size != (_SIDE, _SIDE):
            raise ValueError(f"{where}: {name} is {image.size[0]} x {image.size[1]}, not "
                             f"{_SIDE} x {_SIDE}: not an Omniglot archive.")
        return np.asarray(image.convert("1"), dtype=bool)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"{where}: {name} is not a readable PNG ({exc}).") from exc


def _convert_zip(zip_path, split):
    """The (n_characters, 20, 105, 105) bool array of one archive (True: background).

    Bounded whatever the archive declares: at most _N_CHARS[split] characters, one
    entry of at most _MAX_PNG_BYTES read at a time, each decoded only once its PNG
    header says 105 x 105.
    """
    where = zip_path if isinstance(zip_path, (str, Path)) else "the Omniglot archive"
    if isinstance(zip_path, (str, Path)) and Path(zip_path).stat().st_size > _MAX_ARCHIVE_BYTES:
        raise ValueError(f"{where} is larger than any Omniglot archive.")
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{where} is not a zip archive ({exc}).") from exc
    with archive:
        infos = archive.infolist()
        limit = _N_CHARS[split] * (_DRAWINGS + 1) + 100
        if len(infos) > limit:
            raise ValueError(f"{where} has {len(infos)} entries, more than an Omniglot "
                             f"archive ({limit} at most): not an Omniglot archive.")
        drawings = {}  # every name and declared size checked before anything is read
        for info in infos:
            if info.is_dir() or not info.filename.endswith(".png"):
                continue
            key = _drawing_of(info, where, split)
            if key in drawings:
                raise ValueError(f"{where}: {info.filename} is a second copy of a drawing.")
            drawings[key] = info
        if not drawings:
            raise ValueError(f"{where} holds no Omniglot drawing (NNNN_DD.png).")
        n_chars = max(c for c, _ in drawings) + 1
        images = np.zeros((n_chars, _DRAWINGS, _SIDE, _SIDE), dtype=bool)
        for key, info in drawings.items():
            with archive.open(info) as f:
                data = f.read(_MAX_PNG_BYTES + 1)
            images[key] = _decode(data, info.filename, where)
    return images


def _npy_images(npz, shape):
    """The ``images.npy`` array of ``npz``, its header checked first: a file that
    declares a larger or other array than ``shape`` allocates nothing."""
    n_bytes = int(np.prod(shape))
    with zipfile.ZipFile(npz) as archive:
        info = archive.getinfo("images.npy")
        if info.file_size > n_bytes + 4096:
            raise ValueError(f"its images declare {info.file_size} bytes")
        with archive.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"npy format {version}")
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) \
                else np.lib.format.read_array_header_2_0
            found, fortran, dtype = read(f)
            if (found, fortran, dtype) != (shape, False, np.dtype(bool)):
                raise ValueError(f"its images are {dtype} of shape {found}")
            images = np.empty(shape, dtype=bool)
            view, n_read = memoryview(images).cast("B"), 0
            while n_read < n_bytes:  # a MiB at a time: no second copy of the array
                block = f.read(min(2**20, n_bytes - n_read))
                if not block:
                    break
                view[n_read : n_read + len(block)] = block
                n_read += len(block)
            if n_read != n_bytes or f.read(1):
                raise ValueError(f"its images hold {n_read} bytes or more, not {n_bytes}")
    return images


def _read_npz(npz, split):
    """The ``images`` of a converted file, refused unless it is the published array."""
    shape = (_N_CHARS[split], _DRAWINGS, _SIDE, _SIDE)
    refused = (f"{npz} does not match the published checksum of Omniglot's {split} "
               "(a blank, truncated or altered file): delete it, and fetch_omniglot "
               "rebuilds it from the official archive")
    try:
        images = _npy_images(npz, shape)
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{refused} ({exc}).") from exc
    if _array_sha256(images) != _ARRAY_SHA256[split]:
        raise ValueError(f"{refused}.")
    return images


def _canonical(images):
    """``images`` with every True stored as byte 1, in place (PIL gives 255)."""
    raw = images.view(np.uint8)
    np.minimum(raw, 1, out=raw)
    return images


def _array_sha256(images):
    return hashlib.sha256(memoryview(_canonical(images)).cast("B")).hexdigest()


def _load_split(split, path, cache, download):
    """One split's bool array, from ``path``, the cache, or a verified download."""
    for folder in [p for p in (path, cache) if p is not None]:
        npz = Path(folder) / f"{split}.npz"
        if npz.exists():
            return _read_npz(npz, split)
        archive = Path(folder) / f"{split}.zip"
        if archive.exists():  # converted into the cache when it was downloaded there
            return _from_archive(archive, split, cache if folder is cache else None)
    if not download:
        raise OSError(f"Omniglot's {split} is not in {path or cache} and download=False.")
    try:
        import pooch
    except ImportError as exc:
        raise ImportError("Downloading Omniglot needs pooch and pillow: "
                          "pip install pooch pillow") from exc
    # pooch checks the download against the hash (and deletes a mismatch)
    archive = pooch.retrieve(_URL.format(split), known_hash=f"sha256:{_ZIP_SHA256[split]}",
                             fname=f"{split}.zip", path=cache)
    return _from_archive(archive, split, cache)


def _from_archive(archive, split, cache):
    """A verified archive's array, kept in the cache (written whole or not at all)."""
    _check_archive(archive, split)
    images = _convert_zip(archive, split)
    if images.shape[0] != _N_CHARS[split] or \
            _array_sha256(images) != _ARRAY_SHA256[split]:
        raise ValueError(f"Omniglot's {split} converted from {archive} does not match the "
                         "published checksum of its array.")
    if cache is not None:
        tmp = Path(cache) / f".{split}.npz.part"
        with open(tmp, "wb") as f:
            np.savez_compressed(f, images=images)
        os.replace(tmp, Path(cache) / f"{split}.npz")
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
        Download missing archives (needs ``pooch`` and ``pillow``).  An archive,
        downloaded or found, is checked against the official archive's sha256
        before it is opened; a converted file, in ``path`` or in the cache, is
        refused unless its array has the published sha256 (a blank or altered
        cache is an error that names the file, never data returned).  Nothing is
        decoded past the size of Omniglot itself.
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
