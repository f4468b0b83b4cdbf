//! pi's fuzzy normalisation: what an `oldText` is compared in when it does not match exactly.
//!
//! NFKC; trailing whitespace removed from every line; smart quotes made ASCII; Unicode dashes
//! and minus made `-`; special spaces made a plain space.

use unicode_normalization::UnicodeNormalization;

/// `text` in the form fuzzy matching compares.
pub(crate) fn normalize(text: &str) -> String {
    let nfkc: String = text.nfkc().collect();
    let trimmed: Vec<&str> = nfkc
        .split('\n')
        .map(|line| line.trim_end_matches(is_js_whitespace))
        .collect();
    trimmed.join("\n").chars().map(plain).collect()
}

/// The ASCII stand-in for a smart quote, dash or special space; anything else unchanged.
fn plain(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' => '"',
        '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        '\u{00A0}' | '\u{2002}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => ' ',
        c => c,
    }
}

/// What JavaScript's `trimEnd` removes: ECMAScript white space and line terminators.
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\u{000B}'
            | '\u{000C}'
            | ' '
            | '\u{00A0}'
            | '\u{FEFF}'
            | '\r'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_dashes_spaces_and_trailing_whitespace_are_normalised() {
        assert_eq!(normalize("a  \nb\t\n"), "a\nb\n");
        assert_eq!(
            normalize("\u{201C}hi\u{201D} \u{2018}x\u{2019}"),
            "\"hi\" 'x'"
        );
        assert_eq!(normalize("a\u{2013}b\u{2014}c\u{2212}d"), "a-b-c-d");
        assert_eq!(normalize("a\u{00A0}b\u{3000}c"), "a b c");
        // NFKC folds compatibility forms (the "ﬁ" ligature, full-width letters).
        assert_eq!(normalize("\u{FB01}le \u{FF21}"), "file A");
    }
}
