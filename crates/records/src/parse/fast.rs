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

/// Splits a well-formed `line` (already stripped of `\r` and shorter than 4 GiB) into `spans`,
/// or returns `None` when the exact splitter must decide.
#[inline]
pub(super) fn split_fields(line: &[u8], fields: &mut Fields) -> Option<Split> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("pclmulqdq")
    {
        // SAFETY: the CPU has AVX2 and PCLMULQDQ, checked just above.
        return unsafe { split_fields_avx2(line, fields) };
    }
    split_fields_with(line, fields, structural::classify, prefix_xor)
}

/// [`split_fields`] compiled for AVX2, so that its block classification is inlined with it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq")]
fn split_fields_avx2(line: &[u8], fields: &mut Fields) -> Option<Split> {
    split_fields_with(
        line,
        fields,
        |line, base| structural::classify_avx2(line, base),
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
    classify: impl Fn(&[u8], usize) -> structural::Masks,
    prefix_xor: impl Fn(u64) -> u64,
) -> Option<Split> {
    let len = line.len();
    fields.clear_quoted();
    let mut count = 0usize;
    let mut field_start = 0usize;
    // Carried from the previous block: inside quotes at its end (all ones or zero), a separator
    // in its last byte, a closing quote in its last byte.
    let mut inside_carry = 0u64;
    let mut separator_carry = 0u64;
    let mut close_carry = 0u64;
    let mut base = 0usize;
    while base < len {
        let masks = classify(line, base);
        if masks.backslash != 0 {
            return None;
        }
        let inside = prefix_xor(masks.quote) ^ inside_carry;
        inside_carry = ((inside >> 63) & 1).wrapping_neg();
        let separators = masks.space & !inside;
        let opening = masks.quote & inside;
        let closing = masks.quote & !inside;
        let left = len - base;
        // The line's end closes a field like a separator does.
        let line_end = if left < BLOCK { 1u64 << left } else { 0 };
        let starts = (separators << 1) | separator_carry | u64::from(base == 0);
        let follows = separators | line_end;
        // Bit `i` set when the byte before `i` is a closing quote: the field that a separator at
        // `i` ends is quoted (the tests below make sure a quoted field starts with its quote).
        let closed_before = (closing << 1) | close_carry;
        let invalid = (opening & !starts) | (closed_before & !follows) | (separators & starts);
        if invalid != 0 {
            return None;
        }
        separator_carry = separators >> 63;
        close_carry = closing >> 63;

        let mut walk = separators;
        while walk != 0 {
            let bit = walk.trailing_zeros();
            walk &= walk - 1;
            let end = base + bit as usize;
            fields.close(count, end, (closed_before >> bit) & 1 == 1);
            count += 1;
            if count == Field::COUNT {
                return check_quoting(fields.quoted(), count);
            }
            field_start = end + 1;
        }
        base += BLOCK;
    }
    if inside_carry != 0 || field_start == len {
        return None; // a quote left open, or an empty last field
    }
    // The last field ends at the line's end: quoted when its last byte closes a quote (a lone
    // opening quote there would have left the line inside quotes).
    fields.close(count, len, line[len - 1] == b'"');
    check_quoting(fields.quoted(), count + 1)
}

/// The split, when every field present is quoted or bare as AWS writes it.
#[inline(always)]
fn check_quoting(quoted_fields: u64, count: usize) -> Option<Split> {
    let present = (1u64 << count) - 1;
    let wrong = ((MUST_BE_QUOTED & !quoted_fields) | (MUST_BE_BARE & quoted_fields)) & present;
    (wrong == 0).then_some(Split { count, warning: None })
}
