//! The common case at block speed: a line without backslashes whose quoting is exactly as AWS
//! writes it, split with whole-block bit arithmetic instead of one step per structural byte.
//!
//! [`super::split_fields`] visits every space and quote in turn, so its cost is a few branches
//! per field, and the branches are hard to predict because quoted and bare fields alternate
//! irregularly. Here a 64-byte block is done at once: a prefix XOR of the quote bits gives the
//! bytes inside quotes, the spaces outside them are the separators, and the rules the exact
//! splitter enforces one byte at a time (quotes only open a field and only close it before a
//! separator, no empty field, nothing left open) become a few mask tests. Only the separators are
//! then walked, without branching on the byte under them; on CPUs with AVX-512 VBMI2 they are not
//! walked at all: one compress packs a block's separator positions, which are stored as field ends
//! together, and one bit extract gives the quoting of its fields.
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
    match x86_level() {
        // SAFETY: the CPU has what `split_fields_avx512` is compiled for (`x86_level`).
        X86Level::Avx512 => return unsafe { split_fields_avx512(line, fields) },
        // SAFETY: the CPU has AVX2, PCLMULQDQ and POPCNT (`x86_level`).
        X86Level::Avx2 => return unsafe { split_fields_avx2(line, fields) },
        X86Level::Baseline => {}
    }
    #[cfg(target_arch = "aarch64")]
    if std::arch::is_aarch64_feature_detected!("aes") {
        // SAFETY: the CPU has the AES extension (PMULL), checked just above.
        return unsafe { split_fields_pmull(line, fields) };
    }
    split_fields_portable(line, fields)
}

/// A variant of the block splitter.
pub(super) type Splitter = fn(&[u8], &mut Fields) -> Option<Split>;

/// Every variant of the block splitter this CPU can run, for the tests and the fuzz target: each
/// must agree with the exact splitter, not only the one [`split_fields`] picks here.
pub(super) fn variants() -> Vec<Splitter> {
    let mut variants: Vec<Splitter> = vec![split_fields_portable];
    #[cfg(target_arch = "x86_64")]
    {
        let level = x86_level();
        if level >= X86Level::Avx2 {
            // SAFETY: the CPU has AVX2, PCLMULQDQ and POPCNT (`x86_level`).
            variants.push(|line, fields| unsafe { split_fields_avx2(line, fields) });
        }
        if level >= X86Level::Avx512 {
            // SAFETY: the CPU has what `split_fields_avx512` is compiled for (`x86_level`).
            variants.push(|line, fields| unsafe { split_fields_avx512(line, fields) });
        }
    }
    #[cfg(target_arch = "aarch64")]
    if std::arch::is_aarch64_feature_detected!("aes") {
        // SAFETY: the CPU has the AES extension (PMULL), checked just above.
        variants.push(|line, fields| unsafe { split_fields_pmull(line, fields) });
    }
    variants
}

fn split_fields_portable(line: &[u8], fields: &mut Fields) -> Option<Split> {
    split_fields_with(line, fields, structural::classify_block, prefix_xor, None::<CloseRun>)
}

/// Closes a run of fields at once from a block's separators and returns their quote bits (see
/// [`close_run_avx512`]).
type CloseRun = fn(&mut Fields, usize, usize, usize, u64, u64) -> u64;

/// What the x86-64 CPU has, from the baseline up, found once: the splitter asks on every line.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum X86Level {
    Baseline,
    /// AVX2, PCLMULQDQ and POPCNT.
    Avx2,
    /// And AVX-512 F, BW and VBMI2, and BMI2.
    Avx512,
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn x86_level() -> X86Level {
    use std::sync::atomic::{AtomicU8, Ordering};
    static LEVEL: AtomicU8 = AtomicU8::new(u8::MAX);
    match LEVEL.load(Ordering::Relaxed) {
        0 => X86Level::Baseline,
        1 => X86Level::Avx2,
        2 => X86Level::Avx512,
        _ => {
            use std::arch::is_x86_feature_detected as has;
            let avx2 = has!("avx2") && has!("pclmulqdq") && has!("popcnt");
            let avx512 = avx2 && has!("avx512f") && has!("avx512bw") && has!("avx512vbmi2");
            let level = match (avx2, avx512 && has!("bmi2")) {
                (_, true) => X86Level::Avx512,
                (true, false) => X86Level::Avx2,
                (false, false) => X86Level::Baseline,
            };
            LEVEL.store(level as u8, Ordering::Relaxed);
            level
        }
    }
}

/// [`split_fields_avx2`] for CPUs with AVX-512 VBMI2 (Intel since Ice Lake, AMD since Zen 4): a
/// block is classified with one 64-byte load, and the ends of the fields it closes are written
/// together ([`close_run_avx512`]) instead of one step per field.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi2,bmi2,avx2,pclmulqdq,popcnt")]
fn split_fields_avx512(line: &[u8], fields: &mut Fields) -> Option<Split> {
    split_fields_with(
        line,
        fields,
        |block| structural::classify_block_avx512(block),
        |bits| prefix_xor_clmul(bits),
        Some(|fields: &mut Fields, index, count, base, separators, closed_before| {
            close_run_avx512(fields, index, count, base, separators, closed_before)
        }),
    )
}

