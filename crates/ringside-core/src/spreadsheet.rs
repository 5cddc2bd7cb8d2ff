//! The CSV files Ringside writes, made safe to open in a spreadsheet: every cell goes through
//! [`defuse_formula`], so no export can forget one ([`Sheet`] is the only way Ringside writes
//! CSV).

/// What a spreadsheet reads as the start of a formula (Excel, LibreOffice, Google Sheets; the
/// full-width forms too, which some locales' input methods turn into the ASCII ones).
const FORMULA_STARTS: &[char] = &[
    '=', '+', '-', '@', '\t', '\r', '\n', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
];

/// A cell a spreadsheet would evaluate (`=cmd|...`, `@SUM(...)`, `-2+3+cmd|...`,
/// `+1+HYPERLINK(...)`, the same after leading spaces) is prefixed with `'`, which makes it
/// text. A plain number stays as it is, sign included: `+14155550123` (an E.164 number, as
/// Ringside stores them), `-5`, `201`.
pub fn defuse_formula(v: &str) -> String {
    let start = v.trim_start_matches(' ');
    let risky = start.starts_with(FORMULA_STARTS) && !plain_number(start);
    if risky {
        format!("'{v}")
    } else {
        v.to_string()
    }
}

/// A cell as it was before [`defuse_formula`] (an export imported again, by Ringside or a
/// spreadsheet that keeps the `'`): the `'` before what would be a formula is dropped.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if defuse_formula(rest) != rest => rest,
        _ => cell,
    }
}

/// `[+-]digits[.digits]`: a number, nothing a spreadsheet could run.
fn plain_number(v: &str) -> bool {
    let unsigned = v.strip_prefix(['+', '-']).unwrap_or(v);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(fraction)
}

/// A CSV file being written, every cell defused; taken out piece by piece
/// ([`Sheet::take`]) so a long export streams instead of sitting in memory whole.
pub struct Sheet {
    w: csv::Writer<Vec<u8>>,
}

impl Default for Sheet {
    fn default() -> Self {
        Sheet {
            w: csv::Writer::from_writer(Vec::new()),
        }
    }
}

impl Sheet {
    pub fn row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) -> anyhow::Result<()> {
        self.w
            .write_record(cells.into_iter().map(|c| defuse_formula(c.as_ref())))?;
        Ok(())
    }

    /// The rows written since the last `take`.
    pub fn take(&mut self) -> anyhow::Result<String> {
        let w = std::mem::replace(&mut self.w, csv::Writer::from_writer(Vec::new()));
        let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(String::from_utf8(bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreadsheet_formulas_are_defused_numbers_are_not() {
        for risky in [
            "=cmd|' /C calc'!A0",
            "@SUM(A1)",
            "+HYPERLINK(\"x\")",
            "-2+3+cmd|' /C calc'!A0",
            "+1+HYPERLINK(\"http://evil.example\")",
            "-1-1",
            "+1 (415) 555-0123",
            "  =1+1",
            "\t=1",
            "\r=1",
            "\n=1",
            "\u{FF1D}1+1",
            "-",
            "+",
            "1.5e3", /* not risky: starts with a digit */
        ] {
            let out = defuse_formula(risky);
            if risky.starts_with(|c: char| c.is_ascii_digit()) {
                assert_eq!(out, risky);
            } else {
                assert_eq!(out, format!("'{risky}"), "{risky:?}");
            }
        }
        for plain in [
            "+14155550123",
            "-5",
            "+0.5",
            "201",
            "",
            "Anna",
            "a=b",
            "1+1",
        ] {
            assert_eq!(defuse_formula(plain), plain, "{plain:?}");
        }
    }

    #[test]
    fn a_defused_cell_is_restored_on_import() {
        for v in ["+1 415-555-0123", "=x", "201", "'quoted", "+14155550123"] {
            assert_eq!(restore(&defuse_formula(v)), v);
        }
    }

    #[test]
    fn a_sheet_defuses_every_cell_and_streams() {
        let mut s = Sheet::default();
        s.row(["name", "number"]).unwrap();
        let head = s.take().unwrap();
        s.row(["=evil()", "+14155550123"]).unwrap();
        assert_eq!(head, "name,number\n");
        assert_eq!(s.take().unwrap(), "'=evil(),+14155550123\n");
        assert_eq!(s.take().unwrap(), "");
    }
}
