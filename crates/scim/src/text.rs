//! Caseless matching: the one rule by which attribute values are compared,
//! claimed and indexed.
//!
//! RFC 7643 §2.2 says a string attribute with `caseExact: false` compares
//! case-insensitively, and RFC 7644 §3.4.2.2 applies that to every filter
//! operator (`eq`, `ne`, `co`, `sw`, `ew`, `gt`, `ge`, `lt`, `le`). Neither
//! says what "case-insensitive" means beyond ASCII; this service uses the
//! Unicode Standard's *canonical caseless match* (§3.13, D145), which is
//! what `caseExact: false` means for text in any script:
//!
//! - [`fold`] (`caseExact: false`): the value in Normalization Form D,
//!   full case folding (`CaseFolding.txt`, statuses C and F), then
//!   Normalization Form C. `ΟΔΟΣ`, `οδος` and `οδοσ` are one value (final
//!   sigma folds like sigma), so are `Straße` and `STRASSE` (ß folds to
//!   `ss`), and `café` spelled with U+00E9 or with `e` + U+0301.
//! - [`nfc`] (`caseExact: true`): the value in Normalization Form C only:
//!   canonically equivalent spellings are one value, cases stay distinct.
//!   `user_name_case_exact` makes userName, and the uniqueness claims of
//!   userName and group displayName, use it.
//!
//! [`comparable`] picks one by `caseExact`; it is the form of the unique-name
//! claims and every index key (`storage::layout::fold`) and the form
//! in which the filter operators compare (the `filter` module), so an index read
//! and a filter evaluation always agree. Values are stored as sent; only
//! the comparable forms are normalised. Attribute *names* and schema URNs are
//! not values: RFC 7643 §2.1 makes them case-insensitive ASCII, and they are
//! compared with `eq_ignore_ascii_case` where they are parsed.
//!
//! ASCII text, by far the commonest, takes a fast path: its folded form is
//! its ASCII lower case and it is already in NFC.
//!
//! The tables: case folding from the `caseless` crate (unicode-rs,
//! `CaseFolding.txt` of Unicode 16), canonical decompositions, compositions
//! and combining classes from `unicode-normalization` (unicode-rs).
//! Unicode's stability policies keep the case folding and the NFC of
//! assigned characters fixed across versions, so updating either crate
//! changes index keys only for characters newer than its previous tables
//! (a cased letter assigned after Unicode 16 folds to itself until
//! `caseless` follows).

use caseless::Caseless;
use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Ordering;
use unicode_normalization::char::{canonical_combining_class, compose, decompose_canonical};
use unicode_normalization::{is_nfc_quick, IsNormalized};

/// `s` in Unicode Normalization Form C (UAX #15); borrowed when it already is.
pub fn nfc(s: &str) -> Cow<'_, str> {
    if s.is_ascii() || is_nfc_quick(s.chars()) == IsNormalized::Yes {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(composed(&decomposed(s.chars())))
    }
}

/// The caseless form of `s`: NFC(full case folding(NFD(s))), the canonical
/// caseless match of Unicode §3.13 (D145) written in composed form. Two
/// strings match caselessly exactly when their folds are equal.
pub fn fold(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        }
    } else {
        let folded = decomposed(s.chars()).into_iter().default_case_fold();
        Cow::Owned(composed(&decomposed(folded)))
    }
}

// NFD and NFC from the canonical mappings of `unicode-normalization`, by
// the algorithms of Unicode §3.11 (canonical ordering and composition).
// Its iterators (`.nfd()`, `.nfc()`) would work as well but link the
// compatibility and CJK tables too (about 80 KB of the .wasm) that these
// forms never use; the tests check these against them.

/// The canonical decomposition of `chars` in canonical order (NFD).
fn decomposed(chars: impl Iterator<Item = char>) -> Vec<char> {
    let mut out = Vec::new();
    for c in chars {
        decompose_canonical(c, |d| out.push(d));
    }
    // Canonical ordering: each run of non-starters, stably by class.
    let mut i = 0;
    while i < out.len() {
        if canonical_combining_class(out[i]) == 0 {
            i += 1;
            continue;
        }
        let start = i;
        while i < out.len() && canonical_combining_class(out[i]) != 0 {
            i += 1;
        }
        out[start..i].sort_by_key(|c| canonical_combining_class(*c));
    }
    out
}

