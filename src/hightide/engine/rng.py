"""NumPy's SeedSequence and PCG64 in Numba: the same numbers as :func:`hightide.engine.streams.generator`
at a fraction of the cost.

Building a ``np.random.Generator`` for each (process, province, month) costs ~40 us; a month of
the engine builds hundreds of them. Here the SeedSequence hash (NumPy's ``bit_generator.pyx``,
after O'Neill's seed_seq_fe) and PCG64 (XSL-RR 128/64, ``pcg64.h``) run inside one compiled loop
over the provinces, and the doubles are bit for bit those of ``Generator(PCG64(ss)).random(n)``
(tests/unit/test_rng.py checks this against NumPy).
"""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

_U32 = np.uint32
_U64 = np.uint64
INIT_A = _U32(0x43B0D7E5)
MULT_A = _U32(0x931E8875)
INIT_B = _U32(0x8B51F9DD)
MULT_B = _U32(0x58F38DED)
MIX_MULT_L = _U32(0xCA01F9DD)
MIX_MULT_R = _U32(0x4973F715)
POOL_SIZE = 4
# PCG64's 128-bit multiplier, as (high, low) words
MULT_HI = _U64(2549297995355413924)
MULT_LO = _U64(4865540595714422341)
MASK32_64 = _U64(0xFFFFFFFF)
TO_DOUBLE = 1.0 / 9007199254740992.0


def int_words(n: int) -> list[int]:
    """A non-negative integer as little-endian 32-bit words, as NumPy's SeedSequence coerces it."""
    if n < 0:
        raise ValueError("seed material must be non-negative")
    if n == 0:
        return [0]
    out = []
    while n > 0:
        out.append(n & 0xFFFFFFFF)
        n >>= 32
    return out


def entropy_words(seed: int, spawn_key: tuple[int, ...]) -> np.ndarray:
    """SeedSequence's assembled entropy: the seed's words, zero-padded to the pool size when there
    is a spawn key, then the spawn key's words."""
    run = int_words(int(seed))
    spawn = [w for k in spawn_key for w in int_words(int(k))]
    if spawn and len(run) < POOL_SIZE:
        run = run + [0] * (POOL_SIZE - len(run))
    return np.array(run + spawn, dtype=np.uint32)


# Numba widens 32-bit integer arithmetic to 64 bits: every step is masked back to 32 bits.


@nb.njit(cache=True, inline="always")
def _hashmix(value, hash_const):
    value = (np.uint64(value) ^ np.uint64(hash_const[0])) & MASK32_64
    h = (np.uint64(hash_const[0]) * np.uint64(MULT_A)) & MASK32_64
    hash_const[0] = h
    value = (value * h) & MASK32_64
    value ^= value >> _U64(16)
    return np.uint32(value)


@nb.njit(cache=True, inline="always")
def _mix(x, y):
    result = (np.uint64(MIX_MULT_L) * np.uint64(x) - np.uint64(MIX_MULT_R) * np.uint64(y)) & MASK32_64
    result ^= result >> _U64(16)
    return np.uint32(result)


@nb.njit(cache=True)
def seed_pool(entropy):
    """SeedSequence.pool for the assembled entropy words."""
    mixer = np.zeros(POOL_SIZE, dtype=np.uint32)
    hash_const = np.empty(1, dtype=np.uint32)
    hash_const[0] = INIT_A
    n = entropy.size
    for i in range(POOL_SIZE):
        v = entropy[i] if i < n else _U32(0)
        mixer[i] = _hashmix(v, hash_const)
    for i_src in range(POOL_SIZE):
        for i_dst in range(POOL_SIZE):
            if i_src != i_dst:
                mixer[i_dst] = _mix(mixer[i_dst], _hashmix(mixer[i_src], hash_const))
    for i_src in range(POOL_SIZE, n):
        for i_dst in range(POOL_SIZE):
            mixer[i_dst] = _mix(mixer[i_dst], _hashmix(entropy[i_src], hash_const))
    return mixer


