"""fetch_omniglot reads local copies and verifies them; nothing is downloaded here."""

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from skmtl.datasets import _omniglot, fetch_omniglot

try:
    import torch  # noqa: F401
except ImportError:
    HAS_TORCH = False
else:
    HAS_TORCH = True
# resizing the drawings uses torch; reading and checking the files does not
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="resizing needs the torch extra")

SHARED = Path(__file__).parents[2] / "shared" / "data" / "omniglot"


@needs_torch
@pytest.mark.skipif(not SHARED.exists(), reason=f"{SHARED} is absent")
def test_fetch_from_the_shared_converted_files(tmp_path):
    om = fetch_omniglot(data_home=tmp_path, path=SHARED, download=False, image_size=28)
    assert om.data.shape == (32460, 1, 28, 28) and om.data.dtype == np.float32
    assert om.target.max() == 1622 and np.bincount(om.target).min() == 20
    assert om.background.sum() == 964 * 20
    assert om.alphabet[0] == "Arcadian" and om.alphabet[-1] != om.alphabet[0]
    ink = om.data.mean()
    assert 0.02 < ink < 0.3  # strokes are ink (1), the page is 0


def test_a_tampered_file_is_refused(tmp_path):
    np.savez_compressed(tmp_path / "images_background.npz",
                        images=np.ones((2, 20, 105, 105), bool))
    with pytest.raises(ValueError, match="checksum"):
        fetch_omniglot(data_home=tmp_path / "home", path=tmp_path, download=False)


def test_nothing_local_and_no_download_is_a_clear_error(tmp_path):
    with pytest.raises(OSError, match="download=False"):
        fetch_omniglot(data_home=tmp_path, path=tmp_path, download=False)


def test_archive_conversion_places_each_drawing():
    Image = pytest.importorskip("PIL.Image")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for char, drawing, value in [(965, 1, 0), (966, 20, 1)]:
            page = Image.fromarray(np.full((105, 105), 255 * value, np.uint8)).convert("1")
            png = io.BytesIO()
            page.save(png, format="PNG")
            archive.writestr(f"images_evaluation/Abc/character0{char - 964}/"
                             f"{char:04d}_{drawing:02d}.png", png.getvalue())
    images = _omniglot._convert_zip(io.BytesIO(buffer.getvalue()), "images_evaluation")
    assert images.shape == (2, 20, 105, 105)
    assert not images[0, 0].any() and images[1, 19].all()


@needs_torch
def test_resize_works_a_chunk_at_a_time_and_matches_the_whole(monkeypatch):
    """The float32 copy of all full-size images (1.4 GB) is never made."""
    import torch

    rng = np.random.RandomState(0)
    images = rng.rand(70, 105, 105) < 0.1
    whole = torch.nn.functional.interpolate(
        torch.as_tensor(~images, dtype=torch.float32)[:, None], size=(28, 28),
        mode="area").numpy()
    sizes = []
    real = torch.nn.functional.interpolate
    monkeypatch.setattr(torch.nn.functional, "interpolate",
                        lambda x, **kw: sizes.append(len(x)) or real(x, **kw))
    out = _omniglot._resize(images, 28, chunk=32)
    assert sizes == [32, 32, 6]
    np.testing.assert_array_equal(out, whole)


# --- crafted archives and caches (issue 16, items 10 and 13): nothing is
# downloaded, nothing unbounded is allocated, every message names the file

def _png(width, height, idat=None):
    """A PNG header declaring ``width`` x ``height`` 1-bit pixels (the data need not
    hold them: a decoder that trusted the header would allocate for it)."""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"") if idat is None else idat
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) \
        + chunk(b"IEND", b"")


def _page(value):
    Image = pytest.importorskip("PIL.Image")
    png = io.BytesIO()
    Image.fromarray(np.full((105, 105), 255 * value, np.uint8)).convert("1").save(
        png, format="PNG")
    return png.getvalue()


def _zip(path, entries):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return path


def _sha(data):
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _bomb(tmp_path):
    """186 bytes that the old conversion turned into a 2.1 GB allocation (21 GB with
    one more digit): a valid 1 x 1 PNG named as character 9999."""
    Image = pytest.importorskip("PIL.Image")
    png = io.BytesIO()
    Image.new("1", (1, 1)).save(png, format="PNG")
    return _zip(tmp_path / "images_background.zip", [("a/b/9999_01.png", png.getvalue())])


