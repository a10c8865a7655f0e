//! ARN patterns: per-part, case-sensitive globs over the six parts
//! `arn:partition:service:region:account:resource` (§2.2 M2; `ArnLike` of §3.2).
//!
//! `ArnLike` compares the parts one by one. In the `Resource` element AWS also lets a `*` that
//! is the last character of a segment "expand to match beyond the colon boundaries" (IAM User
//! Guide, "IAM JSON policy elements: Resource"), so a resource pattern with fewer than six
//! parts such as `arn:aws:kms:*:key/*` is valid there and is matched over the whole ARN.

use crate::context::RequestContext;
use crate::pattern::{Glob, Piece, Template};

/// Split an ARN into its six parts; the resource part keeps any further `:`.
#[inline]
pub(crate) fn split_arn(arn: &str) -> Option<[&str; 6]> {
    let mut it = arn.splitn(6, ':');
    let a = it.next()?;
    let b = it.next()?;
    let c = it.next()?;
    let d = it.next()?;
    let e = it.next()?;
    let f = it.next()?;
    Some([a, b, c, d, e, f])
}

/// A compiled ARN pattern (no variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArnGlob {
    /// `*`
    Any,
    /// Six part globs.
    Parts(Box<[Glob; 6]>),
    /// A `Resource` pattern with fewer than six parts in which a segment ends with `*`:
    /// matched over the whole ARN, such a `*` crossing colons.
    Loose(Box<[LooseTok]>),
}

/// One element of a [`ArnGlob::Loose`] pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LooseTok {
    Lit(char),
    /// `*`; `cross`: it may match `:` (it ends a segment, or is in the resource part).
    Star {
        cross: bool,
    },
    /// `?`; `cross` as for `Star`.
    One {
        cross: bool,
    },
}

