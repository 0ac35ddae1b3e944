"""PEP 517 build backend: setuptools.build_meta, run on a temporary copy.

setuptools builds in the source tree: it writes build/ and
plughost_plugin.egg-info/ next to pyproject.toml. This directory ships inside
plughost's npm package (node_modules/plughost/plugins-dynamic/python), which
may be read-only (a global install owned by root) and should stay clean, so
wheel and sdist builds copy the few files they need to a temporary directory
and run setuptools there. Only the built wheel or sdist, or the metadata pip
asks for, comes back.

Editable installs (pip install -e) have to point at this tree, so their hooks
are setuptools' own, and they may leave build/ and *.egg-info here.
"""

import contextlib
import os
import shutil
import tempfile

from setuptools import build_meta as _setuptools

# What a build reads. Everything else here (tests/, this backend, a stray
# build/ or venv) stays out of the copy.
_SOURCES = ("pyproject.toml", "README.md", "MANIFEST.in", "plughost_plugin", "_packaging")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


@contextlib.contextmanager
def _in_copy():
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="plughost-plugin-build-") as tmp:
        copy = os.path.join(tmp, "src")
        os.mkdir(copy)
        for name in _SOURCES:
            source = os.path.join(here, name)
            if os.path.isdir(source):
                shutil.copytree(source, os.path.join(copy, name), ignore=_IGNORE)
            elif os.path.exists(source):
                shutil.copy2(source, copy)
        os.chdir(copy)
        try:
            yield
        finally:
            os.chdir(here)


def _copied(hook):
    def run(directory, *args, **kwargs):
        directory = os.path.abspath(directory)  # it may be relative to the real tree
        with _in_copy():
            return hook(directory, *args, **kwargs)

    run.__name__ = hook.__name__
    return run


def get_requires_for_build_wheel(config_settings=None):
    with _in_copy():
        return _setuptools.get_requires_for_build_wheel(config_settings)


def get_requires_for_build_sdist(config_settings=None):
    with _in_copy():
        return _setuptools.get_requires_for_build_sdist(config_settings)


prepare_metadata_for_build_wheel = _copied(_setuptools.prepare_metadata_for_build_wheel)
build_wheel = _copied(_setuptools.build_wheel)
build_sdist = _copied(_setuptools.build_sdist)

for _hook in ("get_requires_for_build_editable", "prepare_metadata_for_build_editable", "build_editable"):
    if hasattr(_setuptools, _hook):
        globals()[_hook] = getattr(_setuptools, _hook)
del _hook
