"""embeddings: spaCy word vectors with whole-table nearest-word search and cosine similarity.

{"word"} -> vector; {"word", "top_k"} -> neighbours; {"words": [...]} -> several; {"a", "b"} -> similarity
(genai_serve/text/embedding_queries.py has the forms and the out-of-vocabulary answer). The pipeline
directory is loaded once per worker with spacy.load; all neighbour searches of a batch run as one query.
"""
import json

from genai_serve.text.embedding_queries import answer, parse_query
from genai_serve.text.vectors import WordVectors
from handlers.base import BaseHandler


class EmbeddingsHandler(BaseHandler):
    def load(self):
        info = json.loads((self.model_dir / "embeddings.json").read_text())
        self.vectors = WordVectors.load(self.model_dir / info["pipeline"])

    def parse(self, decoded, params):
        return parse_query(params)

    def infer(self, items):
        return answer(self.vectors, items)
