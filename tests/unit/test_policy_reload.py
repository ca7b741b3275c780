"""policies/ reloaded in place: a changed file is loaded anew, a malformed one leaves the last good
policies in use, and the ConfigMap volume's way of changing (a swapped ``..data`` link) is seen."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from opsgate import paths
from opsgate.policy import PolicyLoadError
from opsgate.policy.reload import PolicyFolder


def relaxed(config: str) -> str:
    """config.yaml with the MFA rule switched off."""
    text, changed = re.subn(r"(?m)^(\s+require:) approval\b", r"\1 never", config)
    assert changed == 1
    return text


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An operator's home whose policies are its own: the repository's playbooks and modules beside them."""
    root = tmp_path / "home"
    root.mkdir()
    for name in ("playbooks", "terraform"):
        shutil.copytree(paths.home() / name, root / name)  # copied: an executor path may not leave the home
    return root


@pytest.fixture
def folder(home: Path) -> Path:
    copy = home / "policies"
    shutil.copytree(paths.home() / "policies", copy)
    return copy


def test_an_unchanged_folder_is_not_loaded_again(folder: Path) -> None:
    watched = PolicyFolder(folder)
    assert watched.changed() is None
    assert watched.changed() is None


def test_an_edited_policy_is_loaded_with_the_edit(folder: Path) -> None:
    watched = PolicyFolder(folder)
    config = folder / "config.yaml"
    config.write_text(relaxed(config.read_text()))
    loaded = watched.changed()
    assert loaded is not None
    assert loaded.policies.config.mfa.require == "never"
    assert len(loaded.catalog.entries) > 20
    assert watched.changed() is None  # seen once, not loaded on every check


def test_a_malformed_edit_raises_once_and_is_not_retried_until_it_changes(folder: Path) -> None:
    watched = PolicyFolder(folder)
    (folder / "config.yaml").write_text("mfa: [unclosed\n")
    with pytest.raises(PolicyLoadError, match=r"config\.yaml"):
        watched.changed()
    assert watched.changed() is None  # the operator keeps the last good policies meanwhile
    shutil.copy(paths.home() / "policies" / "config.yaml", folder / "config.yaml")
    assert watched.changed() is not None  # fixed: loaded


def test_a_configmap_volume_swapping_its_data_link_is_seen(home: Path) -> None:
    # How the kubelet updates a mounted ConfigMap: files are links through `..data`, a link to a
    # timestamped folder that is replaced at once by renaming a new link over it.
    volume = home / "policies"
    first = volume / "..2026_12_04_01_00_00.1"
    shutil.copytree(paths.home() / "policies", first)
    (volume / "..data").symlink_to(first.name)
    for name in os.listdir(first):
        (volume / name).symlink_to(Path("..data") / name)
    watched = PolicyFolder(volume)
    second = volume / "..2026_12_04_01_01_00.2"
    shutil.copytree(first, second)
    (second / "config.yaml").write_text(relaxed((first / "config.yaml").read_text()))
    (volume / "..data_tmp").symlink_to(second.name)
    (volume / "..data_tmp").replace(volume / "..data")
    loaded = watched.changed()
    assert loaded is not None
    assert loaded.policies.config.mfa.require == "never"
