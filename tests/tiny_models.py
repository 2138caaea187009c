"""Tiny random Hugging Face models with locally trained tokenizers: no hub, built in seconds."""
from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

TEXT = [
    "the cat sat on the mat", "dogs were running quickly through gardens", "she considered the biggest offer",
    "in 1990 people travelled to paris and berlin", "unbelievable results were reported yesterday",
    "walking talking singing dancing", "a b c d e f g h i j k l m n o p q r s t u v w x y z",
]


def _wordpiece():
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(TEXT, trainers.WordPieceTrainer(vocab_size=120, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    tok.decoder = decoders.WordPiece()
    return tok


def _bytelevel(specials):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(TEXT, trainers.BpeTrainer(vocab_size=300, special_tokens=specials,
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok


def _unigram():
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(TEXT, trainers.UnigramTrainer(vocab_size=150, unk_token="<unk>",
                                                          special_tokens=["<pad>", "<unk>", "<s>", "</s>", "<sep>", "<cls>", "<mask>"]))
    tok.post_processor = processors.TemplateProcessing(
        single="$A <sep> <cls>", pair="$A <sep> $B <sep> <cls>",
        special_tokens=[("<sep>", tok.token_to_id("<sep>")), ("<cls>", tok.token_to_id("<cls>"))])
    return tok


def build(kind: str, folder: Path, n_layers: int = 2, hidden: int = 16) -> Path:
    """Save a tiny random ``kind`` model (bert | roberta | gpt2 | xlnet) and its tokenizer under ``folder``."""
    import transformers as tf

    folder = Path(folder) / kind
    common = dict(vocab_size=400, num_hidden_layers=n_layers, num_attention_heads=2)
    if kind == "bert":
        tok = tf.BertTokenizerFast(tokenizer_object=_wordpiece(), unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
        config = tf.BertConfig(hidden_size=hidden, intermediate_size=2 * hidden, max_position_embeddings=64, **common)
        model = tf.BertModel(config)
    elif kind == "roberta":
        tok = tf.RobertaTokenizerFast(tokenizer_object=_bytelevel(["<s>", "<pad>", "</s>", "<unk>", "<mask>"]),
                                      bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>",
                                      cls_token="<s>", sep_token="</s>", mask_token="<mask>")
        config = tf.RobertaConfig(hidden_size=hidden, intermediate_size=2 * hidden, max_position_embeddings=66,
                                  pad_token_id=tok.pad_token_id, **common)
        model = tf.RobertaModel(config)
    elif kind == "gpt2":
        tok = tf.GPT2TokenizerFast(tokenizer_object=_bytelevel(["<|endoftext|>"]), bos_token="<|endoftext|>",
                                   eos_token="<|endoftext|>", unk_token="<|endoftext|>")
        config = tf.GPT2Config(vocab_size=400, n_layer=n_layers, n_head=2, n_embd=hidden, n_positions=64)
        model = tf.GPT2Model(config)
    elif kind == "xlnet":
        tok = tf.XLNetTokenizerFast(tokenizer_object=_unigram(), pad_token="<pad>", unk_token="<unk>", bos_token="<s>",
                                    eos_token="</s>", sep_token="<sep>", cls_token="<cls>", mask_token="<mask>",
                                    padding_side="left")
        config = tf.XLNetConfig(vocab_size=400, d_model=hidden, n_layer=n_layers, n_head=2, d_inner=2 * hidden)
        model = tf.XLNetModel(config)
    else:
        raise ValueError(kind)
    tok.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder
