//! Token amounts: raw base units as people read them (`10000` with 6 decimals
//! is `0.01`), and back.

/// Why a decimal amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not a plain decimal number.
    #[error("`{0}` is not an amount (write it like 0.25)")]
    NotANumber(String),
    /// More fractional digits than the token has.
    #[error("`{text}` has more than {decimals} decimal places")]
    TooPrecise {
        /// The text given.
        text: String,
        /// The token's decimals.
        decimals: u8,
    },
    /// Beyond `u64` base units.
    #[error("`{0}` is too large")]
    TooLarge(String),
}

/// Raw units as a decimal amount, trailing zeros trimmed: `10000`, 6 → `0.01`.
pub fn format_units(raw: u64, decimals: u8) -> String {
    let scale = 10u128.pow(u32::from(decimals));
    let whole = u128::from(raw) / scale;
    let fraction = u128::from(raw) % scale;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:0width$}", width = usize::from(decimals));
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// A decimal amount in raw units: `0.01`, 6 → `10000`.
pub fn parse_units(text: &str, decimals: u8) -> Result<u64, AmountError> {
    let trimmed = text.trim();
    let not_a_number = || AmountError::NotANumber(text.to_string());
    let (whole, fraction) = trimmed.split_once('.').unwrap_or((trimmed, ""));
    let digits_only = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits_only(whole) || !digits_only(fraction) {
        return Err(not_a_number());
    }
    if fraction.len() > usize::from(decimals) {
        return Err(AmountError::TooPrecise {
            text: text.to_string(),
            decimals,
        });
    }
    let too_large = || AmountError::TooLarge(text.to_string());
    let scale = 10u128.pow(u32::from(decimals));
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_large())?
    };
    let fraction_value: u128 = if fraction.is_empty() {
        0
    } else {
        let padded = format!("{fraction:0<width$}", width = usize::from(decimals));
        padded.parse().map_err(|_| not_a_number())?
    };
    let raw = whole
        .checked_mul(scale)
        .and_then(|value| value.checked_add(fraction_value))
        .ok_or_else(too_large)?;
    u64::try_from(raw).map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn amounts_read_as_people_write_them() {
        assert_eq!(format_units(10_000, 6), "0.01");
        assert_eq!(format_units(5_000_000, 6), "5");
        assert_eq!(format_units(1_234_500, 6), "1.2345");
        assert_eq!(parse_units("0.01", 6), Ok(10_000));
        assert_eq!(parse_units("5", 6), Ok(5_000_000));
        assert_eq!(parse_units(".5", 6), Ok(500_000));
        assert_eq!(parse_units("2.", 6), Ok(2_000_000));
    }

    #[test]
    fn bad_amounts_are_refused_with_a_reason() {
        for text in ["", ".", "-1", "1e3", "0x10", "1.2.3", "one"] {
            assert_eq!(
                parse_units(text, 6),
                Err(AmountError::NotANumber(text.into()))
            );
        }
        assert!(matches!(
            parse_units("0.0000001", 6),
            Err(AmountError::TooPrecise { .. })
        ));
        assert!(matches!(
            parse_units("99999999999999999999", 6),
            Err(AmountError::TooLarge(_))
        ));
    }

    proptest! {
        #[test]
        fn formatting_then_parsing_returns_the_raw_amount(raw in any::<u64>(), decimals in 0u8..=9) {
            prop_assert_eq!(parse_units(&format_units(raw, decimals), decimals), Ok(raw));
        }
    }
}
