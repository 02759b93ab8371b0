//! CVSS v3.0 / v3.1 base scores from vector strings.
//!
//! Follows FIRST's *Common Vulnerability Scoring System v3.1: Specification Document*
//! (<https://www.first.org/cvss/v3.1/specification-document>): section 7.1 (base metric
//! equations), section 7.4 (metric values) and Appendix A (the `Roundup` function). CVSS v3.0
//! (<https://www.first.org/cvss/v3.0/specification-document>, section 8.1) has the same
//! equations and weights; its `Roundup` ("the smallest number, to one decimal place, equal to
//! or higher than its input") is computed here with v3.1's integer definition, which gives the
//! same results without floating-point artefacts, as the v3.1 document recommends.
//!
//! Only base scores: temporal and environmental metrics in a vector are checked for form and
//! then ignored. CVSS v2 and v4 vectors are rejected (callers keep their text).

use crate::model::Severity;

/// Why a vector has no CVSS v3 base score: what was expected and what was found, in the
/// vector (`vector`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CvssError {
    /// Not a `CVSS:3.0/` or `CVSS:3.1/` vector.
    #[error("expected a vector starting `CVSS:3.1/` or `CVSS:3.0/`, found `{vector}`")]
    Prefix {
        /// The vector.
        vector: String,
    },
    /// A part that is not `METRIC:VALUE`.
    #[error("expected `METRIC:VALUE`, found `{part}` in `{vector}`")]
    Part {
        /// The part.
        part: String,
        /// The vector.
        vector: String,
    },
    /// A value of more or less than one letter.
    #[error("expected a one-letter value for `{metric}`, found `{value}` in `{vector}`")]
    ValueLength {
        /// The metric.
        metric: String,
        /// Its value.
        value: String,
        /// The vector.
        vector: String,
    },
    /// A metric given twice.
    #[error("metric `{metric}` appears twice in `{vector}`")]
    Repeated {
        /// The metric.
        metric: String,
        /// The vector.
        vector: String,
    },
    /// A base metric's value the specification does not define.
    #[error("expected `{metric}` to be one of {allowed}, found `{value}` in `{vector}`")]
    Value {
        /// The metric.
        metric: String,
        /// Its values (`N, A, L, P`).
        allowed: String,
        /// The value found.
        value: char,
        /// The vector.
        vector: String,
    },
    /// A metric CVSS v3 does not have.
    #[error("unknown CVSS v3 metric `{metric}` in `{vector}`")]
    Unknown {
        /// The metric.
        metric: String,
        /// The vector.
        vector: String,
    },
    /// A base metric not given.
    #[error("expected base metric `{metric}`, found none in `{vector}`")]
    Missing {
        /// The metric.
        metric: &'static str,
        /// The vector.
        vector: String,
    },
}

/// The base score (0.0–10.0, one decimal) of a `CVSS:3.0/…` or `CVSS:3.1/…` vector.
///
/// Errors say what was expected and what was found: a missing prefix, an unknown or repeated
/// metric, an invalid value, a missing base metric.
pub(crate) fn base_score_v3(vector: &str) -> Result<f64, CvssError> {
    let v = vector.trim();
    let rest = v
        .strip_prefix("CVSS:3.1/")
        .or_else(|| v.strip_prefix("CVSS:3.0/"))
        .ok_or_else(|| CvssError::Prefix {
            vector: v.to_owned(),
        })?;
    // AV AC PR UI S C I A
    let mut base: [Option<char>; 8] = [None; 8];
    const BASE: [&str; 8] = ["AV", "AC", "PR", "UI", "S", "C", "I", "A"];
    const OTHER: [&str; 14] = [
        "E", "RL", "RC", "CR", "IR", "AR", "MAV", "MAC", "MPR", "MUI", "MS", "MC", "MI", "MA",
    ];
    let mut seen_other: Vec<&str> = Vec::new();
    for part in rest.split('/') {
        let (k, val) = part.split_once(':').ok_or_else(|| CvssError::Part {
            part: part.to_owned(),
            vector: v.to_owned(),
        })?;
        let mut chars = val.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return Err(CvssError::ValueLength {
                metric: k.to_owned(),
                value: val.to_owned(),
                vector: v.to_owned(),
            });
        };
        let repeated = || CvssError::Repeated {
            metric: k.to_owned(),
            vector: v.to_owned(),
        };
        if let Some(i) = BASE.iter().position(|b| *b == k) {
            if base[i].is_some() {
                return Err(repeated());
            }
            let allowed: &[char] = match k {
                "AV" => &['N', 'A', 'L', 'P'],
                "AC" => &['L', 'H'],
                "UI" => &['N', 'R'],
                "PR" => &['N', 'L', 'H'],
                "S" => &['U', 'C'],
                _ => &['H', 'L', 'N'],
            };
            if !allowed.contains(&c) {
                return Err(CvssError::Value {
                    metric: k.to_owned(),
                    allowed: allowed
                        .iter()
                        .map(char::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    value: c,
                    vector: v.to_owned(),
                });
            }
            base[i] = Some(c);
        } else if OTHER.contains(&k) {
            if seen_other.contains(&k) {
                return Err(repeated());
            }
            seen_other.push(k);
        } else {
            return Err(CvssError::Unknown {
                metric: k.to_owned(),
                vector: v.to_owned(),
            });
        }
    }
    let mut vals = [' '; 8];
    for (i, b) in base.iter().enumerate() {
        vals[i] = b.ok_or_else(|| CvssError::Missing {
            metric: BASE[i],
            vector: v.to_owned(),
        })?;
    }
    let [av, ac, pr, ui, s, c, i, a] = vals;
    let changed = s == 'C';
    let av = match av {
        'N' => 0.85,
        'A' => 0.62,
        'L' => 0.55,
        _ => 0.2,
    };
    let ac = if ac == 'L' { 0.77 } else { 0.44 };
    let pr = match (pr, changed) {
        ('N', _) => 0.85,
        ('L', false) => 0.62,
        ('L', true) => 0.68,
        (_, false) => 0.27,
        (_, true) => 0.5,
    };
    let ui = if ui == 'N' { 0.85 } else { 0.62 };
    let cia = |x: char| match x {
        'H' => 0.56,
        'L' => 0.22,
        _ => 0.0,
    };
    let iss: f64 = 1.0 - ((1.0 - cia(c)) * (1.0 - cia(i)) * (1.0 - cia(a)));
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
    } else {
        6.42 * iss
    };
    let exploitability = 8.22 * av * ac * pr * ui;
    if impact <= 0.0 {
        return Ok(0.0);
    }
    Ok(if changed {
        roundup(f64::min(1.08 * (impact + exploitability), 10.0))
    } else {
        roundup(f64::min(impact + exploitability, 10.0))
    })
}

