"""The OpenVINO backend against the float32 transformers reference, on tiny synthetic models."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from local_rerank import BackendOptions, Reranker
from local_rerank.backends import detect_format
from local_rerank.convert.parity import count_inversions
from local_rerank.errors import BackendUnavailableError, ModelError
from tests.backends.cases import CUSTOM_INSTRUCTION, DOCUMENTS, MAX_LENGTH, QUERY, assert_batch_invariant
from tests.tolerances import OPENVINO_TOLERANCE

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("openvino")]


@pytest.mark.parametrize("instruction", [None, CUSTOM_INSTRUCTION])
@pytest.mark.parametrize("quant", sorted(OPENVINO_TOLERANCE))
@pytest.mark.parametrize("head", ["tied", "untied"])
def test_scores_match_the_reference(openvino_exports, references, head: str, quant: str, instruction) -> None:
    expected = references[head].score(QUERY, DOCUMENTS, instruction)
    with Reranker.load(openvino_exports[head, quant], max_length=MAX_LENGTH) as reranker:
        assert reranker.backend.name == "openvino" and reranker.backend.device == "cpu"
        actual = reranker.score(QUERY, DOCUMENTS, instruction)
    np.testing.assert_allclose(actual, expected, atol=OPENVINO_TOLERANCE[quant], rtol=0)
    assert count_inversions(expected, actual, margin=2 * OPENVINO_TOLERANCE[quant]) == 0


@pytest.mark.parametrize("quant", sorted(OPENVINO_TOLERANCE))
def test_a_documents_score_does_not_depend_on_its_padded_batch(openvino_exports, quant: str) -> None:
    with Reranker.load(openvino_exports["tied", quant], max_length=MAX_LENGTH) as reranker:
        assert_batch_invariant(reranker, atol=1e-5)


def test_int8_weights_are_stored_in_eight_bits_and_the_head_in_float32(openvino_exports, openvino) -> None:
    model = openvino.Core().read_model(str(openvino_exports["tied", "int8"] / "model.xml"))
    constants = [op for op in model.get_ordered_ops() if op.get_type_name() == "Constant"]
    matrices = [c for c in constants if np.prod(c.get_output_shape(0)) >= 4096 and c.get_output_shape(0)[-1] > 1]
    assert matrices and all(c.get_output_element_type(0).get_type_name() == "u8" for c in matrices)  # not the scales
    fp32 = openvino_exports["tied", "fp32"]
    assert (openvino_exports["tied", "int8"] / "model.bin").stat().st_size < 0.4 * (fp32 / "model.bin").stat().st_size
    head = [op for op in model.get_ordered_ops() if op.get_type_name() == "MatMul"
            and op.input_value(1).get_node().get_type_name() == "Constant"]  # the others read decompressed weights
    assert len(head) == 1 and head[0].input_value(1).get_shape()[1] == 1
    assert head[0].input_value(1).get_element_type().get_type_name() == "f32"


def test_format_is_detected_from_the_folder_or_its_model_file(openvino_exports) -> None:
    folder = openvino_exports["tied", "int8"]
    assert detect_format(folder) == detect_format(folder / "model.xml") == "openvino"


def test_ranking_needs_no_torch_and_opens_no_socket(openvino_exports) -> None:
    code = (
        "import sys; sys.modules.update(torch=None, transformers=None, optimum=None, onnxruntime=None)\n"
        "events = []\n"
        "sys.addaudithook(lambda event, args: events.append(event) if event.startswith('socket.') else None)\n"
        "from local_rerank import Reranker\n"
        f"print(Reranker.load({str(openvino_exports['tied', 'int8'])!r}).score('q', ['a', 'b']))\n"
        "print('SOCKET EVENTS', sorted(set(events)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    scores, sockets = result.stdout.strip().splitlines()
    assert len(eval(scores)) == 2
    assert sockets == "SOCKET EVENTS []"


def test_a_folder_that_is_not_an_export_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelError, match="not an OpenVINO export"):
        Reranker.load(tmp_path, backend="openvino")


def _copy(folder: Path, target: Path) -> Path:
    return Path(shutil.copytree(folder, target))


@pytest.mark.parametrize("broken_file", ["model.xml", "model.bin"])
def test_a_corrupt_graph_is_refused(openvino_exports, tmp_path: Path, broken_file: str) -> None:
    broken = _copy(openvino_exports["tied", "int8"], tmp_path / "broken")
    (broken / broken_file).write_bytes(b"<?xml garbage" * 10)
    with pytest.raises(ModelError, match="cannot load") as refused:
        Reranker.load(broken)
    assert "Exception from" not in str(refused.value)  # the reason, not OpenVINO's source locations


def test_a_different_tokenizer_is_refused(openvino_exports, tmp_path: Path) -> None:
    swapped = _copy(openvino_exports["tied", "int8"], tmp_path / "swapped")
    tokenizer = swapped / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text().replace('"yes"', '"yes!"', 1))
    with pytest.raises(ModelError, match="not the one this model was exported with"):
        Reranker.load(swapped)


def test_cuda_is_refused_with_a_reason(openvino_exports) -> None:
    with pytest.raises(BackendUnavailableError, match="CPU only"):
        Reranker.load(openvino_exports["tied", "int8"], options=BackendOptions(device="cuda"))


def test_the_profilers_counters_see_every_matrix_product_and_change_no_score(openvino_exports) -> None:
    """tools/profile_ops.py: our backend compiled with the plugin's performance counters."""
    from tools.profile_ops import CountedOpenVino

    path = openvino_exports["untied", "int8"]
    with Reranker.load(path, max_length=MAX_LENGTH) as plain:
        expected = plain.score(QUERY, DOCUMENTS)
    backend = CountedOpenVino(path, BackendOptions(threads=1, max_batch_tokens=64), max_length=MAX_LENGTH)
    with Reranker(backend, MAX_LENGTH) as counted:
        backend.times.counting = True
        np.testing.assert_array_equal(counted.score(QUERY, DOCUMENTS), expected)
    products = [runs for (op_type, _kernel), (_seconds, runs) in backend.times.totals.items()
                if op_type.startswith("FullyConnected")]
    assert backend.times.inferences > 1  # small batches: the counters are summed over each inference
    assert sum(products) == backend.times.inferences * (2 * 7 + 1)  # 2 layers x (q, k, v, o, gate, up, down) + score
    assert sum(seconds for seconds, _runs in backend.times.totals.values()) > 0
