//! The common case at block speed: a line without backslashes whose quoting is exactly as AWS
//! writes it, split with whole-block bit arithmetic instead of one step per structural byte.
//!
//! [`super::split_fields`] visits every space and quote in turn, so its cost is a few branches
//! per field, and the branches are hard to predict because quoted and bare fields alternate
//! irregularly. Here a 64-byte block is done at once: a prefix XOR of the quote bits gives the
//! bytes inside quotes, the spaces outside them are the separators, and the rules the exact
//! splitter enforces one byte at a time (quotes only open a field and only close it before a
//! separator, no empty field, nothing left open) become a few mask tests. Only the separators are
//! then walked, without branching on the byte under them.
//!
//! The fast path decides only "valid, and these are the spans". Anything else, including every
//! line with a backslash (escapes are rare and need the byte-at-a-time rule), returns `None` and
//! the exact splitter runs, so errors, warnings and spans stay exactly its own; tests and the
//! fuzz target check that both agree on every line the fast path accepts.

use std::ops::ControlFlow;

use super::Split;
use crate::field::{Field, Quoting};
use crate::record::Fields;
use crate::structural::{self, BLOCK};

/// Bit `i` set when field `i` must be quoted.
const MUST_BE_QUOTED: u64 = quoting_mask(Quoting::Quoted);
/// Bit `i` set when field `i` must be bare.
const MUST_BE_BARE: u64 = quoting_mask(Quoting::Bare);

const fn quoting_mask(wanted: Quoting) -> u64 {
    let mut mask = 0u64;
    let mut index = 0;
    while index < Field::COUNT {
        if matches!(
            (Field::ALL[index].quoting(), wanted),
            (Quoting::Quoted, Quoting::Quoted) | (Quoting::Bare, Quoting::Bare)
        ) {
            mask |= 1 << index;
        }
        index += 1;
    }
    mask
}

/// Bit `i` set when an odd number of bits `0..=i` of `bits` are set.
#[inline]
fn prefix_xor(mut bits: u64) -> u64 {
    bits ^= bits << 1;
    bits ^= bits << 2;
    bits ^= bits << 4;
    bits ^= bits << 8;
    bits ^= bits << 16;
    bits ^= bits << 32;
    bits
}

/// Splits a well-formed `line` (already stripped of `\r` and shorter than 2 GiB) into `fields`,
/// or returns `None` when the exact splitter must decide.
#[inline]
pub(super) fn split_fields(line: &[u8], fields: &mut Fields) -> Option<Split> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("pclmulqdq")
        && std::arch::is_x86_feature_detected!("popcnt")
    {
        // SAFETY: the CPU has AVX2, PCLMULQDQ and POPCNT, checked just above.
        return unsafe { split_fields_avx2(line, fields) };
    }
    #[cfg(target_arch = "aarch64")]
    if std::arch::is_aarch64_feature_detected!("aes") {
        // SAFETY: the CPU has the AES extension (PMULL), checked just above.
        return unsafe { split_fields_pmull(line, fields) };
    }
    split_fields_with(line, fields, structural::classify_block, prefix_xor)
}

/// [`split_fields`] with the carry-less multiply of the arm64 crypto extension (every Graviton
/// has it) for the prefix XOR.
#[cfg(target_arch = "aarch64")]
#[target_feature(enable = "aes")]
fn split_fields_pmull(line: &[u8], fields: &mut Fields) -> Option<Split> {
    split_fields_with(line, fields, structural::classify_block, |bits| prefix_xor_pmull(bits))
}

/// [`prefix_xor`] in one polynomial multiplication by all ones.
#[cfg(target_arch = "aarch64")]
#[target_feature(enable = "aes")]
#[inline]
fn prefix_xor_pmull(bits: u64) -> u64 {
    std::arch::aarch64::vmull_p64(bits, u64::MAX) as u64
}

/// [`split_fields`] compiled for AVX2, so that its block classification is inlined with it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq,popcnt")]
fn split_fields_avx2(line: &[u8], fields: &mut Fields) -> Option<Split> {
    split_fields_with(
        line,
        fields,
        |block| structural::classify_block_avx2(block),
        |bits| prefix_xor_clmul(bits),
    )
}

/// [`prefix_xor`] in one carry-less multiplication by all ones.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
fn prefix_xor_clmul(bits: u64) -> u64 {
    use std::arch::x86_64::{
        _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x, _mm_set1_epi8,
    };
    let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, bits as i64), _mm_set1_epi8(-1), 0);
    _mm_cvtsi128_si64(product) as u64
}

