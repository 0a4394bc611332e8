"""Skip-connection spaces over a stack of transformer encoder layers, for text classification
(GT-NAS, ICLR 2021 submission, §7.1; KNAS, ICML 2021, arXiv 2111.13293, §8.2 and Figure 5).

Both papers fix the depth and split the stack into consecutive *cells* of `length` layers, 2 to
11, wired by one of three connection patterns: 10 architectures per pattern, one per length
(KNAS merges the three into one space of 30, here `text`). Where several outputs feed a layer,
the layer reads their average ("average fusion"). The extracted text leaves details open; this
module reads it as follows.

- Outputs are numbered: 0 is the embedding, j the output of layer j (layers 1..N, N = 12 as in
  the papers). Cells are layers 1..L, L+1..2L, ...; when L does not divide N, the last cell holds
  the N mod L remaining layers and is wired by the same rule.
- Every layer reads the previous layer's output (cells are chained, and so are the layers inside
  a cell), except:
- highway: a cell's last layer reads the average of the cell's first layer's output and the
  previous layer's output (Fig. 5: "only taking the first layer output and the last layer output").
- lookahead: a cell's last layer reads the average of the outputs of all the cell's earlier
  layers (Fig. 5: "all inner outputs", so not the cell's input).
- densenet: a cell's first layer reads the average of the embedding and the outputs of all
  previous cells (DenseNet's concatenation replaced by the average, GT-NAS §7.1).
- An output is averaged in once even when a rule names it twice, so at L = 2 highway and
  lookahead are the plain chain and at L = 3 they coincide; like the papers' counts, the spaces
  still list them as distinct architectures.

Network: token plus learned position embeddings, N post-LN encoder layers (multi-head self-
attention with nn.Linear q/k/v/out projections, so every attention weight is a scored Linear, and
a ReLU feed-forward), mean over positions, linear head. No dropout: proxies probe one fixed
initialization. Linear weights are Xavier-uniform and biases zero (KNAS §8: text classification
"adopts Xavier initialization"); embeddings keep torch's N(0, 1). The papers fine-tuned
RoBERTa-large; the defaults here are small (d_model 64, 2 heads, feed-forward 128) and are
arguments of `build`.

An architecture is written `pattern:length`, e.g. `highway:6`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
import torch.nn as nn

from gradnas.errors import GradnasError, unknown_choice
from gradnas.spaces.base import arch_of
from gradnas.validate import check_rng, positive_int

PATTERNS: tuple[str, ...] = ("highway", "lookahead", "densenet")
LENGTHS: tuple[int, ...] = tuple(range(2, 12))
NUM_LAYERS = 12  # "the same layer number for all architectures" (papers 000 §7.1, 001 §8.2)


@dataclass(frozen=True, order=True)
class TextArch:
    """A connection pattern (one of PATTERNS) and the cell length (one of LENGTHS)."""

    pattern: str
    length: int

    def __post_init__(self) -> None:
        if self.pattern not in PATTERNS:
            raise unknown_choice("text connection pattern", self.pattern, PATTERNS)
        length = self.length
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length not in LENGTHS:
            raise GradnasError(
                f"text cell length must be an int in {LENGTHS[0]}..{LENGTHS[-1]}, got {self.length!r}"
            )
        object.__setattr__(self, "length", int(self.length))

    @classmethod
    def from_string(cls, text: str) -> TextArch:
        """Parse the canonical `pattern:length` exactly (no spaces, no leading zeros)."""
        if not isinstance(text, str):
            raise GradnasError(f"text arch string must be a str, got {type(text).__name__}")
        pattern, sep, length = text.partition(":")
        if not sep or not re.fullmatch("[0-9]+", length):
            raise GradnasError(f"text arch string reads 'pattern:length', e.g. 'highway:6'; got {text!r}")
        arch = cls(pattern, int(length))
        if str(arch) != text:
            raise GradnasError(f"not a canonical text arch string: {text!r} (did you mean {str(arch)!r}?)")
        return arch

    def __str__(self) -> str:
        return f"{self.pattern}:{self.length}"


def cells(length: int, num_layers: int) -> list[range]:
    """The layers (1-based) of each cell: consecutive runs of `length`, the last one shorter when
    `length` does not divide `num_layers`."""
    return [range(a, min(a + length, num_layers + 1)) for a in range(1, num_layers + 1, length)]


def connections(arch: TextArch, num_layers: int = NUM_LAYERS) -> tuple[tuple[int, ...], ...]:
    """For layer j = 1..num_layers (entry j − 1), the outputs averaged into its input, sorted:
    0 is the embedding, i ≥ 1 the output of layer i (module docstring)."""
    sources: list[tuple[int, ...]] = []
    cell_outputs = [0]
    for cell in cells(arch.length, num_layers):
        first, last = cell[0], cell[-1]
        for layer in cell:
            if layer == first:
                feeds = cell_outputs if arch.pattern == "densenet" else [layer - 1]
            elif layer == last and arch.pattern == "highway":
                feeds = [first, layer - 1]
            elif layer == last and arch.pattern == "lookahead":
                feeds = list(range(first, layer))
            else:
                feeds = [layer - 1]
            sources.append(tuple(sorted(set(feeds))))
        cell_outputs.append(last)
    return tuple(sources)


# ---------------------------------------------------------------- network


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention over (batch, positions, d_model)."""

    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, positions, d_model = x.shape
        width = d_model // self.heads

        def split(t: torch.Tensor) -> torch.Tensor:  # (n, heads, positions, width)
            return t.reshape(n, positions, self.heads, width).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(width), dim=-1)
        return self.out((weights @ v).transpose(1, 2).reshape(n, positions, d_model))


