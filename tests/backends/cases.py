"""Query and documents every backend is checked on (Chinese, code, emoji, CRLF, near-empty, over-length)."""

MAX_LENGTH = 512
QUERY = "how do I copy a folder with all its files?"
DOCUMENTS = [
    "Use cp -r source/ destination/ to copy a directory recursively.",
    "如何复制文件夹：使用 cp -r 命令可以递归复制目录。",
    "```python\nimport shutil\nshutil.copytree('src', 'dst')\n```",
    "Folders 📁 and files 📄 copied in one go 🚀",
    ".",
    "Bananas are rich in potassium.\r\nThey grow in tropical climates.",
    "Recursive copies preserve the tree. " * 150,  # over the 512-token budget: truncated
]
CUSTOM_INSTRUCTION = "Given a shell question, retrieve commands that solve it"


def assert_batch_invariant(reranker, atol: float) -> None:  # noqa: ANN001
    """Each document scores the same alone, together with the others, and in reverse order."""
    import numpy as np

    together = reranker.score(QUERY, DOCUMENTS)
    alone = [reranker.score(QUERY, [document])[0] for document in DOCUMENTS]
    reversed_order = reranker.score(QUERY, DOCUMENTS[::-1])[::-1]
    np.testing.assert_allclose(together, alone, atol=atol, rtol=0)
    np.testing.assert_allclose(together, reversed_order, atol=atol, rtol=0)
