//! Cheap number formatting for reasons.
//!
//! `format!("{:.4}", p)` is exact decimal rounding of the binary value, and core's
//! algorithm for it falls back to big-number arithmetic (Dragon4) for many values.
//! Inside a policy every instruction is fuel-metered: formatting two numbers that way
//! was a tenth of the stock regression policy's whole decision. [`fixed`] rounds with
//! one multiplication and prints integers instead.

use core::fmt;

/// Most decimals [`fixed`] prints (more are clamped to this).
pub const MAX_DECIMALS: u8 = 9;

/// `value` with `decimals` digits after the point, for a reason string:
/// `format!("p = {}", fixed(p, 4))` prints `p = 0.0123`.
///
/// Rounds `value · 10^decimals` half away from zero, so where `value` lies within a
/// unit in the last place of a rounding tie the last digit may differ from
/// `format!("{:.4}", value)`. NaN, infinities and magnitudes of 10¹⁵ and above are
/// printed by core's formatting. Width, fill and sign flags of the format string are
/// ignored.
pub fn fixed(value: f64, decimals: u8) -> Fixed {
    Fixed {
        value,
        decimals: decimals.min(MAX_DECIMALS),
    }
}

/// A number printed by [`fixed`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fixed {
    value: f64,
    decimals: u8,
}

/// Above this, `value · 10^decimals` may not fit the integer path exactly.
const EXACT_LIMIT: f64 = 1e15;

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = usize::from(self.decimals);
        let scale = 10u64.pow(u32::from(self.decimals));
        let magnitude = self.value.abs();
        if !magnitude.is_finite() || magnitude >= EXACT_LIMIT {
            return write!(f, "{:.*}", digits, self.value);
        }
        let scaled_f = magnitude * scale as f64 + 0.5;
        if scaled_f >= EXACT_LIMIT * 10.0 {
            return write!(f, "{:.*}", digits, self.value);
        }
        // Truncating a non-negative value is `floor`: with the + 0.5 above, rounding.
        let scaled = scaled_f as u64;
        // As core does: a negative value keeps its sign even when it rounds to zero.
        if self.value.is_sign_negative() {
            f.write_str("-")?;
        }
        write!(f, "{}", scaled / scale)?;
        if digits > 0 {
            write!(f, ".{:0digits$}", scaled % scale)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    fn assert_agrees(v: f64, d: u8) {
        assert_eq!(
            format!("{}", fixed(v, d)),
            format!("{:.*}", usize::from(d), v),
            "value {v}, {d} decimals"
        );
    }

    #[test]
    fn agrees_with_core_formatting_away_from_ties() {
        let values = [
            0.0,
            1.0,
            -1.0,
            0.012_345_6,
            0.999_96,
            0.999_94,
            123.456_789,
            -0.000_04,
            -0.000_06,
            0.05,
            2.5e-7,
            42.0,
            9.876_543_21e9,
            -7.123_456_78,
            1e-12,
        ];
        for &v in &values {
            for d in [0u8, 1, 3, 4, 6] {
                assert_agrees(v, d);
            }
        }
    }

    #[test]
    fn agrees_with_core_formatting_on_ten_thousand_pseudo_random_values() {
        // A fixed sequence (an LCG), so the test is deterministic; a value within an ulp
        // of a tie is a 1-in-10¹² event, and none of these is one.
        let mut state: u64 = 0x5eed;
        for i in 0..10_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            let v = (unit - 0.5) * 10f64.powi(i % 9 - 3);
            assert_agrees(v, (i % 7) as u8);
        }
    }

    #[test]
    fn negative_values_that_round_to_zero_keep_their_sign_as_in_core() {
        assert_eq!(format!("{}", fixed(-0.000_01, 3)), "-0.000");
        assert_eq!(format!("{}", fixed(-0.0, 2)), format!("{:.2}", -0.0));
    }

    #[test]
    fn huge_and_non_finite_values_use_core_formatting() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300, -2.5e15] {
            assert_eq!(format!("{}", fixed(v, 2)), format!("{v:.2}"));
        }
    }

    #[test]
    fn decimals_are_clamped() {
        assert_eq!(format!("{}", fixed(0.5, 200)), "0.500000000");
    }
}