class EncoderLayer(nn.Module):
    """Post-LN transformer encoder layer (as in BERT/RoBERTa), without dropout."""

    def __init__(self, d_model: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.attention = SelfAttention(d_model, heads)
        self.attention_norm = nn.LayerNorm(d_model)
        self.feedforward = nn.Sequential(nn.Linear(d_model, ffn), nn.ReLU(), nn.Linear(ffn, d_model))
        self.feedforward_norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attention_norm(x + self.attention(x))
        return self.feedforward_norm(x + self.feedforward(x))


class TextNetwork(nn.Module):
    """Embeddings, encoder layers wired by `connections(arch)`, mean pooling, linear head;
    maps int64 token ids (batch, seq_len) to logits (batch, num_classes)."""

    def __init__(
        self,
        arch: TextArch,
        num_classes: int,
        vocab_size: int,
        seq_len: int,
        d_model: int,
        heads: int,
        ffn: int,
        num_layers: int,
    ) -> None:
        super().__init__()
        self.arch = arch
        self.sources = connections(arch, num_layers)
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.position = nn.Embedding(seq_len, d_model)
        self.layers = nn.ModuleList(EncoderLayer(d_model, heads, ffn) for _ in range(num_layers))
        self.classifier = nn.Linear(d_model, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """The last layer's output, (batch, seq_len, d_model)."""
        # one row of positions per sample, so per-sample gradient engines see them per sample
        positions = torch.arange(tokens.shape[1], device=tokens.device).expand_as(tokens)
        outputs = [self.embedding(tokens) + self.position(positions)]
        for layer, feeds in zip(self.layers, self.sources):
            fused = outputs[feeds[0]] if len(feeds) == 1 else torch.stack([outputs[i] for i in feeds]).mean(0)
            outputs.append(layer(fused))
        return outputs[-1]

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.encode(tokens).mean(1))


# ---------------------------------------------------------------- the spaces


class TextSpace:
    """The archs of the given patterns, pattern-major then by length; two decisions (pattern,
    length), the first with a single choice in a one-pattern space."""

    inputs = "tokens"  # builds networks of token ids, for token probe batches

    def __init__(self, *patterns: str) -> None:
        patterns = patterns or PATTERNS
        for p in patterns:
            if p not in PATTERNS:
                raise unknown_choice("text connection pattern", p, PATTERNS)
        if len(set(patterns)) != len(patterns):
            raise GradnasError(f"text patterns must not repeat, got {patterns}")
        self.patterns = tuple(patterns)
        self.name = "text" if self.patterns == PATTERNS else "text_" + "_".join(self.patterns)
        self.decisions = (len(self.patterns), len(LENGTHS))
        self.size = len(self.patterns) * len(LENGTHS)

    def check(self, arch: TextArch | str) -> TextArch:
        """`arch` (or the arch its string spells), if it is in this space; GradnasError otherwise."""
        arch = arch_of(arch, TextArch, self.name)
        if arch.pattern not in self.patterns:
            raise GradnasError(f"{self.name} holds {', '.join(self.patterns)} archs, not {str(arch)!r}")
        return arch

    def encode(self, arch: TextArch | str) -> tuple[int, int]:
        arch = self.check(arch)
        return self.patterns.index(arch.pattern), LENGTHS.index(arch.length)

    def decode(self, choices: Sequence[int]) -> TextArch:
        pattern, length = (int(c) for c in choices)
        return TextArch(self.patterns[pattern], LENGTHS[length])

    def parse(self, text: str) -> TextArch:
        return self.check(TextArch.from_string(text))

    def format(self, arch: TextArch | str) -> str:
        return str(self.check(arch))

    def archs(self) -> Iterator[TextArch]:
        return (TextArch(p, n) for p in self.patterns for n in LENGTHS)

    def sample(self, rng: np.random.Generator) -> TextArch:
        rng = check_rng(rng)
        return self.decode([int(rng.integers(k)) for k in self.decisions])

    def sample_many(self, n: int, rng: np.random.Generator, unique: bool = True) -> list[TextArch]:
        """`n` uniform draws; without replacement when `unique` (so n <= size)."""
        n, rng = positive_int(n, "number of samples", 0), check_rng(rng)
        if unique and n > self.size:
            raise GradnasError(f"cannot draw {n} unique {self.name} archs; there are {self.size}")
        every = list(self.archs())
        return [every[int(i)] for i in rng.choice(self.size, size=n, replace=not unique)]

    def mutate(self, arch: TextArch | str, rng: np.random.Generator) -> TextArch:
        """A uniform decision among those with a choice left, then a uniform other value for it."""
        choices, rng = list(self.encode(arch)), check_rng(rng)
        free = [d for d, k in enumerate(self.decisions) if k > 1]
        d = free[int(rng.integers(len(free)))]
        choices[d] = (choices[d] + 1 + int(rng.integers(self.decisions[d] - 1))) % self.decisions[d]
        return self.decode(choices)

    def neighbours(self, arch: TextArch | str) -> list[TextArch]:
        """Every arch differing from `arch` in exactly one decision (decision-major, value order)."""
        choices = self.encode(arch)
        out = []
        for d, k in enumerate(self.decisions):
            for value in range(k):
                if value != choices[d]:
                    out.append(self.decode(choices[:d] + (value,) + choices[d + 1 :]))
        return out

    def build(
        self,
        arch: TextArch | str,
        num_classes: int = 2,
        input_shape: Sequence[int] = (32,),
        *,
        vocab_size: int | None = None,
        d_model: int = 64,
        heads: int = 2,
        ffn: int = 128,
        num_layers: int = NUM_LAYERS,
    ) -> TextNetwork:
        """A freshly initialised `TextNetwork`; `input_shape` is (seq_len,) and `vocab_size` the
        number of token ids, both as a token probe batch gives them."""
        arch = self.check(arch)
        if not isinstance(input_shape, Sequence) or len(input_shape) != 1:
            raise GradnasError(
                f"{self.name} networks read token ids: input_shape must be (seq_len,), got "
                f"{input_shape!r}; draw the probe batch from a token dataset such as synthetic-text"
            )
        if vocab_size is None:
            raise GradnasError(f"{self.name} networks need vocab_size (a token probe batch has it)")
        d_model, heads = positive_int(d_model, "d_model"), positive_int(heads, "heads")
        if d_model % heads:
            raise GradnasError(f"d_model {d_model} is not divisible by {heads} heads")
        num_layers = positive_int(num_layers, "num_layers")
        if arch.length > num_layers:
            raise GradnasError(f"cell length {arch.length} exceeds the {num_layers} layers of the network")
        return TextNetwork(
            arch,
            positive_int(num_classes, "num_classes", 2),
            positive_int(vocab_size, "vocab_size"),
            positive_int(input_shape[0], "sequence length"),
            d_model,
            heads,
            positive_int(ffn, "ffn"),
            num_layers,
        )


text_highway = partial(TextSpace, "highway")
text_lookahead = partial(TextSpace, "lookahead")
text_densenet = partial(TextSpace, "densenet")
