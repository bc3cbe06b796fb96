#!/usr/bin/env python3
"""Tiny random Hugging Face checkpoints + independent NumPy reference outputs for falign's parity tests.

Writes packages/core/test/fixtures/hf/<name>/ for each architecture falign loads:
  config.json, model.safetensors (or shards + model.safetensors.index.json), tokenizer.json,
  tokenizer_config.json, generation_config.json      -- exact Hugging Face layout and names
  reference.json                                      -- ids, greedy continuations, per-token log-probs
  reference.safetensors                               -- float32 logits of the reference forward pass

The forward passes below are written from the Hugging Face modelling code's definitions
(LlamaModel / MistralModel / Qwen2Model / Qwen3Model / GPT2Model) in float64 NumPy; they share no
code with falign. Only NumPy is needed:  python3 packages/core/scripts/make-hf-fixtures.py

`--check DIR FIXTURE` verifies a checkpoint that falign saved in HF layout: same tensor names and
shapes as FIXTURE's, and this script's forward pass on it reproduces FIXTURE's reference logits.
"""
import json
import math
import os
import re
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'hf')

# ----------------------------------------------------------------------------- safetensors I/O

def bf16_bits(a):
    """float32 -> bfloat16 bit patterns, round to nearest even (as torch's .to(torch.bfloat16))."""
    b = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    b = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    return b.astype(np.uint16)


def encode(a, dtype):
    if dtype == 'F32':
        return np.ascontiguousarray(a, dtype='<f4').tobytes()
    if dtype == 'F16':
        return np.ascontiguousarray(a, dtype='<f2').tobytes()
    if dtype == 'BF16':
        return bf16_bits(a).astype('<u2').tobytes()
    raise ValueError(dtype)


def decode(buf, dtype, shape):
    if dtype == 'F32':
        a = np.frombuffer(buf, dtype='<f4')
    elif dtype == 'F16':
        a = np.frombuffer(buf, dtype='<f2')
    elif dtype == 'BF16':
        a = (np.frombuffer(buf, dtype='<u2').astype(np.uint32) << 16).view(np.float32)
    else:
        raise ValueError(dtype)
    return a.astype(np.float64).reshape(shape)


