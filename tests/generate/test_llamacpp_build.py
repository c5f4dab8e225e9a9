"""The local model's build: no kernels known to crash, a guard when they are there, and a real
answer from a separate process (so a crash fails a test instead of ending the test run)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.llm import LLAMACPP_CMAKE_ARGS, LlamaCppChat, UnsafeBuild, unsafe_build_reason
from assistant.service import Service
from ingest.embedding import Embedder
from tests.conftest import make_settings
from tests.generate.conftest import LOCAL_LLM, assert_cited
from tests.helpers import clean_env

# what llama_print_system_info() printed for a native build on a Xeon with AMX (which crashes),
# and for the portable build the install step makes
NATIVE_AMX = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
    "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | "
    "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 |"
)
PORTABLE = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | OPENMP = 1 |"

QUESTION = "Who leads the White House Gender Policy Council?"
# one the 135M model answers in words the verifier accepts (most of its answers fall back)
GENERATED = (
    "Which Senate committees are the 'appropriate congressional committees' in the WPS statute?"
)
SMOKE = """
import json, sys
from pathlib import Path
from assistant.service import Service
from assistant.settings import Settings
settings = Settings(_env_file=None, data_dir=Path(sys.argv[1]), llm_backend="llamacpp",
                    llm_max_tokens=200, llm_context_tokens=2048)
service = Service(settings)
assert service.generator is not None
generation = service.generator.generate(sys.argv[2])
v = generation.verification
print(json.dumps({"answer": generation.answer.as_dict(), "fallback": generation.fallback,
                  "warning": generation.warning, "ratio": v.ratio if v else None,
                  "raw": generation.raw}))
"""


def test_the_crash_condition_is_recognised_from_the_build_info() -> None:
    reason = unsafe_build_reason(NATIVE_AMX)
    assert reason is not None and LLAMACPP_CMAKE_ARGS in reason and "\n" not in reason
    assert unsafe_build_reason(PORTABLE) is None
    assert unsafe_build_reason("AMX_INT8 = 0 | AVX2 = 1") is None


@pytest.mark.slow
def test_the_installed_build_has_no_amx_kernels() -> None:
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode()
    assert "AVX2 = 1" in info, info
    assert unsafe_build_reason(info) is None, info


@pytest.mark.slow
def test_a_build_known_to_crash_is_refused_and_the_extractive_answer_given(
    sample_data_dir: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llama_cpp

    def never_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("a build known to crash must not be loaded")

    monkeypatch.setattr(llama_cpp, "llama_print_system_info", lambda: NATIVE_AMX.encode())
    monkeypatch.setattr(llama_cpp, "Llama", never_load)
    service = Service(make_settings(sample_data_dir, **LOCAL_LLM), embedder=embedder)
    assert service.generator is not None and isinstance(service.generator.llm.model, LlamaCppChat)
    generation = service.generator.generate(QUESTION)
    assert generation.fallback and "--no-cache-dir" in generation.warning
    extractive = Service(make_settings(sample_data_dir), embedder=embedder).ask(QUESTION)
    assert generation.answer.answer == extractive.answer and not extractive.refused
    with pytest.raises(UnsafeBuild):
        service.generator.llm.complete([])


@pytest.mark.slow
def test_the_real_model_answers_in_a_separate_process(sample_copy: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SMOKE, str(sample_copy), GENERATED],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode < 0:
        name = signal.Signals(-result.returncode).name
        pytest.fail(f"the local model crashed the process with {name}: {result.stderr[-2000:]}")
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert not data["warning"] and data["raw"].strip(), data  # the model itself wrote
    assert not data["fallback"] and data["ratio"] >= 0.5, data  # and the verifier kept it
    from assistant.answer import Answer, Citation

    body = data["answer"]
    answer = Answer(body["answer"], False, [Citation(**c) for c in body["citations"]])
    assert_cited(answer)
    assert not body["refused"] and "[1]" in body["answer"]