def test_a_crafted_archive_allocates_nothing_before_it_is_refused(tmp_path):
    import tracemalloc

    archive = _bomb(tmp_path)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=rf"{archive}: a/b/9999_01.png names no "
                                             r"drawing of images_background"):
            _omniglot._convert_zip(archive, "images_background")
        assert tracemalloc.get_traced_memory()[1] < 2**20
    finally:
        tracemalloc.stop()


def test_an_archive_is_checked_before_it_is_opened(tmp_path, monkeypatch):
    archive = _bomb(tmp_path)
    assert archive.stat().st_size < 400
    opened = []
    monkeypatch.setattr(_omniglot, "_convert_zip", lambda *a: opened.append(a))
    with pytest.raises(ValueError, match=rf"{archive} does not match the published "
                                         rf"checksum of the official images_background"):
        fetch_omniglot(data_home=tmp_path / "home", path=tmp_path, download=False)
    # of the official size but not its content: the sha256 refuses it
    monkeypatch.setitem(_omniglot._ZIP_SIZE, "images_background", archive.stat().st_size)
    with pytest.raises(ValueError, match=r"does not match the published checksum "
                                         r"\(sha256 ad41ab679c8b"):
        fetch_omniglot(data_home=tmp_path / "home", path=tmp_path, download=False)
    assert opened == []


def _fake_pooch(monkeypatch, payload, calls):
    import sys
    import types

    def retrieve(url, known_hash=None, fname=None, path=None, **kw):
        calls.append(dict(url=url, known_hash=known_hash, fname=fname))
        target = Path(path) / (fname or "download.zip")
        target.write_bytes(payload)  # a pooch that did not check: we still do
        return str(target)

    monkeypatch.setitem(sys.modules, "pooch", types.SimpleNamespace(retrieve=retrieve))


def test_the_download_is_asked_for_the_official_hash_and_checked(tmp_path, monkeypatch):
    calls = []
    _fake_pooch(monkeypatch, _bomb(tmp_path).read_bytes(), calls)
    (tmp_path / "cache").mkdir()
    with pytest.raises(ValueError, match="does not match the published checksum"):
        _omniglot._load_split("images_background", None, tmp_path / "cache", True)
    assert calls == [dict(url=_omniglot._URL.format("images_background"),
                          known_hash="sha256:ad41ab679c8b5d90b271ef46be6987cc81211774a695"
                                     "c29dcc5367b2b26ee640",
                          fname="images_background.zip")]
    assert not (tmp_path / "cache" / "images_background.npz").exists()


def test_a_verified_download_is_converted_once_and_cached(tmp_path, monkeypatch):
    """The whole path with the published hashes swapped for a made-up 2-character set."""
    split = "images_evaluation"
    entries = [(f"{split}/Abc/character0{c}/{964 + c:04d}_{d:02d}.png", _page((c + d) % 2))
               for c in (1, 2) for d in range(1, 21)]
    payload = _zip(tmp_path / "made_up.zip", entries).read_bytes()
    expected = np.array([[np.full((105, 105), bool((c + d) % 2)) for d in range(1, 21)]
                         for c in (1, 2)])
    monkeypatch.setitem(_omniglot._ZIP_SHA256, split, _sha(payload))
    monkeypatch.setitem(_omniglot._ZIP_SIZE, split, len(payload))
    monkeypatch.setitem(_omniglot._ARRAY_SHA256, split, _sha(expected.tobytes()))
    monkeypatch.setitem(_omniglot._N_CHARS, split, 2)
    calls, cache = [], tmp_path / "cache"
    cache.mkdir()
    _fake_pooch(monkeypatch, payload, calls)
    np.testing.assert_array_equal(_omniglot._load_split(split, None, cache, True), expected)
    assert sorted(p.name for p in cache.iterdir()) == [f"{split}.npz", f"{split}.zip"]
    (cache / f"{split}.zip").unlink()
    np.testing.assert_array_equal(_omniglot._load_split(split, None, cache, False), expected)
    assert len(calls) == 1  # the second load read the verified cache