/// Fields `index..index + count` end at the lowest `count` separators of the block at `base`,
/// each quoted when its bit in `closed_before` is set. The separators' positions are packed with
/// one compress, widened to offsets and stored 16 at a time, with no branch on how many there
/// are; returns the quote bits of the block's fields in order (one bit extract), for the quoting
/// check.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi2,bmi2")]
fn close_run_avx512(
    fields: &mut Fields,
    index: usize,
    count: usize,
    base: usize,
    separators: u64,
    closed_before: u64,
) -> u64 {
    use std::arch::x86_64::*;
    let ends = fields.ends_mut();
    assert!(index + count <= ends.len());
    const POSITIONS: [u8; 64] = {
        let mut positions = [0u8; 64];
        let mut i = 0;
        while i < 64 {
            positions[i] = i as u8;
            i += 1;
        }
        positions
    };
    // SAFETY: 64 bytes are read from a 64-byte array.
    let positions = unsafe { _mm512_loadu_si512(POSITIONS.as_ptr().cast()) };
    let packed = _mm512_maskz_compress_epi8(separators, positions);
    // Bit `i`: the field the block's `i`-th separator ends is quoted.
    let quoted = _pext_u64(closed_before, separators);
    let base = _mm512_set1_epi32(base as i32);
    let quote_bit = _mm512_set1_epi32(crate::record::QUOTED as i32);
    let mut done = 0;
    while done < count {
        let packed = match done {
            0 => _mm512_castsi512_si128(packed),
            16 => _mm512_extracti32x4_epi32::<1>(packed),
            32 => _mm512_extracti32x4_epi32::<2>(packed),
            _ => _mm512_extracti32x4_epi32::<3>(packed),
        };
        let offsets = _mm512_add_epi32(_mm512_cvtepu8_epi32(packed), base);
        let value = _mm512_mask_or_epi32(offsets, (quoted >> done) as u16, offsets, quote_bit);
        let lanes = (count - done).min(16);
        let mask = ((1u32 << lanes) - 1) as u16;
        // SAFETY: the lanes written are `ends[index + done..index + done + lanes]`, inside `ends`
        // (asserted above); masked-off lanes are not written.
        unsafe {
            _mm512_mask_storeu_epi32(ends.as_mut_ptr().add(index + done).cast(), mask, value)
        };
        done += 16;
    }
    quoted
}

/// [`split_fields`] with the carry-less multiply of the arm64 crypto extension (every Graviton
/// has it) for the prefix XOR.
#[cfg(target_arch = "aarch64")]
#[target_feature(enable = "aes")]
fn split_fields_pmull(line: &[u8], fields: &mut Fields) -> Option<Split> {
    split_fields_with(
        line,
        fields,
        structural::classify_block,
        |bits| prefix_xor_pmull(bits),
        None::<CloseRun>,
    )
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
        None::<CloseRun>,
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
    close_run: Option<impl Fn(&mut Fields, usize, usize, usize, u64, u64) -> u64>,
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
            walk.block(classify_block(block), base, 0, fields, &prefix_xor, &close_run)
        {
            return split;
        }
        base += BLOCK;
    }
    if !blocks.remainder().is_empty() {
        let masks = structural::block_at(line, base, &classify_block);
        let line_end = 1u64 << (len - base);
        if let ControlFlow::Break(split) =
            walk.block(masks, base, line_end, fields, &prefix_xor, &close_run)
        {
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
    let quoted = match close_run {
        Some(_) => walk.quoted | u64::from(last == b'"') << walk.count,
        None => fields.quoted(walk.count + 1),
    };
    check_quoting(quoted, walk.count + 1)
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
    /// Bit `i` set when field `i` is quoted, kept by a splitter that closes runs of fields (and
    /// bits past the last field closed, which [`check_quoting`] ignores).
    quoted: u64,
}

impl Default for Walk {
    fn default() -> Self {
        Walk { count: 0, inside_carry: 0, separator_carry: 1, close_carry: 0, quoted: 0 }
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
        close_run: &Option<impl Fn(&mut Fields, usize, usize, usize, u64, u64) -> u64>,
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

        if let Some(close_run) = close_run {
            let closes = (separators.count_ones() as usize).min(Field::COUNT - self.count);
            self.quoted |= close_run(fields, self.count, closes, base, separators, closed_before)
                << self.count;
            self.count += closes;
            if self.count == Field::COUNT {
                return ControlFlow::Break(check_quoting(self.quoted, self.count));
            }
            return ControlFlow::Continue(());
        }
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
