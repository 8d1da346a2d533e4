//! The Luhn check digit of IMEIs and ICCIDs.

/// The check digit that makes `digits` + it pass the Luhn test. `digits` must be ASCII digits.
pub fn check_digit(digits: &str) -> u8 {
    // Doubling starts from the rightmost digit of the payload (it will be second from the right).
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = (b - b'0') as u32;
            if i % 2 == 0 {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Whether `number` (digits only, check digit last) passes the Luhn test.
pub fn is_valid(number: &str) -> bool {
    number.len() >= 2
        && number.bytes().all(|b| b.is_ascii_digit())
        && check_digit(&number[..number.len() - 1]) == number.as_bytes()[number.len() - 1] - b'0'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_numbers() {
        // IMEI examples from the GSMA's documentation and a well-known test card number.
        assert!(is_valid("490154203237518"));
        assert!(is_valid("356938035643809"));
        assert!(is_valid("79927398713"));
        assert!(!is_valid("490154203237519"));
        assert!(!is_valid("49015420323751x"));
        assert_eq!(check_digit("49015420323751"), 8);
    }
}
