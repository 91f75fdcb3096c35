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