impl ArnGlob {
    /// Compile from pieces (policy text and literal text). `None` when the text is neither `*`
    /// nor an ARN-shaped pattern (six parts, or fewer ending in a lone `*`; for a `Resource`
    /// pattern, fewer parts of which one ends with `*`).
    pub fn from_pieces(pieces: &[Piece<'_>], resource: bool) -> Option<ArnGlob> {
        if let [Piece::Text("*")] = pieces {
            return Some(ArnGlob::Any);
        }
        let mut parts: Vec<Vec<Piece<'_>>> = vec![Vec::new()];
        for piece in pieces {
            let (s, literal) = match piece {
                Piece::Text(s) => (*s, false),
                Piece::Literal(s) => (*s, true),
            };
            let mut rest = s;
            loop {
                if parts.len() < 6 {
                    if let Some(i) = rest.find(':') {
                        let (head, tail) = rest.split_at(i);
                        push_piece(&mut parts, head, literal);
                        parts.push(Vec::new());
                        rest = &tail[1..];
                        continue;
                    }
                }
                push_piece(&mut parts, rest, literal);
                break;
            }
        }
        if !matches!(parts.first().map(Vec::as_slice), Some([Piece::Text("arn")])) {
            return None;
        }
        if parts.len() < 6 {
            // `arn:aws:kms:*` style: a trailing lone `*` covers the remaining parts.
            let last_is_star = matches!(parts.last().map(Vec::as_slice), Some([Piece::Text("*")]));
            if last_is_star && parts.len() >= 2 {
                while parts.len() < 6 {
                    parts.push(vec![Piece::Text("*")]);
                }
            } else if resource && parts.iter().skip(1).any(|p| ends_with_star(p)) {
                return Some(ArnGlob::Loose(loose_tokens(pieces)));
            } else {
                return None;
            }
        }
        let globs: Vec<Glob> = parts.iter().map(|p| Glob::from_pieces(p, false)).collect();
        let arr: [Glob; 6] = globs.try_into().ok()?;
        Some(ArnGlob::Parts(Box::new(arr)))
    }

    /// Compile policy text (`ArnLike` semantics).
    #[cfg(test)]
    pub fn new(text: &str) -> Option<ArnGlob> {
        ArnGlob::from_pieces(&[Piece::Text(text)], false)
    }

    /// Compile policy text as a `Resource` element entry.
    #[cfg(test)]
    pub fn resource(text: &str) -> Option<ArnGlob> {
        ArnGlob::from_pieces(&[Piece::Text(text)], true)
    }

    /// Does the ARN match?
    #[inline]
    pub fn matches(&self, arn: &str) -> bool {
        match self {
            ArnGlob::Any => true,
            ArnGlob::Parts(_) => self.matches_split(split_arn(arn).as_ref()),
            ArnGlob::Loose(toks) => loose_match(toks, arn),
        }
    }

    /// Match an ARN already split by [`split_arn`] (`None`: not an ARN). `arn` is the whole
    /// ARN, which [`ArnGlob::Loose`] patterns read.
    #[inline]
    pub fn matches_split_arn(&self, arn: &str, parts: Option<&[&str; 6]>) -> bool {
        match self {
            ArnGlob::Loose(toks) => loose_match(toks, arn),
            _ => self.matches_split(parts),
        }
    }

    /// Match an ARN already split by [`split_arn`] (`None`: not an ARN); never true for a
    /// [`ArnGlob::Loose`] pattern (use [`ArnGlob::matches_split_arn`]).
    #[inline]
    pub fn matches_split(&self, parts: Option<&[&str; 6]>) -> bool {
        match (self, parts) {
            (ArnGlob::Any, _) => true,
            (ArnGlob::Parts(globs), Some(parts)) => globs
                .iter()
                .zip(parts.iter())
                .all(|(g, p)| g.matches(p, false)),
            (ArnGlob::Parts(_), None) | (ArnGlob::Loose(_), _) => false,
        }
    }
}

/// Does this segment of pattern pieces end with a wildcard `*` (not a literal one)?
fn ends_with_star(segment: &[Piece<'_>]) -> bool {
    matches!(segment.last(), Some(Piece::Text(t)) if t.ends_with('*'))
}

/// Tokens of a loose pattern: in the first five segments `?` and `*` stay inside their
/// segment, except a `*` that ends one (or ends the pattern), which may cross colons; after
/// the fifth colon both match any character. Literal pieces are literal characters.
fn loose_tokens(pieces: &[Piece<'_>]) -> Box<[LooseTok]> {
    let mut flat: Vec<(char, bool)> = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => flat.extend(t.chars().map(|c| (c, true))),
            Piece::Literal(t) => flat.extend(t.chars().map(|c| (c, false))),
        }
    }
    let mut toks = Vec::with_capacity(flat.len());
    let mut colons = 0;
    for (i, &(c, special)) in flat.iter().enumerate() {
        let in_resource = colons >= 5;
        let tok = match (c, special) {
            (':', _) => {
                colons += 1;
                LooseTok::Lit(':')
            }
            ('*', true) => {
                let ends = flat.get(i + 1).is_none_or(|(n, _)| *n == ':');
                if toks.last()
                    == Some(&LooseTok::Star {
                        cross: ends || in_resource,
                    })
                {
                    continue;
                }
                LooseTok::Star {
                    cross: ends || in_resource,
                }
            }
            ('?', true) => LooseTok::One { cross: in_resource },
            (c, _) => LooseTok::Lit(c),
        };
        toks.push(tok);
    }
    toks.into_boxed_slice()
}

/// Match a loose pattern against a whole ARN (a set-of-states automaton: linear in
/// pattern × ARN length whatever the wildcards).
fn loose_match(toks: &[LooseTok], arn: &str) -> bool {
    let n = toks.len();
    let advance_stars = |states: &mut [bool]| {
        for i in 0..n {
            if states[i] && matches!(toks[i], LooseTok::Star { .. }) {
                states[i + 1] = true;
            }
        }
    };
    let mut cur = vec![false; n + 1];
    cur[0] = true;
    advance_stars(&mut cur);
    let mut next = vec![false; n + 1];
    for c in arn.chars() {
        next.iter_mut().for_each(|b| *b = false);
        let mut any = false;
        for (i, tok) in toks.iter().enumerate() {
            if !cur[i] {
                continue;
            }
            let (to, ok) = match *tok {
                LooseTok::Lit(l) => (i + 1, l == c),
                LooseTok::One { cross } => (i + 1, cross || c != ':'),
                LooseTok::Star { cross } => (i, cross || c != ':'),
            };
            if ok {
                next[to] = true;
                any = true;
            }
        }
        if !any {
            return false;
        }
        advance_stars(&mut next);
        std::mem::swap(&mut cur, &mut next);
    }
    cur[n]
}

fn push_piece<'a>(parts: &mut [Vec<Piece<'a>>], s: &'a str, literal: bool) {
    if s.is_empty() {
        return;
    }
    if let Some(last) = parts.last_mut() {
        last.push(if literal {
            Piece::Literal(s)
        } else {
            Piece::Text(s)
        });
    }
}

/// A `Resource`/`NotResource` entry or an `ArnLike` value: either compiled, or a template
/// resolved per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArnPattern {
    Fixed(ArnGlob),
    /// `resource`: compiled with `Resource` element semantics once resolved.
    Template {
        template: Template,
        resource: bool,
    },
}

impl ArnPattern {
    /// Compile an `ArnLike`/`ArnEquals` value; `vars` says whether policy variables are
    /// substituted (Version 2012-10-17).
    pub fn compile(text: &str, vars: bool) -> Option<ArnPattern> {
        Self::compile_as(text, vars, false)
    }

    /// Compile a `Resource`/`NotResource` entry (a `*` ending a segment may cross colons).
    pub fn compile_resource(text: &str, vars: bool) -> Option<ArnPattern> {
        Self::compile_as(text, vars, true)
    }