/// CVSS v3.1 Appendix A `Roundup`: the smallest number, to one decimal place, equal to or
/// higher than the input, computed on integers.
fn roundup(x: f64) -> f64 {
    // Scores are within 0..=10.8, so the integer fits comfortably.
    #[allow(clippy::cast_possible_truncation)]
    let int_input = (x * 100_000.0).round() as i64;
    if int_input % 10_000 == 0 {
        int_input as f64 / 100_000.0
    } else {
        ((int_input / 10_000) + 1) as f64 / 10.0
    }
}

/// The severity of a CVSS v3 vector (`None` when it is not a valid v3 vector).
pub(crate) fn severity_of_vector(vector: &str) -> Option<Severity> {
    base_score_v3(vector).ok().map(Severity::from_cvss_score)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_scores() {
        for (v, want) in [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.1),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
            ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H", 6.5),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H", 5.9),
            ("CVSS:3.0/AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 4.0),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
            ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", 0.0),
            // The v3.1 spec's Roundup example input: 4.000 002 must not become 4.1.
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:H", 6.6),
            // Temporal and environmental metrics do not change the base score.
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:C",
                9.8,
            ),
        ] {
            assert_eq!(base_score_v3(v).unwrap(), want, "{v}");
        }
        assert_eq!(roundup(4.000_002), 4.0);
        assert_eq!(roundup(4.02), 4.1);
        assert_eq!(
            severity_of_vector("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(Severity::Critical)
        );
    }

    /// Every one of the 2,592 base-metric combinations, in both versions, agrees with the
    /// `cvss` crate (the implementation RustSec uses).
    #[test]
    fn every_base_vector_agrees_with_the_cvss_crate() {
        let mut n = 0;
        for ver in ["3.0", "3.1"] {
            for av in ["N", "A", "L", "P"] {
                for ac in ["L", "H"] {
                    for pr in ["N", "L", "H"] {
                        for ui in ["N", "R"] {
                            for s in ["U", "C"] {
                                for c in ["H", "L", "N"] {
                                    for i in ["H", "L", "N"] {
                                        for a in ["H", "L", "N"] {
                                            let v = format!("CVSS:{ver}/AV:{av}/AC:{ac}/PR:{pr}/UI:{ui}/S:{s}/C:{c}/I:{i}/A:{a}");
                                            let theirs: cvss::v3::Base = v.parse().unwrap();
                                            assert_eq!(
                                                base_score_v3(&v).unwrap(),
                                                theirs.score().value(),
                                                "{v}"
                                            );
                                            n += 1;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(n, 2 * 2592);
    }

    #[test]
    fn bad_vectors_say_why() {
        for (v, want) in [
            ("AV:N/AC:L/Au:N/C:P/I:P/A:P", "expected a vector starting"),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                "expected a vector starting",
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
                "expected base metric `A`",
            ),
            (
                "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "appears twice",
            ),
            (
                "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "one of N, A, L, P",
            ),
            (
                "CVSS:3.1/AV:N/AC:N/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "one of L, H",
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:L/S:U/C:H/I:H/A:H",
                "one of N, R",
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1",
                "unknown CVSS v3 metric",
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:HH",
                "one-letter value",
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/",
                "METRIC:VALUE",
            ),
        ] {
            let e = base_score_v3(v).unwrap_err().to_string();
            assert!(e.contains(want), "{v}: {e}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,80}") {
            let _ = base_score_v3(&s);
        }

        #[test]
        fn never_panics_near_valid(parts in proptest::collection::vec("(AV|AC|PR|UI|S|C|I|A|E|MAV|X):[NALPHUCRX]{0,2}", 0..12), ver in "3\\.[01]") {
            let v = format!("CVSS:{ver}/{}", parts.join("/"));
            if let Ok(score) = base_score_v3(&v) {
                prop_assert!((0.0..=10.0).contains(&score));
                prop_assert!(((score * 10.0).round() - score * 10.0).abs() < 1e-9);
            }
        }
    }
}
