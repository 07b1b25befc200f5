"""Request and response bodies of the three rerank APIs, as their own clients send and parse them.

- ``POST /v1/rerank``: Jina and llama-server (documents as strings or ``{"text": ...}``);
- ``POST /v2/rerank``: Cohere v2;
- ``POST /rerank``: Hugging Face text-embeddings-inference (TEI).

Every request also takes ``instruction`` (our extension; vLLM spells it the same). Types are
strict (``"3"`` is not a number, ``1`` is not a boolean); fields a client adds that an API does
not know (``model`` sent to TEI, say) are ignored, as those servers ignore them.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from local_rerank.text import has_surrogates


def _text(value: str) -> str:
    if has_surrogates(value):
        raise ValueError("is not valid text (it holds a lone surrogate escape such as \\ud800)")
    return value


def _unwrap(value: object) -> object:
    """A Jina document object ``{"text": ...}`` as its text; anything else as it is."""
    if isinstance(value, dict):
        if not isinstance(value.get("text"), str):
            raise ValueError('must be a string or an object with a "text" string')
        return value["text"]
    return value


# A character that is not white space, in Python's sense and in JSON Schema's (ECMAScript's): the
# published schema says exactly what the server accepts, for generated clients and fuzzers alike.
_VISIBLE = re.compile(r"[^\s\x1c-\x1f\x85\ufeff]")


def _words(value: str) -> str:
    if not _VISIBLE.search(value):
        raise ValueError("is empty")
    return _text(value)


Text = Annotated[str, AfterValidator(_text)]
Words = Annotated[str, AfterValidator(_words), WithJsonSchema({"type": "string", "pattern": _VISIBLE.pattern})]
Document = Annotated[Text, BeforeValidator(_unwrap), WithJsonSchema({"anyOf": [
    {"type": "string"}, {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}]})]
Instruction = Annotated[Words | None, Field(description="Task instruction (our extension; default: web search "
                                                        "passage retrieval).")]
TopN = Annotated[int | None, Field(ge=1, description="Return only the best N results (default: all).")]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class V1RerankRequest(_Body):
    """Jina / llama-server ``/v1/rerank``."""

    model: str | None = Field(None, description="Accepted and ignored: the server has one model.")
    query: Words
    documents: list[Document] = Field(min_length=1, description='Strings, or objects {"text": ...} as Jina allows.')
    top_n: TopN = None
    return_documents: bool = False
    instruction: Instruction = None


class V2RerankRequest(_Body):
    """Cohere v2 ``/v2/rerank``."""

    model: str | None = Field(None, description="Accepted and ignored: the server has one model.")
    query: Words
    documents: list[Text] = Field(min_length=1)
    top_n: TopN = None
    max_tokens_per_doc: int | None = Field(None, ge=1, description="Cut each document to this many tokens.")
    instruction: Instruction = None


class TeiRerankRequest(_Body):
    """text-embeddings-inference ``/rerank``. Without ``truncate``, a document over the token budget answers 413."""

    query: Words
    texts: list[Text] = Field(min_length=1)
    raw_scores: bool = Field(False, description="Scores as logits, log(p / (1 - p)), instead of p(yes).")
    return_text: bool = False
    truncate: bool = False
    truncation_direction: Literal["Right", "right"] = Field("Right", description="Documents are cut at their end.")
    instruction: Instruction = None


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class TextDocument(BaseModel):
    text: str


class V1Result(BaseModel):
    index: int
    relevance_score: float
    document: TextDocument | None = None


class V1RerankResponse(BaseModel):
    model: str
    usage: Usage
    results: list[V1Result]


class V2Result(BaseModel):
    index: int
    relevance_score: float


class ApiVersion(BaseModel):
    version: str = "2"


class Tokens(BaseModel):
    input_tokens: int
    output_tokens: int = 0


class V2Meta(BaseModel):
    api_version: ApiVersion = ApiVersion()
    tokens: Tokens


class V2RerankResponse(BaseModel):
    id: str
    results: list[V2Result]
    meta: V2Meta


class TeiResult(BaseModel):
    index: int
    score: float
    text: str | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    owned_by: str = "local-rerank"
    backend: str
    device: str
    max_length: int


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    pending: int


class ErrorBody(BaseModel):
    """Every error: a one-line message, its kind, and the request field at fault when there is one."""

    error: str
    error_type: str
    field: str | None = None