@nb.njit(cache=True)
def generate_state64(pool, n_words64):
    """SeedSequence.generate_state(n_words64, np.uint64)."""
    out = np.empty(n_words64, dtype=np.uint64)
    hash_const = np.uint64(INIT_B)
    for i in range(2 * n_words64):
        data = np.uint64(pool[i % POOL_SIZE]) ^ hash_const
        hash_const = (hash_const * np.uint64(MULT_B)) & MASK32_64
        data = (data * hash_const) & MASK32_64
        data ^= data >> _U64(16)
        if i % 2 == 0:
            out[i // 2] = data
        else:
            out[i // 2] |= data << _U64(32)
    return out


@intrinsic
def _step(typingctx, s_hi, s_lo, i_hi, i_lo):
    """state = state * MULT + inc (mod 2^128), as one 128-bit LLVM multiply-add."""
    sig = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        i64 = ir.IntType(64)
        sh, sl, ih, il = (builder.zext(a, i128) for a in args)
        c64 = ir.Constant(i128, 64)
        state = builder.or_(builder.shl(sh, c64), sl)
        inc = builder.or_(builder.shl(ih, c64), il)
        mult = ir.Constant(i128, (int(MULT_HI) << 64) | int(MULT_LO))
        new = builder.add(builder.mul(state, mult), inc)
        return context.make_tuple(builder, signature.return_type,
                                  [builder.trunc(builder.lshr(new, c64), i64), builder.trunc(new, i64)])

    return sig, codegen


@intrinsic
def _muladd(typingctx, a_hi, a_lo, b_hi, b_lo, c_hi, c_lo):
    """a * b + c (mod 2^128) of 128-bit numbers given as (high, low) words, one LLVM multiply-add."""
    sig = types.UniTuple(types.uint64, 2)(*([types.uint64] * 6))

    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        i64 = ir.IntType(64)
        wide = [builder.zext(x, i128) for x in args]
        c64 = ir.Constant(i128, 64)
        a, b, c = (builder.or_(builder.shl(wide[k], c64), wide[k + 1]) for k in (0, 2, 4))
        new = builder.add(builder.mul(a, b), c)
        return context.make_tuple(builder, signature.return_type,
                                  [builder.trunc(builder.lshr(new, c64), i64), builder.trunc(new, i64)])

    return sig, codegen


@nb.njit(cache=True)
def advance(s_hi, s_lo, i_hi, i_lo, delta):
    """The stream's state ``delta`` steps on, in O(log delta) multiplications: the LCG jump-ahead
    of Brown (1994), as NumPy's ``PCG64.advance``. A pass that splits a stream's households into
    chunks starts each chunk at its first household's state, so the chunks draw exactly the
    numbers one pass in order would."""
    s_hi, s_lo, i_hi, i_lo = _U64(s_hi), _U64(s_lo), _U64(i_hi), _U64(i_lo)  # words above 2^63 as Python ints
    zero = _U64(0)
    m_hi, m_lo = zero, _U64(1)  # the accumulated multiplier and increment
    p_hi, p_lo = zero, zero
    cm_hi, cm_lo = MULT_HI, MULT_LO  # the step's multiplier and increment, squared as delta halves
    cp_hi, cp_lo = i_hi, i_lo
    d = _U64(delta)
    while d > zero:
        if d & _U64(1):
            m_hi, m_lo = _muladd(m_hi, m_lo, cm_hi, cm_lo, zero, zero)
            p_hi, p_lo = _muladd(p_hi, p_lo, cm_hi, cm_lo, cp_hi, cp_lo)
        cp_hi, cp_lo = _muladd(cm_hi, cm_lo, cp_hi, cp_lo, cp_hi, cp_lo)  # (mult + 1) x inc
        cm_hi, cm_lo = _muladd(cm_hi, cm_lo, cm_hi, cm_lo, zero, zero)
        d >>= _U64(1)
    return _muladd(m_hi, m_lo, s_hi, s_lo, p_hi, p_lo)


@nb.njit(cache=True, inline="always")
def _output(s_hi, s_lo):
    """PCG XSL-RR 128/64 output of a state."""
    x = s_hi ^ s_lo
    rot = s_hi >> _U64(58)
    return (x >> rot) | (x << ((_U64(64) - rot) & _U64(63)))


@nb.njit(cache=True)
def pcg64_seed(entropy):
    """PCG64(SeedSequence) state as (state_hi, state_lo, inc_hi, inc_lo)."""
    words = generate_state64(seed_pool(entropy), 4)
    init_hi, init_lo, seq_hi, seq_lo = words[0], words[1], words[2], words[3]
    inc_hi = (seq_hi << _U64(1)) | (seq_lo >> _U64(63))
    inc_lo = (seq_lo << _U64(1)) | _U64(1)
    s_hi, s_lo = _step(_U64(0), _U64(0), inc_hi, inc_lo)
    lo = s_lo + init_lo
    carry = _U64(1) if lo < s_lo else _U64(0)
    s_hi, s_lo = s_hi + init_hi + carry, lo
    s_hi, s_lo = _step(s_hi, s_lo, inc_hi, inc_lo)
    return s_hi, s_lo, inc_hi, inc_lo


@nb.njit(cache=True)
def fill_random(entropy, out, start, count):
    """out[start:start+count] = Generator(PCG64(SeedSequence(entropy))).random(count)."""
    s_hi, s_lo, i_hi, i_lo = pcg64_seed(entropy)
    for k in range(count):
        s_hi, s_lo = _step(s_hi, s_lo, i_hi, i_lo)
        out[start + k] = np.float64(np.int64(_output(s_hi, s_lo) >> _U64(11))) * TO_DOUBLE


@nb.njit(cache=True)
def fill_blocks(entropy_head, province_words, month_word, starts, counts, out):
    """Fill each province's range of ``out`` from its own stream: entropy = head + [province, month].

    ``entropy_head`` holds the seed words (padded) and the process key; ``province_words[p]`` the
    province's word (provinces < 2^32 are one word each)."""
    n_head = entropy_head.size
    entropy = np.empty(n_head + 2, dtype=np.uint32)
    entropy[:n_head] = entropy_head
    entropy[n_head + 1] = month_word
    for p in range(starts.size):
        if counts[p] > 0:
            entropy[n_head] = province_words[p]
            fill_random(entropy, out, starts[p], counts[p])


@nb.njit(cache=True)
def fill_events(entropy_head, province_words, month_word, starts, counts, n, p, out):
    """Events per slot, min(floor(n p + U), n), with U from each province's stream over its used
    slots and U = 1 elsewhere (as ``streams.events`` with ``used_uniform``)."""
    n_head = entropy_head.size
    entropy = np.empty(n_head + 2, dtype=np.uint32)
    entropy[:n_head] = entropy_head
    entropy[n_head + 1] = month_word
    filled = np.zeros(out.size, dtype=np.bool_)
    for q in range(starts.size):
        c = counts[q]
        if c <= 0:
            continue
        entropy[n_head] = province_words[q]
        s_hi, s_lo, i_hi, i_lo = pcg64_seed(entropy)
        a = starts[q]
        for k in range(c):
            s_hi, s_lo = _step(s_hi, s_lo, i_hi, i_lo)
            u = np.float64(np.int64(_output(s_hi, s_lo) >> _U64(11))) * TO_DOUBLE
            i = a + k
            nf = np.float64(n[i])
            out[i] = np.int64(min(np.floor(nf * p[i] + u), nf))
            filled[i] = True
    for i in range(out.size):
        if not filled[i]:
            nf = np.float64(n[i])
            out[i] = np.int64(min(np.floor(nf * p[i] + 1.0), nf))


@nb.njit(cache=True)
def stream_start(head, province, month_word):
    """PCG64 state of the stream (head words, province, month word): (state_hi, state_lo, inc_hi, inc_lo)."""
    entropy = np.empty(head.size + 2, dtype=np.uint32)
    entropy[:head.size] = head
    entropy[head.size] = np.uint32(province)
    entropy[head.size + 1] = month_word
    return pcg64_seed(entropy)


@nb.njit(cache=True, inline="always")
def step(s_hi, s_lo, i_hi, i_lo):
    """Advance a stream one step, its draw skipped: (new state_hi, new state_lo)."""
    return _step(s_hi, s_lo, i_hi, i_lo)


@nb.njit(cache=True, inline="always")
def next_double(s_hi, s_lo, i_hi, i_lo):
    """Advance a stream one step: (new state_hi, new state_lo, U(0,1) double as Generator.random)."""
    s_hi, s_lo = _step(s_hi, s_lo, i_hi, i_lo)
    return s_hi, s_lo, np.float64(np.int64(_output(s_hi, s_lo) >> _U64(11))) * TO_DOUBLE


#: a gap between requested slots from which ``draws_at`` jumps (``advance``: ~2 x log2(gap) 128-bit
#: multiplications) rather than stepping through it (one each)
JUMP_STEPS = 64


@nb.njit(cache=True)
def draws_at(entropy_head, province_words, month_word, starts, slots, out):
    """out[j] = the draw of slot ``slots[j]`` in its province's stream (the value
    ``fill_blocks`` would put there); ``slots`` ascending, ``starts`` the province block starts.
    Long gaps between the slots are jumped (``advance``), short ones stepped."""
    n_head = entropy_head.size
    entropy = np.empty(n_head + 2, dtype=np.uint32)
    entropy[:n_head] = entropy_head
    entropy[n_head + 1] = month_word
    j = 0
    n_prov = starts.size
    while j < slots.size:
        p = np.searchsorted(starts, slots[j], side="right") - 1
        entropy[n_head] = province_words[p]
        s_hi, s_lo, i_hi, i_lo = pcg64_seed(entropy)
        end = starts[p + 1] if p + 1 < n_prov else np.int64(1) << 62
        k = starts[p]
        while j < slots.size and slots[j] < end:
            if slots[j] - k >= JUMP_STEPS:  # far ahead (the dead of a month): jump, then step once
                s_hi, s_lo = advance(s_hi, s_lo, i_hi, i_lo, slots[j] - k)
                k = slots[j]
            while k <= slots[j]:
                s_hi, s_lo = _step(s_hi, s_lo, i_hi, i_lo)
                k += 1
            out[j] = np.float64(np.int64(_output(s_hi, s_lo) >> _U64(11))) * TO_DOUBLE
            j += 1
