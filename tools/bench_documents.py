"""The benchmarks' query and documents: sentences about copying folders and a few off-topic ones,
drawn to a token length with the real Qwen3 tokenizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from local_rerank.tokenizer import Tokenizer

QUERY = "how do I copy a folder with all its files to another disk?"
SENTENCES = (
    "Use cp -r to copy a directory and everything inside it.",
    "rsync -a keeps permissions, timestamps and symbolic links while copying.",
    "The robocopy command on Windows copies folder trees and can mirror them.",
    "Bananas grow in clusters and are rich in potassium.",
    "The museum opens at nine and closes at five on weekdays.",
    "shutil.copytree copies an entire directory tree in Python.",
    "A backup should be verified by restoring a few files from it.",
    "External disks formatted as exFAT work on Windows, macOS and Linux.",
    "Large copies are faster when many small files are archived first with tar.",
    "The recipe calls for two cups of flour and a pinch of salt.",
)


def make_documents(tokenizer_json: Path, count: int, tokens: int, seed: int = 0) -> list[str]:
    """``count`` documents of about ``tokens`` tokens, drawn from a fixed pool of sentences."""
    tokenizer = Tokenizer.from_file(tokenizer_json)
    rng = np.random.default_rng(seed)
    documents = []
    for _ in range(count):
        sentences: list[str] = []
        while len(tokenizer.encode_plain([" ".join(sentences)])[0]) < tokens:
            sentences.append(SENTENCES[rng.integers(len(SENTENCES))])
        documents.append(" ".join(sentences))
    return documents
