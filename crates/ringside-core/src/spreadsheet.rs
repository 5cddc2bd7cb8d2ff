//! Cells of the CSV files Ringside writes, made safe to open in a spreadsheet.

/// `=cmd|...`, `@SUM(...)` and friends would run in a spreadsheet; a phone number like
/// `+14155550123` stays as it is.
pub fn defuse_formula(v: &str) -> String {
    let mut chars = v.chars();
    let first = chars.next();
    let second = chars.next();
    let risky = match first {
        Some('=') | Some('@') | Some('\t') | Some('\r') => true,
        Some('+') | Some('-') => !second.is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    };
    if risky {
        format!("'{v}")
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::defuse_formula;

    #[test]
    fn spreadsheet_formulas_are_defused_numbers_are_not() {
        assert_eq!(defuse_formula("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(defuse_formula("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defuse_formula("+HYPERLINK(\"x\")"), "'+HYPERLINK(\"x\")");
        assert_eq!(defuse_formula("+14155550123"), "+14155550123");
        assert_eq!(defuse_formula("201"), "201");
        assert_eq!(defuse_formula(""), "");
    }
}