def test_a_blank_or_tampered_cache_is_refused_with_its_path(tmp_path, monkeypatch):
    cache = tmp_path / "skmtl_omniglot"
    cache.mkdir()
    npz = cache / "images_background.npz"
    npz.write_bytes(b"")
    with pytest.raises(ValueError, match=rf"{npz} does not match the published checksum "
                                         r".*blank, truncated or altered.*delete it"):
        fetch_omniglot(data_home=tmp_path, download=False)
    # a cache of the right shape with one pixel changed
    split, rng = "images_background", np.random.RandomState(0)
    images = rng.rand(2, 20, 105, 105) < 0.5
    monkeypatch.setitem(_omniglot._N_CHARS, split, 2)
    monkeypatch.setitem(_omniglot._ARRAY_SHA256, split, _sha(images.tobytes()))
    np.savez_compressed(npz, images=images)
    np.testing.assert_array_equal(_omniglot._load_split(split, None, cache, False), images)
    images[1, 3, 50, 50] ^= True
    np.savez_compressed(npz, images=images)
    with pytest.raises(ValueError, match=rf"{npz} does not match the published checksum"):
        _omniglot._load_split(split, None, cache, False)


def test_a_cache_declaring_a_huge_array_allocates_nothing(tmp_path):
    import tracemalloc

    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        npy, {"descr": "|b1", "fortran_order": False, "shape": (10**6, 20, 105, 105)})
    npz = _zip(tmp_path / "images_background.npz", [("images.npy", npy.getvalue())])
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"its images are bool of shape \(1000000, "):
            _omniglot._load_split("images_background", None, tmp_path, False)
        assert tracemalloc.get_traced_memory()[1] < 2**24
    finally:
        tracemalloc.stop()


CRAFTED = {  # entries of images_background.zip, and what the refusal says
    "a character past the split": ([("x/0965_01.png", "page")], r"names no drawing of "
                                   r"images_background \(characters 1-964, drawings 1-20\)"),
    "a far character id": ([("x/9999_01.png", "tiny")], "names no drawing"),
    "a 21st drawing": ([("x/0001_21.png", "page")], "names no drawing"),
    "an unexpected name": ([("x/notes.png", "page")], r"not named like an Omniglot drawing"),
    "a huge declared size": ([("x/0001_01.png", "padded")],
                             r"0001_01.png declares 10486\d\d bytes uncompressed, more than"),
    "a huge declared image": ([("x/0001_01.png", "huge")],
                              r"0001_01.png is 9000 x 9000, not 105 x 105"),
    "an unreadable image": ([("x/0001_01.png", "junk")], r"0001_01.png is not a readable PNG"),
    "a drawing twice": ([("x/0001_01.png", "page"), ("y/0001_01.png", "page")],
                        "second copy of a drawing"),
    "no drawing": ([("x/readme.txt", "junk")], "holds no Omniglot drawing"),
}


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("case", list(CRAFTED))
def test_conversion_refuses_what_no_omniglot_archive_holds(tmp_path, case):
    data = {"page": lambda: _page(1), "tiny": lambda: _png(1, 1), "junk": lambda: b"junk",
            "padded": lambda: _page(1) + bytes(2**20), "huge": lambda: _png(9000, 9000)}
    entries, message = CRAFTED[case]
    archive = _zip(tmp_path / "images_background.zip",
                   [(name, data[kind]()) for name, kind in entries])
    with pytest.raises(ValueError, match=rf"^{archive}(: | ).*{message}"):
        _omniglot._convert_zip(archive, "images_background")


def test_conversion_refuses_an_archive_of_too_many_entries_or_not_a_zip(tmp_path,
                                                                        monkeypatch):
    monkeypatch.setitem(_omniglot._N_CHARS, "images_evaluation", 2)
    archive = _zip(tmp_path / "many.zip", [(f"x/{k}.txt", b"") for k in range(200)])
    with pytest.raises(ValueError, match=rf"{archive} has 200 entries, more than an "
                                         r"Omniglot archive \(142 at most\)"):
        _omniglot._convert_zip(archive, "images_evaluation")
    other = tmp_path / "images_evaluation.zip"
    other.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match=rf"{other} is not a zip archive"):
        _omniglot._convert_zip(other, "images_evaluation")
