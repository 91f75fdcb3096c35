"""Sphinx configuration of the skmtl documentation.

Build with ``make doc`` from the repository root (it installs the ``docs`` extra
into ``.venv``) or ``make -C doc html`` in an environment that has it.  Warnings
are errors (``-W --keep-going`` in ``doc/Makefile``); the few tolerated ones are
listed, each with its reason, under "Tolerated warnings" below.
"""

import re
from datetime import date

import skmtl

project = "skmtl"
author = "the skmtl developers"
copyright = f"{date.today().year}, {author}"
release = skmtl.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "examples/GALLERY_HEADER.rst"]
default_role = "literal"
pygments_style = "sphinx"

# -- API reference (autosummary + numpydoc) ------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False  # the class template lists the methods itself
numpydoc_class_members_toctree = False

# -- Gallery ---------------------------------------------------------------------------
# The examples run during the build (about two minutes on two cores; the Omniglot
# one reads the copy in ../shared/data/omniglot, see its local_omniglot()).  A
# failing example fails the build.
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("skmtl",),
    "reference_url": {"skmtl": None},  # link the examples' code to the API pages
    "show_memory": False,
    "min_reported_time": 1,
    "remove_config_comments": True,
    # run them all, then fail the build (and so CI) if any raised, rather than
    # show a broken example's traceback on a red thumbnail
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
}

# -- Markdown (the benchmark scoreboard is benchmarks/RESULTS.md) ----------------------
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# -- HTML --------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skmtl {release}"
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc", "sg_download_links", "sg_launcher_links"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {
    "index": [],
    "getting_started": [],
    "benchmarks": [],
}

# -- Tolerated warnings -------------------------------------------------------------------
# None: the build is warning-free with -W.  A warning that cannot be fixed at its
# source goes here, each entry with what it silences and why.
suppress_warnings = []


# -- scikit-learn's inherited docstrings ------------------------------------------------
# The API pages list the methods our estimators inherit from scikit-learn
# (get_params, set_fit_request, ClassifierMixin.score, ...).  Their docstrings point
# into scikit-learn's own documentation (:ref:`... <metadata_routing>`,
# :ref:`accuracy <accuracy_score>`, :ref:`... <r2_score>`), which this build cannot reach (no intersphinx:
# CI has no access to scikit-learn's site).  Rather than silence the resulting
# "undefined label" warnings, which would also hide our own broken references,
# point the routing link at our page on routing and keep the accuracy and R^2 ones
# as plain text.  (Their :term:`meta-estimator` is defined in our glossary.)
_SKLEARN_REFS = [
    (re.compile(r"<metadata_routing>`"), "<routing>`"),
    (re.compile(r":ref:`([^`<]+?)\s*<(accuracy_score|r2_score)>`"), r"\1"),
    (re.compile(r":ref:`(accuracy_score|r2_score)`"), r"\1"),
]


def _rewrite_sklearn_refs(app, what, name, obj, options, lines):
    text = "\n".join(lines)
    for pattern, repl in _SKLEARN_REFS:
        text = pattern.sub(repl, text)
    lines[:] = text.split("\n")


def setup(app):
    app.connect("autodoc-process-docstring", _rewrite_sklearn_refs)