    fn compile_as(text: &str, vars: bool, resource: bool) -> Option<ArnPattern> {
        let glob = |t: &str| ArnGlob::from_pieces(&[Piece::Text(t)], resource);
        if vars {
            if let Some(template) = Template::parse(text) {
                // Validate the shape with the variables as plain text.
                glob(text)?;
                return Some(ArnPattern::Template { template, resource });
            }
        }
        glob(text).map(ArnPattern::Fixed)
    }

    /// Does the ARN match? An unresolved variable matches nothing (V5).
    pub fn matches(&self, arn: &str, ctx: &RequestContext) -> bool {
        self.matches_parts(arn, split_arn(arn).as_ref(), ctx)
    }

    /// Like [`ArnPattern::matches`], with the ARN already split.
    #[inline]
    pub fn matches_parts(
        &self,
        arn: &str,
        parts: Option<&[&str; 6]>,
        ctx: &RequestContext,
    ) -> bool {
        match self {
            ArnPattern::Fixed(g) => g.matches_split_arn(arn, parts),
            ArnPattern::Template { template, resource } => match template.resolve(ctx) {
                Some(pieces) => {
                    ArnGlob::from_pieces(&pieces, *resource).is_some_and(|g| g.matches(arn))
                }
                None => false,
            },
        }
    }

    /// Condition keys read by variables.
    pub fn keys(&self) -> Vec<String> {
        match self {
            ArnPattern::Fixed(_) => Vec::new(),
            ArnPattern::Template { template, .. } => template.keys().map(str::to_string).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_parts() {
        let g = ArnGlob::new("arn:aws:kms:*:111122223333:key/*").unwrap_or(ArnGlob::Any);
        assert!(g.matches("arn:aws:kms:us-west-2:111122223333:key/abc"));
        assert!(!g.matches("arn:aws:kms:us-west-2:444455556666:key/abc"));
        assert!(!g.matches("arn:aws:kms:us-west-2:111122223333:alias/app"));
        assert!(!g.matches("not-an-arn"));
        // The documented ArnLike vs StringLike example.
        let g =
            ArnGlob::new("arn:aws:someservice:*:111122223333:finance/*").unwrap_or(ArnGlob::Any);
        assert!(!g.matches("arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"));
        let short = ArnGlob::new("arn:aws:kms:*").unwrap_or(ArnGlob::Any);
        assert!(short.matches("arn:aws:kms:us-west-2:111122223333:key/abc"));
        assert!(!short.matches("arn:aws:s3:::bucket"));
        assert!(ArnGlob::new("key/abc").is_none());
        assert!(ArnGlob::new("arn:aws:kms").is_none());
        // Resource part keeps colons.
        let g = ArnGlob::new("arn:aws:logs:*:*:log-group:/x/*").unwrap_or(ArnGlob::Any);
        assert!(g.matches("arn:aws:logs:us-east-1:1:log-group:/x/y:*"));
    }

    #[test]
    fn resource_patterns_with_a_segment_ending_star() {
        let g = ArnGlob::resource("arn:aws:kms:*:key/*");
        assert!(matches!(g, Some(ArnGlob::Loose(_))));
        let g = g.unwrap_or(ArnGlob::Any);
        assert!(g.matches("arn:aws:kms:us-west-2:111122223333:key/abc"));
        assert!(!g.matches("arn:aws:kms:us-west-2:111122223333:alias/abc"));
        assert!(ArnGlob::new("arn:aws:kms:*:key/*").is_none());
        // Six parts: the per-part form, as for ArnLike.
        assert_eq!(
            ArnGlob::resource("arn:aws:kms:*:111122223333:key/*"),
            ArnGlob::new("arn:aws:kms:*:111122223333:key/*")
        );
        assert!(ArnGlob::resource("arn:aws:kms:us-west-2:key/abc").is_none());
    }

    /// Reference for loose patterns: `*`/`?` flagged as crossing colons or not.
    fn naive(p: &[LooseTok], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(LooseTok::Star { cross }) => {
                let mut k = 0;
                loop {
                    if naive(&p[1..], &s[k..]) {
                        return true;
                    }
                    match s.get(k) {
                        Some(c) if *cross || *c != ':' => k += 1,
                        _ => return false,
                    }
                }
            }
            Some(LooseTok::One { cross }) => {
                s.first().is_some_and(|c| *cross || *c != ':') && naive(&p[1..], &s[1..])
            }
            Some(LooseTok::Lit(l)) => s.first() == Some(l) && naive(&p[1..], &s[1..]),
        }
    }

    proptest::proptest! {
        #[test]
        fn loose_match_agrees_with_naive(p in "arn:[a:*?]{0,8}\\*", s in "arn:[a:]{0,10}") {
            let toks = loose_tokens(&[Piece::Text(&p)]);
            let sc: Vec<char> = s.chars().collect();
            proptest::prop_assert_eq!(loose_match(&toks, &s), naive(&toks, &sc));
        }
    }
}