/// The canonical composition of an NFD sequence (NFC).
fn composed(nfd: &[char]) -> String {
    let mut out: Vec<char> = Vec::with_capacity(nfd.len());
    // The last starter in `out`; every character after it is a non-starter.
    let mut starter: Option<usize> = None;
    for &c in nfd {
        let class = canonical_combining_class(c);
        if let Some(si) = starter {
            // Blocked when something stands between the starter and `c`
            // whose class is not lower than `c`'s (canonical order makes the
            // last one the highest).
            let blocked = out.len() - 1 > si
                && out
                    .last()
                    .is_some_and(|l| canonical_combining_class(*l) >= class);
            if !blocked {
                if let Some(p) = compose(out[si], c) {
                    out[si] = p;
                    continue;
                }
            }
        }
        if class == 0 {
            starter = Some(out.len());
        }
        out.push(c);
    }
    out.into_iter().collect()
}

/// The form in which a value of an attribute with this `caseExact` is
/// compared, claimed and indexed: [`nfc`] when case-exact, else [`fold`].
pub fn comparable(s: &str, case_exact: bool) -> Cow<'_, str> {
    if case_exact {
        nfc(s)
    } else {
        fold(s)
    }
}

// The operators compare a stored `value` with a filter's `literal`. A scan
// compares one literal with every value of up to `filter_scan_max`
// resources, so the literal's comparable form is computed once per run of
// calls with the same literal (one per thread, keyed by its content), and
// the work of a scan stays linear in what it reads plus the literal.

thread_local! {
    /// The last literal formed, for each `caseExact` (index 1 when exact).
    static LITERAL: RefCell<[Option<(String, String)>; 2]> = const { RefCell::new([None, None]) };
}

/// `f` of the comparable form of `literal`, remembered for the next call.
fn with_literal<R>(literal: &str, case_exact: bool, f: impl FnOnce(&str) -> R) -> R {
    // Already in its form (ASCII, and lower case unless case-exact): the
    // commonest literal needs nothing.
    if literal.is_ascii() && (case_exact || !literal.bytes().any(|b| b.is_ascii_uppercase())) {
        return f(literal);
    }
    LITERAL.with(|memo| {
        let mut memo = memo.borrow_mut();
        let slot = &mut memo[usize::from(case_exact)];
        if !matches!(slot, Some((l, _)) if l == literal) {
            let formed = comparable(literal, case_exact).into_owned();
            *slot = Some((literal.to_string(), formed));
        }
        f(&slot.as_ref().expect("set above").1)
    })
}

/// `value` and `literal` are the same (`eq`).
pub fn eq(value: &str, literal: &str, case_exact: bool) -> bool {
    if value.is_ascii() && literal.is_ascii() {
        return if case_exact {
            value == literal
        } else {
            value.eq_ignore_ascii_case(literal)
        };
    }
    with_literal(literal, case_exact, |l| comparable(value, case_exact) == l)
}

/// The order of `value` and `literal` (`gt`, `ge`, `lt`, `le`): code point
/// order of their comparable forms.
pub fn cmp(value: &str, literal: &str, case_exact: bool) -> Ordering {
    if value.is_ascii() && literal.is_ascii() {
        return if case_exact {
            value.cmp(literal)
        } else {
            let (a, b) = (value.bytes(), literal.bytes());
            a.map(|c| c.to_ascii_lowercase())
                .cmp(b.map(|c| c.to_ascii_lowercase()))
        };
    }
    with_literal(literal, case_exact, |l| {
        (*comparable(value, case_exact)).cmp(l)
    })
}