#[inline(always)]
fn split_fields_with(
    line: &[u8],
    fields: &mut Fields,
    classify_block: impl Fn(&[u8]) -> structural::Masks,
    prefix_xor: impl Fn(u64) -> u64,
) -> Option<Split> {
    let len = line.len();
    let last = *line.last()?;
    let mut walk = Walk::default();
    // Whole blocks first, then the line's last, partial block, whose end closes a field like a
    // separator does; the whole blocks pay neither for that test nor for bounds on their reads.
    let mut blocks = line.chunks_exact(BLOCK);
    let mut base = 0usize;
    for block in blocks.by_ref() {
        if let ControlFlow::Break(split) =
            walk.block(classify_block(block), base, 0, fields, &prefix_xor)
        {
            return split;
        }
        base += BLOCK;
    }
    if !blocks.remainder().is_empty() {
        let masks = structural::block_at(line, base, &classify_block);
        let line_end = 1u64 << (len - base);
        if let ControlFlow::Break(split) = walk.block(masks, base, line_end, fields, &prefix_xor) {
            return split;
        }
    }
    // A quote left open, or an empty last field: outside quotes at the end of the line, a space
    // as its last byte is a separator with nothing after it.
    if walk.inside_carry != 0 || last == b' ' {
        return None;
    }
    // The last field ends at the line's end: quoted when its last byte closes a quote (a lone
    // opening quote there would have left the line inside quotes).
    fields.close(walk.count, len, last == b'"');
    check_quoting(fields.quoted(walk.count + 1), walk.count + 1)
}

/// The state one block hands to the next.
struct Walk {
    /// Fields closed so far.
    count: usize,
    /// Inside quotes at the end of the previous block (all ones or zero).
    inside_carry: u64,
    /// A separator in the last byte of the previous block (1 or 0); the line's start counts as
    /// one, since a field starts after it.
    separator_carry: u64,
    /// A closing quote in the last byte of the previous block (1 or 0).
    close_carry: u64,
}

impl Default for Walk {
    fn default() -> Self {
        Walk { count: 0, inside_carry: 0, separator_carry: 1, close_carry: 0 }
    }
}

impl Walk {
    /// Checks the block at `base` and closes the fields that end in it. Breaks with the split
    /// once the last documented field is closed, or with `None` when the exact splitter must
    /// decide. `line_end` has the bit just past the line's last byte, if it is in this block.
    #[inline(always)]
    fn block(
        &mut self,
        masks: structural::Masks,
        base: usize,
        line_end: u64,
        fields: &mut Fields,
        prefix_xor: &impl Fn(u64) -> u64,
    ) -> ControlFlow<Option<Split>> {
        if masks.backslash != 0 {
            return ControlFlow::Break(None);
        }
        let inside = prefix_xor(masks.quote) ^ self.inside_carry;
        self.inside_carry = ((inside >> 63) & 1).wrapping_neg();
        let separators = masks.space & !inside;
        let opening = masks.quote & inside;
        let closing = masks.quote & !inside;
        let starts = (separators << 1) | self.separator_carry;
        let follows = separators | line_end;
        // Bit `i` set when the byte before `i` is a closing quote: the field that a separator at
        // `i` ends is quoted (the tests below make sure a quoted field starts with its quote).
        let closed_before = (closing << 1) | self.close_carry;
        let invalid = (opening & !starts) | (closed_before & !follows) | (separators & starts);
        if invalid != 0 {
            return ControlFlow::Break(None);
        }
        self.separator_carry = separators >> 63;
        self.close_carry = closing >> 63;

        let mut walk = separators;
        if self.count + (separators.count_ones() as usize) < Field::COUNT {
            // The common case: the documented fields do not end in this block, so the loop needs
            // no test for the last one.
            while walk != 0 {
                let bit = walk.trailing_zeros();
                walk &= walk - 1;
                fields.close(self.count, base + bit as usize, (closed_before >> bit) & 1 == 1);
                self.count += 1;
            }
            return ControlFlow::Continue(());
        }
        loop {
            let bit = walk.trailing_zeros();
            walk &= walk - 1;
            fields.close(self.count, base + bit as usize, (closed_before >> bit) & 1 == 1);
            self.count += 1;
            if self.count == Field::COUNT {
                return ControlFlow::Break(check_quoting(fields.quoted(self.count), self.count));
            }
        }
    }
}

/// The split, when every field present is quoted or bare as AWS writes it.
#[inline(always)]
fn check_quoting(quoted_fields: u64, count: usize) -> Option<Split> {
    let present = (1u64 << count) - 1;
    let wrong = ((MUST_BE_QUOTED & !quoted_fields) | (MUST_BE_BARE & quoted_fields)) & present;
    (wrong == 0).then_some(Split { count, warning: None })
}
