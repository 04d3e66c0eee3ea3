//! Where the structural bytes are: one bitmask per 64-byte block for spaces, double quotes and
//! backslashes, the only bytes that can change the tokenizer's state.
//!
//! A line has about 50 spaces, most of them inside the request and the user agent. Looking for
//! them one `memchr` call at a time cost more than everything else the parser does; classifying
//! 64 bytes at once and then walking the set bits costs a few instructions per byte. x86-64 uses
//! SSE2 and aarch64 (the arm64 Lambda) NEON, both always present on those targets; any other
//! target uses a portable word-at-a-time version. Tests check all of them against the obvious
//! byte loop.

/// Bit `i` set when byte `i` of the block is the character.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Masks {
    pub(crate) space: u64,
    pub(crate) quote: u64,
    pub(crate) backslash: u64,
}

pub(crate) const BLOCK: usize = 64;

/// Masks for `line[base..base + BLOCK]`, with no bits past the end of the line.
#[inline]
pub(crate) fn classify(line: &[u8], base: usize) -> Masks {
    block_at(line, base, classify_block)
}

/// The block of `line` at `base` through `block`, which reads 64 bytes. The last block of a
/// line usually runs past its end; it is read as the line's last 64 bytes and shifted into
/// place, which stays inside the line and avoids copying it to a padded buffer (a copy whose
/// wide reads cannot be forwarded from the narrow stores that just made it). Only lines shorter
/// than a block are padded.
#[inline(always)]
pub(crate) fn block_at(line: &[u8], base: usize, block: impl Fn(&[u8]) -> Masks) -> Masks {
    let left = line.len().saturating_sub(base);
    if left >= BLOCK {
        block(&line[base..base + BLOCK])
    } else if line.len() >= BLOCK {
        let shift = BLOCK - left;
        let masks = block(&line[line.len() - BLOCK..]);
        Masks {
            space: masks.space >> shift,
            quote: masks.quote >> shift,
            backslash: masks.backslash >> shift,
        }
    } else {
        let mut padded = [0u8; BLOCK];
        padded[..left].copy_from_slice(&line[base..]);
        block(&padded)
    }
}

/// Masks for the first 64 bytes of `block`, which holds at least that many.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn classify_block(block: &[u8]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    debug_assert!(block.len() >= BLOCK);
    // SAFETY: SSE2 is part of the x86-64 baseline; the four unaligned 16-byte loads stay within
    // `block`, which holds at least 64 bytes (checked by the callers and asserted above).
    unsafe {
        let space = _mm_set1_epi8(b' ' as i8);
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let mut masks = Masks::default();
        for lane in 0..4 {
            let chunk = _mm_loadu_si128(block.as_ptr().add(lane * 16) as *const __m128i);
            let shift = lane * 16;
            let bits = |needle| u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, needle)) as u16);
            masks.space |= bits(space) << shift;
            masks.quote |= bits(quote) << shift;
            masks.backslash |= bits(backslash) << shift;
        }
        masks
    }
}

/// [`classify_block`] with 32-byte AVX2 compares: half the instructions of the SSE2 baseline.
/// Only for CPUs that have AVX2, which callers check at run time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn classify_block_avx2(block: &[u8]) -> Masks {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    };
    assert!(block.len() >= BLOCK);
    // SAFETY: the two unaligned 32-byte loads stay within `block`, which holds 64 bytes.
    let (low, high) = unsafe {
        (
            _mm256_loadu_si256(block.as_ptr().cast::<__m256i>()),
            _mm256_loadu_si256(block.as_ptr().add(32).cast::<__m256i>()),
        )
    };
    let bits = |needle: u8| {
        let needle = _mm256_set1_epi8(needle as i8);
        let low = u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(low, needle)) as u32);
        let high = u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(high, needle)) as u32);
        low | (high << 32)
    };
    Masks { space: bits(b' '), quote: bits(b'"'), backslash: bits(b'\\') }
}

/// [`classify_block`] with one 64-byte AVX-512 load and three compares into mask registers. Only
/// for CPUs that have AVX-512 BW, which callers check at run time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
pub(crate) fn classify_block_avx512(block: &[u8]) -> Masks {
    use std::arch::x86_64::{_mm512_cmpeq_epi8_mask, _mm512_loadu_si512, _mm512_set1_epi8};
    assert!(block.len() >= BLOCK);
    // SAFETY: the one unaligned 64-byte load stays within `block`, which holds 64 bytes.
    let bytes = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
    let bits = |needle: u8| _mm512_cmpeq_epi8_mask(bytes, _mm512_set1_epi8(needle as i8));
    Masks { space: bits(b' '), quote: bits(b'"'), backslash: bits(b'\\') }
}