def write_safetensors(path, tensors, dtype):
    header, blobs, off = {'__metadata__': {'format': 'pt'}}, [], 0
    for name in sorted(tensors):
        data = encode(tensors[name], dtype)
        header[name] = {'dtype': dtype, 'shape': list(tensors[name].shape), 'data_offsets': [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    return off


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, e in header.items():
        if k == '__metadata__':
            continue
        b, end = e['data_offsets']
        out[k] = (e['dtype'], e['shape'], decode(data[b:end], e['dtype'], e['shape']))
    return out


def read_weights(d):
    idx = os.path.join(d, 'model.safetensors.index.json')
    if os.path.exists(idx):
        files = sorted(set(json.load(open(idx))['weight_map'].values()))
    else:
        files = ['model.safetensors']
    out = {}
    for f in files:
        out.update(read_safetensors(os.path.join(d, f)))
    return out

# ----------------------------------------------------------------------------- tokenizers

CORPUS = ('the cat sat on the mat . the dog ate the hat . hello world , hello there . '
          'once upon a time there was a little cat that sat in the sun . what is two plus two ?')


def bytes_to_unicode():
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return bs, [chr(c) for c in cs]


def learn_merges(words, n):
    """Plain BPE training: repeatedly merge the most frequent adjacent pair (ties: first seen)."""
    seqs = [list(w) for w in words]
    merges = []
    for _ in range(n):
        counts = {}
        for s in seqs:
            for a, b in zip(s, s[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        if not counts:
            break
        best = max(counts.items(), key=lambda kv: kv[1])[0]
        merges.append(best)
        for s in seqs:
            i = 0
            while i < len(s) - 1:
                if (s[i], s[i + 1]) == best:
                    s[i:i + 2] = [s[i] + s[i + 1]]
                i += 1
    return merges


def added(id_, content):
    return {'id': id_, 'content': content, 'single_word': False, 'lstrip': False, 'rstrip': False,
            'normalized': False, 'special': True}


CHATML = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
          "{{ '<|im_start|>system\\nYou are a tiny test model.<|im_end|>\\n' }}{% endif %}"
          "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")

ZEPHYR = ("{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + message['content'] + eos_token }}\n"
          "{% elif message['role'] == 'system' %}\n{{ '<|system|>\\n' + message['content'] + eos_token }}\n"
          "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n{% endif %}\n"
          "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}")


def bytelevel_tokenizer(chat):
    """GPT-2 style byte-level BPE (GPT-2 / Qwen2.5 / SmolLM2 layout) with ChatML specials."""
    _, chars = bytes_to_unicode()
    vocab = {c: i for i, c in enumerate(chars)}
    words = [('Ġ' if i else '') + w for i, w in enumerate(CORPUS.split(' '))]
    merges = learn_merges(words, 24)
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    specials = ['<|endoftext|>', '<|im_start|>', '<|im_end|>']
    toks = [added(len(vocab) + i, s) for i, s in enumerate(specials)]
    tok = {
        'version': '1.0', 'truncation': None, 'padding': None, 'added_tokens': toks,
        'normalizer': None,
        'pre_tokenizer': {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': True},
        'post_processor': {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': False, 'use_regex': True},
        'decoder': {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': True, 'use_regex': True},
        'model': {'type': 'BPE', 'dropout': None, 'unk_token': None, 'continuing_subword_prefix': '',
                  'end_of_word_suffix': '', 'fuse_unk': False, 'byte_fallback': False, 'ignore_merges': False,
                  'vocab': vocab, 'merges': [f'{a} {b}' for a, b in merges]},
    }
    cfg = {'add_prefix_space': False, 'bos_token': None, 'eos_token': '<|im_end|>' if chat else '<|endoftext|>',
           'pad_token': '<|endoftext|>', 'unk_token': None, 'clean_up_tokenization_spaces': False,
           'model_max_length': 128, 'tokenizer_class': 'GPT2Tokenizer',
           'added_tokens_decoder': {str(t['id']): {k: v for k, v in t.items() if k != 'id'} for t in toks}}
    if chat:
        cfg['chat_template'] = CHATML
    n = len(vocab) + len(specials)
    eos = [n - 1, n - 3] if chat else n - 3
    return tok, cfg, {'eos_token_id': eos, 'bos_token_id': n - 3}, n


def spm_tokenizer():
    """SentencePiece-style BPE with byte fallback (Llama 2 / TinyLlama layout) and a Zephyr template."""
    vocab = {'<unk>': 0, '<s>': 1, '</s>': 2}
    for b in range(256):
        vocab[f'<0x{b:02X}>'] = len(vocab)
    for c in '▁' + 'abcdefghijklmnopqrstuvwxyz':
        vocab[c] = len(vocab)
    words = ['▁' + w for w in CORPUS.split(' ') if re.fullmatch('[a-z]+', w)]
    merges = learn_merges(words, 24)
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    toks = [added(0, '<unk>'), added(1, '<s>'), added(2, '</s>')]
    tok = {
        'version': '1.0', 'truncation': None, 'padding': None, 'added_tokens': toks,
        'normalizer': {'type': 'Sequence', 'normalizers': [{'type': 'Prepend', 'prepend': '▁'},
                                                           {'type': 'Replace', 'pattern': {'String': ' '}, 'content': '▁'}]},
        'pre_tokenizer': None,
        'post_processor': {'type': 'TemplateProcessing',
                           'single': [{'SpecialToken': {'id': '<s>', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}}],
                           'pair': [{'SpecialToken': {'id': '<s>', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}},
                                    {'SpecialToken': {'id': '<s>', 'type_id': 1}}, {'Sequence': {'id': 'B', 'type_id': 1}}],
                           'special_tokens': {'<s>': {'id': '<s>', 'ids': [1], 'tokens': ['<s>']}}},
        'decoder': {'type': 'Sequence', 'decoders': [{'type': 'Replace', 'pattern': {'String': '▁'}, 'content': ' '},
                                                     {'type': 'ByteFallback'}, {'type': 'Fuse'},
                                                     {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0}]},
        'model': {'type': 'BPE', 'dropout': None, 'unk_token': '<unk>', 'continuing_subword_prefix': None,
                  'end_of_word_suffix': None, 'fuse_unk': True, 'byte_fallback': True,
                  'vocab': vocab, 'merges': [f'{a} {b}' for a, b in merges]},
    }
    cfg = {'bos_token': '<s>', 'eos_token': '</s>', 'pad_token': '</s>', 'unk_token': '<unk>', 'legacy': False,
           'clean_up_tokenization_spaces': False, 'model_max_length': 128, 'tokenizer_class': 'LlamaTokenizer',
           'chat_template': ZEPHYR,
           'added_tokens_decoder': {str(t['id']): {k: v for k, v in t.items() if k != 'id'} for t in toks}}
    return tok, cfg, {'bos_token_id': 1, 'eos_token_id': 2, 'pad_token_id': 0}, len(vocab)

# ----------------------------------------------------------------------------- reference forward passes

def rms(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def inv_freq(cfg, hd):
    """transformers' default / linear / llama3 rope init (float32 tensors as there)."""
    theta = np.float32(cfg.get('rope_theta', 10000.0))
    f = (np.float32(1.0) / (theta ** (np.arange(0, hd, 2, dtype=np.int64).astype(np.float32) / np.float32(hd)))).astype(np.float32)
    rs = cfg.get('rope_scaling')
    if not rs:
        return f.astype(np.float64)
    kind = rs.get('rope_type', rs.get('type'))
    if kind == 'linear':
        return (f / np.float32(rs['factor'])).astype(np.float64)
    assert kind == 'llama3'
    factor, lo, hi, old = rs['factor'], rs['low_freq_factor'], rs['high_freq_factor'], rs['original_max_position_embeddings']
    f = f.astype(np.float64)
    wavelen = 2 * math.pi / f
    out = np.where(wavelen > old / lo, f / factor, f)
    smooth = (old / wavelen - lo) / (hi - lo)
    smoothed = (1 - smooth) * out / factor + smooth * out
    medium = ~(wavelen < old / hi) & ~(wavelen > old / lo)
    return np.where(medium, smoothed, out)


def rope(x, pos, inv):
    """x [T, n, hd], HF rotate_half convention."""
    ang = np.outer(pos, inv)                      # [T, hd/2]
    emb = np.concatenate([ang, ang], -1)[:, None, :]
    half = x.shape[-1] // 2
    rot = np.concatenate([-x[..., half:], x[..., :half]], -1)
    return x * np.cos(emb) + rot * np.sin(emb)


def attention(q, k, v):
    """q [T, H, hd], k/v [T, Hkv, hd] (repeat_kv), causal."""
    T, H, hd = q.shape
    rep = H // k.shape[1]
    k = np.repeat(k, rep, axis=1)
    v = np.repeat(v, rep, axis=1)
    s = np.einsum('thd,shd->hts', q, k) / math.sqrt(hd)
    s = s + np.triu(np.full((T, T), -np.inf), 1)[None]
    return np.einsum('hts,shd->thd', softmax(s), v).reshape(T, H * hd)


def llama_forward(cfg, W, ids):
    D, H = cfg['hidden_size'], cfg['num_attention_heads']
    Hkv = cfg.get('num_key_value_heads', H)
    hd = cfg.get('head_dim') or D // H
    eps = cfg['rms_norm_eps']
    qk_norm = cfg['architectures'][0] == 'Qwen3ForCausalLM'
    inv = inv_freq(cfg, hd)
    T = len(ids)
    pos = np.arange(T, dtype=np.float64)
    x = W['model.embed_tokens.weight'][ids]
    for i in range(cfg['num_hidden_layers']):
        p = f'model.layers.{i}.'
        h = rms(x, W[p + 'input_layernorm.weight'], eps)
        lin = lambda n: h @ W[p + f'self_attn.{n}_proj.weight'].T + W.get(p + f'self_attn.{n}_proj.bias', 0)
        q, k, v = lin('q').reshape(T, H, hd), lin('k').reshape(T, Hkv, hd), lin('v').reshape(T, Hkv, hd)
        if qk_norm:
            q = rms(q, W[p + 'self_attn.q_norm.weight'], eps)
            k = rms(k, W[p + 'self_attn.k_norm.weight'], eps)
        a = attention(rope(q, pos, inv), rope(k, pos, inv), v)
        x = x + a @ W[p + 'self_attn.o_proj.weight'].T
        h = rms(x, W[p + 'post_attention_layernorm.weight'], eps)
        g = h @ W[p + 'mlp.gate_proj.weight'].T
        u = h @ W[p + 'mlp.up_proj.weight'].T
        x = x + (g / (1 + np.exp(-g)) * u) @ W[p + 'mlp.down_proj.weight'].T
    x = rms(x, W['model.norm.weight'], eps)
    head = W['model.embed_tokens.weight'] if cfg.get('tie_word_embeddings') else W['lm_head.weight']
    return x @ head.T


def gpt2_forward(cfg, W, ids):
    D, H, eps = cfg['n_embd'], cfg['n_head'], cfg['layer_norm_epsilon']
    hd = D // H
    pre = 'transformer.' if 'transformer.wte.weight' in W else ''
    T = len(ids)
    x = W[pre + 'wte.weight'][ids] + W[pre + 'wpe.weight'][:T]
    gelu = lambda z: 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z ** 3)))
    for i in range(cfg['n_layer']):
        p = f'{pre}h.{i}.'
        h = layer_norm(x, W[p + 'ln_1.weight'], W[p + 'ln_1.bias'], eps)
        qkv = h @ W[p + 'attn.c_attn.weight'] + W[p + 'attn.c_attn.bias']   # Conv1D: [in, out]
        q, k, v = np.split(qkv, 3, axis=-1)
        a = attention(q.reshape(T, H, hd), k.reshape(T, H, hd), v.reshape(T, H, hd))
        x = x + a @ W[p + 'attn.c_proj.weight'] + W[p + 'attn.c_proj.bias']
        h = layer_norm(x, W[p + 'ln_2.weight'], W[p + 'ln_2.bias'], eps)
        x = x + gelu(h @ W[p + 'mlp.c_fc.weight'] + W[p + 'mlp.c_fc.bias']) @ W[p + 'mlp.c_proj.weight'] + W[p + 'mlp.c_proj.bias']
    x = layer_norm(x, W[pre + 'ln_f.weight'], W[pre + 'ln_f.bias'], eps)
    return x @ W[pre + 'wte.weight'].T


def forward(cfg, W, ids):
    f = gpt2_forward if cfg['model_type'] == 'gpt2' else llama_forward
    return f(cfg, W, np.asarray(ids))

# ----------------------------------------------------------------------------- random checkpoints

def llama_weights(cfg, rng):
    D, H, F, V = cfg['hidden_size'], cfg['num_attention_heads'], cfg['intermediate_size'], cfg['vocab_size']
    Hkv = cfg['num_key_value_heads']
    hd = cfg.get('head_dim') or D // H
    arch = cfg['architectures'][0]
    n = lambda *s, sd=0.3: rng.normal(0, sd, s)
    W = {'model.embed_tokens.weight': n(V, D, sd=1.0), 'model.norm.weight': 1 + n(D, sd=0.1)}
    for i in range(cfg['num_hidden_layers']):
        p = f'model.layers.{i}.'
        W[p + 'input_layernorm.weight'] = 1 + n(D, sd=0.1)
        W[p + 'post_attention_layernorm.weight'] = 1 + n(D, sd=0.1)
        W[p + 'self_attn.q_proj.weight'] = n(H * hd, D)
        W[p + 'self_attn.k_proj.weight'] = n(Hkv * hd, D)
        W[p + 'self_attn.v_proj.weight'] = n(Hkv * hd, D)
        W[p + 'self_attn.o_proj.weight'] = n(D, H * hd)
        if arch == 'Qwen2ForCausalLM':
            W[p + 'self_attn.q_proj.bias'] = n(H * hd)
            W[p + 'self_attn.k_proj.bias'] = n(Hkv * hd)
            W[p + 'self_attn.v_proj.bias'] = n(Hkv * hd)
        if arch == 'Qwen3ForCausalLM':
            W[p + 'self_attn.q_norm.weight'] = 1 + n(hd, sd=0.1)
            W[p + 'self_attn.k_norm.weight'] = 1 + n(hd, sd=0.1)
        W[p + 'mlp.gate_proj.weight'] = n(F, D)
        W[p + 'mlp.up_proj.weight'] = n(F, D)
        W[p + 'mlp.down_proj.weight'] = n(D, F)
    if not cfg['tie_word_embeddings']:
        W['lm_head.weight'] = n(V, D)
    return W


def gpt2_weights(cfg, rng):
    D, F, V, P = cfg['n_embd'], cfg['n_inner'], cfg['vocab_size'], cfg['n_positions']
    n = lambda *s, sd=0.3: rng.normal(0, sd, s)
    # Legacy GPT2Model layout (like openai-community/gpt2): no "transformer." prefix, causal-mask buffers.
    W = {'wte.weight': n(V, D, sd=1.0), 'wpe.weight': n(P, D, sd=0.3), 'ln_f.weight': 1 + n(D, sd=0.1), 'ln_f.bias': n(D, sd=0.1)}
    for i in range(cfg['n_layer']):
        p = f'h.{i}.'
        W.update({p + 'ln_1.weight': 1 + n(D, sd=0.1), p + 'ln_1.bias': n(D, sd=0.1),
                  p + 'attn.c_attn.weight': n(D, 3 * D), p + 'attn.c_attn.bias': n(3 * D),
                  p + 'attn.c_proj.weight': n(D, D), p + 'attn.c_proj.bias': n(D),
                  p + 'ln_2.weight': 1 + n(D, sd=0.1), p + 'ln_2.bias': n(D, sd=0.1),
                  p + 'mlp.c_fc.weight': n(D, F), p + 'mlp.c_fc.bias': n(F),
                  p + 'mlp.c_proj.weight': n(F, D), p + 'mlp.c_proj.bias': n(D),
                  p + 'attn.bias': np.tril(np.ones((P, P)))[None, None]})
    return W


def rounded(W, dtype):
    """The weights exactly as stored (what a loader sees)."""
    return {k: decode(encode(v, dtype), dtype, v.shape) for k, v in W.items()}


def greedy(cfg, W, ids, n, min_gap=1e-3):
    ids = list(ids)
    out = []
    for _ in range(n):
        logits = forward(cfg, W, ids)[-1]
        top = np.sort(logits)[-2:]
        if top[1] - top[0] < min_gap:
            raise RuntimeError('near-tie in greedy decoding; change the seed')
        nxt = int(np.argmax(logits))
        out.append(nxt)
        ids.append(nxt)
    return out


FIXTURES = [
    # name, architecture, extra config, dtype, shards, tokenizer
    ('llama', 'LlamaForCausalLM', dict(hidden_size=16, num_attention_heads=2, num_key_value_heads=1, intermediate_size=32,
                                       tie_word_embeddings=False, rope_theta=10000.0, rms_norm_eps=1e-5,
                                       rope_scaling={'rope_type': 'llama3', 'factor': 4.0, 'low_freq_factor': 1.0,
                                                     'high_freq_factor': 4.0, 'original_max_position_embeddings': 16},
                                       attention_bias=False, mlp_bias=False), 'F32', 1, 'spm'),
    ('qwen2', 'Qwen2ForCausalLM', dict(hidden_size=16, num_attention_heads=4, num_key_value_heads=2, intermediate_size=24,
                                       tie_word_embeddings=True, rope_theta=1000000.0, rms_norm_eps=1e-6,
                                       use_sliding_window=False, sliding_window=32), 'BF16', 1, 'chatml'),
    ('mistral', 'MistralForCausalLM', dict(hidden_size=16, num_attention_heads=4, num_key_value_heads=2, intermediate_size=24,
                                           tie_word_embeddings=False, rope_theta=10000.0, rms_norm_eps=1e-5,
                                           sliding_window=None), 'F32', 2, 'chatml'),
    ('qwen3', 'Qwen3ForCausalLM', dict(hidden_size=16, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                                       intermediate_size=24, tie_word_embeddings=True, rope_theta=1000000.0,
                                       rms_norm_eps=1e-6, attention_bias=False, use_sliding_window=False), 'F32', 1, 'chatml'),
    ('gpt2', 'GPT2LMHeadModel', dict(n_embd=16, n_head=2, n_layer=2, n_inner=32, n_positions=64, n_ctx=64,
                                     layer_norm_epsilon=1e-5, activation_function='gelu_new'), 'F16', 1, 'bytelevel'),
]
MODEL_TYPE = {'LlamaForCausalLM': 'llama', 'Qwen2ForCausalLM': 'qwen2', 'MistralForCausalLM': 'mistral',
              'Qwen3ForCausalLM': 'qwen3', 'GPT2LMHeadModel': 'gpt2'}


def make(name, arch, extra, dtype, shards, tokenizer, seed):
    rng = np.random.default_rng(seed)
    if tokenizer == 'spm':
        tok, tcfg, gen, ntok = spm_tokenizer()
    else:
        tok, tcfg, gen, ntok = bytelevel_tokenizer(tokenizer == 'chatml')
    vocab = ntok + 3    # padded embedding rows beyond the tokenizer, as Qwen's are
    cfg = {'architectures': [arch], 'model_type': MODEL_TYPE[arch], 'vocab_size': vocab, **extra,
           'bos_token_id': gen.get('bos_token_id'), 'eos_token_id': gen['eos_token_id'],
           'torch_dtype': {'F32': 'float32', 'F16': 'float16', 'BF16': 'bfloat16'}[dtype]}
    if arch == 'GPT2LMHeadModel':
        W = gpt2_weights(cfg, rng)
    else:
        cfg.update(num_hidden_layers=2, max_position_embeddings=128, hidden_act='silu')
        W = llama_weights(cfg, rng)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    if shards == 1:
        write_safetensors(os.path.join(d, 'model.safetensors'), W, dtype)
    else:
        names = sorted(W)
        parts = [names[i::shards] for i in range(shards)]
        weight_map, total = {}, 0
        for i, part in enumerate(parts):
            fn = f'model-{i + 1:05d}-of-{shards:05d}.safetensors'
            total += write_safetensors(os.path.join(d, fn), {k: W[k] for k in part}, dtype)
            weight_map.update({k: fn for k in part})
        json.dump({'metadata': {'total_size': total}, 'weight_map': dict(sorted(weight_map.items()))},
                  open(os.path.join(d, 'model.safetensors.index.json'), 'w'), indent=2)
    json.dump(cfg, open(os.path.join(d, 'config.json'), 'w'), indent=2)
    json.dump(tok, open(os.path.join(d, 'tokenizer.json'), 'w'), ensure_ascii=False)
    json.dump(tcfg, open(os.path.join(d, 'tokenizer_config.json'), 'w'), indent=2, ensure_ascii=False)
    json.dump(gen, open(os.path.join(d, 'generation_config.json'), 'w'), indent=2)

    Wr = rounded(W, dtype)
    seqs = [rng.integers(3, ntok, 9).tolist(), rng.integers(3, ntok, 5).tolist()]
    logits = [forward(cfg, Wr, s) for s in seqs]
    ref = {
        'architecture': arch, 'dtype': dtype, 'shards': shards,
        'sequences': seqs,
        # log p(s[t] | s[<t]) for t >= 1, from the logits of the reference forward pass
        'token_logprobs': [[float(log_softmax(l[t - 1])[s[t]]) for t in range(1, len(s))] for s, l in zip(seqs, logits)],
        'greedy': [greedy(cfg, Wr, s[:4], 6) for s in seqs],
        'greedy_prompt_len': 4,
    }
    json.dump(ref, open(os.path.join(d, 'reference.json'), 'w'), indent=1)
    write_safetensors(os.path.join(d, 'reference.safetensors'),
                      {f'logits.{i}': l.astype(np.float32) for i, l in enumerate(logits)}, 'F32')
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    print(f'{name}: {arch} {dtype} shards={shards} vocab={vocab} -> {d} ({size / 1024:.1f} KiB)')


def check(saved, fixture):
    """A falign-saved HF checkpoint: names/shapes as the fixture's and the same reference logits."""
    a, b = read_weights(saved), read_weights(fixture)
    cfg_s = json.load(open(os.path.join(saved, 'config.json')))
    cfg_f = json.load(open(os.path.join(fixture, 'config.json')))
    if cfg_f['model_type'] == 'gpt2':   # the fixture is a legacy GPT2Model file; GPT2LMHeadModel names carry "transformer."
        want = {('' if k.startswith('transformer.') else 'transformer.') + k: v[1] for k, v in b.items() if not k.endswith('.attn.bias')}
    else:
        want = {k: v[1] for k, v in b.items()}
    got = {k: v[1] for k, v in a.items()}
    assert got == want, f'tensor names/shapes differ: {sorted(set(got) ^ set(want))}'
    # Same values too: F32 holds every F16/BF16 value exactly.
    orig = {(('' if k.startswith('transformer.') else 'transformer.') + k if cfg_f['model_type'] == 'gpt2' else k): v[2] for k, v in b.items()}
    changed = [k for k in got if not np.array_equal(a[k][2], orig[k])]
    for k in ('architectures', 'model_type'):
        assert cfg_s[k] == cfg_f[k], (k, cfg_s[k], cfg_f[k])
    ref = read_safetensors(os.path.join(fixture, 'reference.safetensors'))
    seqs = json.load(open(os.path.join(fixture, 'reference.json')))['sequences']
    W = {k: v[2] for k, v in a.items()}
    worst = 0.0
    for i, s in enumerate(seqs):
        worst = max(worst, float(np.abs(forward(cfg_s, W, s) - ref[f'logits.{i}'][2]).max()))
    print(f'{saved}: {len(got)} tensors named and shaped as {fixture}, {len(got) - len(changed)} bit-equal to it; '
          f'max |dlogit| vs reference {worst:.2e}')
    assert worst < 1e-4


if __name__ == '__main__':
    if len(sys.argv) == 4 and sys.argv[1] == '--check':
        check(sys.argv[2], sys.argv[3])
    else:
        for i, f in enumerate(FIXTURES):
            make(*f, seed=1234 + i)
