"""The Dockerfile, read as data: it can't be built here (no Docker), so what can be checked is.

Pinned bases, a non-root user, the ``opsgate`` entrypoint, OpenTofu and kubectl at the versions
the tests use, the embedder's int8 model built at image build time, every copied path present
in the build context, and no secret in any instruction.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    stage: int  # index of the FROM it belongs to (-1: before the first)


def instructions(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and heredoc bodies kept in their RUN."""
    found: list[Instruction] = []
    lines = iter(text.splitlines())
    stage = -1
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        while line.endswith("\\"):
            line = line[:-1] + " " + next(lines).strip()
        heredoc = re.search(r"<<'?(\w+)'?", line)
        if heredoc:
            body = []
            for inner in lines:
                if inner.strip() == heredoc.group(1):
                    break
                body.append(inner)
            line += "\n" + "\n".join(body)
        keyword, _, arguments = line.partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        found.append(Instruction(keyword.upper(), arguments.strip(), stage))
    return found


ALL = instructions(DOCKERFILE.read_text())
FINAL = max(i.stage for i in ALL)


def arg_default(name: str) -> str:
    for instruction in ALL:
        if instruction.keyword == "ARG" and instruction.arguments.startswith(f"{name}="):
            return instruction.arguments.split("=", 1)[1]
    raise AssertionError(f"no ARG {name} with a default")


def in_final(keyword: str) -> list[Instruction]:
    return [i for i in ALL if i.stage == FINAL and i.keyword == keyword]


def test_it_is_multi_stage_and_every_base_is_pinned_to_a_version() -> None:
    bases = [i.arguments.split()[0] for i in ALL if i.keyword == "FROM"]
    assert len(bases) >= 3
    images = [arg_default(b[2:-1]) if b.startswith("${") else b for b in bases]
    for image in images:
        tag = image.partition(":")[2]
        assert re.match(r"^\d+\.\d+\.\d+-", tag), f"{image}: pin a full version, not {tag or 'latest'}"
    assert arg_default("PYTHON_IMAGE").endswith("-slim-bookworm")


def test_the_image_runs_as_the_non_root_user_it_creates() -> None:
    users = in_final("USER")
    assert [u.arguments for u in users] == ["65532:65532"]
    assert any("--uid 65532" in r.arguments for r in in_final("RUN"))
    assert ALL.index(users[0]) > max(ALL.index(r) for r in in_final("RUN")), "a RUN after USER would run as root"


def test_the_entrypoint_is_the_opsgate_console_script_and_runs_the_operator_by_default() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "opsgate" in scripts
    assert [i.arguments for i in in_final("ENTRYPOINT")] == ['["opsgate"]']
    assert [i.arguments for i in in_final("CMD")] == ['["operator"]']


def _script_default(script: str, variable: str) -> str:
    match = re.search(rf"^{variable}=\$\{{{variable}:-([^}}]+)\}}", (ROOT / "hack" / script).read_text(), re.M)
    assert match, f"{variable} in hack/{script}"
    return match.group(1)


def test_opentofu_and_kubectl_are_build_args_at_the_versions_the_tests_use() -> None:
    assert arg_default("TOFU_VERSION") == _script_default("build-tofu.sh", "TOFU_VERSION")
    assert arg_default("KUBECTL_VERSION") == _script_default("build-k8s.sh", "K8S_VERSION")
    copies = [i.arguments for i in in_final("COPY")]
    assert "--from=tofu /tofu /usr/local/bin/tofu" in copies
    assert "--from=kubectl /kubectl /usr/local/bin/kubectl" in copies


def test_the_embedders_int8_model_is_built_at_image_build_time_into_the_images_cache() -> None:
    runs = [i.arguments for i in in_final("RUN")]
    assert any("python -m opsgate.rag.minilm" in r for r in runs)
    env = " ".join(i.arguments for i in in_final("ENV"))
    assert "OPSGATE_CACHE_DIR=/opt/opsgate/cache" in env
    assert "OPSGATE_HOME=/opt/opsgate" in env


def _ignored(path: str) -> bool:
    """Whether .dockerignore leaves ``path`` out of the build context (its last matching rule wins)."""
    ignored = False
    for rule in (ROOT / ".dockerignore").read_text().splitlines():
        rule = rule.strip()
        if not rule or rule.startswith("#"):
            continue
        negated = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
        if re.fullmatch(regex, path) or path.startswith(pattern + "/"):
            ignored = not negated
    return ignored


def test_everything_the_dockerfile_copies_exists_and_is_in_the_build_context() -> None:
    sources = [
        source
        for i in ALL
        if i.keyword == "COPY" and not i.arguments.startswith("--from")
        for source in i.arguments.split()[:-1]
    ]
    assert "operator" in sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such path"
        assert not _ignored(source), f"COPY {source}: excluded by .dockerignore"


@pytest.mark.parametrize("path", [".venv", ".git", "tests", "operator/opsgate.egg-info", ".env", "kubeconfig"])
def test_the_build_context_leaves_out_local_state(path: str) -> None:
    assert _ignored(path)


SECRET = re.compile(r"(password|passwd|secret|token|api[_-]?key|private[_-]?key)\s*=\s*\S", re.I)


def test_no_instruction_carries_a_secret() -> None:
    for instruction in ALL:
        if instruction.keyword in ("ENV", "ARG", "LABEL"):
            assert not SECRET.search(instruction.arguments), f"{instruction.keyword} {instruction.arguments}"
    assert "BEGIN" not in DOCKERFILE.read_text()  # no inline PEM key
    copied = " ".join(i.arguments for i in ALL if i.keyword in ("COPY", "ADD"))
    assert not re.search(r"\.env\b|kubeconfig|\.pem\b|id_rsa|\.ssh", copied)


def test_the_playbooks_use_only_builtin_modules_so_the_image_needs_no_collection() -> None:
    modules = set()
    for playbook in (ROOT / "playbooks").rglob("*.yml"):
        for document in yaml.safe_load_all(playbook.read_text()):
            for play in document if isinstance(document, list) else []:
                for task in [*(play.get("tasks") or []), *(play.get("pre_tasks") or []), *(play.get("handlers") or [])]:
                    modules |= {key for key in task if key.count(".") == 2}
    assert modules, "no tasks found under playbooks/"
    assert {m for m in modules if not m.startswith("ansible.builtin.")} == set()