/// Masks for the first 64 bytes of `block`, which holds at least that many.
#[cfg(target_arch = "aarch64")]
#[inline]
pub(crate) fn classify_block(block: &[u8]) -> Masks {
    use std::arch::aarch64::{
        uint8x16_t, vandq_u8, vceqq_u8, vdupq_n_u8, vgetq_lane_u64, vld1q_u8, vpaddq_u8,
        vreinterpretq_u64_u8,
    };
    debug_assert!(block.len() >= BLOCK);
    // SAFETY: NEON is part of the aarch64 baseline; the four 16-byte loads stay within `block`,
    // which holds at least 64 bytes (checked by the callers and asserted above).
    unsafe {
        let chunks = [0, 16, 32, 48].map(|offset| vld1q_u8(block.as_ptr().add(offset)));
        // Weight each lane by its bit, then add neighbours three times: 64 lanes -> 64 bits.
        let weights =
            vld1q_u8([1u8, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128].as_ptr());
        let bits = |needle: u8| {
            let needle = vdupq_n_u8(needle);
            let m: [uint8x16_t; 4] = chunks.map(|chunk| vandq_u8(vceqq_u8(chunk, needle), weights));
            let sum = vpaddq_u8(vpaddq_u8(m[0], m[1]), vpaddq_u8(m[2], m[3]));
            vgetq_lane_u64::<0>(vreinterpretq_u64_u8(vpaddq_u8(sum, sum)))
        };
        Masks { space: bits(b' '), quote: bits(b'"'), backslash: bits(b'\\') }
    }
}

/// Masks for the first 64 bytes of `block`, which holds at least that many.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
#[inline]
pub(crate) fn classify_block(block: &[u8]) -> Masks {
    portable(block)
}

/// Word-at-a-time classification, exact (no false positives), for any target.
#[cfg_attr(any(target_arch = "x86_64", target_arch = "aarch64"), allow(dead_code))]
#[inline]
pub(crate) fn portable(block: &[u8]) -> Masks {
    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const ONES: u64 = 0x0101_0101_0101_0101;
    // High bit of each byte set where the byte equals `needle`.
    let matches = |word: u64, needle: u8| {
        let x = word ^ (ONES * u64::from(needle));
        !(((x & LOW) + LOW) | x | LOW)
    };
    // Gathers the eight high bits into the low byte, byte 0 -> bit 0.
    let gather = |high: u64| ((high >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) & 0xff;
    let mut masks = Masks::default();
    for (index, chunk) in block[..BLOCK].chunks_exact(8).enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let shift = index * 8;
        masks.space |= gather(matches(word, b' ')) << shift;
        masks.quote |= gather(matches(word, b'"')) << shift;
        masks.backslash |= gather(matches(word, b'\\')) << shift;
    }
    masks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(block: &[u8]) -> Masks {
        let mut masks = Masks::default();
        for (i, &b) in block.iter().take(BLOCK).enumerate() {
            match b {
                b' ' => masks.space |= 1 << i,
                b'"' => masks.quote |= 1 << i,
                b'\\' => masks.backslash |= 1 << i,
                _ => {}
            }
        }
        masks
    }

    #[test]
    fn every_implementation_agrees_with_the_obvious_one() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let alphabet = [b' ', b'"', b'\\', b'a', 0x80, 0xff, 0x00, 0x7f, b'!', b'#', 0xa0, 0xdc];
        for round in 0..3000 {
            // Lines shorter and longer than a block, ending anywhere in their last block.
            let mut line = vec![0u8; round % 200];
            for byte in &mut line {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *byte = alphabet[(seed % alphabet.len() as u64) as usize];
            }
            for base in (0..line.len().max(1)).step_by(BLOCK) {
                let end = line.len().min(base + BLOCK);
                let expected = naive(&line[base.min(end)..end]);
                assert_eq!(classify(&line, base), expected, "{line:?} at {base}");
                if line.len() >= base + BLOCK {
                    assert_eq!(portable(&line[base..]), expected);
                }
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2, checked just above.
                    let avx2 = block_at(&line, base, |block| unsafe { classify_block_avx2(block) });
                    assert_eq!(avx2, expected);
                }
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx512bw") {
                    let avx512 =
                        // SAFETY: the CPU has AVX-512 BW (and so F), checked just above.
                        block_at(&line, base, |block| unsafe { classify_block_avx512(block) });
                    assert_eq!(avx512, expected);
                }
            }
        }
        let short = b"a \"b\\";
        assert_eq!(classify(short, 0), Masks { space: 0b10, quote: 0b100, backslash: 0b10000 });
    }
}
