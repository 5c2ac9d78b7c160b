//! The Unicode character classes of the text rules ([`crate::validate`]): characters that change
//! how a text reads without being seen.
//!
//! - Bidirectional controls ([`is_bidi_control`]) reorder the characters around them, so a title
//!   or a reason can display differently from what it says; they are refused in every text.
//! - Format characters ([`is_format`], General Category Cf, such as U+200D ZERO WIDTH JOINER) are
//!   invisible: `staff\u{200d}.vienna` looks like `staff.vienna`. They are refused in identifiers
//!   (`recorded_by`, a case's `codename`; partner slugs are ASCII already). Other texts keep them,
//!   since some scripts need them (U+200C ZERO WIDTH NON-JOINER in Persian, for one).
//! - A text made only of invisible characters ([`is_invisible`]) is empty.
//!
//! The Cf category comes from the `unicode-general-category` crate; the two short tables below
//! are copied from the Unicode Character Database, version 16.0, and name their source file.

use unicode_general_category::{GeneralCategory, get_general_category};

/// The `Bidi_Control` characters (PropList.txt): U+061C, U+200E, U+200F, U+202A..=U+202E and
/// U+2066..=U+2069.
#[must_use]
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` is a format character (General Category Cf): invisible, it changes how the
/// characters around it are shown or joined. Every bidirectional control is one.
#[must_use]
pub fn is_format(c: char) -> bool {
    get_general_category(c) == GeneralCategory::Format
}

/// Whether `c` shows nothing: white space, a format character, or another default-ignorable
/// code point (variation selectors, Hangul fillers, …). A text made only of these is empty.
#[must_use]
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace() || is_format(c) || is_default_ignorable(c)
}

/// `Default_Ignorable_Code_Point` (DerivedCoreProperties.txt, Unicode 16.0): the code points
/// that a renderer shows as nothing when it cannot display them.
const DEFAULT_IGNORABLE: [(char, char); 27] = [
    ('\u{00ad}', '\u{00ad}'),
    ('\u{034f}', '\u{034f}'),
    ('\u{061c}', '\u{061c}'),
    ('\u{115f}', '\u{1160}'),
    ('\u{17b4}', '\u{17b5}'),
    ('\u{180b}', '\u{180d}'),
    ('\u{180e}', '\u{180e}'),
    ('\u{180f}', '\u{180f}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2065}', '\u{2065}'),
    ('\u{2066}', '\u{206f}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{fe00}', '\u{fe0f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{ffa0}', '\u{ffa0}'),
    ('\u{fff0}', '\u{fff8}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0000}', '\u{e0000}'),
    ('\u{e0001}', '\u{e0001}'),
    ('\u{e0002}', '\u{e001f}'),
    ('\u{e0020}', '\u{e007f}'),
    ('\u{e0080}', '\u{e00ff}'),
    ('\u{e0100}', '\u{e01ef}'),
    ('\u{e01f0}', '\u{e0fff}'),
];

fn is_default_ignorable(c: char) -> bool {
    DEFAULT_IGNORABLE
        .binary_search_by(|&(first, last)| {
            if last < c {
                std::cmp::Ordering::Less
            } else if first > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Names of the format characters met in practice (UnicodeData.txt, Unicode 16.0).
const NAMES: [(char, &str); 33] = [
    ('\u{00ad}', "SOFT HYPHEN"),
    ('\u{061c}', "ARABIC LETTER MARK"),
    ('\u{180e}', "MONGOLIAN VOWEL SEPARATOR"),
    ('\u{200b}', "ZERO WIDTH SPACE"),
    ('\u{200c}', "ZERO WIDTH NON-JOINER"),
    ('\u{200d}', "ZERO WIDTH JOINER"),
    ('\u{200e}', "LEFT-TO-RIGHT MARK"),
    ('\u{200f}', "RIGHT-TO-LEFT MARK"),
    ('\u{202a}', "LEFT-TO-RIGHT EMBEDDING"),
    ('\u{202b}', "RIGHT-TO-LEFT EMBEDDING"),
    ('\u{202c}', "POP DIRECTIONAL FORMATTING"),
    ('\u{202d}', "LEFT-TO-RIGHT OVERRIDE"),
    ('\u{202e}', "RIGHT-TO-LEFT OVERRIDE"),
    ('\u{2060}', "WORD JOINER"),
    ('\u{2061}', "FUNCTION APPLICATION"),
    ('\u{2062}', "INVISIBLE TIMES"),
    ('\u{2063}', "INVISIBLE SEPARATOR"),
    ('\u{2064}', "INVISIBLE PLUS"),
    ('\u{2066}', "LEFT-TO-RIGHT ISOLATE"),
    ('\u{2067}', "RIGHT-TO-LEFT ISOLATE"),
    ('\u{2068}', "FIRST STRONG ISOLATE"),
    ('\u{2069}', "POP DIRECTIONAL ISOLATE"),
    ('\u{206a}', "INHIBIT SYMMETRIC SWAPPING"),
    ('\u{206b}', "ACTIVATE SYMMETRIC SWAPPING"),
    ('\u{206c}', "INHIBIT ARABIC FORM SHAPING"),
    ('\u{206d}', "ACTIVATE ARABIC FORM SHAPING"),
    ('\u{206e}', "NATIONAL DIGIT SHAPES"),
    ('\u{206f}', "NOMINAL DIGIT SHAPES"),
    ('\u{feff}', "ZERO WIDTH NO-BREAK SPACE"),
    ('\u{fff9}', "INTERLINEAR ANNOTATION ANCHOR"),
    ('\u{fffa}', "INTERLINEAR ANNOTATION SEPARATOR"),
    ('\u{fffb}', "INTERLINEAR ANNOTATION TERMINATOR"),
    ('\u{e0001}', "LANGUAGE TAG"),
];

/// `U+200D ZERO WIDTH JOINER`: the code point and, for the common format characters, its name
/// (otherwise its category, e.g. `U+110BD (format character)`).
#[must_use]
pub fn describe(c: char) -> String {
    let code = u32::from(c);
    match NAMES.binary_search_by_key(&c, |&(named, _)| named) {
        Ok(i) => format!("U+{code:04X} {}", NAMES[i].1),
        Err(_) if is_format(c) => format!("U+{code:04X} (format character)"),
        Err(_) => format!("U+{code:04X}"),
    }
}

/// The first character of `text` for which `test` holds, with its 1-based position in
/// characters, described: `U+200D ZERO WIDTH JOINER at character 6`.
#[must_use]
pub fn find(text: &str, test: impl Fn(char) -> bool) -> Option<String> {
    let (i, c) = text.chars().enumerate().find(|&(_, c)| test(c))?;
    Some(format!("{} at character {}", describe(c), i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_agree_with_the_category() {
        assert!(DEFAULT_IGNORABLE.windows(2).all(|w| w[0].1 < w[1].0));
        assert!(DEFAULT_IGNORABLE.iter().all(|(first, last)| first <= last));
        assert!(NAMES.windows(2).all(|w| w[0].0 < w[1].0));
        for (c, name) in NAMES {
            assert!(is_format(c), "{name} is Cf");
            assert!(is_invisible(c), "{name} is invisible");
        }
        for c in [
            '\u{061c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}',
        ] {
            assert!(is_bidi_control(c) && is_format(c), "{}", describe(c));
        }
    }

    #[test]
    fn classes() {
        assert!(!is_bidi_control('\u{200d}') && is_format('\u{200d}'));
        assert!(is_invisible(' ') && is_invisible('\u{3000}') && is_invisible('\u{fe0f}'));
        assert!(is_invisible('\u{3164}') && !is_format('\u{3164}'));
        assert!(!is_invisible('a') && !is_invisible('é') && !is_format('-'));
        assert_eq!(
            find("staff\u{200d}.vienna", is_format).as_deref(),
            Some("U+200D ZERO WIDTH JOINER at character 6")
        );
        assert_eq!(describe('\u{110bd}'), "U+110BD (format character)");
        assert_eq!(find("plain", is_format), None);
    }
}
