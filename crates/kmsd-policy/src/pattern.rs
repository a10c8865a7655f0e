//! Wildcard patterns (`*`, `?`) compiled once, and policy-variable templates (§2.1, §2.2, §3.5).
//!
//! A [`Glob`] is matched without allocation. A [`Template`] is text with `${key}` variables; it is
//! resolved against a request context at evaluation time. Characters that come from a
//! substituted value or from `${*}`/`${?}`/`${$}` are always literal (V3, V6).

use crate::context::{ContextValue, RequestContext};

/// One element of a compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// Literal text (already lower-cased when the glob is case-insensitive).
    Lit(Box<str>),
    /// `*`: any run of characters, including none.
    Star,
    /// `?`: exactly one character.
    One,
}

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Glob {
    /// `*` alone.
    Any,
    /// No wildcards.
    Exact(Box<str>),
    /// `literal*`.
    Prefix(Box<str>),
    /// Anything else.
    Tokens(Box<[Tok]>),
}

/// A piece of pattern text before compilation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Policy text: `*` and `?` are wildcards.
    Text(&'a str),
    /// Literal characters (from `${*}` or a substituted value).
    Literal(&'a str),
}

impl Glob {
    /// Compile policy text where `*` and `?` are wildcards.
    pub fn new(pattern: &str, case_insensitive: bool) -> Glob {
        Glob::from_pieces(&[Piece::Text(pattern)], case_insensitive)
    }

    /// Compile a sequence of pieces.
    pub fn from_pieces(pieces: &[Piece<'_>], case_insensitive: bool) -> Glob {
        let mut toks: Vec<Tok> = Vec::new();
        let mut lit = String::new();
        let flush = |lit: &mut String, toks: &mut Vec<Tok>| {
            if !lit.is_empty() {
                toks.push(Tok::Lit(std::mem::take(lit).into_boxed_str()));
            }
        };
        for piece in pieces {
            match piece {
                Piece::Literal(s) => push_lit(&mut lit, s, case_insensitive),
                Piece::Text(s) => {
                    for c in s.chars() {
                        match c {
                            '*' => {
                                flush(&mut lit, &mut toks);
                                if toks.last() != Some(&Tok::Star) {
                                    toks.push(Tok::Star);
                                }
                            }
                            '?' => {
                                flush(&mut lit, &mut toks);
                                toks.push(Tok::One);
                            }
                            c => {
                                if case_insensitive {
                                    lit.push(c.to_ascii_lowercase());
                                } else {
                                    lit.push(c);
                                }
                            }
                        }
                    }
                }
            }
        }
        flush(&mut lit, &mut toks);
        match toks.as_slice() {
            [Tok::Star] => Glob::Any,
            [] => Glob::Exact("".into()),
            [Tok::Lit(l)] => Glob::Exact(l.clone()),
            [Tok::Lit(l), Tok::Star] => Glob::Prefix(l.clone()),
            _ => Glob::Tokens(toks.into_boxed_slice()),
        }
    }

    /// Does `s` match? `case_insensitive` must be the flag the glob was compiled with.
    #[inline]
    pub fn matches(&self, s: &str, case_insensitive: bool) -> bool {
        match self {
            Glob::Any => true,
            Glob::Exact(l) => {
                if case_insensitive {
                    s.len() == l.len() && starts_with(s.as_bytes(), l.as_bytes(), true)
                } else {
                    s == &**l
                }
            }
            Glob::Prefix(l) => starts_with(s.as_bytes(), l.as_bytes(), case_insensitive),
            Glob::Tokens(t) => match_tokens(t, s.as_bytes(), case_insensitive),
        }
    }
}

fn push_lit(lit: &mut String, s: &str, ci: bool) {
    if ci {
        lit.extend(s.chars().map(|c| c.to_ascii_lowercase()));
    } else {
        lit.push_str(s);
    }
}

#[inline]
fn starts_with(s: &[u8], lit: &[u8], ci: bool) -> bool {
    if s.len() < lit.len() {
        return false;
    }
    if ci {
        s.iter()
            .zip(lit.iter())
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
    } else {
        s.get(..lit.len()) == Some(lit)
    }
}

#[inline]
fn utf8_len(b: u8) -> usize {
    match b {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xFF => 4,
        _ => 1,
    }
}

fn match_tokens(toks: &[Tok], s: &[u8], ci: bool) -> bool {
    let (mut t, mut i) = (0usize, 0usize);
    // Token index after the last star seen, and the input position it is tried at.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if let Some(tok) = toks.get(t) {
            match tok {
                Tok::Star => {
                    if t + 1 == toks.len() {
                        return true;
                    }
                    star = Some((t + 1, i));
                    t += 1;
                    continue;
                }
                Tok::One => {
                    if let Some(b) = s.get(i) {
                        i += utf8_len(*b);
                        t += 1;
                        continue;
                    }
                }
                Tok::Lit(l) => {
                    let rest = s.get(i..).unwrap_or_default();
                    if starts_with(rest, l.as_bytes(), ci) {
                        i += l.len();
                        t += 1;
                        continue;
                    }
                }
            }
        } else if i >= s.len() {
            return true;
        }
        match star {
            Some((st, si)) if si < s.len() => {
                let ni = si + s.get(si).map(|b| utf8_len(*b)).unwrap_or(1);
                star = Some((st, ni));
                t = st;
                i = ni;
            }
            _ => return false,
        }
    }
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// Policy text (wildcards active where the operator uses them).
    Text(Box<str>),
    /// Literal characters from `${*}`, `${?}`, `${$}`.
    Literal(Box<str>),
    /// `${key}` or `${key, 'default'}`; `key` is lower-cased.
    Var {
        key: Box<str>,
        default: Option<Box<str>>,
    },
}

