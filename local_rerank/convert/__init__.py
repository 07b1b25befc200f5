"""Export Hugging Face Qwen3-Reranker checkpoints to the formats local-rerank runs.

Nothing here is imported when ranking; ``local-rerank convert`` loads it on demand.
"""
