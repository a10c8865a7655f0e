//! ARN patterns: per-part, case-sensitive globs over the six parts
//! `arn:partition:service:region:account:resource` (§2.2 M2; `ArnLike` of §3.2).

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
}

impl ArnGlob {
    /// Compile from pieces (policy text and literal text). `None` when the text is neither `*`
    /// nor an ARN-shaped pattern (six parts, or fewer ending in a lone `*`).
    pub fn from_pieces(pieces: &[Piece<'_>]) -> Option<ArnGlob> {
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
        if parts.len() < 6 {
            // `arn:aws:kms:*` style: a trailing lone `*` covers the remaining parts.
            let last_is_star = matches!(parts.last().map(Vec::as_slice), Some([Piece::Text("*")]));
            if !last_is_star || parts.len() < 2 {
                return None;
            }
            while parts.len() < 6 {
                parts.push(vec![Piece::Text("*")]);
            }
        }
        if !matches!(parts.first().map(Vec::as_slice), Some([Piece::Text("arn")])) {
            return None;
        }
        let globs: Vec<Glob> = parts.iter().map(|p| Glob::from_pieces(p, false)).collect();
        let arr: [Glob; 6] = globs.try_into().ok()?;
        Some(ArnGlob::Parts(Box::new(arr)))
    }

    /// Compile policy text.
    pub fn new(text: &str) -> Option<ArnGlob> {
        ArnGlob::from_pieces(&[Piece::Text(text)])
    }

    /// Does the ARN match?
    #[inline]
    pub fn matches(&self, arn: &str) -> bool {
        match self {
            ArnGlob::Any => true,
            ArnGlob::Parts(_) => self.matches_split(split_arn(arn).as_ref()),
        }
    }

    /// Match an ARN already split by [`split_arn`] (`None`: not an ARN).
    #[inline]
    pub fn matches_split(&self, parts: Option<&[&str; 6]>) -> bool {
        match (self, parts) {
            (ArnGlob::Any, _) => true,
            (ArnGlob::Parts(globs), Some(parts)) => globs
                .iter()
                .zip(parts.iter())
                .all(|(g, p)| g.matches(p, false)),
            (ArnGlob::Parts(_), None) => false,
        }
    }
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
    Template(Template),
}

impl ArnPattern {
    /// Compile; `vars` says whether policy variables are substituted (Version 2012-10-17).
    pub fn compile(text: &str, vars: bool) -> Option<ArnPattern> {
        if vars {
            if let Some(t) = Template::parse(text) {
                // Validate the shape with the variables as plain text.
                ArnGlob::new(text)?;
                return Some(ArnPattern::Template(t));
            }
        }
        ArnGlob::new(text).map(ArnPattern::Fixed)
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
            ArnPattern::Fixed(g) => g.matches_split(parts),
            ArnPattern::Template(t) => match t.resolve(ctx) {
                Some(pieces) => ArnGlob::from_pieces(&pieces).is_some_and(|g| g.matches(arn)),
                None => false,
            },
        }
    }

    /// Condition keys read by variables.
    pub fn keys(&self) -> Vec<String> {
        match self {
            ArnPattern::Fixed(_) => Vec::new(),
            ArnPattern::Template(t) => t.keys().map(str::to_string).collect(),
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
}