/// Text that may contain policy variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pub parts: Box<[Part]>,
}

impl Template {
    /// Split `text` into text and variables. Returns `None` when there is no variable
    /// (then the caller compiles the text directly).
    pub fn parse(text: &str) -> Option<Template> {
        if !text.contains("${") {
            return None;
        }
        let mut parts = Vec::new();
        let mut rest = text;
        let mut any_var = false;
        let mut plain = String::new();
        while let Some(open) = rest.find("${") {
            let (before, after_open) = rest.split_at(open);
            plain.push_str(before);
            let inner_and_rest = &after_open[2..];
            let Some(close) = inner_and_rest.find('}') else {
                plain.push_str(after_open);
                rest = "";
                break;
            };
            let inner = &inner_and_rest[..close];
            match parse_var(inner) {
                Some(part) => {
                    if !plain.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut plain).into_boxed_str()));
                    }
                    any_var = true;
                    parts.push(part);
                }
                None => {
                    plain.push_str(&after_open[..close + 3]);
                }
            }
            rest = &inner_and_rest[close + 1..];
        }
        plain.push_str(rest);
        if !plain.is_empty() {
            parts.push(Part::Text(plain.into_boxed_str()));
        }
        any_var.then(|| Template {
            parts: parts.into_boxed_slice(),
        })
    }

    /// Condition keys the template reads (lower-cased).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var { key, .. } => Some(&**key),
            _ => None,
        })
    }

    /// Resolve every variable. `None` when a variable has no value and no default (V5).
    pub fn resolve<'c>(&'c self, ctx: &'c RequestContext) -> Option<Vec<Piece<'c>>> {
        let mut out = Vec::with_capacity(self.parts.len());
        for p in self.parts.iter() {
            out.push(match p {
                Part::Text(t) => Piece::Text(t),
                Part::Literal(l) => Piece::Literal(l),
                Part::Var { key, default } => match ctx.get_lower(key) {
                    Some(ContextValue::Single(v)) => Piece::Literal(v),
                    _ => Piece::Literal(default.as_deref()?),
                },
            });
        }
        Some(out)
    }

    /// Resolve to plain text (for operators without wildcards).
    pub fn resolve_string(&self, ctx: &RequestContext) -> Option<String> {
        let pieces = self.resolve(ctx)?;
        let mut s = String::new();
        for p in pieces {
            match p {
                Piece::Text(t) | Piece::Literal(t) => s.push_str(t),
            }
        }
        Some(s)
    }
}

fn parse_var(inner: &str) -> Option<Part> {
    let trimmed = inner.trim();
    if matches!(trimmed, "*" | "?" | "$") {
        return Some(Part::Literal(trimmed.into()));
    }
    let (key, default) = match trimmed.split_once(',') {
        Some((k, d)) => {
            let d = d.trim();
            let d = d.strip_prefix('\'')?.strip_suffix('\'')?;
            (k.trim(), Some(d.into()))
        }
        None => (trimmed, None),
    };
    if key.is_empty()
        || key
            .chars()
            .any(|c| c.is_whitespace() || c == '{' || c == '$')
    {
        return None;
    }
    Some(Part::Var {
        key: key.to_ascii_lowercase().into_boxed_str(),
        default,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive recursive reference matcher.
    fn naive(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('*') => (0..=s.len()).any(|k| naive(&p[1..], &s[k..])),
            Some('?') => !s.is_empty() && naive(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && naive(&p[1..], &s[1..]),
        }
    }

    #[test]
    fn glob_basics() {
        let g = Glob::new("kms:ReEncrypt*", true);
        assert!(g.matches("kms:reencryptfrom", true));
        assert!(g.matches("KMS:ReEncryptTo", true));
        assert!(!g.matches("kms:Decrypt", true));
        let g = Glob::new("kms:*Grant*", true);
        assert!(g.matches("kms:CreateGrant", true));
        assert!(g.matches("kms:ListGrants", true));
        assert!(!g.matches("kms:Decrypt", true));
        let g = Glob::new("a?c", false);
        assert!(g.matches("abc", false));
        assert!(g.matches("aéc", false));
        assert!(!g.matches("ac", false));
        assert!(!Glob::new("ABC", false).matches("abc", false));
        assert!(Glob::new("*", false).matches("", false));
    }

    proptest::proptest! {
        #[test]
        fn glob_agrees_with_naive(p in "[ab*?]{0,8}", s in "[ab]{0,10}") {
            let pc: Vec<char> = p.chars().collect();
            let sc: Vec<char> = s.chars().collect();
            proptest::prop_assert_eq!(Glob::new(&p, false).matches(&s, false), naive(&pc, &sc));
        }
    }

    #[test]
    fn templates() {
        let mut ctx = RequestContext::new();
        ctx.set("aws:username", "Al*ce");
        let t = Template::parse("home/${aws:username}/${*}x${aws:PrincipalTag/team, 'none'}")
            .unwrap_or_else(|| panic!("template"));
        let pieces = t.resolve(&ctx).unwrap_or_default();
        let g = Glob::from_pieces(&pieces, false);
        assert!(g.matches("home/Al*ce/*xnone", false));
        assert!(!g.matches("home/Alice/*xnone", false));
        assert!(Template::parse("no vars").is_none());
        let t = Template::parse("${aws:userid}").unwrap_or_else(|| panic!("template"));
        assert!(t.resolve(&ctx).is_none());
        assert!(Template::parse("${unclosed").is_none());
    }
}