/// `literal` occurs in `value` (`co`): a two-way/SIMD substring search
/// (`memchr::memmem`) on the comparable forms, linear in both lengths
/// whatever they hold.
pub fn contains(value: &str, literal: &str, case_exact: bool) -> bool {
    with_literal(literal, case_exact, |l| {
        let v = comparable(value, case_exact);
        v.len() >= l.len() && memchr::memmem::find(v.as_bytes(), l.as_bytes()).is_some()
    })
}

/// `value` starts with `literal` (`sw`).
pub fn starts_with(value: &str, literal: &str, case_exact: bool) -> bool {
    if value.is_ascii() && literal.is_ascii() {
        let (h, n) = (value.as_bytes(), literal.as_bytes());
        return h.len() >= n.len()
            && if case_exact {
                h.starts_with(n)
            } else {
                h[..n.len()].eq_ignore_ascii_case(n)
            };
    }
    with_literal(literal, case_exact, |l| {
        comparable(value, case_exact).starts_with(l)
    })
}

/// `value` ends with `literal` (`ew`).
pub fn ends_with(value: &str, literal: &str, case_exact: bool) -> bool {
    if value.is_ascii() && literal.is_ascii() {
        let (h, n) = (value.as_bytes(), literal.as_bytes());
        return h.len() >= n.len()
            && if case_exact {
                h.ends_with(n)
            } else {
                h[h.len() - n.len()..].eq_ignore_ascii_case(n)
            };
    }
    with_literal(literal, case_exact, |l| {
        comparable(value, case_exact).ends_with(l)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn greek_sigma_in_every_position_folds_to_one_form() {
        assert_eq!(fold("ΟΔΟΣ"), "οδοσ");
        assert_eq!(fold("οδος"), "οδοσ");
        assert_eq!(fold("οδοσ"), "οδοσ");
        assert_eq!(fold("bfb1ΟΔΟΣ"), fold("bfb1οδος"));
        // What str::to_lowercase (the old index fold) and char::to_lowercase
        // (the old filter fold) disagreed on.
        assert_ne!("ΟΔΟΣ".to_lowercase(), "οδοσ");
        assert!(eq("bfb1ΟΔΟΣ", "bfb1οδος", false));
        assert!(!eq("bfb1ΟΔΟΣ", "bfb1οδος", true));
    }

    #[test]
    fn canonically_equivalent_spellings_are_one_value_in_either_case_mode() {
        let (composed, decomposed) = ("caf\u{e9}", "cafe\u{301}");
        assert_eq!(fold(composed), fold(decomposed));
        assert_eq!(nfc(decomposed), composed);
        assert!(matches!(nfc(composed), Cow::Borrowed(_)));
        assert!(eq(composed, decomposed, true));
        assert!(eq(composed, "CAFE\u{301}", false));
        assert!(!eq(composed, "CAFE\u{301}", true));
        assert_eq!(comparable("Cafe\u{301}", true), "Caf\u{e9}");
        assert_eq!(comparable("Cafe\u{301}", false), "caf\u{e9}");
        // Hangul syllables and their jamo; Å as U+00C5, U+212B (the ångström
        // sign) and A + ring.
        assert_eq!(fold("\u{1100}\u{1161}"), fold("\u{ac00}"));
        assert_eq!(fold("\u{c5}"), fold("\u{212b}"));
        assert_eq!(fold("\u{c5}"), fold("a\u{30a}"));
    }

    #[test]
    fn full_case_folding_not_lower_casing() {
        assert_eq!(fold("Straße"), "strasse");
        assert!(eq("STRASSE", "straße", false));
        assert_eq!(fold("ﬁle"), "file");
        // The micro sign folds to mu; Kelvin to k.
        assert!(eq("\u{b5}", "\u{3bc}", false));
        assert!(eq("\u{212a}", "k", false));
        // U+0345 (ypogegrammeni) is why folding starts from NFD (D145).
        assert_eq!(fold("\u{1fb3}"), fold("\u{1fbc}"));
        assert_eq!(fold("\u{3b1}\u{345}"), fold("\u{1fb3}"));
        // Dotted capital I folds to i + combining dot; dotless ı stays.
        assert_eq!(fold("\u{130}"), "i\u{307}");
        assert_ne!(fold("\u{131}"), fold("I"));
    }

    #[test]
    fn ascii_is_ascii_lower_case_and_borrowed_when_already_folded() {
        assert_eq!(fold("BJensen@Example.COM"), "bjensen@example.com");
        assert!(matches!(fold("bjensen@example.com"), Cow::Borrowed(_)));
        assert!(matches!(nfc("BJensen"), Cow::Borrowed(_)));
        assert_eq!(cmp("abc", "ABD", false), Ordering::Less);
        assert_eq!(cmp("abc", "ABD", true), Ordering::Greater);
    }

    #[test]
    fn operators_on_non_ascii_values() {
        let v = "ÉLODIE Straße ΟΔΟΣ";
        assert!(contains(v, "die strasse", false));
        assert!(contains(v, "ΟΔΟς", false));
        assert!(!contains(v, "elodie", false));
        assert!(contains(v, "", false));
        assert!(starts_with(v, "éLO", false));
        assert!(!starts_with(v, "éLO", true));
        assert!(ends_with(v, "οδος", false));
        assert!(!ends_with(v, "οδος", true));
        assert!(ends_with(v, "ΟΔΟΣ", true));
        assert!(ends_with("cafe\u{301}", "\u{c9}", false));
        assert_eq!(cmp("Ünal", "ü", false), Ordering::Greater);
        assert_eq!(cmp("Ünal", "ÜNAM", false), Ordering::Less);
        assert_eq!(cmp("ΟΔΟΣ", "οδος", false), Ordering::Equal);
    }

    #[test]
    fn a_4000_character_needle_over_500_kb_is_linear() {
        // Every position matches 3,999 characters, then fails: quadratic
        // matching does two billion comparisons here.
        let hay = "a".repeat(500_000);
        let needle = format!("{}B", "A".repeat(3_999));
        let t = Instant::now();
        for exact in [false, true] {
            assert!(!contains(&hay, &needle, exact));
            assert!(!starts_with(&hay, &needle, exact));
            assert!(!ends_with(&hay, &needle, exact));
        }
        assert!(contains(&hay, &"A".repeat(4_000), false));
        let non_ascii = "é".repeat(50_000);
        assert!(!contains(
            &non_ascii,
            &format!("{}E", "É".repeat(3_999)),
            false
        ));
        assert!(contains(&non_ascii, &"É".repeat(4_000), false));
        // Quadratic matching took minutes here in a debug build; the
        // release timings are in benches/filter.rs and tests/unicode.rs.
        let took = t.elapsed();
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    #[test]
    fn normal_forms_agree_with_unicode_normalization_on_every_character() {
        use unicode_normalization::UnicodeNormalization;
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let s = c.to_string();
            let nfd: String = s.nfd().collect();
            assert_eq!(decomposed(s.chars()).into_iter().collect::<String>(), nfd);
            assert_eq!(nfc(&s), s.nfc().collect::<String>(), "U+{:04X}", c as u32);
            // A base letter with the character after it, to compose.
            let pair = format!("a{c}");
            assert_eq!(
                nfc(&pair),
                pair.nfc().collect::<String>(),
                "a + U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn a_long_literal_is_formed_once_per_scan() {
        // A scan compares one literal with up to `filter_scan_max` values:
        // forming a 2,000-character non-ASCII literal for each would cost
        // 10,000 times its length.
        let literal = "Σ".repeat(2_000);
        let values: Vec<String> = (0..10_000).map(|i| format!("όνομα {i}")).collect();
        let t = Instant::now();
        for v in &values {
            assert!(!eq(v, &literal, false));
            assert!(!contains(v, &literal, false));
            assert!(!starts_with(v, &literal, true));
            assert_eq!(cmp(v, &literal, false), Ordering::Greater);
        }
        // About 20 ms in a release build, 2 s in a debug one; forming the
        // literal for each value took over a minute (debug).
        let took = t.elapsed();
        assert!(took < Duration::from_secs(10), "{took:?}");
    }

    #[test]
    fn the_remembered_literal_never_answers_for_another() {
        for _ in 0..3 {
            assert!(eq("ΟΔΟΣ", "οδος", false));
            assert!(!eq("ΟΔΟΣ", "οδος", true));
            assert!(!eq("ΟΔΟΣ", "οδοι", false));
            assert!(eq("Cafe\u{301}", "Caf\u{e9}", true));
            assert!(!eq("Cafe\u{301}", "CAF\u{c9}", true));
            assert!(eq("Cafe\u{301}", "CAF\u{c9}", false));
            assert!(contains("Straße", "SS", false));
            assert!(!contains("Straße", "SS", true));
        }
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;
        use unicode_normalization::UnicodeNormalization;

        /// Strings over a mix of ASCII, Latin, Greek, combining marks and
        /// the characters whose folding is special.
        fn text() -> impl Strategy<Value = String> {
            prop::collection::vec(
                prop_oneof![
                    prop::char::range('A', 'z'),
                    prop::sample::select(vec![
                        'é', 'É', '\u{301}', '\u{308}', '\u{345}', 'ß', 'ẞ', 'Σ', 'σ', 'ς', 'Ω',
                        '\u{2126}', 'İ', 'ı', 'ﬁ', 'Å', '\u{212b}', '\u{1fb3}', '\u{1fbc}', 'ǰ',
                        '가', '\u{1100}', '\u{1161}', '\u{11a8}', 'µ', 'K', '\u{212a}', '\u{323}',
                        '\u{327}', '\u{31b}', '\u{334}', '\u{5b0}', '\u{f71}', '\u{1e9e}',
                        '\u{1f88}', 'ǅ', 'ﬃ', 'ᾼ', 'ο', 'Ο',
                    ]),
                    any::<char>(),
                ],
                0..12,
            )
            .prop_map(|v| v.into_iter().collect())
        }

        proptest! {
            #[test]
            fn folding_is_idempotent_and_blind_to_normal_form(s in text()) {
                let f = fold(&s).into_owned();
                prop_assert_eq!(fold(&f), f.as_str());
                prop_assert_eq!(nfc(&f), f.as_str(), "folds are in NFC");
                let nfd: String = s.nfd().collect();
                let nfc_s: String = s.nfc().collect();
                prop_assert_eq!(fold(&nfd), f.as_str());
                prop_assert_eq!(fold(&nfc_s), f.as_str());
                prop_assert_eq!(nfc(&nfd), nfc_s.as_str());
                prop_assert!(eq(&s, &nfd, true));
                prop_assert!(eq(&s, &f, false));
                prop_assert_eq!(cmp(&s, &nfd, false), Ordering::Equal);
                prop_assert!(contains(&s, &f, false));
                prop_assert!(starts_with(&s, &f, false));
                prop_assert!(ends_with(&s, &f, false));
            }

            #[test]
            fn normal_forms_agree_with_unicode_normalization(s in text()) {
                let nfd: String = s.nfd().collect();
                prop_assert_eq!(decomposed(s.chars()).into_iter().collect::<String>(), nfd);
                prop_assert_eq!(nfc(&s), s.nfc().collect::<String>());
                prop_assert_eq!(composed(&decomposed(s.chars())), s.nfc().collect::<String>());
            }

            #[test]
            fn ascii_folds_as_before(s in "[ -~]{0,40}") {
                // Keys of ASCII values are unchanged from the old fold.
                prop_assert_eq!(fold(&s), s.to_lowercase());
                prop_assert_eq!(nfc(&s), s.as_str());
            }

            #[test]
            fn upper_and_lower_case_fold_alike_where_unicode_round_trips(s in text()) {
                let (up, low) = (s.to_uppercase(), s.to_lowercase());
                if up.to_lowercase() == low && low.to_uppercase() == up {
                    prop_assert_eq!(fold(&up), fold(&low));
                }
            }
        }
    }
}
